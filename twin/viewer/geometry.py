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


#: m: the most a simplified terrain surface departs from the grid vertices it drops
TERRAIN_TOLERANCE_M = 0.01
#: most grid cells merged into one quad
MAX_RUN = 32


def simplify_surface(v: np.ndarray, f: np.ndarray, rgb: np.ndarray,
                     tolerance: float = TERRAIN_TOLERANCE_M):
    """Return (vertices, faces, colours) of a terrain grid surface (the twin's: vertices on a
    regular x/y grid, two triangles a cell) with each run of coplanar cells along a grid row
    drawn as one quad: every vertex it drops lies within ``tolerance`` m of the quad, and
    colours (a function of elevation) are unchanged. Anything else is returned as it is."""
    z = v[:, 2]
    xs, ys = np.unique(v[:, 0]), np.unique(v[:, 1])
    if len(xs) < 3 or len(ys) < 3 or len(xs) * len(ys) > 2 * len(v):
        return v, f, rgb
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    col, row = np.rint((v[:, 0] - xs[0]) / dx).astype(int), np.rint((v[:, 1] - ys[0]) / dy
                                                                       ).astype(int)
    if (np.abs(xs[0] + col * dx - v[:, 0]).max() > 1e-6 * dx
            or np.abs(ys[0] + row * dy - v[:, 1]).max() > 1e-6 * dy):
        return v, f, rgb
    ny, nx = row.max() + 1, col.max() + 1
    idx = np.full((ny, nx), -1, np.int64)
    idx[row, col] = np.arange(len(v))
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]   # sw se nw ne
    if ((row[f].max(1) - row[f].min(1)) > 1).any() or ((col[f].max(1) - col[f].min(1)) > 1
                                                        ).any():
        return v, f, rgb                                  # not one grid cell a triangle
    full = (a >= 0) & (b >= 0) & (c >= 0) & (d >= 0)
    za, zb, zc, zd = (np.where(full, z[k], np.nan) for k in (a, b, c, d))
    gx, gy = zb - za, zc - za
    planar = full & (np.abs(zd - za - gx - gy) <= tolerance)
    qx, qy = np.rint(gx / tolerance * 4), np.rint(gy / tolerance * 4)
    join = planar[:, 1:] & planar[:, :-1] & (qx[:, 1:] == qx[:, :-1]) & (qy[:, 1:] == qy[:, :-1])
    # runs: a cell starts a run unless it joins its left neighbour; runs are cut at MAX_RUN
    start = np.ones(planar.shape, bool)
    start[:, 1:] = ~join
    run = np.cumsum(start.ravel()) - 1
    first = np.flatnonzero(start.ravel())
    pos = np.arange(run.size) - first[run]
    start = start.ravel() | (pos % MAX_RUN == 0)
    run = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    last = np.append(first[1:], run.size) - 1
    n_run = last - first + 1
    ok = planar.ravel()[first] & (n_run > 1)
    # check every dropped vertex against the merged quad's bottom and top edges
    r0, c0 = np.divmod(first, nx - 1)
    c1 = last % (nx - 1) + 1
    cells = np.flatnonzero(ok[run] & (np.arange(run.size) != first[run]))
    rc, cc = np.divmod(cells, nx - 1)
    k = run[cells]
    t = (cc - c0[k]) / (c1[k] - c0[k])
    for rr in (rc, rc + 1):
        lo, hi = z[idx[rr, c0[k]]], z[idx[rr, c1[k]]]
        bad = np.abs(z[idx[rr, cc]] - (lo + t * (hi - lo))) > tolerance
        ok[k[bad]] = False
    merged = ok[run].reshape(planar.shape)
    kept = f[~merged[row[f].min(1), col[f].min(1)]]       # triangles of the other cells
    m = np.flatnonzero(ok)
    msw, mse = idx[r0[m], c0[m]], idx[r0[m], c1[m]]
    mnw, mne = idx[r0[m] + 1, c0[m]], idx[r0[m] + 1, c1[m]]
    faces = np.concatenate([kept, np.column_stack([msw, mse, mne]),
                            np.column_stack([msw, mne, mnw])])
    used = np.zeros(len(v), bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    return v[used], remap[faces], rgb[used]


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
