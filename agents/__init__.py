"""Agents: who decides (demand, responders, operators).

Travel demand (car trips for the traffic kernel)::

    trips = agents.generate_trips(city, start="07:00", duration_s=3 * 3600, seed=1,
                                  car_share=0.3, through_veh_per_h=800, scale=0.1)
    trips = agents.read_od_matrix("od.csv", city, start="07:00", duration_s=3600, seed=1)
    trips = agents.read_trips("trips.csv", city, start="07:00")
    trips = agents.read_trips("x.rou.xml", city)   # SUMO routes, trips, flows, vTypes
    trips.to_csv("out.csv"); trips.summary(); trips.select(trips.depart_s < 3600)

Responders (:mod:`agents.responders`, imported on first use): incidents, the dispatch centre
and its units driving in live traffic::

    disp = agents.DispatchProcess([agents.incident("fire", at=600, building="b1")],
                                  generate={"scale": 1.0})
"""

from .demand import (
    BETA_PER_KM,
    CAR_SHARE,
    OCCUPANCY,
    OTHER_TRIPS_PER_RESIDENT,
    WORKERS_PER_RESIDENT,
    generate_trips,
)
from .errors import AgentsError, DemandError
from .network import Access, attach_buildings, boundary_nodes, routable_nodes
from .profiles import Profile, default_profiles, parse_clock
from .readers import SumoTrips, read_od_matrix, read_sumo_routes, read_trips
from .trips import PURPOSES, Trips

__all__ = [
    "generate_trips", "read_od_matrix", "read_trips", "read_sumo_routes", "Trips",
    "SumoTrips", "PURPOSES",
    "Profile", "default_profiles", "parse_clock",
    "routable_nodes", "attach_buildings", "boundary_nodes", "Access",
    "AgentsError", "DemandError",
    "CAR_SHARE", "OCCUPANCY", "WORKERS_PER_RESIDENT", "OTHER_TRIPS_PER_RESIDENT", "BETA_PER_KM",
]

# responders: imported on first use (they import the twin runtime, mesa and simpy)
_RESPONDERS = ("DispatchProcess", "DispatchError", "incident", "generate_incidents",
               "Incidents", "IncidentType", "INCIDENT_TYPES")
__all__ += ["responders", *_RESPONDERS]


def __getattr__(name):
    if name in _RESPONDERS or name == "responders":
        import importlib

        mod = importlib.import_module(f"{__name__}.responders")
        return mod if name == "responders" else getattr(mod, name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
