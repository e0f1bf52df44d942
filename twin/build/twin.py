"""The Twin: a city's meshes, road graph and spatial index, built by :func:`twin.build`.

Coordinates: meshes are in metres relative to ``Twin.origin`` (the extent's lower-left corner
rounded down to 100 m, z = 0), so that float32 exports stay precise; every query method
(``nearest_node``, ``buildings_within``) and the ``city`` model use the absolute metric CRS
coordinates (``Twin.crs``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cim.model import CityModel

from .._json import json_safe

if TYPE_CHECKING:
    from .graph import RoadGraph
    from .meshes import Layer
    from .spatial import SpatialIndex


class Twin:
    """The 3D twin of a city.

    Attributes
    ----------
    city : cim.CityModel — the model in a metric CRS (what the twin was built from);
    crs : pyproj.CRS | None; origin : (3,) float64 m — local frame of the meshes;
    layers : dict[str, Layer] — ``buildings``, ``roads``, ``water``, ``terrain``, ``sites``;
    graph : RoadGraph; spatial : SpatialIndex; info : dict — build notes and stage timings (s).
    """

    def __init__(self, city: CityModel, origin: np.ndarray, layers: dict[str, Layer],
                 graph: RoadGraph, spatial: SpatialIndex, info: dict | None = None):
        self.city = city
        self.crs = city.crs
        self.origin = np.asarray(origin, float)
        self.layers = layers
        self.graph = graph
        self.spatial = spatial
        self.info = info or {}

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v.n_objects}" for k, v in self.layers.items())
        return f"<Twin {self.city.metadata.get('title', '')!s} {counts}>"

    # ---- meshes -------------------------------------------------------------------------
    def layer(self, name: str) -> Layer:
        """Return layer ``name``; KeyError listing the layers otherwise."""
        try:
            return self.layers[name]
        except KeyError:
            raise KeyError(f"no layer {name!r}; layers: {', '.join(self.layers)}") from None

    def pick(self, layer: str, face_index):
        """Return the id of the object that owns face ``face_index`` of ``layer`` (vectorised:
        an array of faces gives an object array of ids)."""
        return self.layer(layer).pick(face_index)

    def to_local(self, xyz) -> np.ndarray:
        """Return metric-CRS coordinates (…, 2|3) in the mesh frame (minus the origin)."""
        a = np.asarray(xyz, float)
        return a - self.origin[:a.shape[-1]]

    def to_world(self, xyz) -> np.ndarray:
        """Return mesh-frame coordinates (…, 2|3) in the metric CRS (plus the origin)."""
        a = np.asarray(xyz, float)
        return a + self.origin[:a.shape[-1]]

    def georeference(self) -> dict:
        """Return {crs, crs_wkt, origin} — what puts the local meshes back on the map."""
        return {"crs": None if self.crs is None else self.crs.to_string(),
                "crs_wkt": None if self.crs is None else self.crs.to_wkt(),
                "origin": self.origin.tolist(), "units": "m"}

    # ---- road graph ---------------------------------------------------------------------
    @property
    def road_graph(self):
        """(n_nodes, n_nodes) scipy.sparse.csr_matrix of link lengths in m (directed; for
        parallel links the shortest)."""
        return self.graph.matrix

    @property
    def node_ids(self) -> np.ndarray:
        """(n_nodes,) object str: road node ids in dense-index order."""
        return self.graph.node_ids

    @property
    def link_ids(self) -> np.ndarray:
        """(n_links,) object str: road link ids in dense-index order."""
        return self.graph.link_ids

    def node_index(self, node_id):
        """Return the dense index of road node ``node_id`` (or an int64 array for a list)."""
        return self.graph.node_index(node_id)

    def link_index(self, link_id):
        """Return the dense index of road link ``link_id`` (or an int64 array for a list)."""
        return self.graph.link_index(link_id)

    def link_between(self, from_node_id: str, to_node_id: str) -> str | None:
        """Return the id of the (shortest) link from → to, None if the nodes are not joined."""
        k = self.graph.link_between(self.node_index(from_node_id), self.node_index(to_node_id))
        return None if k < 0 else self.link_ids[k]

    def shortest_path(self, from_node_id: str, to_node_id: str, weight: str = "length"):
        """Return (length_m, [node ids]) of the shortest route; (inf, []) if unreachable.
        ``weight="time"`` minimises free-flow travel time instead (cost in s)."""
        return self.graph.shortest_path(from_node_id, to_node_id, weight)

    def shortest_paths(self, from_node_ids, to_node_ids, weight: str = "length", *,
                       return_paths: bool = False):
        """Return the (n_from, n_to) float64 matrix of shortest route lengths (m; inf where
        unreachable), batched through scipy.sparse.csgraph; with ``return_paths`` also the
        node-id lists (``paths[i][j]``)."""
        return self.graph.shortest_paths(from_node_ids, to_node_ids, weight,
                                         return_paths=return_paths)

    # ---- spatial ------------------------------------------------------------------------
    def nearest_node(self, x, y, *, return_distance: bool = False):
        """Return the id(s) of the nearest road node(s) to metric-CRS point(s) (x, y)."""
        return self.spatial.nearest_node(x, y, return_distance=return_distance)

    def buildings_within(self, x: float, y: float, radius_m: float, *, exact: bool = True):
        """Return the ids of buildings within ``radius_m`` of (x, y), nearest first (footprint
        distance when ``exact``, else centroid distance)."""
        return self.spatial.buildings_within(x, y, radius_m, exact=exact)

    # ---- outputs ------------------------------------------------------------------------
    def export_glb(self, path, **kw) -> Path:
        """Write the twin as one GLB (named node per object; see :mod:`twin.gltf`)."""
        from ..export.gltf import export_glb
        return export_glb(self, path, **kw)

    def snapshot(self, path, size=(1600, 1200), **kw) -> Path:
        """Render an oblique PNG view of the district (see :func:`twin.render.snapshot`)."""
        from ..export.render import snapshot
        return snapshot(self, path, size=size, **kw)

    def summary(self) -> dict:
        """Return a JSON-serialisable dict: counts, extents (local CRS and WGS84), building
        totals (floor area m², population, jobs), road totals (km, lane-km, signals) and mesh
        sizes per layer."""
        from .road_meshes import road_segments

        c = self.city
        b, r = c.buildings, c.roads
        x0, y0, x1, y1 = c.bounds()
        try:
            wgs = list(c.bounds_wgs84()) if c.crs is not None else None
        except Exception:  # a CRS pyproj cannot take to WGS84: report it as unknown
            wgs = None
        floor, n_est = floor_areas(b)
        seg = road_segments(r) if r.n_links else np.zeros(0, np.int64)
        length = np.asarray(r.link_length, float)
        kinds, kcount = np.unique(np.asarray([str(k) for k in c.sites.kind], str),
                                  return_counts=True)
        uses, ucount = np.unique(np.asarray([str(u) for u in b.use], str), return_counts=True)
        meshes = {k: {"objects": int(v.n_objects), "vertices": int(len(v.mesh.vertices)),
                      "faces": int(len(v.mesh.faces))} for k, v in self.layers.items()}
        height = np.asarray(b.height, float)
        return json_safe({
            "title": c.metadata.get("title"),
            "district": c.metadata.get("district"),
            "synthetic": c.metadata.get("synthetic"),
            "crs": None if c.crs is None else c.crs.to_string(),
            "origin": self.origin.tolist(),
            "counts": {"buildings": len(b), "road_nodes": r.n_nodes, "road_links": r.n_links,
                       "road_segments": len(seg), "water_bodies": len(c.water_bodies),
                       "land_use_zones": len(c.land_use), "sites": len(c.sites),
                       "other_objects": len(c.others)},
            "sites_by_kind": dict(zip(kinds.tolist(), kcount.tolist())),
            "extent": {"local": [x0, y0, x1, y1], "wgs84": wgs,
                       "width_m": x1 - x0, "depth_m": y1 - y0},
            "buildings": {
                "footprint_area_m2": float(np.nansum(b.footprint.areas())) if len(b) else 0.0,
                "floor_area_m2": float(floor.sum()),
                "floor_area_estimated": n_est,
                "population": float(np.nansum(b.residents)),
                "jobs": float(np.nansum(b.jobs)),
                "height_max_m": float(np.nanmax(height)) if len(b) else 0.0,
                "height_mean_m": float(np.nanmean(height)) if len(b) else 0.0,
                "lod2": int(self.layers["buildings"].info.get("lod2_buildings", 0))
                if "buildings" in self.layers else 0,
                "by_use": dict(zip(uses.tolist(), ucount.tolist())),
            },
            "roads": {
                "link_length_km": float(length.sum() / 1000),
                "segment_length_km": float(length[seg].sum() / 1000),
                "lane_km": float((length * np.asarray(r.link_lanes, float)).sum() / 1000),
                "signalized_nodes": int(np.asarray(r.node_signal, bool).sum()),
                "tunnel_km": float(length[np.asarray(r.link_tunnel, bool)].sum() / 1000),
                "bridge_km": float(length[np.asarray(r.link_bridge, bool)].sum() / 1000),
            },
            "meshes": meshes,
            "vertices": sum(m["vertices"] for m in meshes.values()),
            "faces": sum(m["faces"] for m in meshes.values()),
            "build_s": self.info.get("timings_s", {}).get("total"),
        }, nan_as_none=True)


def floor_areas(b) -> tuple[np.ndarray, int]:
    """Return ((n,) gross floor area m², number estimated): the given ``floor_area`` where it is
    positive, else footprint area × storeys (storeys from height / 3 m where unknown)."""
    given = np.asarray(b.floor_area, float)
    ok = np.isfinite(given) & (given > 0)
    if ok.all():
        return given, 0
    storeys = np.asarray(b.storeys, float)
    from_height = np.maximum(1.0, np.round(np.nan_to_num(np.asarray(b.height, float)) / 3.0))
    storeys = np.where(storeys > 0, storeys, from_height)
    est = b.footprint.areas() * storeys
    return np.where(ok, given, est), int((~ok).sum())
