"""Water hydraulics: a vectorized global-gradient (Todini–Pilati) solver that reproduces
EPANET 2.2 (status logic, controls, rules, tanks, PDD) and solves K scenarios in one
batched pass (:class:`WaterSim`; :func:`hydraulics` for a whole extended-period run)."""

from .errors import HydraulicsError

__all__ = ["HydraulicsError", "WaterSim", "hydraulics"]


def __getattr__(name):
    if name == "WaterSim":
        from .sim import WaterSim
        return WaterSim
    if name == "hydraulics":
        from .api import hydraulics
        return hydraulics
    raise AttributeError(name)
