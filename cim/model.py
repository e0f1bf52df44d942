"""The typed city information model: struct-of-arrays tables, one per kind of city object.

Coordinates are in ``CityModel.crs`` (a :class:`pyproj.CRS`, or None for "file coordinates");
heights in metres above the source's vertical datum. Ids are the stable string ids of the
source files; each table's row order is its dense index.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pyproj

from .errors import CRSError, LoadReport
from .geometry import PolygonSet

#: Site kinds the engine knows (others are kept as given).
SITE_KINDS = ("fire_station", "hospital", "shelter", "school", "substation",
              "pumping_station", "sensor", "police", "metro_station", "landmark")

#: The local metric CRS of the pilot districts: CGCS2000 / 3-degree Gauss-Kruger CM 120E.
LOCAL_CRS = "EPSG:4549"


def _obj(values, n=None) -> np.ndarray:
    a = np.empty(len(values) if n is None else n, dtype=object)
    a[:] = list(values) if n is None else values
    return a


@dataclass
class Attributes:
    """Extra attributes as columns: ``columns[name]`` is an (n,) object array (None = absent)."""

    n: int = 0
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_dicts(cls, dicts: list[dict]) -> Attributes:
        names: dict[str, None] = {}
        for d in dicts:
            names.update(dict.fromkeys(d))
        cols = {k: _obj([d.get(k) for d in dicts]) for k in names}
        return cls(len(dicts), cols)

    def row(self, i: int) -> dict[str, Any]:
        """Return object i's attributes as a dict (absent ones left out)."""
        return {k: c[i] for k, c in self.columns.items() if c[i] is not None}

    def select(self, idx) -> Attributes:
        idx = np.asarray(idx, dtype=np.int64)
        return Attributes(len(idx), {k: c[idx] for k, c in self.columns.items()})

    @staticmethod
    def concat(parts: list[Attributes]) -> Attributes:
        names: dict[str, None] = {}
        for p in parts:
            names.update(dict.fromkeys(p.columns))
        cols = {k: np.concatenate([p.columns.get(k, _obj([None] * p.n)) for p in parts])
                if parts else _obj([]) for k in names}
        return Attributes(sum(p.n for p in parts), cols)


class Table:
    """Base of the struct-of-arrays tables: equal-length columns, ``len`` = number of rows."""

    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, obj_id: str) -> int:
        """Return the dense index of ``obj_id`` (its first row; KeyError if absent)."""
        m = getattr(self, "_index", None)
        if m is None or len(m) != len(self.ids):
            m = {}
            for i, k in enumerate(self.ids):
                m.setdefault(k, i)
            self._index = m
        return m[obj_id]

    def select(self, idx):
        """Return a table of rows ``idx`` (in that order)."""
        idx = np.asarray(idx, dtype=np.int64)
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (PolygonSet, Attributes)):
                kw[f.name] = v.select(idx)
            elif isinstance(v, np.ndarray) and v.shape[:1] == self.ids.shape:
                kw[f.name] = v[idx]
            else:
                kw[f.name] = v
        return type(self)(**kw)

    @classmethod
    def concat(cls, parts):
        kw = {}
        for f in fields(cls):
            vals = [getattr(p, f.name) for p in parts]
            v0 = vals[0]
            if isinstance(v0, PolygonSet):
                kw[f.name] = PolygonSet.concat(vals)
            elif isinstance(v0, Attributes):
                kw[f.name] = Attributes.concat(vals)
            elif isinstance(v0, np.ndarray):
                kw[f.name] = np.concatenate(vals)
            else:
                kw[f.name] = v0
        return cls(**kw)


@dataclass
class Buildings(Table):
    """Buildings (BuildingParts are merged into their parent). All arrays have shape (n,).

    - ``ids`` object str; ``footprint`` PolygonSet (dim 2, x/y in CRS units, holes allowed,
      several polygons when the building has several parts);
    - ``base_height`` float64 m: elevation of the ground floor (z of the footprint);
    - ``roof_height`` float64 m: elevation of the highest roof point; ``height`` = roof − base;
    - ``storeys`` int32 (−1 unknown); ``use`` object str: residential, commercial, office,
      industrial, education, health, public, mixed, … as the source names it; "" when the
      source gives none, "other" when it gives a code no reader maps;
    - ``floor_area`` float64 m² gross; ``residents`` float64 persons; ``jobs`` float64;
    - ``lod`` float32: highest LoD read (1 = extrusion, 2 / 2.2 = surfaces);
    - ``surfaces`` PolygonSet (dim 3) of LoD2 surfaces with semantics; objects without surfaces
      have zero polygons there; ``attributes`` extra source attributes;
    - ``parts`` object: for buildings made of BuildingParts, a tuple of the part ids, else None.
    """

    ids: np.ndarray
    footprint: PolygonSet
    base_height: np.ndarray
    roof_height: np.ndarray
    storeys: np.ndarray
    use: np.ndarray
    floor_area: np.ndarray
    residents: np.ndarray
    jobs: np.ndarray
    lod: np.ndarray
    surfaces: PolygonSet
    attributes: Attributes
    parts: np.ndarray

    @property
    def height(self) -> np.ndarray:
        """(n,) float64 m: roof height − base height."""
        return self.roof_height - self.base_height

    @classmethod
    def empty(cls) -> Buildings:
        return cls(_obj([]), PolygonSet.empty(0, 2), np.zeros(0), np.zeros(0),
                   np.zeros(0, np.int32), _obj([]), np.zeros(0), np.zeros(0), np.zeros(0),
                   np.zeros(0, np.float32), PolygonSet.empty(0, 3), Attributes(), _obj([]))


@dataclass
class RoadNetwork:
    """The directed road network.

    Nodes (n_nodes,): ``node_ids`` object str, ``node_xy`` (n_nodes, 2) float64, ``node_signal``
    bool (signalized intersection), ``node_signal_plan`` object (dict with ``cycle_s``,
    ``offset_s``, ``green_s`` list per phase, ``yellow_s``; or None).
    Links (n_links,): ``link_ids`` object str; ``link_from``/``link_to`` int64 node indices;
    ``link_length`` float64 m; ``link_lanes`` int16; ``link_free_speed`` float64 m/s;
    ``link_capacity`` float64 veh/h over all lanes; ``link_name`` object str; ``link_class``
    object str (motorway, trunk, primary, secondary, tertiary, residential, service, …);
    ``link_width`` float64 m; ``link_tunnel`` / ``link_bridge`` bool; ``link_source`` object str
    (id of the source object the link came from, e.g. the CityJSON Road or OSM way).
    Geometry: link k's polyline is ``geometry_xy[geometry_offsets[k]:geometry_offsets[k+1]]``.
    """

    node_ids: np.ndarray
    node_xy: np.ndarray
    node_signal: np.ndarray
    node_signal_plan: np.ndarray
    link_ids: np.ndarray
    link_from: np.ndarray
    link_to: np.ndarray
    link_length: np.ndarray
    link_lanes: np.ndarray
    link_free_speed: np.ndarray
    link_capacity: np.ndarray
    link_name: np.ndarray
    link_class: np.ndarray
    link_width: np.ndarray
    link_tunnel: np.ndarray
    link_bridge: np.ndarray
    link_source: np.ndarray
    geometry_offsets: np.ndarray
    geometry_xy: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_links(self) -> int:
        return len(self.link_ids)

    def __len__(self) -> int:
        return self.n_links

    @property
    def ids(self) -> np.ndarray:
        return self.link_ids

    def link_geometry(self, k: int) -> np.ndarray:
        """Return link k's polyline, (n, 2) float64."""
        return self.geometry_xy[self.geometry_offsets[k]:self.geometry_offsets[k + 1]]

    @classmethod
    def empty(cls) -> RoadNetwork:
        z = np.zeros(0)
        zi = np.zeros(0, np.int64)
        return cls(_obj([]), np.zeros((0, 2)), np.zeros(0, bool), _obj([]), _obj([]), zi, zi,
                   z, np.zeros(0, np.int16), z, z, _obj([]), _obj([]), z, np.zeros(0, bool),
                   np.zeros(0, bool), _obj([]), np.zeros(1, np.int64), np.zeros((0, 2)))

    @staticmethod
    def concat(parts: list[RoadNetwork]) -> RoadNetwork:
        """Join networks; nodes with the same id are merged (first position wins)."""
        parts = [p for p in parts if p.n_nodes or p.n_links]
        if not parts:
            return RoadNetwork.empty()
        if len(parts) == 1:
            return parts[0]
        ids: dict[str, int] = {}
        xy, sig, plan = [], [], []
        remaps = []
        for p in parts:
            remap = np.empty(p.n_nodes, np.int64)
            for i, nid in enumerate(p.node_ids):
                j = ids.get(nid)
                if j is None:
                    j = ids[nid] = len(ids)
                    xy.append(p.node_xy[i])
                    sig.append(p.node_signal[i])
                    plan.append(p.node_signal_plan[i])
                remap[i] = j
            remaps.append(remap)
        cat = {f.name: np.concatenate([getattr(p, f.name) for p in parts])
               for f in fields(RoadNetwork) if f.name.startswith("link_")}
        cat["link_from"] = np.concatenate([r[p.link_from] for r, p in zip(remaps, parts)])
        cat["link_to"] = np.concatenate([r[p.link_to] for r, p in zip(remaps, parts)])
        offs, n = [np.zeros(1, np.int64)], 0
        for p in parts:
            offs.append(p.geometry_offsets[1:] + n)
            n += len(p.geometry_xy)
        return RoadNetwork(_obj(list(ids)), np.asarray(xy, float).reshape(-1, 2),
                           np.asarray(sig, bool), _obj(plan), **cat,
                           geometry_offsets=np.concatenate(offs),
                           geometry_xy=np.concatenate([p.geometry_xy for p in parts]))

    def transformed(self, fn) -> RoadNetwork:
        nxy = self.node_xy.copy()
        gxy = self.geometry_xy.copy()
        if len(nxy):
            nxy[:, 0], nxy[:, 1] = fn(nxy[:, 0], nxy[:, 1])
        if len(gxy):
            gxy[:, 0], gxy[:, 1] = fn(gxy[:, 0], gxy[:, 1])
        return replace(self, node_xy=nxy, geometry_xy=gxy)


@dataclass
class Areas(Table):
    """Areal objects (water bodies, land-use zones): ``ids`` object str, ``kind`` object str
    (lake/river/canal…, or land-use class), ``name`` object str, ``polygons`` PolygonSet (dim 3;
    z = surface elevation m), ``attributes``."""

    ids: np.ndarray
    kind: np.ndarray
    name: np.ndarray
    polygons: PolygonSet
    attributes: Attributes

    @classmethod
    def empty(cls) -> Areas:
        return cls(_obj([]), _obj([]), _obj([]), PolygonSet.empty(0, 3), Attributes())


@dataclass
class Sites(Table):
    """Point sites (fire stations, hospitals, shelters, schools, substations, pumping stations,
    sensors…): ``ids``, ``kind`` (see :data:`SITE_KINDS`), ``name`` object str; ``xyz`` (n, 3)
    float64; ``capacity`` float64 (beds, persons, vehicles… per kind; NaN unknown);
    ``attributes`` (e.g. ``source`` citing where a real location comes from)."""

    ids: np.ndarray
    kind: np.ndarray
    name: np.ndarray
    xyz: np.ndarray
    capacity: np.ndarray
    attributes: Attributes

    @classmethod
    def empty(cls) -> Sites:
        return cls(_obj([]), _obj([]), _obj([]), np.zeros((0, 3)), np.zeros(0), Attributes())


@dataclass
class CityObjects(Table):
    """Other city objects kept for round trips and display (PlantCover, CityFurniture,
    GenericCityObject, Bridge, …): ``ids``, ``type`` object str, ``surfaces`` PolygonSet (dim
    3), ``lod`` float32, ``attributes``."""

    ids: np.ndarray
    type: np.ndarray
    surfaces: PolygonSet
    lod: np.ndarray
    attributes: Attributes

    @classmethod
    def empty(cls) -> CityObjects:
        return cls(_obj([]), _obj([]), PolygonSet.empty(0, 3), np.zeros(0, np.float32),
                   Attributes())


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


def _reproject_terrain(t: Terrain, src: pyproj.CRS, dst: pyproj.CRS) -> Terrain:
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


@dataclass
class CityModel:
    """A whole city model. Utility networks (``water_network``, ``power_grid``, ``drainage``)
    are filled by their readers in a later issue; None when absent.

    ``crs``: pyproj.CRS or None (coordinates of the file, no reference system);
    ``metadata``: dict (title, synthetic flag, sources…); ``report``: the LoadReport.
    """

    buildings: Buildings = field(default_factory=Buildings.empty)
    roads: RoadNetwork = field(default_factory=RoadNetwork.empty)
    water_bodies: Areas = field(default_factory=Areas.empty)
    land_use: Areas = field(default_factory=Areas.empty)
    sites: Sites = field(default_factory=Sites.empty)
    others: CityObjects = field(default_factory=CityObjects.empty)
    terrain: Terrain | None = None
    water_network: Any = None
    power_grid: Any = None
    drainage: Any = None
    crs: pyproj.CRS | None = None
    metadata: dict = field(default_factory=dict)
    report: LoadReport = field(default_factory=LoadReport)

    # ---- geometry-wide operations ------------------------------------------------------
    def _xy_arrays(self):
        """Yield every (n, >=2) coordinate array of the model (views)."""
        b = self.buildings
        yield b.footprint.vertices
        yield b.surfaces.vertices
        yield self.roads.node_xy
        yield self.roads.geometry_xy
        yield self.water_bodies.polygons.vertices
        yield self.land_use.polygons.vertices
        yield self.sites.xyz
        yield self.others.surfaces.vertices

    def bounds(self) -> tuple[float, float, float, float]:
        """Return (min_x, min_y, max_x, max_y) over all geometry, in ``crs`` units."""
        mins, maxs = [], []
        for a in self._xy_arrays():
            if len(a):
                mins.append(a[:, :2].min(axis=0))
                maxs.append(a[:, :2].max(axis=0))
        if self.terrain is not None:
            x0, y0, x1, y1 = self.terrain.bounds
            mins.append(np.array([x0, y0]))
            maxs.append(np.array([x1, y1]))
        if not mins:
            return (np.nan, np.nan, np.nan, np.nan)
        lo, hi = np.min(mins, axis=0), np.max(maxs, axis=0)
        return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

    def bounds_wgs84(self) -> tuple[float, float, float, float]:
        """Return (min_lon, min_lat, max_lon, max_lat) in degrees; CRSError without a CRS."""
        if self.crs is None:
            raise CRSError("the model has no reference system; WGS84 bounds are unknown")
        x0, y0, x1, y1 = self.bounds()
        if self.crs.is_geographic and self.crs.equals(pyproj.CRS("EPSG:4326"), ignore_axis_order=True):
            return (x0, y0, x1, y1)
        tr = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        xs = np.linspace(x0, x1, 11)
        ys = np.linspace(y0, y1, 11)
        gx, gy = np.meshgrid(xs, ys)
        lon, lat = tr.transform(gx.ravel(), gy.ravel())
        return (float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat)))

    def to_crs(self, crs) -> CityModel:
        """Return a copy with every coordinate transformed to ``crs`` (x/y only; heights kept).

        The terrain grid is resampled (bilinear) onto a north-up grid of the target CRS with
        about the same number of cells. Raises CRSError when the model has no CRS or ``crs``
        cannot be resolved."""
        from .crs import resolve_crs

        target = resolve_crs(crs)
        if self.crs is None:
            raise CRSError("the model has no reference system; cannot transform it")
        if self.crs.equals(target):
            return self
        tr = pyproj.Transformer.from_crs(self.crs, target, always_xy=True)

        def fn(x, y):
            return tr.transform(x, y)

        b = self.buildings
        sites_xyz = self.sites.xyz.copy()
        if len(sites_xyz):
            sites_xyz[:, 0], sites_xyz[:, 1] = fn(sites_xyz[:, 0], sites_xyz[:, 1])
        terrain = None if self.terrain is None else _reproject_terrain(
            self.terrain, self.crs, target)
        return replace(
            self,
            buildings=replace(b, footprint=b.footprint.transformed(fn),
                              surfaces=b.surfaces.transformed(fn)),
            roads=self.roads.transformed(fn),
            water_bodies=replace(self.water_bodies,
                                 polygons=self.water_bodies.polygons.transformed(fn)),
            land_use=replace(self.land_use, polygons=self.land_use.polygons.transformed(fn)),
            sites=replace(self.sites, xyz=sites_xyz),
            others=replace(self.others, surfaces=self.others.surfaces.transformed(fn)),
            terrain=terrain,
            crs=target,
        )

    def to_metric(self) -> CityModel:
        """Return the model in a metric CRS: unchanged when already projected, else the local
        CRS (EPSG:4549) when inside its zone (117–123°E), else the matching UTM zone."""
        if self.crs is None or not self.crs.is_geographic:
            return self
        x0, y0, x1, y1 = self.bounds()
        lon = 0.5 * (x0 + x1)
        if 117.0 <= lon <= 123.0:
            return self.to_crs(LOCAL_CRS)
        zone = int((lon + 180) // 6) + 1
        epsg = (32600 if 0.5 * (y0 + y1) >= 0 else 32700) + zone
        return self.to_crs(f"EPSG:{epsg}")

    def summary(self) -> dict:
        """Return counts of each kind of object."""
        return {
            "buildings": len(self.buildings),
            "road_nodes": self.roads.n_nodes,
            "road_links": self.roads.n_links,
            "water_bodies": len(self.water_bodies),
            "land_use_zones": len(self.land_use),
            "sites": len(self.sites),
            "other_objects": len(self.others),
            "terrain": None if self.terrain is None else list(self.terrain.shape),
            "crs": None if self.crs is None else self.crs.to_string(),
        }

    @staticmethod
    def merge(models: list[CityModel]) -> CityModel:
        """Return one model holding the objects of all ``models``, in the first model's CRS
        (others are transformed to it; a model without CRS merges only with CRS-less ones)."""
        if len(models) == 1:
            return models[0]
        crs = next((m.crs for m in models if m.crs is not None), None)
        if crs is not None and any(m.crs is None for m in models):
            raise CRSError("cannot merge a file without reference system with georeferenced "
                           "files: " + ", ".join(f for m in models if m.crs is None
                                                 for f in m.report.files))
        ms = [m if crs is None else m.to_crs(crs) for m in models]
        report = LoadReport()
        meta: dict = {}
        for m in ms:
            report.merge(m.report)
            for k, v in m.metadata.items():
                meta.setdefault(k, v)
        terrain = next((m.terrain for m in ms if m.terrain is not None), None)
        return CityModel(
            buildings=Buildings.concat([m.buildings for m in ms]),
            roads=RoadNetwork.concat([m.roads for m in ms]),
            water_bodies=Areas.concat([m.water_bodies for m in ms]),
            land_use=Areas.concat([m.land_use for m in ms]),
            sites=Sites.concat([m.sites for m in ms]),
            others=CityObjects.concat([m.others for m in ms]),
            terrain=terrain,
            water_network=next((m.water_network for m in ms if m.water_network is not None), None),
            power_grid=next((m.power_grid for m in ms if m.power_grid is not None), None),
            drainage=next((m.drainage for m in ms if m.drainage is not None), None),
            crs=crs, metadata=meta, report=report,
        )
