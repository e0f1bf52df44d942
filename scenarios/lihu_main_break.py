"""Lihu Future City, weekday morning: a water main breaks next to a hospital — isolate, repair.

07:00–13:00 (quick: 07:00–09:00). At 07:10 the largest main within 400 m of the first
hospital bursts (a leak of a tenth of its cross-section, as an emitter at both ends). Under the
street it takes a lane from the road links above it; the traffic kernel reads that. At 07:40
the crew closes the isolation valves around the pipe's segment — the valves the valve layer
says isolate it, no more — which stops the leak but cuts the segment's customers off. The main
is repaired at 11:10 (quick: 08:40) and the valves reopen.

What to look at: ``water/unserved_total`` over time (the leak's pressure loss first, then the
isolated segment), unserved demand per building, the isolations table (valves closed,
customers cut), the lane lost on the street above, and the KPIs: unserved water (m³,
people-hours), lowest pressure, junctions below 20 m; the traffic KPIs.
"""

import datetime as dt

import numpy as np

import agents
import cim
import twin
from twin.cli.scenario_file import main
from twin.kernels.traffic import TrafficProcess
from twin.kernels.water.process import WaterProcess

DISTRICT = "lihu"
DAY = dt.date(2024, 5, 14)  # a Tuesday
START = dt.time(7, 0)
SEED = 2024
SCALE = 0.1
BREAK_S, ISOLATE_S = 10 * 60, 40 * 60
REPAIR_S = {False: 4 * 3600 + 10 * 60, True: 100 * 60}
NEAR_M = 400.0


def main_near_hospital(city) -> str:
    """The largest pipe (then the nearest) within ``NEAR_M`` of the first hospital."""
    w = city.water_network
    hosp = city.sites.xyz[np.asarray(city.sites.kind) == "hospital"][0, :2]
    pipes = w.links_of("pipe")
    mid = 0.5 * (w.node_xy[w.link_from[pipes]] + w.node_xy[w.link_to[pipes]])
    dist = np.hypot(*(mid - hosp).T)
    near = dist <= NEAR_M
    if not near.any():
        raise ValueError(f"no water main within {NEAR_M:g} m of the hospital")
    order = np.lexsort((dist[near], -w.link_diameter[pipes][near]))
    return str(w.link_ids[pipes[near][order[0]]])


def scenario(quick: bool = False) -> twin.Scenario:
    hours = 2.0 if quick else 6.0
    city = cim.load_district(DISTRICT)
    trips = agents.generate_trips(city, start=START.strftime("%H:%M"), duration_s=hours * 3600,
                                  seed=SEED, scale=SCALE / 2 if quick else SCALE)
    demand = {k: getattr(trips, k) for k in ("depart_s", "origin_node", "destination_node")}
    pipe = main_near_hospital(city)
    return twin.Scenario(
        city, duration=hours * 3600, start=dt.datetime.combine(DAY, START), seed=SEED,
        kernels=[TrafficProcess(), WaterProcess(dt=60.0)], inputs={"traffic": demand},
        couplings={"traffic/capacity_factor": "water/capacity_factor"},
        events=[twin.Event("burst", pipe, at=BREAK_S, layer="water"),
                twin.Event("isolation", pipe, at=ISOLATE_S, layer="water"),
                twin.Event("repair", pipe, at=REPAIR_S[quick], layer="water")],
        record_interval={"traffic": 60.0, "water": 300.0},
        name="lihu_main_break", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main(__file__))
