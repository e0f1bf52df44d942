"""Traffic: the microscopic kernel (:mod:`.api`, numba), its runtime adapter
(:class:`TrafficProcess`), demand → trips, signal plans from the city, events and KPIs.

``from twin.kernels import traffic`` gives the array API (``traffic.Network``,
``traffic.advance``…) and the kernel (``traffic.TrafficProcess``, ``traffic.closure``…).
"""

from .api import *  # noqa: F401,F403
from .api import __all__ as _api_all
from .events import capacity_drop, closure, incident, signal_plan
from .insert import add_trips, follow
from .process import TrafficProcess

__all__ = list(_api_all) + ["TrafficProcess", "closure", "capacity_drop", "incident",
                            "signal_plan", "add_trips", "follow"]
