"""Responders: incidents, the dispatch centre and its units, driving in live traffic.

::

    from agents.responders import DispatchProcess, incident
    disp = DispatchProcess([incident("medical", at=600, building="b12")],
                           generate={"scale": 1.0})
    sc = twin.Scenario(city, duration=3600, kernels=[TrafficProcess()], agents=[disp])

- :mod:`.incidents` — incident types, Poisson rates by building use, scripted incidents;
- :mod:`.places` — the fleet at the district's stations, incident locations, zones;
- :mod:`.routing` — live link times and fastest routes on the traffic kernel's turn graph;
- :mod:`.dispatch` — the mesa model: calls as simpy processes, units as simpy resources;
- :mod:`.live` — calls added during the run, flooded links avoided, units redirected;
- :mod:`.flood_calls` — flooding calls from the flood's depths;
- :mod:`.process` — the runtime process, its calls table and KPIs (:mod:`.kpis`).
"""

from .dispatch import DispatchModel
from .errors import DispatchError
from .flood_calls import FloodCallRule, FloodCalls
from .incidents import (
    INCIDENT_TYPES,
    PROFILES,
    RATES,
    Incidents,
    IncidentType,
    generate_incidents,
    incident,
    source_rates,
)
from .places import DEFAULT_FLEET, Fleet, Locator, make_fleet
from .process import CALL_COLUMNS, DispatchProcess
from .routing import LiveRouter, link_times
from .stages import STAGE_NAMES

__all__ = [
    "DispatchProcess", "DispatchModel", "incident", "generate_incidents", "source_rates",
    "Incidents", "IncidentType", "INCIDENT_TYPES", "RATES", "PROFILES", "DEFAULT_FLEET",
    "Fleet", "Locator", "make_fleet", "LiveRouter", "link_times", "CALL_COLUMNS",
    "STAGE_NAMES", "DispatchError", "FloodCalls", "FloodCallRule",
]
