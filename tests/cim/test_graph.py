"""cim.graph against a hand-checked small graph and against brute force on random graphs."""

from __future__ import annotations

import numpy as np
import pytest

from cim.graph import (
    csr,
    csr_edges,
    largest_strong_component,
    path_costs,
    reachable_from,
    reaching,
    shortest_path,
    shortest_paths,
)

INF = np.inf

# 0 ⇄ 1 → 2 → 0 is a cycle; 3 ⇄ 4; 5 only feeds 4. Two parallel 0 → 1 edges (4 m and 2 m);
# 1 → 5 has an infinite weight (no edge).
TAIL = [0, 0, 1, 2, 2, 3, 4, 5, 1]
HEAD = [1, 1, 2, 0, 3, 4, 3, 4, 5]
WEIGHT = [4.0, 2.0, 1.0, 3.0, 5.0, 1.0, 1.0, 7.0, INF]
# shortest-path costs worked out by hand, row = source
COSTS = np.array([
    [0, 2, 3, 8, 9, INF],
    [4, 0, 1, 6, 7, INF],
    [3, 5, 0, 5, 6, INF],
    [INF, INF, INF, 0, 1, INF],
    [INF, INF, INF, 1, 0, INF],
    [INF, INF, INF, 8, 7, 0],
])


@pytest.fixture
def g():
    return csr(6, TAIL, HEAD, WEIGHT)


def test_csr_keeps_the_min_of_parallel_edges_and_drops_infinite_ones(g):
    assert g.shape == (6, 6) and g.format == "csr"
    assert g.nnz == 7                               # 9 edges, one parallel, one infinite
    assert g[0, 1] == 2.0                           # the min, not the sum 6
    assert g[1, 5] == 0 and g[5, 4] == 7.0
    unweighted = csr(6, TAIL, HEAD)
    assert unweighted[0, 1] == 1.0 and unweighted.nnz == 8 and unweighted[1, 5] == 1.0
    m, edge = csr_edges(6, TAIL, HEAD, WEIGHT)
    assert edge.tolist() == [1, 2, 3, 4, 5, 6, 7]  # the 2 m edge stands for 0 → 1
    rows = np.repeat(np.arange(6), np.diff(m.indptr))
    np.testing.assert_array_equal(np.asarray(TAIL)[edge], rows)
    np.testing.assert_array_equal(np.asarray(HEAD)[edge], m.indices)
    np.testing.assert_array_equal(np.asarray(WEIGHT)[edge], m.data)


def test_csr_rejects_bad_edges():
    with pytest.raises(ValueError, match="outside"):
        csr(2, [0], [2])
    with pytest.raises(ValueError, match="entries"):
        csr(2, [0, 1], [1])


def test_zero_weight_edge_is_an_edge():
    z = csr(3, [0, 1], [1, 2], [0.0, 0.0])
    assert z.nnz == 2
    assert reachable_from(z, [0]).tolist() == [True, True, True]
    assert path_costs(z, [0]).tolist() == [[0.0, 0.0, 0.0]]
    assert shortest_path(z, 0, 2) == [0, 1, 2]


def test_largest_strong_component(g):
    assert largest_strong_component(g).tolist() == [True, True, True, False, False, False]
    assert largest_strong_component(csr(0, [], [])).shape == (0,)


def test_reachability_both_ways(g):
    assert np.flatnonzero(reachable_from(g, [0])).tolist() == [0, 1, 2, 3, 4]
    assert np.flatnonzero(reachable_from(g, [5])).tolist() == [3, 4, 5]
    assert np.flatnonzero(reachable_from(g, [3, 5, 5])).tolist() == [3, 4, 5]
    assert not reachable_from(g, []).any()
    assert np.flatnonzero(reaching(g, [0])).tolist() == [0, 1, 2]
    assert np.flatnonzero(reaching(g, [3])).tolist() == [0, 1, 2, 3, 4, 5]
    assert np.flatnonzero(reaching(g, [5])).tolist() == [5]


def test_path_costs_and_paths(g):
    np.testing.assert_array_equal(path_costs(g, range(6)), COSTS)
    np.testing.assert_array_equal(path_costs(g, [5, 0]), COSTS[[5, 0]])
    assert path_costs(g, []).shape == (0, 6)
    assert shortest_path(g, 0, 4) == [0, 1, 2, 3, 4]
    assert shortest_path(g, 5, 3) == [5, 4, 3]
    assert shortest_path(g, 4, 0) == []
    assert shortest_path(g, 2, 2) == [2]
    cost, paths = shortest_paths(g, [0, 3], [4, 0, 5])
    np.testing.assert_array_equal(cost, COSTS[np.ix_([0, 3], [4, 0, 5])])
    assert paths == [[[0, 1, 2, 3, 4], [0], []], [[3, 4], [], []]]


def _floyd(n, tail, head, w) -> np.ndarray:
    d = np.full((n, n), INF)
    np.fill_diagonal(d, 0.0)
    for u, v, x in zip(tail, head, w):
        d[u, v] = min(d[u, v], x) if u != v else 0.0
    for k in range(n):
        d = np.minimum(d, d[:, k:k + 1] + d[k:k + 1, :])
    return d


@pytest.mark.parametrize("seed", range(8))
def test_against_brute_force_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 12)), int(rng.integers(0, 40))
    tail, head = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.integers(1, 10, m).astype(float)      # integers: exact sums, ties compare equal
    g = csr(n, tail, head, w)
    d = _floyd(n, tail, head, w)
    np.testing.assert_array_equal(path_costs(g, range(n)), d)
    finite = np.isfinite(d)
    for s in range(n):
        np.testing.assert_array_equal(reachable_from(g, [s]), finite[s])
        np.testing.assert_array_equal(reaching(g, [s]), finite[:, s])
    mutual = finite & finite.T
    scc = largest_strong_component(g)
    assert scc.sum() == mutual.sum(axis=1).max()
    assert mutual[np.ix_(scc, scc)].all()
    cost, paths = shortest_paths(g, range(n), range(n))
    for s in range(n):
        for t in range(n):
            p = paths[s][t]
            if not finite[s, t]:
                assert p == []
                continue
            assert p[0] == s and p[-1] == t
            assert sum(g[a, b] for a, b in zip(p[:-1], p[1:])) == d[s, t]
            assert shortest_path(g, s, t) == p
