"""Spatial index of the twin: nearest road node, buildings near a point.

Queries take coordinates in the twin's metric CRS (absolute, not relative to the mesh origin).
Node look-ups use a ``scipy.spatial.cKDTree``; building look-ups use a cKDTree on footprint
centroids, and the exact footprint distance through a ``shapely.STRtree`` built on first use.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

from cim.geometry import PolygonSet

from .triangulate import clean_polygons, concat_ranges, next_in_ring, orientation_order


def footprint_geometries(fp: PolygonSet) -> np.ndarray:
    """Return (n_objects,) shapely MultiPolygons of a 2D PolygonSet (degenerate rings
    dropped; objects without a valid polygon give empty geometries), in one vectorised call."""
    poly_obj = fp.object_of_polygon()
    xy, ro, po, kept = clean_polygons(fp.vertices[:, :2], fp.ring_offsets, fp.polygon_offsets)
    lengths = np.diff(ro)
    # close every ring: repeat its first vertex at its end
    idx = concat_ranges(ro[:-1], lengths + 1)
    local = idx - np.repeat(ro[:-1], lengths + 1)
    idx = np.where(local == np.repeat(lengths, lengths + 1), np.repeat(ro[:-1], lengths + 1), idx)
    coords = xy[idx]
    ro_closed = np.concatenate([[0], np.cumsum(lengths + 1)]).astype(np.int64)
    obj_offsets = np.concatenate([[0], np.cumsum(np.bincount(poly_obj[kept],
                                                             minlength=fp.n_objects))])
    return shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, coords,
                                     (ro_closed, po, obj_offsets.astype(np.int64)))


def footprint_centroids(fp: PolygonSet) -> np.ndarray:
    """Return (n_objects, 2) area-weighted footprint centroids (vertex mean where the area
    is zero; NaN for objects without vertices)."""
    v = fp.vertices[:, :2]
    n_obj = fp.n_objects
    if len(v) == 0:
        return np.full((n_obj, 2), np.nan)
    # holes must wind opposite to exteriors so that their (signed) moments subtract
    v = v[orientation_order(v, fp.ring_offsets, fp.polygon_offsets)]
    obj = fp.vertex_object()
    mean = fp.centroids()
    rel = v - mean[obj]
    q = rel[next_in_ring(fp.ring_offsets)]
    cross = rel[:, 0] * q[:, 1] - q[:, 0] * rel[:, 1]
    a = np.bincount(obj, cross, minlength=n_obj) / 2
    cx = np.bincount(obj, (rel[:, 0] + q[:, 0]) * cross, minlength=n_obj)
    cy = np.bincount(obj, (rel[:, 1] + q[:, 1]) * cross, minlength=n_obj)
    ok = np.abs(a) > 1e-12
    out = mean.copy()
    out[ok, 0] += cx[ok] / (6 * a[ok])
    out[ok, 1] += cy[ok] / (6 * a[ok])
    return out


class SpatialIndex:
    """Nearest-node and buildings-near-a-point queries (metric CRS coordinates, m)."""

    def __init__(self, node_ids: np.ndarray, node_xy: np.ndarray, building_ids: np.ndarray,
                 footprint: PolygonSet):
        self.node_ids = np.asarray(node_ids, dtype=object)
        self.node_xy = np.asarray(node_xy, float).reshape(-1, 2)
        self.node_tree = cKDTree(self.node_xy) if len(self.node_xy) else None
        self.building_ids = np.asarray(building_ids, dtype=object)
        self.footprint = footprint
        self.building_centroids = footprint_centroids(footprint)
        ok = np.isfinite(self.building_centroids).all(axis=1)
        self._centroid_rows = np.flatnonzero(ok)
        self.building_tree = cKDTree(self.building_centroids[ok]) if ok.any() else None
        self._strtree = None
        self._geoms = None

    def nearest_node(self, x, y, *, return_distance: bool = False):
        """Return the id(s) of the road node(s) nearest to (x, y) — scalars → str, arrays →
        object array — and, with ``return_distance``, the distance(s) in m."""
        if self.node_tree is None:
            raise LookupError("the twin has no road nodes")
        x, y = np.asarray(x, float), np.asarray(y, float)
        pts = np.stack(np.broadcast_arrays(x, y), axis=-1)
        dist, idx = self.node_tree.query(pts)
        ids = self.node_ids[idx]
        return (ids, dist) if return_distance else ids

    @property
    def building_geometries(self) -> np.ndarray:
        """(n_buildings,) shapely MultiPolygons of the footprints (built on first use)."""
        if self._geoms is None:
            self._geoms = footprint_geometries(self.footprint)
        return self._geoms

    def buildings_within(self, x: float, y: float, radius_m: float, *,
                         exact: bool = True) -> np.ndarray:
        """Return (k,) object array of the ids of buildings within ``radius_m`` of (x, y),
        nearest first: by footprint distance (0 inside) when ``exact``, else by centroid."""
        return self.building_ids[self.buildings_within_index(x, y, radius_m, exact=exact)]

    def buildings_within_index(self, x: float, y: float, radius_m: float, *,
                               exact: bool = True) -> np.ndarray:
        """Return (k,) int64 dense indices of the buildings within ``radius_m`` of (x, y)."""
        if not radius_m >= 0:
            raise ValueError(f"radius_m must be >= 0, got {radius_m!r}")
        if exact:
            if self._strtree is None:
                self._strtree = shapely.STRtree(self.building_geometries)
            p = shapely.Point(float(x), float(y))
            idx = self._strtree.query(p, predicate="dwithin", distance=float(radius_m))
            d = shapely.distance(self.building_geometries[idx], p)
        else:
            if self.building_tree is None:
                return np.zeros(0, np.int64)
            local = np.asarray(self.building_tree.query_ball_point([x, y], radius_m), np.int64)
            idx = self._centroid_rows[local]
            d = np.hypot(*(self.building_centroids[idx] - [x, y]).T)
        order = np.lexsort((idx, d))
        return np.asarray(idx, np.int64)[order]
