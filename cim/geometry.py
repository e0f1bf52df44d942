"""Ragged geometry buffers: many polygons (with holes) of many objects in a few numpy arrays.

A :class:`PolygonSet` stores, for ``n_obj`` objects, their polygons and rings:

- ``vertices`` : (n_vertices, dim) float64 — dim 2 (footprints) or 3 (surfaces), metres;
- ``ring_offsets`` : (n_rings + 1,) int64 — ring r is ``vertices[ring_offsets[r]:ring_offsets[r+1]]``,
  stored open (the first vertex is not repeated at the end);
- ``polygon_offsets`` : (n_polygons + 1,) int64 — polygon p is rings ``polygon_offsets[p]`` ..
  ``polygon_offsets[p+1]-1``; its first ring is the exterior, the others are holes;
- ``object_offsets`` : (n_obj + 1,) int64 — object i owns polygons ``object_offsets[i]`` ..
  ``object_offsets[i+1]-1``;
- ``semantics`` : (n_polygons,) int16 — index into :data:`SURFACE_TYPES`, -1 where none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .errors import GeometryError

#: Semantic surface types (CityJSON / CityGML names); ``semantics`` stores an index into this.
SURFACE_TYPES = (
    "GroundSurface", "WallSurface", "RoofSurface", "ClosureSurface", "OuterCeilingSurface",
    "OuterFloorSurface", "Window", "Door", "InteriorWallSurface", "CeilingSurface",
    "FloorSurface", "WaterSurface", "WaterGroundSurface", "WaterClosureSurface",
    "TrafficArea", "AuxiliaryTrafficArea", "TransportationMarking", "TransportationHole",
)
SURFACE_CODE = {name: i for i, name in enumerate(SURFACE_TYPES)}


@dataclass
class PolygonSet:
    """Polygons with holes of many objects in flat arrays (see module docstring)."""

    vertices: np.ndarray
    ring_offsets: np.ndarray
    polygon_offsets: np.ndarray
    object_offsets: np.ndarray
    semantics: np.ndarray

    @classmethod
    def empty(cls, n_obj: int = 0, dim: int = 2) -> PolygonSet:
        return cls(np.zeros((0, dim)), np.zeros(1, np.int64), np.zeros(1, np.int64),
                   np.zeros(n_obj + 1, np.int64), np.zeros(0, np.int16))

    @property
    def dim(self) -> int:
        return self.vertices.shape[1]

    @property
    def n_objects(self) -> int:
        return len(self.object_offsets) - 1

    @property
    def n_polygons(self) -> int:
        return len(self.polygon_offsets) - 1

    def polygons_of(self, i: int) -> list[list[np.ndarray]]:
        """Return object i's polygons as lists of rings, each ring an (n, dim) array (views)."""
        out = []
        for p in range(self.object_offsets[i], self.object_offsets[i + 1]):
            out.append([self.vertices[self.ring_offsets[r]:self.ring_offsets[r + 1]]
                        for r in range(self.polygon_offsets[p], self.polygon_offsets[p + 1])])
        return out

    def object_of_polygon(self) -> np.ndarray:
        """Return (n_polygons,) int64: the object that owns each polygon."""
        counts = np.diff(self.object_offsets)
        return np.repeat(np.arange(self.n_objects), counts)

    def ring_count(self) -> np.ndarray:
        """Return (n_polygons,) number of rings per polygon."""
        return np.diff(self.polygon_offsets)

    def to_shapely(self, i: int):
        """Return object i's polygons as a shapely (Multi)Polygon in x, y (z dropped)."""
        polys = [shapely.Polygon(rings[0][:, :2], [r[:, :2] for r in rings[1:]])
                 for rings in self.polygons_of(i)]
        if len(polys) == 1:
            return polys[0]
        return shapely.MultiPolygon(polys)

    def areas(self) -> np.ndarray:
        """Return (n_obj,) planimetric area in m² (exterior minus holes, summed per object)."""
        ring_area = _ring_signed_areas(self.vertices[:, :2], self.ring_offsets)
        first_ring = np.zeros(len(ring_area), bool)
        first_ring[self.polygon_offsets[:-1][self.ring_count() > 0]] = True
        ring_poly = np.repeat(np.arange(self.n_polygons), self.ring_count())
        signed = np.where(first_ring, np.abs(ring_area), -np.abs(ring_area))
        poly_area = np.bincount(ring_poly, signed, minlength=self.n_polygons)
        return np.bincount(self.object_of_polygon(), poly_area, minlength=self.n_objects)

    def centroids(self) -> np.ndarray:
        """Return (n_obj, 2) mean of each object's vertices (x, y); NaN for empty objects."""
        vobj = self.vertex_object()
        n = np.bincount(vobj, minlength=self.n_objects).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            cx = np.bincount(vobj, self.vertices[:, 0], minlength=self.n_objects) / n
            cy = np.bincount(vobj, self.vertices[:, 1], minlength=self.n_objects) / n
        return np.column_stack([cx, cy])

    def vertex_object(self) -> np.ndarray:
        """Return (n_vertices,) int64: the object that owns each vertex."""
        ring_poly = np.repeat(np.arange(self.n_polygons), self.ring_count())
        ring_obj = self.object_of_polygon()[ring_poly]
        return np.repeat(ring_obj, np.diff(self.ring_offsets))

    def select(self, idx: np.ndarray) -> PolygonSet:
        """Return a new PolygonSet with only the objects ``idx`` (in that order)."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_objects):
            raise IndexError(f"object index out of range 0..{self.n_objects - 1}")
        polys, poly_counts = _ranges(self.object_offsets, idx)
        rings, ring_counts = _ranges(self.polygon_offsets, polys)
        verts, vert_counts = _ranges(self.ring_offsets, rings)
        z = np.zeros(1, np.int64)
        return PolygonSet(self.vertices[verts],
                          np.concatenate([z, np.cumsum(vert_counts)]),
                          np.concatenate([z, np.cumsum(ring_counts)]),
                          np.concatenate([z, np.cumsum(poly_counts)]),
                          self.semantics[polys])

    @staticmethod
    def concat(sets: list[PolygonSet]) -> PolygonSet:
        """Return the objects of all ``sets`` one after the other."""
        if not sets:
            return PolygonSet.empty()
        dim = max(s.dim for s in sets)
        verts, rings, polys, objs, sem = [], [], [], [], []
        nv = nr = npoly = 0
        for s in sets:
            v = s.vertices
            if v.shape[1] < dim:
                v = np.column_stack([v, np.zeros((len(v), dim - v.shape[1]))])
            verts.append(v)
            rings.append(s.ring_offsets[1:] + nv)
            polys.append(s.polygon_offsets[1:] + nr)
            objs.append(s.object_offsets[1:] + npoly)
            sem.append(s.semantics)
            nv += len(s.vertices)
            nr += len(s.ring_offsets) - 1
            npoly += len(s.polygon_offsets) - 1
        z = np.zeros(1, np.int64)
        return PolygonSet(np.concatenate(verts), np.concatenate([z] + rings),
                          np.concatenate([z] + polys), np.concatenate([z] + objs),
                          np.concatenate(sem).astype(np.int16))

    def transformed(self, fn) -> PolygonSet:
        """Return a copy with ``vertices[:, :2]`` replaced by ``fn(x, y) -> (x, y)``."""
        v = self.vertices.copy()
        if len(v):
            x, y = fn(v[:, 0], v[:, 1])
            v[:, 0], v[:, 1] = x, y
        return PolygonSet(v, self.ring_offsets, self.polygon_offsets, self.object_offsets,
                          self.semantics)


def _ranges(offsets: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (concatenated ranges offsets[i]..offsets[i+1]-1 for i in idx, their lengths)."""
    starts = offsets[idx]
    counts = offsets[idx + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64), counts.astype(np.int64)
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return np.arange(total, dtype=np.int64) + shift, counts.astype(np.int64)


def _ring_signed_areas(xy: np.ndarray, ring_offsets: np.ndarray) -> np.ndarray:
    """Return (n_rings,) signed shoelace areas (CCW positive) of open rings."""
    n_rings = len(ring_offsets) - 1
    if n_rings == 0 or len(xy) == 0:
        return np.zeros(n_rings)
    starts = ring_offsets[:-1]
    lengths = np.diff(ring_offsets)
    idx = np.arange(len(xy))
    ring_of_v = np.repeat(np.arange(n_rings), lengths)
    nxt = idx + 1
    last = ring_offsets[1:] - 1
    nxt[last[lengths > 0]] = starts[lengths > 0]
    # shift to the ring's first vertex for precision with large projected coordinates
    x0 = np.repeat(xy[starts[lengths > 0], 0], lengths[lengths > 0]) if len(xy) else xy[:, 0]
    y0 = np.repeat(xy[starts[lengths > 0], 1], lengths[lengths > 0]) if len(xy) else xy[:, 1]
    x = xy[:, 0] - x0
    y = xy[:, 1] - y0
    cross = x * y[nxt] - x[nxt] * y
    return 0.5 * np.bincount(ring_of_v, cross, minlength=n_rings)


class PolygonSetBuilder:
    """Accumulates objects' polygons, then :meth:`build` packs them into a :class:`PolygonSet`."""

    def __init__(self, dim: int = 3):
        self.dim = dim
        self._rings: list[np.ndarray] = []
        self._ring_len: list[int] = []
        self._poly_rings: list[int] = []
        self._obj_polys: list[int] = []
        self._sem: list[int] = []

    def __len__(self) -> int:
        return len(self._obj_polys)

    def add_object(self, polygons, semantics=None) -> None:
        """Add one object. ``polygons``: list of polygons, each a list of rings ((n, dim) arrays,
        open or closed — a repeated closing vertex is dropped). ``semantics``: per polygon
        surface-type codes (or None)."""
        n = 0
        for k, rings in enumerate(polygons):
            for ring in rings:
                r = np.asarray(ring, dtype=np.float64)
                if r.ndim != 2 or r.shape[1] < 2:
                    raise GeometryError(f"ring has shape {r.shape}, expected (n, 2|3)")
                if len(r) > 1 and np.array_equal(r[0], r[-1]):
                    r = r[:-1]
                if r.shape[1] != self.dim:
                    r = (r[:, :self.dim] if r.shape[1] > self.dim else
                         np.column_stack([r, np.zeros((len(r), self.dim - r.shape[1]))]))
                self._rings.append(r)
                self._ring_len.append(len(r))
            self._poly_rings.append(len(rings))
            self._sem.append(-1 if semantics is None else int(semantics[k]))
            n += 1
        self._obj_polys.append(n)

    def build(self) -> PolygonSet:
        z = np.zeros(1, np.int64)
        verts = np.concatenate(self._rings) if self._rings else np.zeros((0, self.dim))
        return PolygonSet(
            verts,
            np.concatenate([z, np.cumsum(self._ring_len, dtype=np.int64)]),
            np.concatenate([z, np.cumsum(self._poly_rings, dtype=np.int64)]),
            np.concatenate([z, np.cumsum(self._obj_polys, dtype=np.int64)]),
            np.asarray(self._sem, dtype=np.int16),
        )


def check_ring(ring: np.ndarray, *, closed_required: bool = False) -> np.ndarray:
    """Return the ring (open, (n, d) float64) after checking it; raise GeometryError if it is
    not finite, has fewer than 3 distinct vertices, is not closed (when ``closed_required``,
    e.g. GML/GeoJSON rings must repeat their first vertex) or intersects itself."""
    r = np.asarray(ring, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 2:
        raise GeometryError(f"ring has shape {r.shape}, expected (n, 2|3)")
    if not np.isfinite(r).all():
        raise GeometryError("ring has NaN or infinite coordinates")
    if closed_required:
        if len(r) < 4 or not np.array_equal(r[0], r[-1]):
            raise GeometryError("ring is not closed (last vertex must repeat the first)")
    if len(r) > 1 and np.array_equal(r[0], r[-1]):
        r = r[:-1]
    distinct = len(set(map(tuple, r.tolist())))  # far faster than np.unique(axis=0) here
    if distinct < 3:
        raise GeometryError(f"ring has {distinct} distinct vertices, needs 3")
    return r


def check_simple_polygon(rings: list[np.ndarray]) -> None:
    """Raise GeometryError when a horizontal polygon (footprint) self-intersects in x, y."""
    poly = shapely.Polygon(rings[0][:, :2], [h[:, :2] for h in rings[1:]])
    if not poly.is_valid:
        raise GeometryError(f"polygon is not simple: {shapely.is_valid_reason(poly)}")
