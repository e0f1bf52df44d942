"""A walkway network as arrays for the crowd kernel (:class:`WalkNet`), and shortest paths
to destinations (:func:`routes_to`).

Links are undirected: a person walks a link from the node where it entered to the other end.
Two links between the same nodes (the sidewalks on either side of a street) are alternatives:
people take one or the other by the parity of their index, so a crowd uses both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .errors import CrowdError


@dataclass
class WalkNet:
    """Walkway arrays: ``a``, ``b`` (L,) end nodes; ``length`` (L,) m; ``width`` (L,) m;
    ``area`` (L,) m²; ``xy`` (N, 2) node positions m; ``ids`` (L,) link ids; ``node_ids``
    (N,). Pair lookup: ``pair_key`` (P,) sorted keys lo·N+hi of the node pairs joined by a
    link, ``pair_link`` (P, 2) the first and the alternative link of each pair, ``pair_a``,
    ``pair_b`` (P,) its nodes; ``pair_of_link`` (L,) the pair of each link."""

    a: np.ndarray
    b: np.ndarray
    length: np.ndarray
    width: np.ndarray
    xy: np.ndarray
    ids: np.ndarray
    node_ids: np.ndarray

    def __post_init__(self):
        self.a = np.asarray(self.a, np.int64)
        self.b = np.asarray(self.b, np.int64)
        self.length = np.asarray(self.length, np.float64)
        self.width = np.asarray(self.width, np.float64)
        self.xy = np.asarray(self.xy, np.float64).reshape(-1, 2)
        L, N = self.a.size, self.xy.shape[0]
        for name in ("b", "length", "width"):
            if getattr(self, name).size != L:
                raise CrowdError(f"walkway network: {name} has {getattr(self, name).size} "
                                 f"entries for {L} links")
        if L and (self.a.min() < 0 or self.b.min() < 0 or max(self.a.max(), self.b.max()) >= N):
            raise CrowdError("walkway network: a link end is not a node")
        bad = ~(np.isfinite(self.length) & (self.length > 0) & np.isfinite(self.width)
                & (self.width > 0))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise CrowdError(f"walkway link {self.ids[k]!r}: length {self.length[k]} m and "
                             f"width {self.width[k]} m must be finite and > 0")
        self.area = self.length * self.width
        lo, hi = np.minimum(self.a, self.b), np.maximum(self.a, self.b)
        key = lo * N + hi
        order = np.lexsort((np.arange(L), key))
        k_sorted = key[order]
        uniq, first, count = np.unique(k_sorted, return_index=True, return_counts=True)
        alt = np.where(count > 1, order[np.minimum(first + 1, L - 1)], order[first])
        self.pair_key = uniq
        self.pair_link = np.stack([order[first], alt], 1) if L else np.zeros((0, 2), np.int64)
        # the graph: one edge per pair, of the shortest length among its links
        best = np.minimum.reduceat(self.length[order], first) if L else np.zeros(0)
        pa, pb = uniq // max(N, 1), uniq % max(N, 1)
        self.pair_a, self.pair_b = pa, pb
        self.pair_of_link = np.searchsorted(uniq, key)        # (L,) the pair of each link
        self.graph = csr_matrix((np.r_[best, best], (np.r_[pa, pb], np.r_[pb, pa])),
                                shape=(N, N))

    @property
    def n_links(self) -> int:
        return int(self.a.size)

    @property
    def n_nodes(self) -> int:
        return int(self.xy.shape[0])

    @classmethod
    def from_network(cls, walk, default_width: float = 2.0) -> WalkNet:
        """Return the arrays of a :class:`cim.WalkwayNetwork` (``link_width`` where it has
        one, else ``default_width`` m)."""
        from cim.model.walkway import widths

        return cls(walk.link_from, walk.link_to, walk.link_length,
                   widths(walk, default_width), walk.node_xy,
                   np.asarray(walk.link_ids, object).astype(str),
                   np.asarray(walk.node_ids, object).astype(str))

    def link_between(self, u, v, pick) -> np.ndarray:
        """Return the link joining nodes ``u`` and ``v`` ((n,) each; -1 where none), the
        alternative (other side of the street) where ``pick`` is odd."""
        u, v = np.asarray(u, np.int64), np.asarray(v, np.int64)
        key = np.minimum(u, v) * self.n_nodes + np.maximum(u, v)
        pos = np.minimum(np.searchsorted(self.pair_key, key), max(self.pair_key.size - 1, 0))
        ok = (self.pair_key.size > 0) & (u >= 0) & (v >= 0)
        ok = ok & (self.pair_key[pos] == key) if self.pair_key.size else ok
        lk = self.pair_link[pos, np.asarray(pick, np.int64) & 1] if self.pair_key.size else -1
        return np.where(ok, lk, -1)

    def nearest_node(self, xy) -> tuple[np.ndarray, np.ndarray]:
        """Return (index, distance m) of the nearest node to each point of ``xy`` (n, 2)."""
        from scipy.spatial import cKDTree

        d, i = cKDTree(self.xy).query(np.asarray(xy, np.float64).reshape(-1, 2))
        return i.astype(np.int64), d


def routes_to(net: WalkNet, dest_nodes) -> tuple[np.ndarray, np.ndarray]:
    """Shortest walking paths to each destination node: return ``next_node`` (D, N) int64
    (the next node from each node towards destination d; -1 at d and where d is out of
    reach) and ``dist`` (D, N) m (inf out of reach)."""
    dest = np.asarray(dest_nodes, np.int64).ravel()
    if dest.size == 0:
        return np.zeros((0, net.n_nodes), np.int64), np.zeros((0, net.n_nodes))
    dist, pred = dijkstra(net.graph, directed=False, indices=dest, return_predecessors=True)
    nxt = np.where(pred < 0, -1, pred).astype(np.int64)
    return nxt, dist
