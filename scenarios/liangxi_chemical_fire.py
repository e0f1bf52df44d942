"""Liangxi Science City, weekday afternoon: a chemical-plant fire — evacuation, fire-flow, cordon.

14:00–16:00 (quick: 14:00–15:00 with a 300 m zone and half the traffic). At 14:00 a fire
breaks out in the largest industrial building of the district (by floor area), assumed to
store chemicals. Everyone living within the hazard radius (``HAZARD_M``, 500 m; quick
300 m) is warned at once and evacuates to the district's shelters outside the zone (the crowd
kernel): households leave home after a log-normal pre-movement time (median 5 min — an
urgent, door-to-door warning; an assumption), 80 % on foot on the sidewalks, 20 % by car in
the afternoon traffic.

- **Fire brigade**: the call goes to the dispatch centre at 14:00 and a second alarm at
  14:02; each sends the free fire engine (2 at each fire station) with the least live travel
  time, driving in the traffic.
- **Fire-flow**: from 14:10 the ``N_HYDRANTS`` junctions nearest the fire are opened as
  hydrants (``fire_flow`` events) drawing ``HYDRANT_LPS`` each (15 L/s: the rated flow of an
  outdoor hydrant, 10–15 L/s in GB 50974-2014 §3.3; 45 L/s together, about the outdoor fire
  flow the code asks of a large industrial building) until the end; the pressure at and
  around them drops.
- **Cordon**: once the first engines are on scene, the police close the road links within
  ``CORDON_M`` (200 m) of the fire to traffic from 14:15 to the end (``closure`` events on
  the traffic layer); traffic goes around; cars of households inside the cordon leave
  through it as they can (a closed link takes no new vehicle: those households may be
  reported as not evacuated).

KPIs: the evacuated share and its 90 % time, people not evacuated, the worst bottleneck
density; the fire engines' response times; the pressure at the hydrants; the traffic KPIs.

Reading the evacuated share: it rises in two steps. The shelters outside the zone are far
on foot — the nearest (``liangxi-shelter-005``, ``-000``) are 1.9–2.6 km in a straight line
and 3.0–3.2 km along the sidewalks from the fire — so the first walkers arrive only after
about 34 min of walking (3 km at Weidmann's 1.34 m/s free speed, a little slower in the
crowd), while the car households (``CAR_SHARE``, 20 %) arrive within 9–17 min. In between the
share stays at the car share (about 0.16–0.20 in the quick run between minutes 15 and 40:
the cars are in, the walkers still on their way); it is not a stall of the crowd kernel
(no queue holds the walkers: the peak density stays below 1 P/m²). A nearer shelter, or a
larger car share, shortens it.
"""

import datetime as dt

import numpy as np

import agents
import cim
import twin
from agents.evacuation import Evacuation, circle
from agents.responders import DispatchProcess, incident
from twin.cli.scenario_file import main
from twin.kernels.crowd.process import CrowdProcess
from twin.kernels.traffic import TrafficProcess
from twin.kernels.water.process import WaterProcess

DISTRICT = "liangxi"
DAY = dt.date(2024, 5, 14)  # a Tuesday
START = dt.time(14, 0)
SEED = 2024
TRAFFIC_SCALE = 0.2
HAZARD_M = {False: 500.0, True: 300.0}
CORDON_M = 200.0
CAR_SHARE = 0.2
PREMOVEMENT_MEDIAN_S = 300.0
N_HYDRANTS = 3
HYDRANT_LPS = 15.0
HYDRANTS_AT_S = 600.0
CORDON_AT_S = 900.0


def fire_building(city) -> tuple[str, np.ndarray]:
    """The largest industrial building by floor area: (id, (x, y) m of its centroid)."""
    b = city.buildings
    ind = np.flatnonzero(np.asarray(b.use) == "industrial")
    if not ind.size:
        raise ValueError(f"{DISTRICT}: no industrial building")
    i = ind[np.argmax(np.nan_to_num(np.asarray(b.floor_area, np.float64)[ind]))]
    return str(b.ids[i]), b.footprint.centroids()[i, :2]


def hydrants(city, xy, n: int = N_HYDRANTS) -> list[str]:
    """The ``n`` water junctions nearest ``xy`` (m)."""
    w = city.water_network
    j = np.asarray(w.nodes_of("junction"))
    d = np.hypot(*(w.node_xy[j] - xy).T)
    return [str(w.node_ids[k]) for k in j[np.argsort(d, kind="stable")[:n]]]


def cordon_links(city, xy, radius: float = CORDON_M) -> list[str]:
    """Road links with an end or their midpoint within ``radius`` m of ``xy``."""
    r = city.roads
    a, b = r.node_xy[r.link_from, :2], r.node_xy[r.link_to, :2]
    d = np.min([np.hypot(*(p - xy).T) for p in (a, b, 0.5 * (a + b))], axis=0)
    return [str(i) for i in np.asarray(r.link_ids)[d <= radius]]


def scenario(quick: bool = False) -> twin.Scenario:
    hours = 1.0 if quick else 2.0
    city = cim.load_district(DISTRICT)
    bid, xy = fire_building(city)
    trips = agents.generate_trips(city, start=START.strftime("%H:%M"), duration_s=hours * 3600,
                                  seed=SEED, scale=TRAFFIC_SCALE / 2 if quick else TRAFFIC_SCALE)
    demand = {k: getattr(trips, k) for k in ("depart_s", "origin_node", "destination_node")}
    evac = Evacuation(circle(*xy, HAZARD_M[quick], hazard="chemical fire"),
                      premovement_median_s=PREMOVEMENT_MEDIAN_S, car_share=CAR_SHARE)
    dispatch = DispatchProcess([incident("fire", at=0.0, building=bid),
                                incident("fire", at=120.0, building=bid)],
                               units={"fire_engine": ("fire_station", 2)}, dt=1.0)
    events = [twin.Event("fire_flow", h, at=HYDRANTS_AT_S, layer="water",
                         details={"flow_lps": HYDRANT_LPS}) for h in hydrants(city, xy)]
    events += [twin.Event("closure", link, at=CORDON_AT_S, layer="traffic")
               for link in cordon_links(city, xy)]
    return twin.Scenario(
        city, duration=hours * 3600, start=dt.datetime.combine(DAY, START), seed=SEED,
        kernels=[TrafficProcess(), WaterProcess(dt=60.0), CrowdProcess()], agents=[dispatch],
        inputs={"traffic": demand, "crowd": evac}, events=events,
        record_interval={"traffic": 60.0, "water": 60.0, "crowd": 60.0, "dispatch": 60.0},
        name="liangxi_chemical_fire", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main(__file__))
