"""Lihu Future City, a busy weekday morning for the emergency services, 07:00–10:00.

Incidents come as seeded Poisson calls by type and building use (fires, medical calls,
traffic crashes, pipe bursts, cable faults, flooding calls; ``agents.responders`` documents
the rates and their sources) at twice the average rates — a busy morning — plus two
scripted ones: at 07:05 (quick: 07:50) the largest water main within 400 m of the first
hospital breaks, and at 07:20 (quick: 07:55) a fire breaks out in the tallest residential
building. The dispatch centre sends, for each call, the free unit of the right kind with the
least *live* travel time — the link speeds the traffic kernel publishes, closed links
removed — from the district's stations: 2 fire engines at each fire station, ambulances at
the hospitals at one per 30,000 residents (the national guideline for pre-hospital
emergency care, 2020: 城市地区每3万人口配置1辆救护车; 21 for Lihu's ~620,000 synthetic
residents, 7 a hospital), a water crew at each pumping station, a power crew at each
substation.
Units drive as vehicles in the morning traffic along their route and meet its queues: the
peak's generated demand at scale 0.25, a light morning — half the scale
``lihu_morning_peak.py`` calibrates against Wuxi's published peak speed (0.5; the response
times of issue 8 were measured on this lighter traffic). The main break takes a
lane from the street above it (water → traffic) and leaks until its crew arrives and closes
the segment's valves; the repair follows (3 h on site). Ambulances take 70 % of medical
patients to the nearest hospital by live travel time.

Quick version (``--quick``): 07:45–08:15 at half the peak demand.

What to look at: the calls table (``run.table("dispatch", "calls")``: call, unit, dispatch,
arrival, clearance, response time), the response-time KPIs per type and zone (median and
90th percentile), unit utilisation, calls that waited for a unit; the events table (burst,
isolation at the crew's arrival, lanes blocked by crashes); ``water/unserved_total``.
"""

import datetime as dt

import numpy as np

import agents
import cim
import twin
from agents.responders import DispatchProcess, incident
from twin.cli.scenario_file import main
from twin.kernels.traffic import TrafficProcess
from twin.kernels.water.process import WaterProcess

DISTRICT = "lihu"
DAY = dt.date(2024, 5, 14)  # a Tuesday
SEED = 2024
TRAFFIC_SCALE = 0.25        # a light morning: half the calibrated peak (lihu_morning_peak 0.5)
THROUGH_VEH_PER_H = 800
INCIDENT_SCALE = 2.0        # a busy morning: twice the average rates
RESIDENTS_PER_AMBULANCE = 30_000
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


def tallest_home(city) -> str:
    b = city.buildings
    res = np.flatnonzero(np.asarray(b.use) == "residential")
    return str(b.ids[res[np.argmax(b.roof_height[res])]])


def scenario(quick: bool = False) -> twin.Scenario:
    start, hours, scale = ((dt.time(7, 45), 0.5, TRAFFIC_SCALE / 2) if quick
                           else (dt.time(7), 3.0, TRAFFIC_SCALE))
    city = cim.load_district(DISTRICT)
    trips = agents.generate_trips(city, start=start.strftime("%H:%M"), duration_s=hours * 3600,
                                  seed=SEED, scale=scale, through_veh_per_h=THROUGH_VEH_PER_H)
    demand = {k: getattr(trips, k) for k in ("depart_s", "origin_node", "destination_node")}
    scripted = [incident("pipe_burst", at=300.0, water_link=main_near_hospital(city)),
                incident("fire", at=600.0 if quick else 1200.0, building=tallest_home(city))]
    n_hosp = int((np.asarray(city.sites.kind) == "hospital").sum())
    per_hosp = int(np.ceil(city.buildings.residents.sum() / RESIDENTS_PER_AMBULANCE / n_hosp))
    fleet = {"fire_engine": ("fire_station", 2), "ambulance": ("hospital", per_hosp),
             "water_crew": ("pumping_station", 1), "power_crew": ("substation", 1)}
    dispatch = DispatchProcess(scripted, generate={"scale": INCIDENT_SCALE}, units=fleet,
                               dt=1.0)
    return twin.Scenario(
        city, duration=hours * 3600, start=dt.datetime.combine(DAY, start), seed=SEED,
        kernels=[TrafficProcess(), WaterProcess(dt=60.0)], agents=[dispatch],
        inputs={"traffic": demand},
        couplings={"traffic/capacity_factor": "water/capacity_factor"},
        record_interval={"traffic": 60.0, "water": 300.0, "dispatch": 60.0},
        name="lihu_emergency_response_day", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main(__file__))
