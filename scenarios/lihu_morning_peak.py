"""Lihu Future City, weekday morning peak, 07:00–10:00 — the baseline.

Commuter, errand and through traffic generated from the district's residents and jobs
(``agents.generate_trips``: gravity model, time-of-day profiles, 800 veh/h through traffic
between the boundary roads) drives on the whole street network, Lihu Avenue's tunnels and
viaducts included, with the 221 signalized junctions on their planned fixed-time plans.

Demand scale 0.5: half the car demand that ``agents.generate_trips`` makes from the
district's 619,000 residents (residential floor area / 38.9 m²), the scale at which the
simulated peak runs at Wuxi's published peak network speed. The generator's defaults — 0.55
commuters per resident (home→work and work→home) and 1.0 other trip per resident (2.1 person
trips a day), car_share 0.30 of them by car, occupancy 1.3 persons per car — give 0.485 car
trips per resident a day, ~300,000 for the district; the time-of-day profiles
(``agents.profiles``) put 12.6 % of them in 07:00–08:00 (44 % of all home→work trips). Scale
1.0 is ~79,000 car trips in 07:00–10:00, ~38,000 of them in the busiest hour, plus 800 veh/h
through traffic; scale 0.5 is ~40,000 trips.

Calibration (issue 10 part 6; ``benchmarks/demand_calibration.py``). Sources: Wuxi's first
comprehensive urban transport survey (Wuxi Natural Resources and Planning Bureau, from
traffic big data; Wuxi Daily 2022-12-02, reposted at
http://hzgou.cn/news/chengshi/wuxi/2022-12-02/110222.html): mean road-network speed of the
urban area in the peak periods 27.9 km/h (same report: ~60 % of residents live and work in
the same district, private cars 3× their 2011 number); Amap (AutoNavi) 2015 annual traffic
report (navigation data; reported at http://www.0510cn.com/lvyou/Info.asp?ID=3323,
2016-05-05): Wuxi's mean driving speed in the commute peaks 32.44 km/h (1.66 million motor
vehicles at the end of 2015, 1.17 million private cars). Jiangsu traffic police, end of 2022
(http://gw5u.cn/news/show-190156.html): 2.588 million motor vehicles in Wuxi. The scale is
the one at which the simulated network space-mean speed VKT / VHT over 07:00–09:00 equals
27.9 km/h: interpolated 0.53 (32.44 km/h at 0.47); the scenario uses 0.5, the 0.05 step next
to it whose speed lies within the published 27.9–32.44 km/h. Measured 2026-11-30 (traffic
kernel with the lane choice of ``TrafficParams.own_lane_bonus`` = 200 m; before it, on commit
7525877, the same scales: 30.5 km/h at 0.5, 251 teleported; 07:00–09:00, trips departing by 09:00; busiest hour: the 60 min
with the most vehicle-hours):

=====  ========  ============  ======  ==========  ==========  ==========  =========
scale  km/h      busiest hour  trips   completed   teleported  unfinished  trip time
=====  ========  ============  ======  ==========  ==========  ==========  =========
0.2    37.9      37.9 (07:25)  13,398  12,944      0           454         451 s
0.3    37.5      37.3 (07:21)  20,152  19,449      0           703         458 s
0.4    36.3      35.7 (07:22)  26,785  25,879      23          906         471 s
0.5    30.5      28.8 (07:34)  33,334  31,921      202         1,413       552 s
0.55   26.6      24.1 (07:39)  36,727  34,688      585         2,039       608 s
0.7    18.5      14.6 (07:53)  46,716  41,230      2,159       5,486       712 s
1.0    10.3      7.0 (08:00)   66,634  49,683      9,572       16,951      886 s
=====  ========  ============  ======  ==========  ==========  ==========  =========

Past ~0.45 queues spill back and the speed falls steeply; at 1.0 the network gridlocks (14 %
of trips teleported out of deadlocks). At 0.5, 0.6 % of trips are teleported once. SUMO
(1.28, the network written by ``cim.write_sumo``, the same trips junction to junction,
rerouting every 300 s; 07:00–07:45, trips departing by 07:45) slows with the demand too, less
steeply: network speed per quarter hour at 0.5 36.2 / 32.9 / 30.4 km/h (ours 36.5 / 36.4 /
33.7), at 1.0 32.4 / 27.2 / 23.3 km/h (ours 33.5 / 25.7 / 17.7; SUMO 18,028 of 27,317 trips
arrived by 07:45, ours 17,208; ours measured on commit ee62484, before the lane choice) — the
jam at 1.0 is the demand's on this network, our kernel's builds faster. Limits:
the published speeds are city-wide means over all roads the data cover (the old centre
included), not this district's; the simulated speed depends on the city model's free-flow
speeds and the junction model; the through traffic is a fixed 800 veh/h; the run starts from
an empty network at 07:00; the survey's peak periods may include the evening peak. What
remains an assumption: no published Wuxi figure was found for the trip rate, the car share,
the peak-hour share or the occupancy (searched: the Wuxi comprehensive transport survey, the
Wuxi transport and master plans, Jiangsu statistics); those four stay the defaults of
:mod:`agents.demand` (its docstring: ranges usually reported for Chinese cities, not Wuxi
figures). The calibration says only that on this network half the demand they generate
gives Wuxi's peak speed, not which of them is too high (or whether the model's road capacity
is too low).
Issue 6's speed figures were measured at scale 0.25, which ``benchmarks/traffic_district.py``
pins; ``scenario(scale=...)`` runs another scale.

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
SCALE = 0.5  # calibrated to Wuxi's peak network speed (see above)
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
