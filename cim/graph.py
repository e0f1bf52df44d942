"""Graph algorithms on directed networks, over :mod:`scipy.sparse.csgraph`, vectorized.

The one implementation of these ideas for the whole project: the twin's road graph, the
demand generator's routable nodes, the traffic kernel and the KPIs all call these functions.

A graph is an (n, n) :class:`scipy.sparse.csr_matrix` ``g`` built by :func:`csr`: entry
``g[u, v]`` is the weight of the edge u → v (vertices are dense indices 0…n−1). Stored
entries are edges, explicit zeros included (csgraph treats them as zero-weight edges; do not
``eliminate_zeros`` a graph).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, dijkstra

#: Sources per Dijkstra batch in :func:`shortest_paths` (bounds memory to BATCH × n).
BATCH = 256


def csr_edges(n: int, tail, head, weight=None) -> tuple[csr_matrix, np.ndarray]:
    """Return (graph, edge) where graph is :func:`csr` of the edges and ``edge`` (nnz,) int64
    is the index (into ``tail``/``head``/``weight``) of the input edge behind each stored
    entry, aligned with ``graph.indices`` / ``graph.data``.

    Parallel edges (same tail and head) keep the one of minimum weight (the first of equal
    ones); edges with a non-finite weight (inf, NaN) are left out.
    """
    tail = np.asarray(tail, np.int64).reshape(-1)
    head = np.asarray(head, np.int64).reshape(-1)
    if len(tail) != len(head):
        raise ValueError(f"tail has {len(tail)} entries, head {len(head)}")
    w = (np.ones(len(tail)) if weight is None
         else np.broadcast_to(np.asarray(weight, np.float64), tail.shape))
    if len(tail) and (min(tail.min(), head.min()) < 0 or max(tail.max(), head.max()) >= n):
        raise ValueError(f"edge end outside the vertices 0…{n - 1}")
    cand = np.flatnonzero(np.isfinite(w))
    # sort by tail, then head, then weight: the first of each (tail, head) run is the minimum
    order = cand[np.lexsort((w[cand], head[cand], tail[cand]))]
    first = np.ones(len(order), bool)
    first[1:] = (tail[order][1:] != tail[order][:-1]) | (head[order][1:] != head[order][:-1])
    keep = order[first]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(tail[keep], minlength=n), out=indptr[1:])
    g = csr_matrix((w[keep], head[keep], indptr), shape=(n, n))
    return g, keep


def csr(n: int, tail, head, weight=None) -> csr_matrix:
    """Return the (n, n) csr_matrix of the directed edges tail[k] → head[k] ((m,) int vertex
    indices) with weights ``weight`` ((m,) float64; None → ones). Parallel edges keep the
    MIN weight (not the sum); edges with a non-finite weight are left out."""
    return csr_edges(n, tail, head, weight)[0]


def largest_strong_component(g) -> np.ndarray:
    """Return (n,) bool: the vertices of the largest strongly connected component (the first
    one found among equally large ones); all False for an empty graph."""
    n = g.shape[0]
    if n == 0:
        return np.zeros(0, bool)
    _, labels = connected_components(g, directed=True, connection="strong")
    return labels == int(np.argmax(np.bincount(labels)))


def reachable_from(g, sources) -> np.ndarray:
    """Return (n,) bool: the vertices reachable from any of ``sources`` ((k,) int), sources
    included (one breadth-first search from a virtual vertex linked to every source)."""
    n = g.shape[0]
    src = np.unique(np.asarray(sources, np.int64).reshape(-1))
    out = np.zeros(n, bool)
    if len(src) == 0:
        return out
    g = csr_matrix(g)
    indptr = np.append(g.indptr.astype(np.int64), g.indptr[-1] + len(src))
    indices = np.concatenate([g.indices.astype(np.int64), src])
    aug = csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n + 1, n + 1))
    order = breadth_first_order(aug, n, directed=True, return_predecessors=False)
    out[order[order < n]] = True
    return out


def reaching(g, targets) -> np.ndarray:
    """Return (n,) bool: the vertices from which any of ``targets`` ((k,) int) is reachable,
    targets included."""
    return reachable_from(csr_matrix(g).transpose().tocsr(), targets)


def path_costs(g, sources) -> np.ndarray:
    """Return (len(sources), n) float64: the shortest-path cost from each of ``sources``
    ((k,) int) to every vertex (0 to itself, inf when unreachable)."""
    src = np.asarray(sources, np.int64).reshape(-1)
    n = g.shape[0]
    if len(src) == 0:
        return np.zeros((0, n))
    return dijkstra(g, directed=True, indices=src).reshape(len(src), n)


def shortest_path(g, source: int, target: int) -> list[int]:
    """Return the vertex sequence [source, …, target] of a cheapest path; [] when target
    cannot be reached ([source] when source == target)."""
    return shortest_paths(g, [source], [target])[1][0][0]


def shortest_paths(g, sources, targets) -> tuple[np.ndarray, list[list[list[int]]]]:
    """Return (cost, paths) of cheapest paths from each of ``sources`` ((k,) int) to each of
    ``targets`` ((m,) int): ``cost`` (k, m) float64 (inf when unreachable) and ``paths[i][j]``
    the vertex list from sources[i] to targets[j] ([] when unreachable).

    One Dijkstra per source (in batches of :data:`BATCH`); the predecessor walks of all pairs
    of one source advance together, one array step per hop."""
    src = np.asarray(sources, np.int64).reshape(-1)
    dst = np.asarray(targets, np.int64).reshape(-1)
    cost = np.full((len(src), len(dst)), np.inf)
    paths: list[list[list[int]]] = []
    for b0 in range(0, len(src), BATCH):
        batch = src[b0:b0 + BATCH]
        dist, pred = dijkstra(g, directed=True, indices=batch, return_predecessors=True)
        dist = dist.reshape(len(batch), -1)
        pred = pred.reshape(len(batch), -1)
        cost[b0:b0 + len(batch)] = dist[:, dst]
        paths.extend(_walk(pred, batch, dst, np.isfinite(dist[:, dst])))
    return cost, paths


def _walk(pred: np.ndarray, sources: np.ndarray, targets: np.ndarray,
          reached: np.ndarray) -> list[list[list[int]]]:
    """Return paths[i][j] from sources[i] to targets[j] following the predecessor rows
    ``pred`` (k, n) of the sources; [] where ``reached`` (k, m) is False. Per source, the
    walks back from all its targets advance together (memory: hops × m)."""
    out = []
    for i, s in enumerate(sources.tolist()):
        row = pred[i]
        cur = targets.copy()
        alive = reached[i] & (cur != s)
        steps = [cur]
        while alive.any():
            cur = np.where(alive, row[cur], cur)
            steps.append(cur)
            alive &= cur != s
        hops = np.stack(steps)                  # (L, m): from each target back to s
        length = np.argmax(hops == s, axis=0) + 1
        out.append([hops[length[j] - 1::-1, j].tolist() if reached[i, j] else []
                    for j in range(len(targets))])
    return out
