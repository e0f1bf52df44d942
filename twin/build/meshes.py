"""Meshes of the twin's layers, built from the city model's arrays in a few numpy passes.

Each builder returns a :class:`Layer`: one ``trimesh.Trimesh`` for the whole layer (vertices
relative to the twin's origin, so float32 exports stay precise) plus the map from faces to the
objects they belong to. Faces and vertices are grouped by object (object i owns the contiguous
ranges ``face_offsets[i]:face_offsets[i+1]`` and ``vertex_offsets[i]:vertex_offsets[i+1]``),
which is what lets picking and per-object export work without searching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from cim.model import Areas, Buildings, Sites, Terrain

from .triangulate import (
    clean_polygons,
    next_in_ring,
    orientation_order,
    triangulate,
    triangulate_3d,
)

if TYPE_CHECKING:  # trimesh is imported on first build: `import twin` stays light for kernels
    import trimesh

#: RGBA colours of building uses (others get ``"other"``).
USE_COLOURS = {
    "residential": (236, 214, 170), "commercial": (110, 160, 220), "office": (150, 190, 235),
    "industrial": (170, 150, 190), "education": (245, 215, 90), "health": (235, 120, 120),
    "public": (150, 205, 150), "mixed": (240, 170, 100), "other": (205, 205, 205),
}
#: RGBA colours of site kinds (others get light grey).
SITE_COLOURS = {
    "fire_station": (220, 30, 30), "hospital": (250, 250, 250), "shelter": (40, 170, 70),
    "school": (250, 200, 20), "substation": (150, 60, 200), "pumping_station": (0, 190, 210),
    "sensor": (165, 165, 165), "police": (70, 120, 255), "metro_station": (255, 120, 0),
    "landmark": (212, 175, 55),
}
ROAD_COLOURS = {"major": (45, 45, 50), "medium": (65, 65, 70), "minor": (88, 88, 92)}
WATER_COLOUR = (55, 115, 190)
MAJOR_ROADS = ("motorway", "trunk", "primary", "motorway_link", "trunk_link", "primary_link")
MEDIUM_ROADS = ("secondary", "tertiary", "secondary_link", "tertiary_link")
DEFAULT_STOREY_M = 3.0
MIN_RELIEF_M = 40.0


@dataclass
class Layer:
    """One layer of the twin: a single mesh and its face → object map.

    ``mesh``: trimesh.Trimesh, vertices (n_vertices, 3) float64 m relative to the twin origin,
    vertex colours RGBA uint8; ``object_ids``: (n_objects,) object str; ``face_offsets`` /
    ``vertex_offsets``: (n_objects + 1,) int64, the contiguous faces / vertices of each object.
    """

    name: str
    mesh: trimesh.Trimesh
    object_ids: np.ndarray
    face_offsets: np.ndarray
    vertex_offsets: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def n_objects(self) -> int:
        return len(self.object_ids)

    @property
    def face_object(self) -> np.ndarray:
        """(n_faces,) int64: index into ``object_ids`` of the object owning each face."""
        fo = self.__dict__.get("_face_object")
        if fo is None:
            fo = np.repeat(np.arange(self.n_objects), np.diff(self.face_offsets))
            self.__dict__["_face_object"] = fo
        return fo

    def pick(self, face_index):
        """Return the id of the object owning ``face_index`` (int → str, array → object array).
        Raises IndexError for a face outside the layer."""
        fi = np.asarray(face_index, dtype=np.int64)
        n = len(self.mesh.faces)
        if np.any((fi < 0) | (fi >= n)):
            raise IndexError(f"face index {face_index!r} outside layer {self.name!r} "
                             f"({n} faces)")
        return self.object_ids[self.face_object[fi]]

    def object_arrays(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return object i's (vertices, faces re-indexed from 0, vertex colours)."""
        v0, v1 = self.vertex_offsets[i], self.vertex_offsets[i + 1]
        f0, f1 = self.face_offsets[i], self.face_offsets[i + 1]
        colours = self.mesh.visual.vertex_colors[v0:v1]
        return self.mesh.vertices[v0:v1], self.mesh.faces[f0:f1] - v0, colours


def make_layer(name: str, vertices: np.ndarray, faces: np.ndarray, vertex_object: np.ndarray,
               face_object: np.ndarray, object_ids: np.ndarray, colours: np.ndarray,
               info: dict | None = None) -> Layer:
    """Return a Layer from loose arrays: vertices and faces are regrouped by object (stable)
    when they are not already. ``colours``: (n_vertices, 3|4) uint8."""
    vertices = np.asarray(vertices, np.float64).reshape(-1, 3)
    faces = np.asarray(faces, np.int64).reshape(-1, 3)
    n_obj = len(object_ids)
    if len(vertex_object) and np.any(np.diff(vertex_object) < 0):
        order = np.argsort(vertex_object, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        vertices, colours, vertex_object = vertices[order], colours[order], vertex_object[order]
        faces = inverse[faces]
    if len(face_object) and np.any(np.diff(face_object) < 0):
        order = np.argsort(face_object, kind="stable")
        faces, face_object = faces[order], face_object[order]
    import trimesh

    colours = np.asarray(colours, np.uint8)
    if colours.ndim == 2 and colours.shape[1] == 3:
        colours = np.column_stack([colours, np.full(len(colours), 255, np.uint8)])
    mesh = trimesh.Trimesh(vertices, faces, vertex_colors=colours if len(colours) else None,
                           process=False, validate=False)
    offs = np.zeros(n_obj + 1, np.int64)
    vo = np.zeros(n_obj + 1, np.int64)
    offs[1:] = np.cumsum(np.bincount(face_object, minlength=n_obj))
    vo[1:] = np.cumsum(np.bincount(vertex_object, minlength=n_obj))
    return Layer(name, mesh, np.asarray(object_ids, dtype=object), offs, vo, info or {})


# ---- buildings -----------------------------------------------------------------------------

def building_heights(b: Buildings, terrain: Terrain | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Return (base, roof, n_fixed): base/roof elevations (m) with missing values filled — a
    NaN base from the terrain under the footprint (else 0), a NaN or non-positive height from
    the storeys (3 m each, at least one)."""
    base = np.asarray(b.base_height, float).copy()
    roof = np.asarray(b.roof_height, float).copy()
    bad_base = ~np.isfinite(base)
    if bad_base.any():
        fill = np.zeros(bad_base.sum())
        if terrain is not None:
            c = b.footprint.centroids()[bad_base]
            fill = np.nan_to_num(terrain.sample(c[:, 0], c[:, 1]), nan=0.0)
        base[bad_base] = fill
    bad_roof = ~np.isfinite(roof) | (roof <= base)
    if bad_roof.any():
        storeys = np.maximum(np.asarray(b.storeys, float)[bad_roof], 1.0)
        roof[bad_roof] = base[bad_roof] + DEFAULT_STOREY_M * storeys
    return base, roof, int(bad_base.sum() + bad_roof.sum())


def extrude(xy: np.ndarray, ring_offsets: np.ndarray, polygon_offsets: np.ndarray,
            polygon_object: np.ndarray, z_bottom: np.ndarray, z_top: np.ndarray):
    """Return (vertices, faces, vertex_object, face_object) of prisms over footprints.

    ``xy`` (n, 2) ring vertices; ``polygon_object`` (n_polygons,) owner of each polygon;
    ``z_bottom``/``z_top`` (n_objects,) elevations. Each polygon (holes included) becomes a
    closed, consistently outward-oriented solid: footprint vertex k gives vertices 2k (bottom)
    and 2k + 1 (top); walls come in one pass over all ring edges, caps from
    :func:`triangulate`.
    """
    order = orientation_order(xy, ring_offsets, polygon_offsets)
    xy = xy[order]
    nv = len(xy)
    ring_poly = np.repeat(np.arange(len(polygon_offsets) - 1), np.diff(polygon_offsets))
    v_obj = polygon_object[np.repeat(ring_poly, np.diff(ring_offsets))]
    vertices = np.empty((2 * nv, 3))
    vertices[0::2, :2] = xy
    vertices[1::2, :2] = xy
    vertices[0::2, 2] = z_bottom[v_obj]
    vertices[1::2, 2] = z_top[v_obj]
    k = np.arange(nv, dtype=np.int64)
    n = next_in_ring(ring_offsets)
    walls = np.empty((2 * nv, 3), np.int64)
    walls[0::2] = np.column_stack([2 * k, 2 * n, 2 * n + 1])
    walls[1::2] = np.column_stack([2 * k, 2 * n + 1, 2 * k + 1])
    tri, tri_poly = triangulate(xy, ring_offsets, polygon_offsets)
    top = 2 * tri + 1
    bottom = 2 * tri[:, ::-1]
    cap_obj = polygon_object[tri_poly]
    faces = np.concatenate([walls, top, bottom])
    face_obj = np.concatenate([np.repeat(v_obj, 2), cap_obj, cap_obj])
    return vertices, faces, np.repeat(v_obj, 2), face_obj


def building_layer(b: Buildings, origin: np.ndarray, terrain: Terrain | None = None, *,
                   lod: float = 2, colour_by: str = "use") -> Layer:
    """Return the buildings layer: LoD2 surfaces where the building has them (and ``lod`` ≥ 2),
    else the LoD1 extrusion of its footprint from base to roof height."""
    n = len(b)
    base, roof, n_fixed = building_heights(b, terrain)
    has_surfaces = (np.diff(b.surfaces.object_offsets) > 0) if lod >= 2 else np.zeros(n, bool)
    parts = []

    fp = b.footprint
    poly_obj = fp.object_of_polygon()
    keep = ~has_surfaces[poly_obj]
    xy, ro, po, kept = clean_polygons(fp.vertices[:, :2], fp.ring_offsets, fp.polygon_offsets,
                                      keep)
    if len(kept):
        parts.append(extrude(xy - origin[:2], ro, po, poly_obj[kept],
                             base - origin[2], roof - origin[2]))

    if has_surfaces.any():
        s = b.surfaces
        s_obj = s.object_of_polygon()
        xyz, ro, po, kept = clean_polygons(s.vertices, s.ring_offsets, s.polygon_offsets,
                                           has_surfaces[s_obj])
        tri, tri_poly = triangulate_3d(xyz, ro, po)
        ring_poly = np.repeat(np.arange(len(po) - 1), np.diff(po))
        v_obj = s_obj[kept][np.repeat(ring_poly, np.diff(ro))]
        parts.append(merge_vertices(xyz - origin, tri, v_obj, s_obj[kept][tri_poly]))

    vertices, faces, v_obj, f_obj = _concat_parts(parts)
    if colour_by == "height":
        obj_colour = height_colours(roof - base)
    else:
        obj_colour = use_colours(b.use)
    info = {"lod2_buildings": int(has_surfaces.sum()), "heights_filled": n_fixed}
    return make_layer("buildings", vertices, faces, v_obj, f_obj, b.ids, obj_colour[v_obj], info)


def merge_vertices(vertices, faces, vertex_object, face_object, *, tolerance: float = 1e-3):
    """Return (vertices, faces, vertex_object, face_object) with the vertices an object
    repeats (within ``tolerance`` m — LoD2 surfaces each carry their own ring vertices) merged,
    so that closed LoD2 shells are watertight; faces that collapse are dropped."""
    if len(vertices) == 0:
        return vertices, faces, vertex_object, face_object
    q = np.round((vertices - vertices.min(axis=0)) / tolerance).astype(np.int64)
    key = np.column_stack([vertex_object, q])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    faces = inverse.reshape(-1)[faces]
    ok = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    return vertices[first], faces[ok], vertex_object[first], face_object[ok]


def _concat_parts(parts):
    """Concatenate (vertices, faces, vertex_object, face_object) tuples, shifting faces."""
    if not parts:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int64), \
            np.zeros(0, np.int64)
    shift = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
    return (np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] + s for p, s in zip(parts, shift)]),
            np.concatenate([p[2] for p in parts]).astype(np.int64),
            np.concatenate([p[3] for p in parts]).astype(np.int64))


def use_colours(use: np.ndarray) -> np.ndarray:
    """Return (n, 4) uint8 colours of building uses."""
    table = {k: np.array(v + (255,), np.uint8) for k, v in USE_COLOURS.items()}
    uses, inverse = np.unique(np.asarray([str(u) if u else "other" for u in use], dtype=str),
                              return_inverse=True)
    pal = np.array([table.get(u, table["other"]) for u in uses], np.uint8).reshape(-1, 4)
    return pal[inverse] if len(use) else np.zeros((0, 4), np.uint8)


def height_colours(height: np.ndarray) -> np.ndarray:
    """Return (n, 4) uint8 colours of building heights (pale low → deep red-purple high)."""
    stops = np.array([0, 10, 24, 50, 100, 200], float)
    rgb = np.array([[240, 235, 220], [245, 210, 150], [240, 160, 90], [215, 90, 70],
                    [150, 40, 90], [80, 20, 90]], float)
    h = np.nan_to_num(np.asarray(height, float))
    out = np.column_stack([np.interp(h, stops, rgb[:, i]) for i in range(3)]
                          + [np.full(len(h), 255.0)])
    return out.astype(np.uint8)


# ---- roads ---------------------------------------------------------------------------------

def area_layer(name: str, areas: Areas, origin: np.ndarray, colour=WATER_COLOUR) -> Layer:
    """Return a layer of flat areal objects (water bodies) at their own elevation, facing up."""
    p = areas.polygons
    poly_obj = p.object_of_polygon()
    verts = p.vertices if p.dim == 3 else np.column_stack([p.vertices, np.zeros(len(p.vertices))])
    xyz, ro, po, kept = clean_polygons(verts, p.ring_offsets, p.polygon_offsets)
    tri, tri_poly = triangulate(xyz, ro, po)
    ring_poly = np.repeat(np.arange(len(po) - 1), np.diff(po))
    v_obj = poly_obj[kept][np.repeat(ring_poly, np.diff(ro))]
    colours = np.tile(np.array(colour, np.uint8), (len(xyz), 1))
    return make_layer(name, xyz - origin, tri, v_obj, poly_obj[kept][tri_poly], areas.ids,
                      colours)


def terrain_layer(terrain: Terrain | None, origin: np.ndarray, *,
                  max_cells: int = 1_000_000, water: Areas | None = None,
                  water_depth: float = 0.5) -> Layer:
    """Return the terrain as one grid mesh through the DEM cell centres (NaN cells dropped; a
    DEM larger than ``max_cells`` is subsampled with a uniform stride).

    Mesh vertices inside ``water`` bodies are lowered to at least ``water_depth`` m below the
    water surface, so that lakes show even where the DEM does not carve them (the DEM itself,
    ``city.terrain``, is not changed)."""
    empty = np.zeros(0, np.int64)
    if terrain is None or terrain.z.size == 0:
        return make_layer("terrain", np.zeros((0, 3)), np.zeros((0, 3)), empty, empty,
                          np.array([], dtype=object), np.zeros((0, 4), np.uint8))
    ny, nx = terrain.z.shape
    stride = max(1, int(np.ceil(np.sqrt(ny * nx / max_cells))))
    rows, cols = np.arange(0, ny, stride), np.arange(0, nx, stride)
    z = terrain.z[np.ix_(rows, cols)]
    gy, gx = len(rows), len(cols)
    x = terrain.x0 + (cols + 0.5) * terrain.cell - origin[0]
    y = terrain.y0 + (ny - rows - 0.5) * terrain.cell - origin[1]
    X, Y = np.meshgrid(x, y)
    vid = np.arange(gy * gx).reshape(gy, gx)
    nw, ne = vid[:-1, :-1].ravel(), vid[:-1, 1:].ravel()
    sw, se = vid[1:, :-1].ravel(), vid[1:, 1:].ravel()
    faces = np.concatenate([np.column_stack([sw, se, ne]), np.column_stack([sw, ne, nw])])
    zf = z.ravel()
    if water is not None and len(water):
        zf = _below_water(np.column_stack([X.ravel(), Y.ravel()]) + origin[:2], zf, water,
                          water_depth, reach=terrain.cell * stride)
    ok = np.isfinite(zf)
    faces = faces[ok[faces].all(axis=1)]
    used = np.zeros(len(zf), bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    vertices = np.column_stack([X.ravel(), Y.ravel(), zf - origin[2]])[used]
    faces = remap[faces]
    zero_v = np.zeros(len(vertices), np.int64)
    return make_layer("terrain", vertices, faces, zero_v, np.zeros(len(faces), np.int64),
                      np.array(["terrain"], dtype=object), terrain_colours(zf[used]),
                      {"stride": stride})


def _below_water(xy: np.ndarray, z: np.ndarray, water: Areas, depth: float,
                 reach: float) -> np.ndarray:
    """Return ``z`` lowered to at most (water level − depth) at points inside water bodies or
    within ``reach`` m of one — a grid vertex next to a narrow river must go down too, or the
    grid's triangles cover the river (level: the lowest vertex z of each body)."""
    import shapely

    from .spatial import footprint_geometries

    p = water.polygons
    if len(p.vertices) == 0:
        return z
    level = np.full(len(water), np.inf)
    vz = p.vertices[:, 2] if p.dim == 3 else np.zeros(len(p.vertices))
    np.minimum.at(level, p.vertex_object(), vz)
    geoms = footprint_geometries(p)
    bounds = shapely.bounds(geoms)
    out = z.copy()
    for k, g in enumerate(geoms):
        if shapely.is_empty(g) or not np.isfinite(level[k]):
            continue
        x0, y0, x1, y1 = bounds[k]
        near = np.flatnonzero((xy[:, 0] >= x0 - reach) & (xy[:, 0] <= x1 + reach)
                              & (xy[:, 1] >= y0 - reach) & (xy[:, 1] <= y1 + reach))
        if len(near) == 0:
            continue
        shapely.prepare(g)
        hit = near[shapely.dwithin(g, shapely.points(xy[near]), reach)]
        out[hit] = np.minimum(out[hit], level[k] - depth)
    return out


def terrain_colours(z: np.ndarray) -> np.ndarray:
    """Return (n, 4) uint8 earth tones by elevation: green lowland to brown hills over the
    layer's own range, but over at least ``MIN_RELIEF_M`` so a flat plain stays green."""
    if len(z) == 0:
        return np.zeros((0, 4), np.uint8)
    lo, hi = np.nanpercentile(z, 2), np.nanpercentile(z, 98)
    t = np.clip((z - lo) / max(hi - lo, MIN_RELIEF_M), 0, 1)
    stops = np.array([0.0, 0.3, 0.6, 0.85, 1.0])
    rgb = np.array([[118, 150, 92], [150, 165, 105], [176, 160, 112], [150, 120, 85],
                    [125, 105, 90]], float)
    out = np.column_stack([np.interp(t, stops, rgb[:, i]) for i in range(3)]
                          + [np.full(len(z), 255.0)])
    return out.astype(np.uint8)


def marker_template(sections: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Return (vertices, faces) of a unit map pin: an inverted cone (tip at the origin, disc
    of radius 1 at height 1), closed and outward-facing."""
    ang = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    ring = np.column_stack([np.cos(ang), np.sin(ang), np.ones(sections)])
    vertices = np.vstack([[0, 0, 0], ring, [0, 0, 1]])
    i = np.arange(sections)
    j = (i + 1) % sections
    side = np.column_stack([np.zeros(sections, np.int64), j + 1, i + 1])
    top = np.column_stack([np.full(sections, sections + 1), i + 1, j + 1])
    return vertices, np.concatenate([side, top])


def site_layer(sites: Sites, origin: np.ndarray, terrain: Terrain | None = None, *,
               height: float = 30.0) -> Layer:
    """Return the sites layer: one pin per site (tip on the ground, ``height`` m tall; sensors
    half size), coloured by kind."""
    tv, tf = marker_template()
    n = len(sites)
    xyz = np.asarray(sites.xyz, float).reshape(-1, 3).copy()
    if n and terrain is not None:
        ground = terrain.sample(xyz[:, 0], xyz[:, 1])
        missing = ~np.isfinite(xyz[:, 2])
        xyz[missing, 2] = ground[missing]
    xyz[:, 2] = np.nan_to_num(xyz[:, 2])
    scale = np.where(sites.kind == "sensor", 0.5, 1.0) * height if n else np.zeros(0)
    shape = np.array([1 / 3, 1 / 3, 1.0])
    vertices = (tv[None] * shape * scale[:, None, None] + (xyz - origin)[:, None]).reshape(-1, 3)
    faces = (tf[None] + (np.arange(n) * len(tv))[:, None, None]).reshape(-1, 3)
    table = np.array([SITE_COLOURS.get(str(k), (200, 200, 200)) for k in sites.kind],
                     np.uint8).reshape(-1, 3)
    return make_layer("sites", vertices, faces, np.repeat(np.arange(n), len(tv)),
                      np.repeat(np.arange(n), len(tf)), sites.ids, np.repeat(table, len(tv), 0))
