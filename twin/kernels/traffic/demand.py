"""Demand → kernel trips: origin and destination links the turn graph connects.

Demand is an ``agents.Trips`` (``depart_s``, ``origin_node``, ``destination_node``), or a dict
/ structured array with ``depart_s`` (or ``depart``) and either ``origin_node`` /
``destination_node`` (or ``origin`` / ``destination``) node indices or ``origin_link`` /
``destination_link`` link indices.
"""

from __future__ import annotations

import numpy as np

from cim import graph

from ...errors import ScenarioError
from . import api as traffic


def routable_links(net: traffic.Network) -> tuple[np.ndarray, np.ndarray]:
    """Return (can_start, can_end), (n_links,) bool: the links from which the largest
    strongly connected part of ``net``'s turn graph (no U-turns) can be reached, and the links
    that can be reached from it. A trip from a ``can_start`` link to a ``can_end`` link always
    has a route (through that part)."""
    n = net.n_links
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    turns = turn_graph(net)
    core = np.flatnonzero(graph.largest_strong_component(turns))
    return graph.reaching(turns, core), graph.reachable_from(turns, core)


def turn_graph(net: traffic.Network):
    """Return the turn graph of ``net`` (links as vertices, one edge per allowed turn)."""
    return graph.csr(net.n_links, net.turn_from, net.turn_to_arr)


def kernel_trips(demand, roads, net: traffic.Network | None = None,
                 stats: dict | None = None) -> tuple[traffic.Trips, int]:
    """Return (kernel Trips, number of trips dropped) for ``demand`` on ``roads``.

    Node trips start on an outgoing link of their origin node and end on an incoming link of
    their destination node, chosen among the links that :func:`routable_links` connects
    (round-robin over the node's links, in trip order), so that every trip has a route;
    trips whose node has no such link are dropped as unroutable, and so are those with
    origin == destination node. Link trips are dropped as unroutable when the turn graph has
    no path between their links. ``net``: the kernel network of ``roads`` (built when not
    given); ``stats``: a dict that receives ``dropped`` and ``unroutable`` counts."""
    stats = {} if stats is None else stats
    stats.update(dropped=0, unroutable=0)
    if demand is None:
        return traffic.Trips(np.zeros(0), np.zeros(0, int), np.zeros(0, int)), 0
    if net is None:
        net = traffic.Network(roads.node_xy, roads.link_from, roads.link_to,
                              roads.link_length, np.clip(roads.link_lanes, 1, 16),
                              roads.link_free_speed)
    can_start, can_end = routable_links(net)
    col = _columns(demand)
    depart = np.asarray(col("depart_s", "depart"), float)
    if "origin_link" in _names(demand):
        o = np.asarray(col("origin_link"), np.int64)
        d = np.asarray(col("destination_link"), np.int64)
        bad = (o < 0) | (o >= net.n_links) | (d < 0) | (d >= net.n_links)
        if bad.any():
            raise ScenarioError(f"demand: trip {np.flatnonzero(bad)[0]} names a link outside "
                                f"0..{net.n_links - 1}")
        keep = (can_start[o] & can_end[d]) | (o == d)
        if (~keep).any():  # off the main part: search the turn graph itself
            turns = turn_graph(net)
            for i in np.flatnonzero(~keep):
                keep[i] = graph.reachable_from(turns, [o[i]])[d[i]]
        n_bad = int((~keep).sum())
        stats.update(dropped=n_bad, unroutable=n_bad)
        return (traffic.Trips(depart[keep], o[keep], d[keep], trip_id=np.flatnonzero(keep)),
                n_bad)
    on = np.asarray(col("origin_node", "origin"), np.int64)
    dn = np.asarray(col("destination_node", "destination"), np.int64)
    n_nodes = roads.n_nodes
    bad = (on < 0) | (on >= n_nodes) | (dn < 0) | (dn >= n_nodes)
    if bad.any():
        raise ScenarioError(f"demand: trip {np.flatnonzero(bad)[0]} names a node outside "
                            f"0..{n_nodes - 1}")
    o = _pick_links(roads.link_from, on, n_nodes, can_start)
    d = _pick_links(roads.link_to, dn, n_nodes, can_end)
    has_o = _pick_links(roads.link_from, on, n_nodes) >= 0
    has_d = _pick_links(roads.link_to, dn, n_nodes) >= 0
    keep = (o >= 0) & (d >= 0) & (on != dn)
    stats.update(dropped=int((~keep).sum()),
                 unroutable=int(((on != dn) & has_o & has_d & ((o < 0) | (d < 0))).sum()))
    trip_id = np.flatnonzero(keep)
    return traffic.Trips(depart[keep], o[keep], d[keep], trip_id=trip_id), stats["dropped"]


def _pick_links(link_node, nodes, n_nodes, ok=None) -> np.ndarray:
    """Return, per entry of ``nodes``, one link with ``ok`` whose ``link_node`` is that node
    (−1 if none), cycling through the node's links in entry order."""
    cand = np.arange(len(link_node)) if ok is None else np.flatnonzero(ok)
    order = cand[np.argsort(link_node[cand], kind="stable")]
    start = np.searchsorted(link_node[order], np.arange(n_nodes + 1))
    deg = np.diff(start)[nodes]
    seen = np.zeros(len(nodes), np.int64)
    if len(nodes):
        srt = np.argsort(nodes, kind="stable")
        grp = nodes[srt]
        first = np.searchsorted(grp, grp)
        seen[srt] = np.arange(len(nodes)) - first       # how many earlier trips share the node
    k = np.where(deg > 0, seen % np.maximum(deg, 1), 0)
    return np.where(deg > 0, order[np.minimum(start[nodes] + k, max(len(order) - 1, 0))], -1)


def _names(demand) -> set:
    if isinstance(demand, dict):
        return set(demand)
    if isinstance(demand, np.ndarray) and demand.dtype.names:
        return set(demand.dtype.names)
    return {k for k in ("depart_s", "depart", "origin_node", "destination_node", "origin",
                        "destination", "origin_link", "destination_link")
            if hasattr(demand, k)}


def _columns(demand):
    names = _names(demand)

    def col(*keys):
        for k in keys:
            if k in names:
                return demand[k] if isinstance(demand, (dict, np.ndarray)) else getattr(
                    demand, k)
        raise ScenarioError(f"demand has none of the columns {keys}; it has {sorted(names)}")

    return col
