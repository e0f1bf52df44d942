"""The DEM of a synthetic district: the flat plain of the Taihu basin with gentle noise, the
real hills as smooth bumps, and lake/river beds below the water level."""

from __future__ import annotations

import numpy as np
import shapely

from cim.model import Terrain

#: plain elevation (m) around Wuxi and the amplitude of its gentle relief
PLAIN_M = 4.0
PLAIN_RELIEF_M = 0.6


def make_terrain(spec: dict, ctx, rng: np.random.Generator, cell: float = 25.0) -> Terrain:
    """Return a Terrain (EPSG:4549) covering the district extent with ``cell``-m cells."""
    o = ctx.origin
    x0, y0, x1, y1 = ctx.extent.bounds
    # snap the grid to whole cells in absolute coordinates, covering the extent
    ax0 = np.floor((x0 + o[0]) / cell) * cell
    ay0 = np.floor((y0 + o[1]) / cell) * cell
    nx = int(np.ceil((x1 + o[0] - ax0) / cell))
    ny = int(np.ceil((y1 + o[1] - ay0) / cell))
    xs = ax0 - o[0] + (np.arange(nx) + 0.5) * cell
    ys = ay0 - o[1] + (ny - np.arange(ny) - 0.5) * cell     # row 0 = north
    X, Y = np.meshgrid(xs, ys)
    z = np.full(X.shape, PLAIN_M)
    # gentle relief: a few random long-wavelength waves (1.5–5 km)
    for _ in range(6):
        k = 2 * np.pi / rng.uniform(1500, 5000)
        th = rng.uniform(0, np.pi)
        ph = rng.uniform(0, 2 * np.pi)
        z += PLAIN_RELIEF_M / 3 * np.cos(k * (X * np.cos(th) + Y * np.sin(th)) + ph)
    for h in spec.get("hills", []):
        hx, hy = ctx.to_local(np.array([[h["lon"], h["lat"]]]))[0]
        r2 = ((X - hx) ** 2 + (Y - hy) ** 2) / (0.6 * h["radius_m"]) ** 2
        z = np.maximum(z, PLAIN_M + (h["peak_m"] - PLAIN_M) * np.exp(-r2))
    pts = shapely.points(X.ravel(), Y.ravel())
    for w, g in ctx.water_parts:
        if g.is_empty:
            continue
        inside = shapely.contains(g, pts)
        if not inside.any():
            continue
        dist = shapely.distance(g.boundary, pts[inside])
        depth = np.minimum(w["max_depth_m"], 0.5 + dist / 150.0)
        zz = z.ravel()
        zz[inside] = np.minimum(zz[inside], w["level_m"] - depth)
        z = zz.reshape(X.shape)
    return Terrain(np.round(z, 2), float(ax0), float(ay0), float(cell))
