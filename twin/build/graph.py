"""The road network as a CSR graph with dense indices, id maps both ways and shortest paths.

Nodes and links keep the row order of :class:`cim.model.RoadNetwork` as their dense index.
The graph is directed; where several links join the same two nodes in the same direction,
the one with the smallest weight is the graph's edge (``edge_link`` says which). The graph
algorithms are those of :mod:`cim.graph`.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from cim import graph as cimgraph
from cim.model import RoadNetwork

#: Smallest edge weight kept in the graph, so that a zero-length link stays an edge.
MIN_WEIGHT = 1e-9
#: Sources per Dijkstra batch in the many-to-many queries (bounds memory to batch × n_nodes).
BATCH = 256


class RoadGraph:
    """Directed road graph: ``matrix`` (n_nodes, n_nodes) csr_matrix of link lengths (m).

    Attributes: ``node_ids`` / ``link_ids`` (object str arrays in dense-index order),
    ``edge_link`` (nnz,) int64 — the link behind each stored entry of ``matrix`` (aligned with
    ``matrix.indices``).
    """

    def __init__(self, roads: RoadNetwork):
        self.roads = roads
        self.node_ids = np.asarray(roads.node_ids, dtype=object)
        self.link_ids = np.asarray(roads.link_ids, dtype=object)
        self._node_index = {k: i for i, k in enumerate(self.node_ids.tolist())}
        self._link_index = {k: i for i, k in enumerate(self.link_ids.tolist())}
        self._graphs: dict[str, tuple[csr_matrix, np.ndarray, np.ndarray]] = {}
        self.matrix, self.edge_link = self.weighted("length")

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    # ---- id maps ------------------------------------------------------------------------
    def node_index(self, node_id):
        """Return the dense index of a node id (str → int; list/array → int64 array).
        Raises KeyError naming the unknown id."""
        return _lookup(self._node_index, node_id, "road node")

    def link_index(self, link_id):
        """Return the dense index of a link id (str → int; list/array → int64 array)."""
        return _lookup(self._link_index, link_id, "road link")

    # ---- graphs -------------------------------------------------------------------------
    def link_weights(self, weight: str) -> np.ndarray:
        """Return (n_links,) float64 weights: ``"length"`` in m, ``"time"`` free-flow s."""
        r = self.roads
        if weight == "length":
            w = np.asarray(r.link_length, float)
        elif weight == "time":
            speed = np.asarray(r.link_free_speed, float)
            w = np.asarray(r.link_length, float) / np.where(speed > 0, speed, np.nan)
        else:
            raise ValueError(f"unknown weight {weight!r}; use 'length' or 'time'")
        return np.where(np.isfinite(w), np.maximum(w, MIN_WEIGHT), np.inf)

    def weighted(self, weight: str = "length") -> tuple[csr_matrix, np.ndarray]:
        """Return (csr_matrix of ``weight``, (nnz,) link behind each entry), cached."""
        g = self._graphs.get(weight)
        if g is None:
            g = self._build(self.link_weights(weight))
            self._graphs[weight] = g
        return g[0], g[1]

    def _build(self, w: np.ndarray):
        r = self.roads
        m, keep = cimgraph.csr_edges(self.n_nodes, r.link_from, r.link_to, w)
        keys = np.asarray(r.link_from, np.int64)[keep] * max(self.n_nodes, 1) + \
            np.asarray(r.link_to, np.int64)[keep]
        return m, keep, keys

    def link_between(self, from_index, to_index, weight: str = "length"):
        """Return the link index of the graph edge from → to (dense node indices; scalars or
        arrays), −1 where there is none."""
        self.weighted(weight)
        _, edge_link, keys = self._graphs[weight]
        a = np.asarray(from_index, np.int64)
        b = np.asarray(to_index, np.int64)
        q = a * max(self.n_nodes, 1) + b
        pos = np.searchsorted(keys, q)
        if len(keys) == 0:
            out = np.full(q.shape, -1, np.int64)
        else:
            pos_c = np.minimum(pos, len(keys) - 1)
            out = np.where((pos < len(keys)) & (keys[pos_c] == q), edge_link[pos_c], -1)
        return int(out) if out.ndim == 0 else out

    # ---- shortest paths -----------------------------------------------------------------
    def shortest_path(self, from_id: str, to_id: str, weight: str = "length"):
        """Return (cost, [node ids]) of the cheapest route (``weight`` "length" → m, "time" →
        free-flow s); (inf, []) when ``to_id`` cannot be reached."""
        s, t = self.node_index(from_id), self.node_index(to_id)
        m, _ = self.weighted(weight)
        cost, paths = cimgraph.shortest_paths(m, [s], [t])
        if not np.isfinite(cost[0, 0]):
            return float("inf"), []
        return float(cost[0, 0]), [self.node_ids[i] for i in paths[0][0]]

    def shortest_paths(self, from_ids, to_ids, weight: str = "length", *,
                       return_paths: bool = False):
        """Return (n_from, n_to) float64 costs of all routes from each of ``from_ids`` to each
        of ``to_ids`` (inf = unreachable) — and, with ``return_paths``, also a list of lists
        of node-id lists (``paths[i][j]``; [] when unreachable)."""
        src = np.atleast_1d(self.node_index(list(np.atleast_1d(from_ids))))
        dst = np.atleast_1d(self.node_index(list(np.atleast_1d(to_ids))))
        m, _ = self.weighted(weight)
        if return_paths:
            cost, idx = cimgraph.shortest_paths(m, src, dst)
            ids = self.node_ids
            return cost, [[[ids[i] for i in p] for p in row] for row in idx]
        cost = np.full((len(src), len(dst)), np.inf)
        for b0 in range(0, len(src), BATCH):
            batch = src[b0:b0 + BATCH]
            cost[b0:b0 + len(batch)] = cimgraph.path_costs(m, batch)[:, dst]
        return cost


def _lookup(index: dict, key, what: str):
    if isinstance(key, str):
        try:
            return index[key]
        except KeyError:
            raise KeyError(f"unknown {what} id {key!r}") from None
    keys = list(np.atleast_1d(np.asarray(key, dtype=object)))
    missing = [k for k in keys if k not in index]
    if missing:
        raise KeyError(f"unknown {what} id(s) {missing[:5]!r}")
    return np.fromiter((index[k] for k in keys), np.int64, len(keys))
