"""Lihu Future City, weekday morning peak, 07:00–10:00 — the baseline.

Commuter, errand and through traffic generated from the district's residents and jobs
(``agents.generate_trips``: gravity model, time-of-day profiles, 800 veh/h through traffic
between the boundary roads) drives on the whole street network, Lihu Avenue's tunnels and
viaducts included, with the 221 signalized junctions on their planned fixed-time plans.

Demand scale 0.25: a quarter of the car demand that ``agents.generate_trips`` makes from the
district's 619,000 residents (residential floor area / 38.9 m²). Its defaults — 0.55
commuters per resident (home→work and work→home) and 1.0 other trip per resident (2.1 person
trips a day), car_share 0.30 of them by car, occupancy 1.3 persons per car — give 0.485 car
trips per resident a day, ~300,000 for the district; the time-of-day profiles
(``agents.profiles``) put 12.6 % of them in 07:00–08:00 (44 % of all home→work trips). Scale
1.0 is ~79,000 car trips in 07:00–10:00, ~38,000 of them in the busiest hour, plus 800 veh/h
through traffic; scale 0.25 is ~20,400 trips.

Sources. No published Wuxi figure was found for the trip rate, the car share, the peak-hour
share or the occupancy (searched: the Wuxi comprehensive transport survey, the Wuxi transport
and master plans, Jiangsu statistics); those four remain the assumptions of
:mod:`agents.demand` (its docstring: ranges usually reported for Chinese cities, not Wuxi
figures). Published Wuxi figures found, used as checks only: the city's first comprehensive
transport survey (Wuxi Natural Resources and Planning Bureau, Wuxi Daily 2022-12-02, reposted
at http://hzgou.cn/news/chengshi/wuxi/2022-12-02/110222.html): mean road-network speed in the
peak 27.9 km/h, ~60 % of residents live and work in the same district, private cars 3× their
2011 number; Jiangsu traffic police, end of 2022 (http://gw5u.cn/news/show-190156.html): 2.588
million motor vehicles in Wuxi.

Why not 1.0 (issue 10 part 6; ``benchmarks/traffic_district.py``, 2026-11-30, traffic kernel
of commit 12ded7a: junctions calibrated against SUMO, a vehicle crosses at most one node per
step, teleport after 300 s standing at the head of its lane):

=========  =======  =========  ==========  ===================
full peak  trips    completed  teleported  vehicle-hours
=========  =======  =========  ==========  ===================
0.25       20,388   19,910     0           2,593 h
1.0        81,553   68,922     14,840      37,698 h
=========  =======  =========  ==========  ===================

At 1.0 the network gridlocks: 18 % of trips are teleported out of deadlocks and 15 % are
unfinished at 10:00. Either 1.0 is more than this network carries in the model, or the demand
assumptions are high (the profiles put 44 % of a day's home→work trips into one hour). With no
published Wuxi figure to set a scale, the peak stays at 0.25 (also issue 6's benchmark scale,
which ``benchmarks/traffic_district.py`` pins); ``scenario(scale=...)`` runs another scale.
(An earlier measurement on the kernel of commit 932f339 had ~4 % of trips teleported at every
scale from a short-link defect, fixed in 12ded7a: 0 teleports at 0.25 now.)

Quick version (``--quick``): the busiest half hour, 07:45–08:15, at half that demand — well
under a minute of simulation.
"""

import datetime as dt

import agents
import twin
from twin.cli.scenario_file import main
from twin.kernels import traffic
from twin.store import cache

DISTRICT = "lihu"
DAY = dt.date(2024, 5, 14)  # a Tuesday
SEED = 2024
SCALE = 0.25
THROUGH_VEH_PER_H = 800


def scenario(quick: bool = False, scale: float | None = None) -> twin.Scenario:
    """Return the peak; ``scale`` (default :data:`SCALE`) multiplies the generated demand, the
    quick version runs at half of it."""
    scale = SCALE if scale is None else float(scale)
    start, hours, scale = (dt.time(7, 45), 0.5, scale / 2) if quick else (dt.time(7), 3, scale)
    # the district and its demand come from out/cache/ when their files and code are unchanged
    district = cache.district_key(DISTRICT)
    city = cache.load_district(DISTRICT, key=district)
    args = {"start": start.strftime("%H:%M"), "duration_s": hours * 3600, "seed": SEED,
            "scale": scale, "through_veh_per_h": THROUGH_VEH_PER_H}

    def generate():
        trips = agents.generate_trips(city, **args)
        # node trips: the traffic process starts and ends them on links the turn graph connects
        return {k: getattr(trips, k) for k in ("depart_s", "origin_node", "destination_node")}

    key = cache.key_of("trips", district, cache.source_digest(agents), args)
    demand = cache.cached("trips", key, generate)
    # the first route tables, too, are read from out/cache/ when network and demand are unchanged
    kernel = traffic.TrafficProcess(route_cache=cache.cache_dir())
    return twin.Scenario(city, duration=hours * 3600, start=dt.datetime.combine(DAY, start),
                         seed=SEED, kernels=[kernel],
                         inputs={"traffic": demand}, name="lihu_morning_peak",
                         description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main(__file__))
