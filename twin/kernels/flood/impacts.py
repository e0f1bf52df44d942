"""What the water touches: cells of each road link, building and site, their depths, and the
effect of depth on traffic.

Depth–speed function (Pregnolato, Ford, Wilkinson & Dawson 2017, *The impact of flooding on
road transport: a depth-disruption function*, Transportation Research Part D 55:67–81, eq. 3):

    v(w) = 0.0009 w² − 0.5529 w + 86.9448   (km/h, w = water depth on the road in mm)

for w < 300 mm; at 300 mm and deeper the road is impassable (v = 0). The kernel publishes
``speed_factor`` = v(w) / v(0) per road link (the deepest cell of the link) and, as traffic
capacity falls with speed at a given density, the same factor as ``capacity_factor`` (0 = the
link is closed).
"""

from __future__ import annotations

import numpy as np

from .grid import FloodGrid, densify

#: Pregnolato et al. (2017): quadratic coefficients (km/h, depth in mm) and the closure depth
PREGNOLATO = (0.0009, -0.5529, 86.9448)
CLOSURE_DEPTH = 0.3


def speed_factor(depth_m) -> np.ndarray:
    """v(w)/v(0) of Pregnolato et al. (2017) for depth (m); 0 at ≥ 0.3 m."""
    w = np.maximum(np.asarray(depth_m, float), 0.0) * 1e3
    a, b, c = PREGNOLATO
    v = (a * w + b) * w + c
    return np.where(w >= CLOSURE_DEPTH * 1e3, 0.0, np.clip(v / c, 0.0, 1.0))


class CellGroups:
    """Ragged groups of flat cell indices (CSR): ``offsets`` (n+1,), ``cells``; groups may be
    empty (their depth is 0)."""

    def __init__(self, owner: np.ndarray, cells: np.ndarray, n: int):
        key = np.unique(owner.astype(np.int64) * (1 << 32) + cells.astype(np.int64))
        self.owner = key >> 32
        self.cells = key & ((1 << 32) - 1)
        self.offsets = np.concatenate([[0], np.cumsum(np.bincount(self.owner, minlength=n))])
        self.n = n

    def max(self, field: np.ndarray) -> np.ndarray:
        """(K, n) maximum of ``field`` (K, ny, nx) over each group (0 for an empty group)."""
        K = field.shape[0]
        out = np.zeros((K, self.n))
        if not len(self.cells):
            return out
        vals = field.reshape(K, -1)[:, self.cells]
        nonempty = np.diff(self.offsets) > 0
        starts = self.offsets[:-1][nonempty]
        out[:, nonempty] = np.maximum.reduceat(vals, starts, axis=1)
        return out


def _open(grid: FloodGrid, flat: np.ndarray) -> np.ndarray:
    """Replace wall cells by the open cell that takes their rain (the nearest open one)."""
    return grid.drain[flat]


def road_groups(grid: FloodGrid, roads) -> CellGroups:
    """Cells under each road link's centreline (sampled every half cell)."""
    n = roads.n_links
    if not n:
        return CellGroups(np.zeros(0), np.zeros(0), 0)
    pts, owner = densify(roads.geometry_xy, roads.geometry_offsets, grid.dx / 2)
    r, c, ok = grid.cell_of(pts[:, 0], pts[:, 1])
    flat = _open(grid, (r * grid.shape[1] + c)[ok])
    return CellGroups(owner[ok], flat, n)


def building_groups(grid: FloodGrid, buildings) -> CellGroups:
    """Open cells along a ring half a cell outside each building's footprint (where water
    stands against its walls and doors)."""
    import shapely

    n = len(buildings)
    if not n:
        return CellGroups(np.zeros(0), np.zeros(0), 0)
    fp = buildings.footprint
    geoms = np.array([fp.to_shapely(i) if fp.object_offsets[i + 1] > fp.object_offsets[i]
                      else shapely.Point() for i in range(n)], object)
    rings = shapely.boundary(shapely.buffer(geoms, 0.5 * grid.dx, quad_segs=2))
    rings = shapely.segmentize(rings, grid.dx / 2)
    xy, owner = shapely.get_coordinates(rings, return_index=True)
    r, c, ok = grid.cell_of(xy[:, 0], xy[:, 1])
    flat = _open(grid, (r * grid.shape[1] + c)[ok])
    return CellGroups(owner[ok], flat, n)


def site_groups(grid: FloodGrid, sites) -> CellGroups:
    """The (nearest open) cell of each site."""
    n = len(sites)
    if not n:
        return CellGroups(np.zeros(0), np.zeros(0), 0)
    r, c, ok = grid.cell_of(sites.xyz[:, 0], sites.xyz[:, 1])
    flat = _open(grid, (r * grid.shape[1] + c)[ok])
    return CellGroups(np.arange(n)[ok], flat, n)
