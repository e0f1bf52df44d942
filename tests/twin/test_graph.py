"""The twin's road graph: CSR arrays, id maps, shortest paths against brute force."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from cim.model import CityModel
from cim.roads import RoadNetworkBuilder
from tests.twin.test_build_cities import make_city
from twin.build.graph import RoadGraph


@pytest.fixture(scope="module")
def tw():
    return twin.build(make_city(with_terrain=False))


def test_road_graph_shape_and_values(tw):
    g = tw.road_graph
    assert g.shape == (6, 6) and g.format == "csr"
    i = tw.node_index
    assert g[i("d"), i("e")] == pytest.approx(100)
    assert g[i("e"), i("d")] == 0                       # d→e is one way
    # b–e: the straight street (100 m) wins over the curved detour (~120.7 m)
    assert g[i("b"), i("e")] == pytest.approx(100)
    assert tw.link_between("b", "e") == "be:f"
    assert tw.link_between("e", "b") == "be:b"
    assert tw.link_between("e", "d") is None
    assert g.nnz == 13                                   # 15 links, 2 parallel to others
    assert len(tw.graph.edge_link) == g.nnz
    # every stored entry is its link's length, from its link's from-node to its to-node
    rows = np.repeat(np.arange(6), np.diff(g.indptr))
    r = tw.city.roads
    np.testing.assert_array_equal(r.link_from[tw.graph.edge_link], rows)
    np.testing.assert_array_equal(r.link_to[tw.graph.edge_link], g.indices)
    np.testing.assert_allclose(r.link_length[tw.graph.edge_link], g.data)


def test_id_maps_both_ways(tw):
    for k, nid in enumerate(tw.node_ids):
        assert tw.node_index(nid) == k
    for k, lid in enumerate(tw.link_ids):
        assert tw.link_index(lid) == k
    np.testing.assert_array_equal(tw.node_index(["a", "f"]), [0, 5])
    with pytest.raises(KeyError, match="nowhere"):
        tw.node_index("nowhere")
    with pytest.raises(KeyError):
        tw.link_index(["ab:f", "zz:f"])


def check_path(tw, length, path, src, dst):
    assert path[0] == src and path[-1] == dst
    total = 0.0
    for u, v in zip(path[:-1], path[1:]):
        lid = tw.link_between(u, v)
        assert lid is not None
        total += tw.city.roads.link_length[tw.link_index(lid)]
    assert total == pytest.approx(length)


def test_shortest_path_on_hand_made_network(tw):
    length, path = tw.shortest_path("d", "c")
    assert length == pytest.approx(300)
    check_path(tw, length, path, "d", "c")
    length, path = tw.shortest_path("e", "d")           # no e→d: around the block
    assert length == pytest.approx(300) and path[1] != "d"
    check_path(tw, length, path, "e", "d")
    assert tw.shortest_path("a", "a") == (0.0, ["a"])


def test_shortest_path_by_time_prefers_fast_roads(tw):
    # a→b→c is primary (60 km/h); d→e→f residential (30 km/h)
    t, path = tw.shortest_path("a", "c", weight="time")
    assert path == ["a", "b", "c"]
    assert t == pytest.approx(200 / (60 / 3.6))


def test_unreachable():
    rb = RoadNetworkBuilder()
    rb.add_segment("x", "p", "q", [[0, 0], [10, 0]], oneway=True)
    rb.add_segment("y", "r", "s", [[0, 50], [10, 50]])
    t = twin.build(CityModel(roads=rb.build()))
    assert t.shortest_path("q", "p") == (float("inf"), [])
    cost = t.shortest_paths(["p", "r"], ["q", "s"])
    assert cost[0, 0] == pytest.approx(10) and np.isinf(cost[0, 1]) and np.isinf(cost[1, 0])


def floyd_warshall(n, links):
    """Brute-force all-pairs shortest path lengths from (u, v, w) triples."""
    d = np.full((n, n), np.inf)
    np.fill_diagonal(d, 0)
    for u, v, w in links:
        d[u, v] = min(d[u, v], w)
    for k in range(n):
        d = np.minimum(d, d[:, k:k + 1] + d[k:k + 1, :])
    return d


@pytest.mark.parametrize("seed", range(6))
def test_many_to_many_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 15))
    xy = rng.uniform(0, 1000, (n, 2))
    rb = RoadNetworkBuilder()
    for k in range(int(rng.integers(n, 4 * n))):
        u, v = rng.choice(n, 2, replace=False)
        # straight or detoured (parallel links of different lengths), some one way
        mid = (xy[u] + xy[v]) / 2 + rng.normal(0, 100, 2) * (rng.random() < 0.5)
        rb.node(f"n{u}", xy[u])
        rb.node(f"n{v}", xy[v])
        rb.add_segment(f"s{k}", f"n{u}", f"n{v}", [xy[u], mid, xy[v]],
                       oneway=bool(rng.random() < 0.4))
    roads = rb.build()
    g = RoadGraph(roads)
    ids = list(roads.node_ids)
    expected = floyd_warshall(len(ids), zip(roads.link_from, roads.link_to, roads.link_length))
    cost, paths = g.shortest_paths(ids, ids, return_paths=True)
    np.testing.assert_allclose(cost, expected)
    for i, s in enumerate(ids):
        for j, t in enumerate(ids):
            if np.isfinite(expected[i, j]):
                assert paths[i][j][0] == s and paths[i][j][-1] == t
                single = g.shortest_path(s, t)
                assert single[0] == pytest.approx(expected[i, j])
            else:
                assert paths[i][j] == []
    # the batched form without paths, on a subset, in given order
    sub = cost[np.ix_([2, 0], [1, 3])]
    np.testing.assert_allclose(g.shortest_paths([ids[2], ids[0]], [ids[1], ids[3]]), sub)
