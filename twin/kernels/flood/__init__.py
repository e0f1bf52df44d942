"""Urban flooding: 2D surface flow on a raster (local-inertial scheme, Bates et al. 2010, as
LISFLOOD-FP), rainfall (hyetographs, Chicago design storms), infiltration per land use, and its
impacts on roads, buildings and sites. :func:`flood` runs it alone; :class:`FloodProcess` is
the runtime kernel ("flood")."""

from .errors import FloodError

__all__ = ["FloodError", "FloodSim", "FloodProcess", "flood", "chicago", "uniform",
           "from_series", "Hyetograph", "StormFormula", "WUXI", "make_grid", "grid_from_city"]

_LAZY = {"FloodSim": "sim", "FloodProcess": "process", "flood": "api", "chicago": "rain",
         "uniform": "rain", "from_series": "rain", "Hyetograph": "rain", "StormFormula": "rain",
         "WUXI": "rain", "make_grid": "grid", "grid_from_city": "grid"}


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)
