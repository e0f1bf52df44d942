"""Isolation segments against wntr's valve-layer analysis (``valve_segments``) on Net3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cim
from twin.kernels.water.segments import isolate, segment_labels

wntr = pytest.importorskip("wntr")
NET3 = Path(__file__).resolve().parents[2].parent / "shared" / "validation" / "water" / "Net3.inp"
pytestmark = pytest.mark.skipif(not NET3.exists(), reason=f"validation data not found: {NET3}")


def _partition(labels, ids) -> set[frozenset]:
    groups: dict = {}
    for lab, i in zip(np.asarray(labels).tolist(), ids):
        groups.setdefault(lab, set()).add(str(i))
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("strategy", [("strategic", 1), ("strategic", 2), ("random", 150)])
def test_segments_equal_wntr_valve_segments(strategy):
    wn = wntr.network.WaterNetworkModel(str(NET3))
    placement, n = strategy
    layer = wntr.network.layer.generate_valve_layer(wn, placement_type=placement, n=n, seed=7)
    G = wn.to_graph()
    node_seg, link_seg, _ = wntr.metrics.topographic.valve_segments(G, layer)
    net = cim.load(NET3).water_network
    nodes = {k: i for i, k in enumerate(net.node_ids)}
    links = {k: i for i, k in enumerate(net.link_ids)}
    net.isolation_valves = np.array([[links[r.link], nodes[r.node]]
                                     for r in layer.itertuples()], np.int64).reshape(-1, 2)
    ours_n, ours_l = segment_labels(net)
    both = np.concatenate([ours_n, ours_l])
    ids = [f"n:{k}" for k in net.node_ids] + [f"l:{k}" for k in net.link_ids]
    theirs = [node_seg[k] for k in net.node_ids] + [link_seg[k] for k in net.link_ids]
    assert _partition(both, ids) == _partition(theirs, ids)
    assert len(set(both.tolist())) > 10


def test_isolating_a_pipe_closes_its_boundary_valves():
    wn = wntr.network.WaterNetworkModel(str(NET3))
    layer = wntr.network.layer.generate_valve_layer(wn, placement_type="strategic", n=1, seed=3)
    net = cim.load(NET3).water_network
    nodes = {k: i for i, k in enumerate(net.node_ids)}
    links = {k: i for i, k in enumerate(net.link_ids)}
    net.isolation_valves = np.array([[links[r.link], nodes[r.node]]
                                     for r in layer.itertuples()], np.int64)
    pipe = links["101"]
    iso = isolate(net, pipe)
    assert pipe in iso.close_links and len(iso.valves) >= 1
    # with those links closed, no path from the isolated nodes to any other node
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    keep = ~np.isin(np.arange(net.n_links), iso.close_links)
    g = sp.coo_matrix((np.ones(keep.sum()), (net.link_from[keep], net.link_to[keep])),
                      shape=(net.n_nodes,) * 2)
    _, lab = connected_components(g, directed=False)
    inside = set(lab[iso.nodes].tolist())
    outside = np.setdiff1d(np.arange(net.n_nodes), iso.nodes)
    assert not inside & set(lab[outside].tolist())
