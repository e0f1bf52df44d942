"""The whole city model: tables, networks and terrain in one reference system."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np
import pyproj

from ..errors import CRSError, LoadReport
from .drainage import DrainageNetwork
from .network import Network, WalkwayNetwork
from .power import PowerGrid
from .roads import RoadNetwork
from .tables import Areas, Buildings, CityObjects, Sites
from .terrain import Terrain, reproject_terrain
from .water import WaterNetwork

#: The local metric CRS of the pilot districts: CGCS2000 / 3-degree Gauss-Kruger CM 120E.
LOCAL_CRS = "EPSG:4549"


@dataclass
class CityModel:
    """A whole city model.

    Tables: ``buildings``, ``water_bodies``, ``land_use`` (:class:`Areas`), ``sites``,
    ``others``; ``terrain`` (None when absent).
    Networks (:class:`~cim.model.network.Network` slots): ``roads`` (always present, maybe
    empty), ``water_network``, ``power_grid``, ``drainage``, ``walkways`` (None when absent;
    filled by their readers). Every operation below handles every network slot alike; a new
    slot needs only its field here.
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
    water_network: WaterNetwork | None = None
    power_grid: PowerGrid | None = None
    drainage: DrainageNetwork | None = None
    walkways: WalkwayNetwork | None = None
    crs: pyproj.CRS | None = None
    metadata: dict = field(default_factory=dict)
    report: LoadReport = field(default_factory=LoadReport)

    # ---- networks and ids ---------------------------------------------------------------
    def _network_slots(self) -> dict[str, Network]:
        """Return {slot name: network} of every network slot that holds one (empty or not)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Network):
                out[f.name] = v
        return out

    def networks(self) -> dict[str, Network]:
        """Return {slot name: network} of the non-empty networks (e.g. ``{"roads": …,
        "water_network": …}``), in slot order."""
        return {k: v for k, v in self._network_slots().items() if not v.is_empty}

    def id_maps(self) -> dict[str, dict[str, int]]:
        """Return {id kind: {str(id): dense index}}: ``"building"``, ``"site"``,
        ``"road_node"``, ``"road_link"`` (empty dicts without roads), and for every other
        non-empty network ``f"{kind}_node"`` and ``f"{kind}_link"``. A repeated id maps to its
        first row. ValueError when two network slots hold networks of the same kind."""
        maps: dict[str, dict[str, int]] = {
            "building": self.buildings.id_map(), "site": self.sites.id_map()}
        owner: dict[str, str] = {}
        for name, net in self.networks().items():
            if net.kind in owner:
                raise ValueError(f"network slots {owner[net.kind]!r} and {name!r} both hold "
                                 f"a {net.kind!r} network; their ids would clash")
            owner[net.kind] = name
            maps.update(net.id_maps())
        maps.setdefault("road_node", {})
        maps.setdefault("road_link", {})
        return maps

    # ---- geometry-wide operations ------------------------------------------------------
    def _xy_arrays(self):
        """Yield every (n, >=2) coordinate array of the tables (views)."""
        b = self.buildings
        yield b.footprint.vertices
        yield b.surfaces.vertices
        yield self.water_bodies.polygons.vertices
        yield self.land_use.polygons.vertices
        yield self.sites.xyz
        yield self.others.surfaces.vertices

    def bounds(self) -> tuple[float, float, float, float]:
        """Return (min_x, min_y, max_x, max_y) over all geometry (tables, every network,
        terrain), in ``crs`` units; NaNs for an empty model."""
        mins, maxs = [], []
        for a in self._xy_arrays():
            if len(a):
                mins.append(a[:, :2].min(axis=0))
                maxs.append(a[:, :2].max(axis=0))
        boxes = [net.bounds() for net in self.networks().values()]
        if self.terrain is not None:
            boxes.append(self.terrain.bounds)
        for x0, y0, x1, y1 in boxes:
            if np.isfinite(x0):
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
        """Return a copy with every coordinate — tables and every network — transformed to
        ``crs`` (x/y only; heights kept).

        The terrain grid is resampled (bilinear) onto a north-up grid of the target CRS with
        about the same number of cells. Raises CRSError when the model has no CRS or ``crs``
        cannot be resolved."""
        from ..crs import resolve_crs

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
        terrain = None if self.terrain is None else reproject_terrain(
            self.terrain, self.crs, target)
        networks = {name: net.transformed(fn) for name, net in self._network_slots().items()}
        return replace(
            self,
            buildings=replace(b, footprint=b.footprint.transformed(fn),
                              surfaces=b.surfaces.transformed(fn)),
            water_bodies=replace(self.water_bodies,
                                 polygons=self.water_bodies.polygons.transformed(fn)),
            land_use=replace(self.land_use, polygons=self.land_use.polygons.transformed(fn)),
            sites=replace(self.sites, xyz=sites_xyz),
            others=replace(self.others, surfaces=self.others.surfaces.transformed(fn)),
            terrain=terrain,
            crs=target,
            **networks,
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

    def summary(self, *, with_crs: bool = True) -> dict:
        """Return counts of each kind of object: ``f"{kind}_nodes"`` / ``f"{kind}_links"`` for
        every network slot that holds one (``road_nodes``, ``road_links`` always); ``crs``
        the CRS as a string (``with_crs=False`` leaves it out: pyproj's ``to_string`` looks
        the CRS up in its database, tens of ms)."""
        out: dict = {"buildings": len(self.buildings)}
        for net in self._network_slots().values():
            out[f"{net.kind}_nodes"] = net.n_nodes
            out[f"{net.kind}_links"] = net.n_links
        out.update({
            "water_bodies": len(self.water_bodies),
            "land_use_zones": len(self.land_use),
            "sites": len(self.sites),
            "other_objects": len(self.others),
            "terrain": None if self.terrain is None else list(self.terrain.shape),
        })
        if with_crs:
            out["crs"] = None if self.crs is None else self.crs.to_string()
        return out

    @staticmethod
    def merge(models: list[CityModel]) -> CityModel:
        """Return one model holding the objects of all ``models``, in the first model's CRS
        (others are transformed to it; a model without CRS merges only with CRS-less ones).
        Tables are concatenated; each network slot is joined across the models
        (:meth:`Network.concat`: nodes with the same id merged); the first terrain is kept."""
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
        slots: dict[str, list[Network]] = {}
        for m in ms:
            report.merge(m.report)
            for k, v in m.metadata.items():
                meta.setdefault(k, v)
            for name, net in m._network_slots().items():
                slots.setdefault(name, []).append(net)
        networks = {name: type(parts[0]).concat(parts) for name, parts in slots.items()}
        terrain = next((m.terrain for m in ms if m.terrain is not None), None)
        return CityModel(
            buildings=Buildings.concat([m.buildings for m in ms]),
            water_bodies=Areas.concat([m.water_bodies for m in ms]),
            land_use=Areas.concat([m.land_use for m in ms]),
            sites=Sites.concat([m.sites for m in ms]),
            others=CityObjects.concat([m.others for m in ms]),
            terrain=terrain,
            crs=crs, metadata=meta, report=report,
            **networks,
        )
