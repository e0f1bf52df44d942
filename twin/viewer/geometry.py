"""Merged meshes of the viewer's geometry kinds: one pyvista mesh per drawn layer.

Each builder returns a :class:`Geometry`: one ``pyvista.PolyData`` (or StructuredGrid) in the
twin's local frame (metres minus ``Twin.origin``), the element ids its objects stand for, and
``point_object`` (n_points,) int64 — the object each point belongs to — and ``cell_object``
(n_cells,) for picking. Scalars per object become point scalars by one gather per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..build.road_meshes import _drape, ribbons

#: m above the ground of drawn lines, nodes and glyphs (above the static road surface)
LIFT_M = {"ribbon": 0.9, "line": 2.5, "node": 3.0, "points": 2.0, "raster": 0.4}


@dataclass
class Geometry:
    """A merged mesh: ``mesh``, ``ids`` (n_objects,) str, ``point_object`` (n_points,),
    ``cell_object`` (n_cells,), ``style`` ("surface", "line", "point")."""

    mesh: object
    ids: np.ndarray
    point_object: np.ndarray
    cell_object: np.ndarray
    style: str = "surface"


def ground(twin, x, y) -> np.ndarray:
    """Return terrain elevation (m, local frame) at world points x, y (0 without terrain,
    the median height outside it)."""
    t = twin.city.terrain
    x = np.asarray(x, float)
    if t is None:
        return np.zeros(x.shape) - twin.origin[2]
    z = t.sample(x, np.asarray(y, float))
    if np.isnan(z).any():
        fill = float(np.nanmedian(t.z)) if np.isfinite(t.z).any() else 0.0
        z = np.where(np.isnan(z), fill, z)
    return z - twin.origin[2]


def _link_polylines(net) -> tuple[np.ndarray, np.ndarray]:
    """Return (xy (n, 2) world m, offsets (n_links + 1,)) of every link's polyline (its
    stored geometry, or the straight line between its nodes where it has none)."""
    go = np.asarray(net.geometry_offsets, np.int64)
    n = net.n_links
    if len(go) != n + 1 or len(net.geometry_xy) == 0:
        go = np.zeros(n + 1, np.int64)
    counts = np.diff(go)
    bad = counts < 2
    counts = np.where(bad, 2, counts)
    offs = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    xy = np.empty((offs[-1], 2))
    # stored geometry, vectorised over links
    ok = np.flatnonzero(~bad)
    if len(ok):
        src = _ranges(go[ok], counts[ok])
        dst = _ranges(offs[ok], counts[ok])
        xy[dst] = np.asarray(net.geometry_xy, float)[src, :2]
    b = np.flatnonzero(bad)
    xy[offs[b]] = net.node_xy[net.link_from[b]]
    xy[offs[b] + 1] = net.node_xy[net.link_to[b]]
    return xy, offs


def _ranges(starts, counts) -> np.ndarray:
    """Return the concatenation of arange(s, s + c) for each start s and count c."""
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    step = np.ones(total, np.int64)
    if total:
        heads = np.concatenate([[0], np.cumsum(counts)[:-1]])
        step[heads] = np.asarray(starts, np.int64) - np.concatenate(
            [[0], np.asarray(starts[:-1], np.int64) + counts[:-1] - 1])
    return np.cumsum(step)


def link_ribbons(twin, net) -> Geometry:
    """Return one ribbon per directed link of a network with widths (roads): the right half
    of the carriageway where the reverse link exists, the whole width otherwise."""
    import pyvista as pv

    xy, offs = _link_polylines(net)
    n_l = net.n_links
    width = np.asarray(getattr(net, "link_width", np.full(n_l, 7.0)), float)
    width = np.where(np.isfinite(width) & (width > 0), width, 7.0)
    # at least 1/300 of the extent wide, so that colours show in a district overview
    extent = float(np.ptp(xy, axis=0).max()) if len(xy) else 0.0
    width = np.maximum(width, extent / 300.0)
    left, right = ribbons(xy, offs, width)
    centre = 0.5 * (left + right)
    pair = set(zip(net.link_from.tolist(), net.link_to.tolist()))
    two_way = np.array([(b, a) in pair for a, b in zip(net.link_from.tolist(),
                                                       net.link_to.tolist())], bool)
    line = np.repeat(np.arange(n_l), np.diff(offs))
    inner = np.where(two_way[line][:, None], centre + 0.08 * (right - centre), left)
    bridge = np.asarray(getattr(net, "link_bridge", np.zeros(n_l, bool)), bool)
    t = twin.city.terrain
    z = (_drape(xy, offs, line, t, bridge) if t is not None else np.zeros(len(xy)))
    z = z - twin.origin[2] + LIFT_M["ribbon"]
    n = len(xy)
    pts = np.empty((2 * n, 3))
    pts[0::2, :2] = inner - twin.origin[:2]
    pts[1::2, :2] = right - twin.origin[:2]
    pts[0::2, 2] = pts[1::2, 2] = z
    not_last = np.ones(n, bool)
    not_last[offs[1:] - 1] = False
    j = np.flatnonzero(not_last)
    quads = np.column_stack([np.full(len(j), 4), 2 * j, 2 * j + 1, 2 * j + 3, 2 * j + 2])
    mesh = pv.PolyData(pts, quads.ravel())
    return Geometry(mesh, np.asarray(net.link_ids).astype(str), np.repeat(line, 2), line[j])


def link_lines(twin, net) -> Geometry:
    """Return every link of a network as a polyline (pipes, cables) on the ground."""
    import pyvista as pv

    xy, offs = _link_polylines(net)
    n_l = net.n_links
    z = ground(twin, xy[:, 0], xy[:, 1]) + LIFT_M["line"]
    pts = np.column_stack([xy - twin.origin[:2], z])
    counts = np.diff(offs)
    lines = np.insert(np.arange(len(xy)), offs[:-1], counts)
    mesh = pv.PolyData(pts, lines=lines)
    return Geometry(mesh, np.asarray(net.link_ids).astype(str),
                    np.repeat(np.arange(n_l), counts), np.arange(n_l), "line")


def node_points(twin, net) -> Geometry:
    """Return the nodes of a network as points."""
    import pyvista as pv

    xy = np.asarray(net.node_xy, float)[:, :2]
    z = ground(twin, xy[:, 0], xy[:, 1]) + LIFT_M["node"]
    mesh = pv.PolyData(np.column_stack([xy - twin.origin[:2], z]))
    n = len(xy)
    return Geometry(mesh, np.asarray(net.node_ids).astype(str), np.arange(n), np.arange(n),
                    "point")


def buildings(twin) -> Geometry:
    """Return the twin's building meshes as one mesh (objects = buildings): walls and roofs
    wound outward, without the floors (never seen from above ground)."""
    import pyvista as pv

    layer = twin.layers["buildings"]
    faces, keep, _ = solid_faces(layer)
    mesh = pv.PolyData(np.asarray(layer.mesh.vertices, float), _cells(faces))
    po = np.repeat(np.arange(layer.n_objects), np.diff(layer.vertex_offsets))
    return Geometry(mesh, np.asarray(layer.object_ids).astype(str), po,
                    np.asarray(layer.face_object)[keep])


def _cells(faces: np.ndarray) -> np.ndarray:
    """Return VTK's flat cell array of (n, 3) triangles."""
    return np.column_stack([np.full(len(faces), 3, np.int64), faces]).ravel()


def _light(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])


#: baked lighting of the static layers (unit vectors towards the lights, local frame): a key
#: light 50° right of the default camera's bearing and a weak fill from behind the district
KEY_LIGHT, FILL_LIGHT, FILL_SHARE = _light(250.0, 45.0), _light(70.0, 30.0), 0.35


def solid_faces(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (faces (m, 3) wound outward, keep (n_faces,) bool — the faces kept: all but
    those facing down, normals (m, 3) unit) of a layer of closed solids (buildings): each
    object's winding is flipped where its signed volume is negative."""
    v = np.asarray(layer.mesh.vertices, float)
    f = np.array(layer.mesh.faces, np.int64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])    # 2 × area × normal
    obj = np.asarray(layer.face_object, np.int64)
    vol = np.bincount(obj, (v[f[:, 0]] * fn).sum(1), minlength=int(layer.n_objects))
    inward = vol[obj] < 0
    f[inward] = f[inward][:, ::-1]
    fn[inward] *= -1.0
    norm = np.linalg.norm(fn, axis=1)
    keep = fn[:, 2] >= -1e-6 * norm
    n = fn[keep] / np.maximum(norm[keep], 1e-30)[:, None]
    return f[keep], keep, n


def _shade(normals: np.ndarray, ambient: float, diffuse: float) -> np.ndarray:
    """Return the brightness (n,) of unit normals under the baked key and fill lights."""
    lit = np.maximum(normals @ KEY_LIGHT, 0.0) + FILL_SHARE * np.maximum(normals @ FILL_LIGHT,
                                                                         0.0)
    return np.minimum(ambient + diffuse * lit, 1.0)


def static_layer(layer, ambient: float = 0.35, diffuse: float = 0.7):
    """Return (pyvista.PolyData, cell_object (n_cells,)) of a static twin layer with its
    lighting baked into ``"rgb"`` (uint8), to be drawn unlit (software rendering: per-pixel
    lighting costs more than the rest of a frame). Solids (buildings, sites) are shaded per
    face, wound outward and lose their floors; surfaces (terrain, roads, water) per vertex."""
    import pyvista as pv

    v = np.asarray(layer.mesh.vertices, float)
    rgb = np.asarray(layer.mesh.visual.vertex_colors)[:, :3].astype(float)
    if layer.name in ("buildings", "sites"):
        faces, keep, n = solid_faces(layer)
        mesh = pv.PolyData(v, _cells(faces))
        mesh.cell_data["rgb"] = (rgb[faces[:, 0]] * _shade(n, ambient, diffuse)[:, None]
                                 ).round().astype(np.uint8)
        return mesh, np.asarray(layer.face_object)[keep]
    f = np.asarray(layer.mesh.faces, np.int64)
    if layer.name == "terrain" and len(f) > 1000:
        v, f, rgb = simplify_surface(v, f, rgb)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    fn[fn[:, 2] < 0] *= -1.0                                # surfaces face up
    vn = np.column_stack([np.bincount(f.ravel(), np.repeat(fn[:, k], 3), minlength=len(v))
                          for k in range(3)])
    vn /= np.maximum(np.linalg.norm(vn, axis=1), 1e-30)[:, None]
    mesh = pv.PolyData(v, _cells(f))
    mesh.point_data["rgb"] = (rgb * _shade(vn, ambient, diffuse)[:, None]).round().astype(
        np.uint8)
    return mesh, (np.zeros(len(f), np.int64) if layer.name == "terrain"
                  else np.asarray(layer.face_object))


#: m: the most a simplified terrain surface departs from the vertices it drops
TERRAIN_TOLERANCE_M = 0.05


def simplify_surface(v: np.ndarray, f: np.ndarray, rgb: np.ndarray,
                     tolerance: float = TERRAIN_TOLERANCE_M):
    """Return (vertices, faces, colours) of a terrain surface without the vertices that lie
    within ``tolerance`` m of the surface left (flat ground: Lihu's 76k triangles become
    ~5k); the outline is kept, and the vertices kept keep their colours (a function of
    elevation, so they change by no more than the elevation does)."""
    import pyvista as pv
    import vtk

    pd = pv.PolyData(v, _cells(f))
    pd.point_data["rgb"] = rgb
    d = vtk.vtkDecimatePro()
    d.SetInputData(pd)
    d.SetTargetReduction(0.99)
    d.PreserveTopologyOn()
    d.BoundaryVertexDeletionOff()
    d.SplittingOff()
    d.SetErrorIsAbsolute(1)
    d.SetAbsoluteError(float(tolerance))
    d.Update()
    out = pv.wrap(d.GetOutput())
    if out.n_cells == 0 or not out.is_all_triangles:
        return v, f, rgb
    faces = np.asarray(out.faces).reshape(-1, 4)[:, 1:].astype(np.int64)
    return np.asarray(out.points, float), faces, np.asarray(out.point_data["rgb"], float)


def moving_points(n: int) -> Geometry:
    """Return ``n`` glyph slots (positions set per frame)."""
    import pyvista as pv

    mesh = pv.PolyData(np.zeros((max(n, 1), 3)))
    return Geometry(mesh, np.arange(n).astype(str), np.arange(n), np.arange(n), "point")


def raster(twin, yc: np.ndarray, xc: np.ndarray) -> Geometry:
    """Return a surface over cell centres ``yc`` (ny,), ``xc`` (nx,) (world m) laid on the
    terrain; objects are the cells in row-major (y, x) order."""
    import pyvista as pv

    X, Y = np.meshgrid(np.asarray(xc, float), np.asarray(yc, float))
    Z = ground(twin, X.ravel(), Y.ravel()).reshape(X.shape) + LIFT_M["raster"]
    grid = pv.StructuredGrid(X - twin.origin[0], Y - twin.origin[1], Z)
    n = X.size
    # StructuredGrid points are in Fortran (x fastest) order of the (nx, ny) arrays given
    order = np.arange(n).reshape(X.shape).ravel(order="F")
    # a picked cell (y index fastest in VTK's order) stands for its lower-left centre
    ny, nx = X.shape
    cy, cx = np.meshgrid(np.arange(ny - 1), np.arange(nx - 1), indexing="ij")
    cell_object = (cy * nx + cx).ravel(order="F")
    return Geometry(grid, np.arange(n).astype(str), order, cell_object, "surface")


def build(twin, kind: str, n_points: int = 0, axes=None) -> Geometry:
    """Return the geometry of ``kind`` (``<net kind>_link``, ``<net kind>_node``,
    ``building``, ``points``, ``raster``) for ``twin``."""
    if kind == "building":
        return buildings(twin)
    if kind == "points":
        return moving_points(n_points)
    if kind == "raster":
        return raster(twin, *axes)
    nets = {f"{n.kind}_{w}": n for n in twin.city.networks().values() for w in ("node", "link")}
    net = nets[kind]
    if kind.endswith("_node"):
        return node_points(twin, net)
    if getattr(net, "link_width", None) is not None and len(net.link_width) == net.n_links:
        return link_ribbons(twin, net)
    return link_lines(twin, net)
