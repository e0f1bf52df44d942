"""Road meshes: link polylines as ribbons draped on the terrain (bridges and tunnels kept
level between their ends)."""

from __future__ import annotations

import numpy as np

from cim.model import RoadNetwork, Terrain

from .meshes import MAJOR_ROADS, MEDIUM_ROADS, ROAD_COLOURS, Layer, make_layer
from .triangulate import concat_ranges


def road_segments(roads: RoadNetwork) -> np.ndarray:
    """Return (n_segments,) int64: one representative link per undirected street segment
    (links from the same source object between the same two nodes, either way)."""
    seen: dict = {}
    lf, lt = roads.link_from.tolist(), roads.link_to.tolist()
    src, ids = roads.link_source, roads.link_ids
    for k in range(roads.n_links):
        a, b = lf[k], lt[k]
        key = (src[k] or ids[k], min(a, b), max(a, b))
        seen.setdefault(key, k)
    return np.fromiter(seen.values(), np.int64, len(seen))


def _drop_repeats(xy: np.ndarray, offsets: np.ndarray):
    """Return (xy, offsets, kept_lines) without consecutive duplicate points and without lines
    left with fewer than two points."""
    line = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    dup = np.zeros(len(xy), bool)
    dup[1:] = (line[1:] == line[:-1]) & np.all(xy[1:] == xy[:-1], axis=1)
    xy, line = xy[~dup], line[~dup]
    counts = np.bincount(line, minlength=len(offsets) - 1)
    ok = counts >= 2
    keep_pt = ok[line]
    offs = np.concatenate([[0], np.cumsum(counts[ok])]).astype(np.int64)
    return xy[keep_pt], offs, np.flatnonzero(ok)


def densify(xy: np.ndarray, offsets: np.ndarray, max_step: float):
    """Return (xy, offsets) with points added so no segment is longer than ``max_step``."""
    n = len(xy)
    line = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    last = np.zeros(n, bool)
    last[offsets[1:] - 1] = True
    nxt = np.where(last, np.arange(n), np.arange(n) + 1)
    seg = np.hypot(*(xy[nxt] - xy).T)
    n_sub = np.where(last, 1, np.maximum(1, np.ceil(seg / max_step))).astype(np.int64)
    src = np.repeat(np.arange(n), n_sub)
    j = np.arange(len(src)) - np.repeat(np.cumsum(n_sub) - n_sub, n_sub)
    t = j / n_sub[src]
    out = xy[src] + t[:, None] * (xy[nxt[src]] - xy[src])
    counts = np.bincount(line[src], minlength=len(offsets) - 1)
    return out, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def ribbons(xy: np.ndarray, offsets: np.ndarray, width: np.ndarray):
    """Return (left, right) (n, 2) edge points of ribbons of ``width`` (per line, m) along
    polylines (mitred joints, miter capped at 2× the half-width)."""
    n = len(xy)
    first = np.zeros(n, bool)
    first[offsets[:-1]] = True
    last = np.zeros(n, bool)
    last[offsets[1:] - 1] = True
    idx = np.arange(n)
    d = xy[np.where(last, idx, idx + 1)] - xy          # direction of the segment starting here
    d_len = np.hypot(d[:, 0], d[:, 1])
    d_len[d_len == 0] = 1.0
    d /= d_len[:, None]
    nrm = np.column_stack([-d[:, 1], d[:, 0]])        # left normal of that segment
    prev = np.roll(nrm, 1, axis=0)
    n_next = np.where(last[:, None], prev, nrm)
    n_prev = np.where(first[:, None], nrm, prev)
    m = n_prev + n_next
    m_len = np.hypot(m[:, 0], m[:, 1])
    flat = m_len < 1e-9
    m[flat] = n_next[flat]
    m_len[flat] = 1.0
    m /= m_len[:, None]
    cos_half = np.clip(np.einsum("ij,ij->i", m, n_next), 0.5, 1.0)
    line = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    half = 0.5 * width[line] / cos_half
    return xy + m * half[:, None], xy - m * half[:, None]


def road_layer(roads: RoadNetwork, origin: np.ndarray, terrain: Terrain | None = None, *,
               z_offset: float = 0.5) -> Layer:
    """Return the roads layer: one ribbon of the link width per undirected segment, draped on
    the terrain ``z_offset`` m above it (bridges span straight between their ends). Object ids
    are the segments' source ids (the link id where there is none); ``info["segment_link"]``
    gives the representative link of each ribbon."""
    seg = road_segments(roads)
    go = roads.geometry_offsets
    lengths = go[seg + 1] - go[seg]
    xy = roads.geometry_xy[concat_ranges(go[seg], lengths), :2] - origin[:2]
    offs = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    xy, offs, kept = _drop_repeats(xy, offs)
    seg = seg[kept]
    if terrain is not None and len(xy):
        xy, offs = densify(xy, offs, max(2.0 * terrain.cell, 5.0))
    width = np.asarray(roads.link_width, float)[seg]
    width = np.where(np.isfinite(width) & (width > 0), width, 7.0)
    left, right = ribbons(xy, offs, width)
    line = np.repeat(np.arange(len(seg)), np.diff(offs))
    z = _drape(xy + origin[:2], offs, line, terrain, roads.link_bridge[seg]) - origin[2]
    n = len(xy)
    vertices = np.empty((2 * n, 3))
    vertices[0::2, :2], vertices[1::2, :2] = left, right
    vertices[0::2, 2] = vertices[1::2, 2] = z + z_offset
    not_last = np.ones(n, bool)
    not_last[offs[1:] - 1] = False
    j = np.flatnonzero(not_last)
    faces = np.empty((2 * len(j), 3), np.int64)
    faces[0::2] = np.column_stack([2 * j + 1, 2 * j + 3, 2 * j + 2])
    faces[1::2] = np.column_stack([2 * j + 1, 2 * j + 2, 2 * j])
    cls = roads.link_class[seg]
    colour = np.array([ROAD_COLOURS["major"] if c in MAJOR_ROADS else ROAD_COLOURS["medium"]
                       if c in MEDIUM_ROADS else ROAD_COLOURS["minor"] for c in cls],
                      np.uint8).reshape(-1, 3)
    src = roads.link_source[seg]
    ids = np.array([s or i for s, i in zip(src, roads.link_ids[seg])], dtype=object)
    return make_layer("roads", vertices, faces, np.repeat(line, 2), np.repeat(line[j], 2), ids,
                      colour[np.repeat(line, 2)], {"segment_link": seg})


def _drape(xy, offs, line, terrain, bridge) -> np.ndarray:
    """Return (n,) ground elevation under polyline points; bridges interpolate linearly
    between their end elevations (but never below the ground)."""
    if terrain is None or len(xy) == 0:
        return np.zeros(len(xy))
    z = terrain.sample(xy[:, 0], xy[:, 1])
    if np.isnan(z).any():
        fill = np.nanmedian(terrain.z) if np.isfinite(terrain.z).any() else 0.0
        z = np.where(np.isnan(z), fill, z)
    if np.any(bridge):
        step = np.hypot(*np.diff(xy, axis=0).T)
        s = np.concatenate([[0.0], np.cumsum(step)])
        s0, s1 = s[offs[:-1]][line], s[offs[1:] - 1][line]
        z0, z1 = z[offs[:-1]][line], z[offs[1:] - 1][line]
        t = np.where(s1 > s0, (s - s0) / np.where(s1 > s0, s1 - s0, 1.0), 0.0)
        deck = z0 + t * (z1 - z0)
        z = np.where(np.asarray(bridge)[line], np.maximum(deck, z), z)
    return z


# ---- water, terrain, sites -------------------------------------------------------------------
