"""Polygon triangulation over ragged buffers: many polygons with holes in one call.

The layout is the one of :class:`cim.geometry.PolygonSet`: ``ring_offsets`` (n_rings + 1,)
into the vertex array, ``polygon_offsets`` (n_polygons + 1,) into the rings, first ring of a
polygon is its exterior. Rings are open (first vertex not repeated).

Convex single-ring polygons — most building footprints — are fanned in one numpy pass; the
others go through mapbox_earcut one polygon at a time in a tight loop.
"""

from __future__ import annotations

import mapbox_earcut
import numpy as np


def ring_signed_areas(xy: np.ndarray, ring_offsets: np.ndarray) -> np.ndarray:
    """Return (n_rings,) float64 signed shoelace areas (counter-clockwise positive)."""
    n_rings = len(ring_offsets) - 1
    if n_rings == 0 or len(xy) == 0:
        return np.zeros(n_rings)
    nxt = next_in_ring(ring_offsets)
    ring_of_v = np.repeat(np.arange(n_rings), np.diff(ring_offsets))
    # relative to each ring's first vertex, for precision with large projected coordinates
    start = ring_offsets[:-1][ring_of_v]
    x = xy[:, 0] - xy[start, 0]
    y = xy[:, 1] - xy[start, 1]
    cross = x * y[nxt] - x[nxt] * y
    return 0.5 * np.bincount(ring_of_v, cross, minlength=n_rings)


def next_in_ring(ring_offsets: np.ndarray) -> np.ndarray:
    """Return (n_vertices,) int64: index of the next vertex of the same ring (wrapping)."""
    n_v = int(ring_offsets[-1])
    nxt = np.arange(1, n_v + 1, dtype=np.int64)
    lengths = np.diff(ring_offsets)
    ends = ring_offsets[1:][lengths > 0] - 1
    nxt[ends] = ring_offsets[:-1][lengths > 0]
    return nxt


def exterior_mask(ring_offsets: np.ndarray, polygon_offsets: np.ndarray) -> np.ndarray:
    """Return (n_rings,) bool: True for the first (exterior) ring of each polygon."""
    mask = np.zeros(len(ring_offsets) - 1, bool)
    first = polygon_offsets[:-1][np.diff(polygon_offsets) > 0]
    mask[first] = True
    return mask


def orientation_order(xy: np.ndarray, ring_offsets: np.ndarray,
                      polygon_offsets: np.ndarray) -> np.ndarray:
    """Return (n_vertices,) int64 permutation that makes exteriors counter-clockwise and holes
    clockwise (each ring reversed in place where needed; ``xy[order]`` keeps the offsets)."""
    area = ring_signed_areas(xy, ring_offsets)
    ext = exterior_mask(ring_offsets, polygon_offsets)
    flip = np.where(ext, area < 0, area > 0)
    idx = np.arange(int(ring_offsets[-1]), dtype=np.int64)
    if not flip.any():
        return idx
    ring_of_v = np.repeat(np.arange(len(ring_offsets) - 1), np.diff(ring_offsets))
    f = flip[ring_of_v]
    s = ring_offsets[:-1][ring_of_v]
    e = ring_offsets[1:][ring_of_v]
    return np.where(f, s + e - 1 - idx, idx)


def _convex_single_ring(xy, ring_offsets, polygon_offsets, nxt) -> np.ndarray:
    """Return (n_polygons,) bool: polygon has one counter-clockwise ring with no reflex vertex."""
    n_poly = len(polygon_offsets) - 1
    single = np.diff(polygon_offsets) == 1
    if not single.any():
        return single
    lengths = np.diff(ring_offsets)
    n_v = len(nxt)
    prv = np.empty(n_v, np.int64)
    prv[nxt] = np.arange(n_v)
    a = xy[:, :2] - xy[prv, :2]
    b = xy[nxt, :2] - xy[:, :2]
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    scale = np.hypot(a[:, 0], a[:, 1]) * np.hypot(b[:, 0], b[:, 1])
    reflex = cross < -1e-9 * scale
    ring_of_v = np.repeat(np.arange(len(lengths)), lengths)
    ring_reflex = np.bincount(ring_of_v, reflex, minlength=len(lengths)) > 0
    ring_ok = ~ring_reflex & (ring_signed_areas(xy, ring_offsets) > 0) & (lengths >= 3)
    out = np.zeros(n_poly, bool)
    first = polygon_offsets[:-1]
    out[single] = ring_ok[first[single]]
    return out


def triangulate(xy: np.ndarray, ring_offsets: np.ndarray,
                polygon_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (triangles (m, 3) int64 indices into ``xy``, (m,) int64 polygon of each triangle).

    ``xy`` : (n_vertices, >=2) float64 — only x, y are used. Triangles are counter-clockwise in
    x, y whatever the input ring orientation; polygons with fewer than three vertices give none.
    Output is ordered by polygon.
    """
    xy = np.asarray(xy, dtype=np.float64)[:, :2]
    ring_offsets = np.asarray(ring_offsets, np.int64)
    polygon_offsets = np.asarray(polygon_offsets, np.int64)
    n_poly = len(polygon_offsets) - 1
    if n_poly == 0 or len(xy) == 0:
        return np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    order = orientation_order(xy, ring_offsets, polygon_offsets)
    oxy = xy[order]
    nxt = next_in_ring(ring_offsets)
    fast = _convex_single_ring(oxy, ring_offsets, polygon_offsets, nxt)

    # fan of each fast polygon: (first, i, i + 1) for i in 1 .. n - 2
    first_ring = polygon_offsets[:-1]
    fast_poly = np.flatnonzero(fast)
    v0 = ring_offsets[first_ring[fast_poly]]
    n_tri = ring_offsets[first_ring[fast_poly] + 1] - v0 - 2
    tri_poly_fast = np.repeat(fast_poly, n_tri)
    k = np.arange(len(tri_poly_fast)) - np.repeat(np.cumsum(n_tri) - n_tri, n_tri)
    base = np.repeat(v0, n_tri)
    fan = np.column_stack([base, base + k + 1, base + k + 2])

    # everything else through earcut
    tris = [fan]
    polys = [tri_poly_fast]
    slow = np.flatnonzero(~fast)
    if len(slow):
        chunks, counts = [], []
        po, ro = polygon_offsets, ring_offsets
        earcut = mapbox_earcut.triangulate_float64
        for p in slow.tolist():
            r0, r1 = po[p], po[p + 1]
            if r1 <= r0:
                counts.append(0)
                continue
            a, b = ro[r0], ro[r1]
            if ro[r0 + 1] - a < 3:
                counts.append(0)
                continue
            local = oxy[a:b]
            t = earcut(local - local[0], (ro[r0 + 1:r1 + 1] - a).astype(np.uint32))
            chunks.append(t.astype(np.int64) + a)
            counts.append(len(t) // 3)
        if chunks:
            ear = np.concatenate(chunks).reshape(-1, 3)
            ear_poly = np.repeat(slow, counts)
            # earcut's winding is not part of its contract: make each polygon's triangles CCW
            p0, p1, p2 = oxy[ear[:, 0]], oxy[ear[:, 1]], oxy[ear[:, 2]]
            area = ((p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1])
                    - (p1[:, 1] - p0[:, 1]) * (p2[:, 0] - p0[:, 0]))
            neg = np.bincount(ear_poly, area, minlength=n_poly) < 0
            flip = neg[ear_poly]
            ear[flip] = ear[flip][:, ::-1]
            tris.append(ear)
            polys.append(ear_poly)
    tri = np.concatenate(tris)
    tri_poly = np.concatenate(polys)
    if len(tris) > 1:
        sort = np.argsort(tri_poly, kind="stable")
        tri, tri_poly = tri[sort], tri_poly[sort]
    return order[tri], tri_poly


def plane_frames(xyz: np.ndarray, ring_offsets: np.ndarray,
                 polygon_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return per polygon (normal, u, v), each (n_polygons, 3): the Newell normal of the
    exterior ring (unit; zero for degenerate rings) and an orthonormal in-plane basis with
    u × v = normal, so a ring counter-clockwise about the normal stays counter-clockwise in
    (u, v)."""
    n_poly = len(polygon_offsets) - 1
    nxt = next_in_ring(ring_offsets)
    ring_of_v = np.repeat(np.arange(len(ring_offsets) - 1), np.diff(ring_offsets))
    ext = exterior_mask(ring_offsets, polygon_offsets)
    ring_poly = np.repeat(np.arange(n_poly), np.diff(polygon_offsets))
    # Newell's method on coordinates relative to the ring's first vertex
    start = ring_offsets[:-1][ring_of_v]
    p = xyz - xyz[start]
    q = p[nxt]
    comps = np.column_stack([
        (p[:, 1] - q[:, 1]) * (p[:, 2] + q[:, 2]),
        (p[:, 2] - q[:, 2]) * (p[:, 0] + q[:, 0]),
        (p[:, 0] - q[:, 0]) * (p[:, 1] + q[:, 1]),
    ])
    w = ext[ring_of_v].astype(float)
    vpoly = ring_poly[ring_of_v]
    normal = np.column_stack([np.bincount(vpoly, comps[:, i] * w, minlength=n_poly)
                              for i in range(3)])
    norm = np.linalg.norm(normal, axis=1)
    ok = norm > 0
    normal[ok] /= norm[ok, None]
    normal[~ok] = (0.0, 0.0, 1.0)
    # seed axis least aligned with the normal
    seed = np.zeros_like(normal)
    seed[np.arange(n_poly), np.argmin(np.abs(normal), axis=1)] = 1.0
    u = np.cross(seed, normal)
    u /= np.linalg.norm(u, axis=1)[:, None]
    v = np.cross(normal, u)
    normal[~ok] = 0.0
    return normal, u, v


def triangulate_3d(xyz: np.ndarray, ring_offsets: np.ndarray,
                   polygon_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (triangles (m, 3) int64 into ``xyz``, (m,) polygon index) for planar 3D polygons
    with holes: each polygon is projected on its best-fit plane and triangulated there, and
    its triangles face the way its exterior ring winds (right-hand rule)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    n_poly = len(polygon_offsets) - 1
    if n_poly == 0 or len(xyz) == 0:
        return np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    normal, u, v = plane_frames(xyz, ring_offsets, polygon_offsets)
    ring_poly = np.repeat(np.arange(n_poly), np.diff(polygon_offsets))
    vpoly = np.repeat(ring_poly, np.diff(ring_offsets))
    rel = xyz - xyz[ring_offsets[polygon_offsets[:-1][vpoly]]]
    uv = np.column_stack([np.einsum("ij,ij->i", rel, u[vpoly]),
                          np.einsum("ij,ij->i", rel, v[vpoly])])
    return triangulate(uv, ring_offsets, polygon_offsets)


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return the concatenation of ``arange(s, s + n)`` for each (s, n), as int64."""
    starts = np.asarray(starts, np.int64)
    lengths = np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(total, dtype=np.int64) + shift


def clean_polygons(vertices: np.ndarray, ring_offsets: np.ndarray, polygon_offsets: np.ndarray,
                   polygon_keep: np.ndarray | None = None):
    """Return (vertices, ring_offsets, polygon_offsets, kept polygon indices) without the
    polygons not in ``polygon_keep`` (bool mask), without rings of fewer than 3 vertices or of
    non-finite coordinates, and without polygons whose exterior is such a ring."""
    ring_len = np.diff(ring_offsets)
    ring_count = np.diff(polygon_offsets)
    n_poly = len(ring_count)
    keep = np.ones(n_poly, bool) if polygon_keep is None else np.asarray(polygon_keep, bool)
    ring_of_v = np.repeat(np.arange(len(ring_len)), ring_len)
    bad_v = ~np.isfinite(vertices).all(axis=1)
    ring_ok = (ring_len >= 3) & (np.bincount(ring_of_v, bad_v, minlength=len(ring_len)) == 0)
    has_rings = ring_count > 0
    ext_ok = np.zeros(n_poly, bool)
    ext_ok[has_rings] = ring_ok[polygon_offsets[:-1][has_rings]]
    keep = keep & ext_ok
    ring_keep = np.repeat(keep, ring_count) & ring_ok
    if ring_keep.all():
        return vertices, ring_offsets, polygon_offsets, np.arange(n_poly)
    ring_poly = np.repeat(np.arange(n_poly), ring_count)
    new_count = np.bincount(ring_poly[ring_keep], minlength=n_poly)[keep]
    v = vertices[np.repeat(ring_keep, ring_len)]
    ro = np.concatenate([[0], np.cumsum(ring_len[ring_keep])]).astype(np.int64)
    po = np.concatenate([[0], np.cumsum(new_count)]).astype(np.int64)
    return v, ro, po, np.flatnonzero(keep)
