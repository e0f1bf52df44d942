"""Shared pieces of the lifeline generators (:mod:`assets.water`, :mod:`assets.power`): the
undirected street graph the mains and feeders follow, nearest-node lookups, sites in the
local CRS and a small sparse network solver used to size pipes and cables.

Coordinates are absolute EPSG:4549 metres, as in the city files.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pyproj
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu
from scipy.spatial import cKDTree

from cim.model import LOCAL_CRS

#: street segments shorter than this (m) are contracted into one node (tiny fragments)
MIN_SEGMENT_M = 5.0


def lifeline_rng(seed: int, district: str, what: str) -> np.random.Generator:
    """Return the RNG stream of lifeline ``what`` ("water", "power") of a district: its own
    stream derived from the seed, so the other generated files do not change."""
    return np.random.default_rng([int(seed), zlib.crc32(f"{district}/{what}".encode())])


@dataclass
class StreetGraph:
    """Undirected street segments (one per street, not per direction), tiny fragments
    contracted, largest connected piece only.

    Nodes (n,): ``road_index`` int64 index of the road node that stands for the node;
    ``road_ids`` object str; ``xy`` (n, 2) float64; ``z`` float64 terrain m.
    Segments (m,): ``seg_ids`` object str (the road segment, e.g. "lihu_avenue-001");
    ``seg_from`` / ``seg_to`` int64 node indices; ``seg_length`` float64 m; ``seg_class``
    object str road class; ``geom_offsets`` (m + 1,) int64 / ``geom_xy`` (k, 2) polylines.
    ``road_to_node`` (n_road_nodes,) int64: the node a road node belongs to (its own, the one
    it was contracted into, or the nearest kept node when its piece was dropped).
    """

    road_index: np.ndarray
    road_ids: np.ndarray
    xy: np.ndarray
    z: np.ndarray
    seg_ids: np.ndarray
    seg_from: np.ndarray
    seg_to: np.ndarray
    seg_length: np.ndarray
    seg_class: np.ndarray
    geom_offsets: np.ndarray
    geom_xy: np.ndarray
    road_to_node: np.ndarray

    @property
    def n(self) -> int:
        return len(self.road_index)

    @property
    def m(self) -> int:
        return len(self.seg_ids)

    def adjacency(self, weight=None) -> sp.csr_matrix:
        """Return the symmetric (n, n) adjacency with ``weight`` per segment (default 1)."""
        w = np.ones(self.m) if weight is None else np.asarray(weight, float)
        a = sp.coo_matrix((np.r_[w, w], (np.r_[self.seg_from, self.seg_to],
                                         np.r_[self.seg_to, self.seg_from])),
                          shape=(self.n, self.n))
        return a.tocsr()

    def nearest(self, pts: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
        """Return the node index nearest each point of ``pts`` (k, 2) (only nodes ``among``
        when given), (k,) int64."""
        idx = np.arange(self.n) if among is None else np.asarray(among, np.int64)
        _, j = cKDTree(self.xy[idx]).query(np.asarray(pts, float).reshape(-1, 2))
        return idx[np.asarray(j, np.int64)]


def street_graph(roads, terrain) -> StreetGraph:
    """Return the :class:`StreetGraph` of a road network (one segment per ":f" link)."""
    ids = roads.link_ids.astype(str)
    fwd = np.flatnonzero(np.char.endswith(ids, ":f"))
    a, b = roads.link_from[fwd], roads.link_to[fwd]
    length = roads.link_length[fwd]
    n_road = roads.n_nodes
    tiny = length < MIN_SEGMENT_M
    g = sp.coo_matrix((np.ones(tiny.sum()), (a[tiny], b[tiny])), shape=(n_road, n_road))
    _, lab = connected_components(g, directed=False)
    rep = np.full(lab.max() + 1, n_road, np.int64)
    np.minimum.at(rep, lab, np.arange(n_road))
    rep = rep[lab]
    ra, rb = rep[a], rep[b]
    keep = ~tiny & (ra != rb)
    fwd, ra, rb, length = fwd[keep], ra[keep], rb[keep], length[keep]
    g = sp.coo_matrix((np.ones(len(fwd)), (ra, rb)), shape=(n_road, n_road))
    _, comp = connected_components(g, directed=False)
    used = np.zeros(n_road, bool)
    used[ra] = used[rb] = True
    sizes = np.bincount(comp[used], minlength=comp.max() + 1)
    big = int(np.argmax(sizes))
    nodes = np.flatnonzero(used & (comp == big))
    seg = comp[ra] == big
    fwd, ra, rb, length = fwd[seg], ra[seg], rb[seg], length[seg]
    new = np.full(n_road, -1, np.int64)
    new[nodes] = np.arange(len(nodes))
    xy = roads.node_xy[nodes].astype(float)
    z = terrain.sample(xy[:, 0], xy[:, 1])
    z = np.where(np.isfinite(z), z, np.nanmedian(z))
    # polylines, their ends moved onto the (possibly contracted) end nodes
    offs = roads.geometry_offsets
    cnt = offs[fwd + 1] - offs[fwd]
    starts = np.repeat(offs[fwd], cnt) + np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt,
                                                                           cnt)
    gxy = roads.geometry_xy[starts].astype(float)
    goff = np.concatenate([[0], np.cumsum(cnt)])
    gxy[goff[:-1]] = xy[new[ra]]
    gxy[goff[1:] - 1] = xy[new[rb]]
    r2n = new[rep]
    lost = r2n < 0
    if lost.any():
        _, j = cKDTree(xy).query(roads.node_xy[lost])
        r2n[lost] = j
    return StreetGraph(nodes, roads.node_ids[nodes], xy, z,
                       roads.link_source[fwd].astype(object), new[ra], new[rb],
                       length.astype(float), roads.link_class[fwd].astype(object), goff, gxy,
                       r2n)


def sites_xy(sites: list, kind: str) -> tuple[list[str], np.ndarray]:
    """Return (ids, (k, 2) EPSG:4549 x/y) of the site features of ``kind``."""
    feats = [f for f in sites if f["properties"]["kind"] == kind]
    if not feats:
        return [], np.zeros((0, 2))
    ll = np.array([f["geometry"]["coordinates"] for f in feats], float)
    tr = pyproj.Transformer.from_crs("EPSG:4326", LOCAL_CRS, always_xy=True)
    x, y = tr.transform(ll[:, 0], ll[:, 1])
    return [f["properties"]["id"] for f in feats], np.column_stack([x, y])


def spread(points: np.ndarray, k: int, first: int) -> np.ndarray:
    """Return ``k`` indices of ``points`` spread out by farthest-point sampling from
    ``first``."""
    chosen = [int(first)]
    d = np.hypot(*(points - points[first]).T)
    for _ in range(min(k, len(points)) - 1):
        chosen.append(int(np.argmax(d)))
        d = np.minimum(d, np.hypot(*(points - points[chosen[-1]]).T))
    return np.asarray(chosen, np.int64)


def solve_laplacian(n: int, a: np.ndarray, b: np.ndarray, g: np.ndarray, fixed: np.ndarray,
                    value: np.ndarray, inject: np.ndarray) -> np.ndarray:
    """Solve the weighted-graph Laplacian system: ``g`` (m,) conductances (real or complex) of
    links a→b; nodes ``fixed`` (k,) int64 held at ``value`` (k,); elsewhere the net outflow
    into the links equals ``inject`` (n,) (positive: supplied to the node). Returns (n,)."""
    dt = np.result_type(g, value, inject)
    lap = sp.coo_matrix((np.r_[g, g, -g, -g], (np.r_[a, b, a, b], np.r_[a, b, b, a])),
                        shape=(n, n), dtype=dt).tocsr()
    is_fixed = np.zeros(n, bool)
    is_fixed[fixed] = True
    free = np.flatnonzero(~is_fixed)
    x = np.zeros(n, dt)
    x[fixed] = value
    rhs = inject[free] - lap[free][:, fixed] @ np.asarray(value, dt)
    x[free] = splu(lap[free][:, free].tocsc()).solve(rhs)
    return x
