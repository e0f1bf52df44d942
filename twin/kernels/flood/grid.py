"""The flood grid: bed, porosity, roughness, land use, infiltration and water bodies on a raster.

:func:`make_grid` builds it from a DEM alone (array or :class:`cim.model.terrain.Terrain`);
:func:`grid_from_city` adds the city: building footprints as porosity (the open share of each
cell, sampled on a sub-grid; cells more than ``block`` covered are walls), land-use classes
and road cells (Manning's n, infiltration), and the lake and rivers as cells held at their
surface level (they take what flows in: the water-body outflow of the mass balance).
Roof rain of wall cells runs to the nearest open cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .errors import FloodError
from .landuse import class_table


@dataclass
class FloodGrid:
    """Static arrays of a flood model (ny, nx), row 0 north. ``z`` bed (m), ``phi`` open
    fraction (0 = wall), ``n`` Manning (s/m^⅓), ``lu`` class index into ``classes``/``fpar``
    (f0, fc m/s, k 1/s, pervious share), ``fixed_h`` held depth of water-body cells (NaN
    elsewhere), ``drain`` (ny*nx,) flat index of the open cell that takes each cell's rain;
    ``x0``, ``y0`` lower-left corner, ``dx`` cell (m); ``crs`` (pyproj CRS or None)."""

    z: np.ndarray
    dx: float
    x0: float = 0.0
    y0: float = 0.0
    phi: np.ndarray = None
    n: np.ndarray = None
    lu: np.ndarray = None
    classes: list = field(default_factory=lambda: ["default"])
    fpar: np.ndarray = None
    fixed_h: np.ndarray = None
    drain: np.ndarray = None
    crs: object = None

    @property
    def shape(self):
        return self.z.shape

    @property
    def x(self) -> np.ndarray:
        return self.x0 + (np.arange(self.z.shape[1]) + 0.5) * self.dx

    @property
    def y(self) -> np.ndarray:
        ny = self.z.shape[0]
        return self.y0 + (ny - np.arange(ny) - 0.5) * self.dx

    def cell_of(self, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (row, col, inside) of points x, y (arrays)."""
        ny, nx = self.z.shape
        c = np.floor((np.asarray(x, float) - self.x0) / self.dx).astype(np.int64)
        r = ny - 1 - np.floor((np.asarray(y, float) - self.y0) / self.dx).astype(np.int64)
        inside = (c >= 0) & (c < nx) & (r >= 0) & (r < ny)
        return np.clip(r, 0, ny - 1), np.clip(c, 0, nx - 1), inside

    def catch(self, field=None) -> np.ndarray:
        """Return (ny, nx) rain routed to open cells, as a multiple of the cell area: ``field``
        (ny, nx) (default ones) summed over the cells that drain to each cell."""
        f = np.ones(self.z.size) if field is None else np.asarray(field, float).ravel()
        return np.bincount(self.drain, f, minlength=self.z.size).reshape(self.z.shape)


def make_grid(dem, dx: float | None = None, *, x0=None, y0=None, manning=0.03, phi=None,
              lu=None, classes=None, infiltration=None, horton=None, fixed_level=None,
              crs=None, block: float = 0.9) -> FloodGrid:
    """Return a :class:`FloodGrid` for ``dem``: a Terrain or a (ny, nx) array with cell ``dx``.

    manning : n everywhere (float), or (ny, nx) array; phi : (ny, nx) open fraction (default 1;
    below 1 − ``block`` a wall); lu/classes : class index per cell and class names (land-use
    table of :mod:`.landuse`; then ``manning`` may be a {class: n} dict); infiltration :
    "horton", "constant" or None; fixed_level : (ny, nx) water level held (m, NaN = free) or
    None. NaN in the DEM raises FloodError naming the first hole."""
    if hasattr(dem, "z") and hasattr(dem, "cell"):
        z, dx = np.asarray(dem.z, float), float(dem.cell)
        x0 = dem.x0 if x0 is None else x0
        y0 = dem.y0 if y0 is None else y0
    else:
        z = np.asarray(dem, float)
        if dx is None:
            raise FloodError("a DEM array needs its cell size dx (m)")
    if z.ndim != 2 or min(z.shape) < 1:
        raise FloodError(f"the DEM must be a 2-D grid, not shape {z.shape}")
    if not dx > 0:
        raise FloodError(f"cell size must be > 0 m, not {dx}")
    bad = ~np.isfinite(z)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise FloodError(f"the DEM has {int(bad.sum())} NaN/infinite cells (no-data holes); "
                         "fill them first", cell=(int(r), int(c)))
    shape = z.shape
    ph = np.ones(shape) if phi is None else np.clip(np.asarray(phi, float), 0.0, 1.0)
    ph = np.where(ph < 1.0 - block, 0.0, ph)
    if classes is None:
        classes = ["default"]
        lu = np.zeros(shape, np.int16)
    lu = np.asarray(lu, np.int16)
    names, n_cls, fpar = class_table(classes, infiltration, horton,
                                     manning if isinstance(manning, dict) else None)
    if isinstance(manning, dict) or manning is None:
        n = n_cls[lu]
    else:
        n = np.broadcast_to(np.asarray(manning, float), shape).copy()
    if (n <= 0).any():
        raise FloodError("Manning's n must be > 0")
    fixed_h = np.full(shape, np.nan)
    if fixed_level is not None:
        lvl = np.asarray(fixed_level, float)
        held = np.isfinite(lvl)
        fixed_h[held] = np.maximum(lvl[held] - z[held], 0.0)
    fixed_h[ph <= 0] = np.nan
    walls = ph <= 0
    if walls.all():
        raise FloodError("every cell of the grid is a wall")
    if walls.any():
        _, (ir, ic) = ndimage.distance_transform_edt(walls, return_indices=True)
        drain = (ir * shape[1] + ic).ravel()
    else:
        drain = np.arange(z.size)
    return FloodGrid(z=z, dx=float(dx), x0=float(x0 or 0.0), y0=float(y0 or 0.0), phi=ph, n=n,
                     lu=lu, classes=names, fpar=fpar, fixed_h=fixed_h, drain=drain, crs=crs)


def resample(terrain, cell: float):
    """Return ``terrain`` resampled (bilinear) to ``cell`` metres over the same extent."""
    from cim.model.terrain import Terrain

    x0, y0, x1, y1 = terrain.bounds
    nx = max(1, int(round((x1 - x0) / cell)))
    ny = max(1, int(round((y1 - y0) / cell)))
    xs = x0 + (np.arange(nx) + 0.5) * cell
    ys = y0 + (ny - np.arange(ny) - 0.5) * cell
    gx, gy = np.meshgrid(xs, ys)
    z = terrain.sample(gx.ravel(), gy.ravel()).reshape(ny, nx)
    return Terrain(z, x0, y0, float(cell))


def _cover(polys, xs, ys, shape, x0, y0, dx, sub=1):
    """Yield (object index, flat cell indices, share) of the sub-grid points each shapely
    polygon covers (``sub``² points per cell)."""
    import shapely

    ny, nx = shape
    for i, g in enumerate(polys):
        if g is None or g.is_empty:
            continue
        bx0, by0, bx1, by1 = g.bounds
        c0, c1 = max(int((bx0 - x0) / dx * sub), 0), min(int((bx1 - x0) / dx * sub) + 1, nx * sub)
        r0 = max(int((ny * dx - (by1 - y0)) / dx * sub), 0)
        r1 = min(int((ny * dx - (by0 - y0)) / dx * sub) + 1, ny * sub)
        if c1 <= c0 or r1 <= r0:
            continue
        cc, rr = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
        px = x0 + (cc + 0.5) * dx / sub
        py = y0 + ny * dx - (rr + 0.5) * dx / sub
        inside = shapely.contains_xy(g, px, py)
        if inside.any():
            cells = (rr[inside] // sub) * nx + cc[inside] // sub
            yield i, cells


def grid_from_city(city, *, cell: float | None = None, infiltration="horton", horton=None,
                   manning=None, block: float = 0.9, sub: int = 4) -> FloodGrid:
    """Return the flood grid of ``city`` (CityModel with a terrain): DEM (resampled to
    ``cell`` m when given), building porosity (``sub``² samples per cell), land use and
    road classes, water bodies held at their surface level (the polygons' z)."""
    if city.terrain is None:
        raise FloodError("the city has no terrain (DEM)")
    t = city.terrain if cell is None else resample(city.terrain, cell)
    if np.isnan(t.z).any():
        make_grid(t.z, t.cell)  # raises naming the hole
    ny, nx = t.shape
    dx = t.cell
    covered = np.zeros(ny * nx)
    b = city.buildings
    polys = [b.footprint.to_shapely(i) if b.footprint.object_offsets[i + 1]
             > b.footprint.object_offsets[i] else None for i in range(len(b))]
    for _, cells in _cover(polys, None, None, (ny, nx), t.x0, t.y0, dx, sub):
        np.add.at(covered, cells, 1.0 / sub ** 2)
    phi = 1.0 - np.minimum(covered, 1.0).reshape(ny, nx)
    lu_names = ["default", "road", "water"]
    lu = np.zeros(ny * nx, np.int16)
    areas = city.land_use
    kinds = [str(k) for k in areas.kind]
    for k in kinds:
        if k not in lu_names:
            lu_names.append(k)
    polys = [areas.polygons.to_shapely(i) for i in range(len(areas))]
    for i, cells in _cover(polys, None, None, (ny, nx), t.x0, t.y0, dx):
        lu[cells] = lu_names.index(kinds[i])
    # road cells: points every dx/2 along each link's centreline
    roads = city.roads
    if roads.n_links:
        xy = roads.geometry_xy
        g = FloodGrid(z=t.z, dx=dx, x0=t.x0, y0=t.y0)
        pts = densify(xy, roads.geometry_offsets, dx / 2)[0]
        r, c, ok = g.cell_of(pts[:, 0], pts[:, 1])
        lu[(r * nx + c)[ok]] = 1
    level = np.full(ny * nx, np.nan)
    wb = city.water_bodies
    polys = [wb.polygons.to_shapely(i) for i in range(len(wb))]
    off = wb.polygons.object_offsets
    for i, cells in _cover(polys, None, None, (ny, nx), t.x0, t.y0, dx):
        ring0 = wb.polygons.ring_offsets[wb.polygons.polygon_offsets[off[i]]]
        level[cells] = wb.polygons.vertices[ring0, 2]
        lu[cells] = 2
    return make_grid(t, manning=manning, phi=phi, lu=lu.reshape(ny, nx), classes=lu_names,
                     infiltration=infiltration, horton=horton,
                     fixed_level=level.reshape(ny, nx), crs=city.crs, block=block)


def densify(xy, offsets, step):
    """Return (points (m, 2), owner (m,)) sampled every ≤ ``step`` m along each polyline
    ``xy[offsets[i]:offsets[i+1]]`` (vertices included)."""
    xy = np.asarray(xy, float)[:, :2]
    offsets = np.asarray(offsets, np.int64)
    mask = np.ones(int(offsets[-1]), bool)
    nonempty = np.diff(offsets) > 0
    mask[offsets[1:][nonempty] - 1] = False
    starts = np.flatnonzero(mask)
    seg_owner = np.searchsorted(offsets, starts, side="right") - 1
    a, bb = xy[starts], xy[starts + 1]
    seg_len = np.hypot(*(bb - a).T)
    nseg = np.maximum(np.ceil(seg_len / step).astype(np.int64), 1)
    rep = np.repeat(np.arange(len(starts)), nseg + 1)
    frac = (np.arange(rep.size) - np.repeat(np.cumsum(nseg + 1) - (nseg + 1), nseg + 1)) \
        / np.repeat(nseg, nseg + 1)
    pts = a[rep] + (bb - a)[rep] * frac[:, None]
    return pts, seg_owner[rep]
