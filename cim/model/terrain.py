"""The terrain: a north-up DEM grid, bilinear sampling and reprojection."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj


@dataclass
class Terrain:
    """A DEM grid: ``z`` (ny, nx) float64 m, row 0 is the **north** (top) row; ``x0``, ``y0``
    the lower-left corner of the grid (CRS units), ``cell`` the cell size (m); NaN = no data.
    Cell (r, c) has its centre at (x0 + (c + 0.5) cell, y0 + (ny − r − 0.5) cell)."""

    z: np.ndarray
    x0: float
    y0: float
    cell: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.z.shape

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        ny, nx = self.z.shape
        return (self.x0, self.y0, self.x0 + nx * self.cell, self.y0 + ny * self.cell)

    def sample(self, x, y) -> np.ndarray:
        """Return bilinear terrain elevation (m) at points x, y (arrays); NaN outside."""
        ny, nx = self.z.shape
        fx = (np.asarray(x, float) - self.x0) / self.cell - 0.5
        fy = (ny - 0.5) - (np.asarray(y, float) - self.y0) / self.cell
        inside = (fx >= -0.5) & (fx <= nx - 0.5) & (fy >= -0.5) & (fy <= ny - 0.5)
        fx = np.clip(fx, 0, nx - 1)
        fy = np.clip(fy, 0, ny - 1)
        c0 = np.minimum(np.floor(fx).astype(int), max(nx - 2, 0))
        r0 = np.minimum(np.floor(fy).astype(int), max(ny - 2, 0))
        c1 = np.minimum(c0 + 1, nx - 1)
        r1 = np.minimum(r0 + 1, ny - 1)
        tx, ty = fx - c0, fy - r0
        z = self.z
        v = ((1 - tx) * (1 - ty) * z[r0, c0] + tx * (1 - ty) * z[r0, c1]
             + (1 - tx) * ty * z[r1, c0] + tx * ty * z[r1, c1])
        return np.where(inside, v, np.nan)


def reproject_terrain(t: Terrain, src: pyproj.CRS, dst: pyproj.CRS) -> Terrain:
    """Return ``t`` resampled (bilinear) onto a north-up grid in ``dst`` covering its extent,
    with the cell size scaled to ``dst`` units at the grid's centre."""
    fwd = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    inv = pyproj.Transformer.from_crs(dst, src, always_xy=True)
    x0, y0, x1, y1 = t.bounds
    s = np.linspace(0.0, 1.0, 33)
    ex = np.concatenate([x0 + (x1 - x0) * s, np.full(33, x1), x1 - (x1 - x0) * s, np.full(33, x0)])
    ey = np.concatenate([np.full(33, y0), y0 + (y1 - y0) * s, np.full(33, y1), y1 - (y1 - y0) * s])
    bx, by = fwd.transform(ex, ey)
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    px, py = fwd.transform(np.array([cx, cx + t.cell, cx]), np.array([cy, cy, cy + t.cell]))
    cell = 0.5 * (np.hypot(px[1] - px[0], py[1] - py[0]) + np.hypot(px[2] - px[0], py[2] - py[0]))
    nx = max(1, int(np.ceil((bx.max() - bx.min()) / cell)))
    ny = max(1, int(np.ceil((by.max() - by.min()) / cell)))
    nx0, ny0 = float(bx.min()), float(by.min())
    xs = nx0 + (np.arange(nx) + 0.5) * cell
    ys = ny0 + (ny - np.arange(ny) - 0.5) * cell
    gx, gy = np.meshgrid(xs, ys)
    sx, sy = inv.transform(gx.ravel(), gy.ravel())
    z = t.sample(sx, sy).reshape(ny, nx)
    return Terrain(z, nx0, ny0, float(cell))
