"""Demand → kernel trips: origin and destination links the turn graph connects.

Demand is an ``agents.Trips`` (``depart_s``, ``origin_node``, ``destination_node``), an
``agents.SumoTrips`` (link origins and destinations, routes), or a dict / structured array with
``depart_s`` (or ``depart``) and either ``origin_node`` / ``destination_node`` (or ``origin`` /
``destination``) node indices or ``origin_link`` / ``destination_link`` link indices, and
optionally ``route`` (per trip a link-index sequence or None).
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


def kernel_network(roads, signals=None) -> traffic.Network:
    """Return the kernel network of ``roads``: links, lanes (1..16), free speeds, ``signals``
    (a :class:`~twin.kernels.traffic.network.SignalPlan`, none by default) and, when the
    network has them (SUMO), the lane-to-lane connections, counting only the lanes open to
    passenger cars (no bus lanes)."""
    conns, allowed = getattr(roads, "connections", None), None
    lanes = getattr(roads, "lanes", None)
    if conns is not None and len(conns) and lanes is not None and len(lanes):
        from cim.model.roads import vclass_mask

        allowed = np.zeros((roads.n_links, 16), bool)
        idx = np.asarray(lanes.index, np.int64)
        ok = (np.asarray(lanes.allow, np.int64) & vclass_mask(["passenger"])) != 0
        inside = idx < 16
        allowed[np.asarray(lanes.link, np.int64)[inside], idx[inside]] = ok[inside]
    return traffic.Network(roads.node_xy, roads.link_from, roads.link_to, roads.link_length,
                           np.clip(roads.link_lanes, 1, 16), roads.link_free_speed,
                           signals=signals, connections=conns if conns is not None and len(
                               conns) else None, lane_allowed=allowed)


def turn_graph(net: traffic.Network):
    """Return the turn graph of ``net`` (links as vertices, one edge per allowed turn)."""
    return graph.csr(net.n_links, net.turn_from, net.turn_to_arr)


def kernel_trips(demand, roads, net: traffic.Network | None = None,
                 stats: dict | None = None, rejected: list | None = None
                 ) -> tuple[traffic.Trips, int]:
    """Return (kernel Trips, number of trips dropped) for ``demand`` on ``roads``.

    A trip with a ``route`` (a demand column of link-index sequences or None, as
    ``agents.SumoTrips.route``) follows it, its origin and destination being the route's
    first and last link. Node trips start on an outgoing link of their origin node and end
    on an incoming link of their destination node, chosen among the links that
    :func:`routable_links` connects (round-robin over the node's links, in trip order); a
    node without such a link (a dead end, a one-way boundary link off the main part) uses
    any of its links from which the turn graph reaches the other end. Only a trip that
    cannot be routed is dropped: origin == destination node, a node without links, no path
    in the turn graph, or a route that is not a connected link sequence. ``net``: the kernel
    network of ``roads`` (built when not given); ``stats``: a dict that receives ``dropped``
    and ``unroutable`` counts; ``rejected``: a list that receives (row, reason) of each
    dropped trip."""
    stats = {} if stats is None else stats
    stats.update(dropped=0, unroutable=0)
    if demand is None:
        return traffic.Trips(np.zeros(0), np.zeros(0, int), np.zeros(0, int)), 0
    if net is None:
        net = kernel_network(roads)
    can_start, can_end = routable_links(net)
    col = _columns(demand)
    names = _names(demand)
    depart = np.asarray(col("depart_s", "depart"), float)
    n = depart.size
    why = np.full(n, None, object)
    routes = _given_routes(demand, names, n)
    if "origin_link" in names:
        o = np.asarray(col("origin_link"), np.int64).copy()
        d = np.asarray(col("destination_link"), np.int64).copy()
        _links_from_routes(routes, o, d)
        bad = (o < 0) | (o >= net.n_links) | (d < 0) | (d >= net.n_links)
        if bad.any():
            raise ScenarioError(f"demand: trip {np.flatnonzero(bad)[0]} names a link outside "
                                f"0..{net.n_links - 1}")
    else:
        on = np.asarray(col("origin_node", "origin"), np.int64)
        dn = np.asarray(col("destination_node", "destination"), np.int64)
        n_nodes = roads.n_nodes
        bad = (on < 0) | (on >= n_nodes) | (dn < 0) | (dn >= n_nodes)
        if bad.any():
            raise ScenarioError(f"demand: trip {np.flatnonzero(bad)[0]} names a node outside "
                                f"0..{n_nodes - 1}")
        o = _pick_links(roads.link_from, on, n_nodes, can_start)
        d = _pick_links(roads.link_to, dn, n_nodes, can_end)
        any_o = _pick_links(roads.link_from, on, n_nodes)
        any_d = _pick_links(roads.link_to, dn, n_nodes)
        why[any_o < 0] = "origin node has no outgoing link"
        why[(any_o >= 0) & (any_d < 0)] = "destination node has no incoming link"
        why[(on == dn) & (why == None)] = "origin and destination are the same node"  # noqa: E711
        # a dead end or a link off the main part: any of the node's links that gets there
        o = np.where(o < 0, any_o, o)
        d = np.where(d < 0, any_d, d)
        _links_from_routes(routes, o, d)
        if routes is not None:
            given = np.array([r is not None for r in routes])
            why[given & (why != None)] = None  # noqa: E711  (the route says where it goes)
    _check_paths(net, routes, o, d, can_start, can_end, why)
    keep = why == None  # noqa: E711
    rows = np.flatnonzero(~keep)
    if rejected is not None:
        rejected.extend(zip(rows.tolist(), why[rows].tolist()))
    stats.update(dropped=int(rows.size), unroutable=int(sum(str(w).startswith(("no path", "route")) for w in why[rows])))
    trip_id = np.flatnonzero(keep)
    kept_routes = None if routes is None else [routes[i] for i in trip_id]
    # vehicle types (SUMO vTypes: ``agents.SumoTrips`` columns) as kernel parameters
    veh = None
    if all(getattr(demand, c, None) is not None for c in traffic.VEHICLE_COLUMNS):
        veh = np.column_stack([np.asarray(getattr(demand, c), float)
                               for c in traffic.VEHICLE_COLUMNS])[keep]
    return (traffic.Trips(depart[keep], o[keep], d[keep], trip_id=trip_id, route=kept_routes,
                          vehicle=veh), int(rows.size))


def _given_routes(demand, names, n):
    """The ``route`` column as a list of n int64 arrays or None (None: no column)."""
    if "route" not in names:
        return None
    col = demand["route"] if isinstance(demand, (dict, np.ndarray)) else demand.route
    if col is None:
        return None
    out = [None if r is None else np.asarray(r).ravel() for r in col]
    if len(out) != n:
        raise ScenarioError(f"demand: 'route' has {len(out)} entries for {n} trips")
    return out if any(r is not None for r in out) else None


def _links_from_routes(routes, o, d):
    """Origin and destination links of the trips with a route: its first and last link."""
    if routes is None:
        return
    for i, r in enumerate(routes):
        if r is not None and r.size and r.dtype.kind in "iu":
            o[i], d[i] = r[0], r[-1]


def _check_paths(net, routes, o, d, can_start, can_end, why):
    """Set ``why`` (n,) for trips not rejected yet that cannot be routed: a bad given route,
    or (without a route) no path in the turn graph from link ``o`` to link ``d``."""
    from .insert import route_problems

    L = net.n_links
    todo = why == None  # noqa: E711
    if routes is not None:
        sel = np.flatnonzero(todo & np.array([r is not None for r in routes]))
        probs = route_problems(net, [routes[i] for i in sel], o[sel], d[sel])
        why[sel] = [None if p is None else f"route {p}" for p in probs]
        todo[sel] = False
    ok_o = (o >= 0) & (o < L)
    ok_d = (d >= 0) & (d < L)
    check = todo & ok_o & ok_d & ~((can_start[np.clip(o, 0, L - 1)] & can_end[
        np.clip(d, 0, L - 1)]) | (o == d))
    if check.any():  # off the main part: search the turn graph itself, once per origin
        turns_g = turn_graph(net)
        for src in np.unique(o[check]):
            sel = np.flatnonzero(check & (o == src))
            reach = graph.reachable_from(turns_g, [src])
            for i in sel[~reach[d[sel]]]:
                why[i] = f"no path in the turn graph from link {o[i]} to link {d[i]}"


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
                        "destination", "origin_link", "destination_link", "route")
            if getattr(demand, k, None) is not None}


def _columns(demand):
    names = _names(demand)

    def col(*keys):
        for k in keys:
            if k in names:
                return demand[k] if isinstance(demand, (dict, np.ndarray)) else getattr(
                    demand, k)
        raise ScenarioError(f"demand has none of the columns {keys}; it has {sorted(names)}")

    return col
