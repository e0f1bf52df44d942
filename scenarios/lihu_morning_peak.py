"""Lihu Future City, weekday morning peak, 07:00–10:00 — the baseline.

Commuter, errand and through traffic generated from the district's residents and jobs
(``agents.generate_trips``: gravity model, time-of-day profiles, 800 veh/h through traffic
between the boundary roads) drives on the whole street network, Lihu Avenue's tunnels and
viaducts included, with the 221 signalized junctions on their planned fixed-time plans.

Demand scale 0.25: a quarter of the generated car demand (~20,400 trips in three hours, each
started and ended on links the one-way, no-U-turn network connects). At full scale the first
hour alone brings ~39,000 car trips onto 3,583 junctions (it jammed within the hour; not re-run
since the fixes below). At a quarter it loads up to ~1,400 vehicles at 08:00 at ~40 km/h and drains after the peak:
~20,000 trips arrive, the mean speed stays at 39–41 km/h through 10:00, queues stay under
~60 m, no vehicle is removed as stuck. (The jam that spread from Lihu Avenue after 08:10 in
earlier versions went away with the signal phases mapped by road — main roads had been given
the crossing street's green, 4-phase junctions sat all-red half the cycle.)

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


def scenario(quick: bool = False) -> twin.Scenario:
    start, hours, scale = (dt.time(7, 45), 0.5, SCALE / 2) if quick else (dt.time(7), 3, SCALE)
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
