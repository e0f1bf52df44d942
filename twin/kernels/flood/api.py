"""Public entry point :func:`flood`: a rainfall flood run on a DEM or a city, without the runtime,
returning an xarray Dataset (depth and velocity rasters with x/y and the CRS, the mass balance).
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from .errors import FloodError
from .grid import FloodGrid, grid_from_city, make_grid
from .rain import Hyetograph
from .sim import FloodSim


def build_grid(source, *, cell=None, manning=0.03, infiltration=None, **kw) -> FloodGrid:
    """Return the FloodGrid of ``source``: a FloodGrid, a CityModel (DEM, buildings, land use,
    water bodies), a Terrain or a (ny, nx) DEM array with cell size ``cell`` (m)."""
    if isinstance(source, FloodGrid):
        return source
    if hasattr(source, "terrain") and hasattr(source, "buildings"):
        return grid_from_city(source, cell=cell, infiltration=infiltration,
                              manning=manning if isinstance(manning, dict) else None, **kw)
    if hasattr(source, "z") and hasattr(source, "cell"):
        if cell is not None and cell != source.cell:
            from .grid import resample

            source = resample(source, cell)
        return make_grid(source, manning=manning, infiltration=infiltration, **kw)
    return make_grid(np.asarray(source, float), cell, manning=manning,
                     infiltration=infiltration, **kw)


def _rain_list(rain):
    if rain is None:
        return None, False
    if isinstance(rain, Hyetograph):
        return [rain], False
    rain = list(rain)
    if not rain or not all(isinstance(r, Hyetograph) or r is None for r in rain):
        raise FloodError("rain is a Hyetograph or a list of them (one per member)")
    return rain, True


def flood(source, rain, duration: float, *, cell=None, manning=0.03, infiltration="auto",
          boundary="open", record_every: float | None = None, h0=None, theta: float = 0.9,
          alpha: float = 0.7, dt_max: float = 10.0, hmin: float = 1e-4, slope: float = 1e-3,
          parallel=None) -> xr.Dataset:
    """Run a rainfall flood on ``source`` for ``duration`` s.

    source : a CityModel (its DEM with buildings as porosity, land use, lake and rivers held at
    their level), a Terrain, a (ny, nx) DEM array (then ``cell`` m is its cell size) or a
    FloodGrid; rain : a Hyetograph (see :func:`~.rain.chicago`, :func:`~.rain.uniform`) or a
    list of them — an ensemble solved in one batched pass (a ``member`` dimension);
    manning : n (s/m^⅓), array, or {land-use class: n}; infiltration : "horton", "constant",
    None ("auto": Horton for a city, none for a bare DEM); boundary : "open" / "closed" /
    {side: …}; record_every : s between recorded rasters (default: 12 records); h0 : initial
    depth (m).

    Returns a Dataset: ``depth`` (m), ``u``/``v`` (east/north velocity, m/s) over (time,
    [member,] y, x); ``max_depth`` ([member,] y, x); the mass balance per record (m³):
    ``rain``, ``infiltration``, ``outflow`` (open edges), ``water_bodies`` (into the lake and
    rivers), ``storage``, ``mass_error`` and ``mass_rel_error``; ``spatial_ref`` carries the
    CRS (CF ``crs_wkt``); attrs ``steps``, ``cell_updates``, ``wall_s``."""
    if not duration > 0:
        raise FloodError(f"duration must be > 0 s, not {duration}")
    is_city = hasattr(source, "terrain") and hasattr(source, "buildings")
    if infiltration == "auto":
        infiltration = "horton" if is_city else None
    grid = build_grid(source, cell=cell, manning=manning, infiltration=infiltration)
    rains, ensemble = _rain_list(rain)
    K = len(rains) if rains else 1
    for r in rains or ():
        if r is not None and r.spatial and r.rate.shape[1:] != grid.shape:
            raise FloodError(f"spatial rain has shape {r.rate.shape[1:]}, the grid {grid.shape}")
    sim = FloodSim(grid, K, boundary=boundary, theta=theta, alpha=alpha, dt_max=dt_max,
                   hmin=hmin, slope=slope, h0=h0, parallel=parallel)
    every = duration / 12 if record_every is None else float(record_every)
    times = np.unique(np.append(np.arange(every, duration, every), duration))
    rec = {k: [] for k in ("depth", "u", "v")}
    bal = []
    t0 = time.perf_counter()
    for t in times:
        sim.advance(float(t), rains)
        u, v = sim.velocity()
        rec["depth"].append(sim.h.copy())
        rec["u"].append(u)
        rec["v"].append(v)
        bal.append(sim.balance())
    wall = time.perf_counter() - t0
    return _dataset(grid, sim, times, rec, bal, ensemble, wall)


def _dataset(grid, sim, times, rec, bal, ensemble, wall) -> xr.Dataset:
    dims = ("time", "member", "y", "x")
    walls = grid.phi <= 0
    data = {}
    for k, v in rec.items():
        a = np.stack(v)
        if k == "depth":
            a = np.where(walls, np.nan, a)
        data[k] = (dims, a, {"units": "m" if k == "depth" else "m/s"})
    data["max_depth"] = (dims[1:], np.where(walls, np.nan, sim.hpeak), {"units": "m"})
    names = {"rain": "rain", "infiltration": "infiltration", "outflow": "outflow",
             "water_bodies": "water_bodies", "storage": "storage", "error": "mass_error"}
    for src, dst in names.items():
        data[dst] = (("time", "member"), np.stack([b[src] for b in bal]), {"units": "m3"})
    data["mass_rel_error"] = (("time", "member"), np.stack([b["rel_error"] for b in bal]),
                              {"units": "1"})
    crs = grid.crs
    wkt = "" if crs is None else crs.to_wkt()
    data["spatial_ref"] = ((), 0, {"crs_wkt": wkt, "spatial_ref": wkt})
    ds = xr.Dataset(data, coords={"time": times, "x": grid.x, "y": grid.y,
                                  "member": np.arange(sim.K)})
    ds["x"].attrs.update(units="m", standard_name="projection_x_coordinate")
    ds["y"].attrs.update(units="m", standard_name="projection_y_coordinate")
    for k in ("depth", "u", "v", "max_depth"):
        ds[k].attrs["grid_mapping"] = "spatial_ref"
    cells = int((grid.phi > 0).sum())
    ds.attrs.update(crs="" if crs is None else crs.to_string(), cell_size_m=grid.dx,
                    scheme="local inertial (Bates et al. 2010; de Almeida et al. 2012)",
                    steps=int(sim.steps.max()), cell_updates=float(cells * sim.steps.sum()),
                    wall_s=wall)
    if not ensemble:
        ds = ds.isel(member=0, drop=True)
    return ds
