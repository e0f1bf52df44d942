"""Free-flow trip times of the KPIs (compiled searches stopped at the trips' ends) against
scipy's Dijkstra on the same node graph, searching from the same ends (the sums then add in
the same order): equal to the last bit."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from tests.twin.test_kpis import two_links
from twin.kernels.traffic import kpis


def _scipy_reference(d, origin, destination, backwards):
    lf, lt = np.asarray(d.link_from), np.asarray(d.link_to)
    free = d.link_length / d.link_free_speed
    n = int(max(lf.max(), lt.max())) + 1
    best = {}
    for a, b, w in zip(lf, lt, free):              # parallel links: the fastest
        best[(a, b)] = min(w, best.get((a, b), np.inf))
    (rows, cols), w = zip(*best.keys()), list(best.values())
    g = coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    dist = dijkstra(g.T.tocsr(), directed=True).T if backwards else dijkstra(g, directed=True)
    out = free[origin] + dist[lt[origin], lf[destination]] + free[destination]
    out = np.where(origin == destination, free[origin], out)
    return np.where(np.isfinite(out), out, np.nan)


def test_free_flow_times_equal_scipy():
    rng = np.random.default_rng(11)
    n, m = 60, 260
    d = two_links()
    d.link_from = rng.integers(0, n, m)
    d.link_to = (d.link_from + rng.integers(1, 6, m)) % n   # mostly one way round
    d.link_to[:20] = rng.integers(0, n, 20)
    d.link_from[-5:] = n + 3                                  # an island, not reached
    d.link_to[-5:] = n + 4
    d.link_length = rng.uniform(30, 900, m)
    d.link_free_speed = rng.choice([8.3, 13.9, 16.7], m)
    for n_dest in (5, 400):                                   # backwards and forwards
        origin = rng.integers(0, m, 400)
        destination = rng.integers(0, m, 400) % n_dest
        got = kpis.free_flow_times(d, origin, destination)
        back = (np.unique(d.link_from[destination]).size
                < np.unique(d.link_to[origin]).size)    # what free_flow_times searches from
        assert back == (n_dest == 5)
        ref = _scipy_reference(d, origin, destination, backwards=back)
        np.testing.assert_array_equal(got, ref)
        assert np.isnan(got).any() and np.isfinite(got).sum() > 100


def test_searches_fall_back_to_the_heap_when_the_bucket_pool_runs_out():
    """30 middle nodes at the same distance each lower the labels of 30 far nodes in turn
    (30 × 30 labels for a pool of 2 × 61 + 64): the search redone by the heap agrees."""
    from twin.kernels.traffic import _route_solve as rs

    m = 30
    mid, far = np.arange(1, m + 1), np.arange(m + 1, 2 * m + 1)
    tail = np.concatenate([np.zeros(m, np.int64), np.repeat(mid, m)])
    head = np.concatenate([mid, np.tile(far, m)])
    weight = np.concatenate([np.ones(m), 1.0 + 1e-6 * np.repeat(mid, m)])
    n = 2 * m + 1
    ptr, nbr, wt = rs.csr(tail, n, head, weight)
    delta, nb = rs.bucket_width(wt)
    cap = 2 * n + 64
    mark = np.zeros(n, np.int64)
    mark[far] = 1
    assert not rs.bucket_until(0, ptr, nbr.astype(np.int64), wt.astype(np.float64), delta,
                            np.empty(n), np.empty(nb, np.int64), np.empty(cap, np.int64),
                            np.empty(cap), np.empty(cap, np.int64), mark, 1, m)  # pool out
    out = np.empty(m)
    rs.distances_needed(np.array([0]), ptr, nbr.astype(np.int64), wt.astype(np.float64), delta,
                     nb, np.array([0, m]), far.astype(np.int64), out)
    g = coo_matrix((weight, (tail, head)), shape=(n, n)).tocsr()
    np.testing.assert_array_equal(out, dijkstra(g, directed=True, indices=0)[far])
