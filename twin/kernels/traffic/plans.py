"""Signal plans from the city model: phases by road, as the kernel's fixed-time arrays."""

from __future__ import annotations

import numpy as np

from cim.roads import class_rank

from ...errors import ScenarioError
from . import api as traffic
from . import consts as _c
from .network import MAX_PHASES

#: SUMO signal character -> kernel state (``s``, green right-on-red, as a green that yields;
#: ``u``, red-yellow, as red; ``o``/``O``, off, as no signal: priority rules)
_SUMO_STATE = {"G": _c.GREEN, "g": _c.GREEN_MINOR, "s": _c.GREEN_MINOR, "y": _c.YELLOW,
               "Y": _c.YELLOW, "r": _c.RED, "u": _c.RED, "o": _c.FREE, "O": _c.FREE}

_STATE_OF_BYTE = np.full(256, -1, np.int64)  # the same, indexed by the character's code
_STATE_OF_BYTE[[ord(ch) for ch in _SUMO_STATE]] = list(_SUMO_STATE.values())


def road_keys(roads) -> np.ndarray:
    """Return the road each link belongs to: its name, or its source road id when unnamed."""
    names = np.asarray(roads.link_name, object)
    source = getattr(roads, "link_source", None)
    source = np.asarray(roads.link_ids if source is None else source, object)
    return np.array([str(n) if n else str(s).rsplit(":", 1)[0]
                     for n, s in zip(names, source)], object)


def phase_roads(roads, node, keys=None) -> list[list[str]]:
    """Return the roads served by each phase of signalized node ``node``: the plan's
    ``phase_roads`` when given, else ``[[major road], [every other road]]`` where the major
    road is the one of highest :func:`class_rank` among the links at the node, then most
    lanes, then first by name (the convention of :mod:`cim.roads`)."""
    plan = roads.node_signal_plan[node] or {}
    if plan.get("phase_roads"):
        return [[str(r) for r in roads_] for roads_ in plan["phase_roads"]]
    keys = road_keys(roads) if keys is None else keys
    at = np.flatnonzero((roads.link_to == node) | (roads.link_from == node))
    best: dict[str, tuple] = {}
    for lnk in at:
        k = (class_rank(roads.link_class[lnk]), int(roads.link_lanes[lnk]))
        best[keys[lnk]] = max(best.get(keys[lnk], k), k)
    order = sorted(best, key=lambda r: (-best[r][0], -best[r][1], r))
    return [order[:1], order[1:]]


def _controlled_by_node(roads):
    """Index of the signal-controlled connections (``tl_index`` >= 0) of ``roads`` by the
    node they lead through: (ptr (n_nodes + 1,), rows in ascending order per node, tl ids)."""
    c = roads.connections
    node = roads.link_to[np.asarray(c.from_link, np.int64)]
    rows = np.flatnonzero(np.asarray(c.tl_index) >= 0)
    rows = rows[np.argsort(node[rows], kind="stable")]
    ptr = np.searchsorted(node[rows], np.arange(roads.n_nodes + 1))
    return ptr, rows, np.asarray(c.tl, object)


def movement_rows(roads, node, index=None):
    """Return (connection rows, SUMO phases) of signalized node ``node`` when its plan can
    run per movement: a SUMO program (``plan["sumo"]``) of at most ``MAX_PHASES`` phases
    controlling connections of ``roads.connections`` at the node (a program controlling
    several junctions gives each its own rows); else None. ``index``: the connections by
    node (:func:`_controlled_by_node`), made here when not given."""
    plan = roads.node_signal_plan[node] or {}
    sumo, c = plan.get("sumo"), getattr(roads, "connections", None)
    if not sumo or c is None or not len(c) or not 0 < len(sumo["phases"]) <= MAX_PHASES:
        return None
    ptr, rows, tl = _controlled_by_node(roads) if index is None else index
    rows = rows[ptr[node]:ptr[node + 1]]
    rows = rows[tl[rows] == sumo["tl"]]
    if not len(rows) or len(sumo["phases"][0]["state"]) <= int(c.tl_index[rows].max()):
        return None
    return rows, sumo["phases"]


def _movement_plan(roads, i, rows, phases, conn_state, link_phase):
    """Fill ``conn_state`` rows and ``link_phase`` of node ``i`` from its SUMO ``phases``
    (each a kernel phase of the phase's duration with no yellow of its own: SUMO's yellow
    phases are per-movement states); return (greens, cycle s, offset s)."""
    c = roads.connections
    idx = np.asarray(c.tl_index, np.int64)[rows]
    dur = np.array([float(p["duration"]) for p in phases])
    for k, p in enumerate(phases):
        st = _STATE_OF_BYTE[np.frombuffer(p["state"].encode("latin-1", "replace"), np.uint8)[idx]]
        if (st < 0).any():
            raise KeyError(p["state"][idx[np.argmax(st < 0)]])
        conn_state[rows, k] = st
    # the approach's own phase (used where a turn has no controlled connection): the one
    # in which most of its connections are green, weighted by duration
    s = conn_state[rows, :len(phases)]
    green = ((s == _c.GREEN) | (s == _c.GREEN_MINOR)) * dur
    into, inv = np.unique(np.asarray(c.from_link, np.int64)[rows], return_inverse=True)
    w = np.zeros((into.size, len(phases)))
    np.add.at(w, inv, green)
    link_phase[into] = np.where(w.max(1) > 0, np.argmax(w, 1), -1)
    sumo = roads.node_signal_plan[i]["sumo"]
    total = float(dur.sum())
    return dur, total, float(sumo.get("offset") or 0.0) % total


def signal_plans(roads) -> traffic.SignalPlan:
    """Return the kernel's fixed-time signal plans for ``roads``, phases mapped by road.

    Phase k gives green to the approaches (incoming links) of the roads in
    :func:`phase_roads` k: by default phase 0 the node's major road, phase 1 every other
    road. ``green_s`` has one green per phase, or two per road phase ([through, left], as the
    district generator's 4-phase plans): the kernel has no protected-left phase (an approach
    link has one phase, its left turns are permissive), so a road's through and left greens
    are merged into one green of through + yellow + left, which keeps the plan's cycle and
    adds no all-red. Approaches on roads no phase lists get the last phase. Defaults where
    the plan gives none: 42 s green per phase, 3 s yellow (SUMO's).

    A node with a SUMO program (:func:`movement_rows`) runs it per movement instead: each
    SUMO phase is a kernel phase, and each connection's state in it (``G`` priority green,
    ``g`` green that yields, yellow, red) goes to ``conn_state`` (the plan's per-connection
    states, rows of ``roads.connections``), so a protected left, an always-green right, or
    one program for several junctions run as SUMO runs them."""
    sig = np.flatnonzero(np.asarray(roads.node_signal, bool))
    n_nodes, n_links = roads.n_nodes, roads.n_links
    keys = road_keys(roads)
    per_node = {i: phase_roads(roads, i, keys) for i in sig}
    c = getattr(roads, "connections", None)
    index = _controlled_by_node(roads) if c is not None and len(c) and len(sig) else None
    mov = {i: m for i in sig if (m := movement_rows(roads, i, index)) is not None}
    P = max([2] + [len(r) for r in per_node.values()]  # the kernel checks P <= its maximum
            + [len(m[1]) for m in mov.values()])
    conn_state = None
    if mov:
        conn_state = np.full((len(roads.connections), P), -1, np.int64)
    link_phase = np.full(n_links, -1, np.int64)
    kind = np.zeros(n_nodes, np.int64)
    green = np.zeros((n_nodes, P))
    yellow = np.zeros((n_nodes, P))
    cycle = np.ones(n_nodes)
    offset = np.zeros(n_nodes)
    n_phases = np.ones(n_nodes, np.int64)
    for i, roads_of in per_node.items():
        kind[i] = 1
        if i in mov:
            g, cycle[i], offset[i] = _movement_plan(roads, i, *mov[i], conn_state, link_phase)
            n_phases[i] = len(g)
            green[i, :len(g)] = g
            continue
        p = roads.node_signal_plan[i] or {}
        n = len(roads_of)
        where = {r: k for k in reversed(range(n)) for r in roads_of[k]}
        into = np.flatnonzero(roads.link_to == i)
        link_phase[into] = [where.get(keys[lnk], n - 1) for lnk in into]
        y = float(p["yellow_s"]) if p.get("yellow_s") is not None else 3.0
        g = [float(x) for x in (p.get("green_s") or [])]
        if not g:
            g = [42.0] * n
        elif len(g) == 1:
            g = g * n
        elif len(g) == 2 * n:  # [through, left] per road: one phase per road
            g = [g[2 * k] + y + g[2 * k + 1] for k in range(n)]
        elif len(g) != n:
            raise ScenarioError(f"signal plan of node {roads.node_ids[i]}: {len(g)} greens "
                                f"for {n} phases (roads {roads_of})")
        green[i, :n] = g
        yellow[i, :n] = y
        total = float(sum(g) + n * y)
        cycle[i] = max(float(p.get("cycle_s") or total), total)
        offset[i] = float(p.get("offset_s") or 0.0)
        n_phases[i] = n
    return traffic.SignalPlan(link_phase, kind, cycle, offset, green, yellow, n_phases,
                              np.full((n_nodes, P), 5.0), np.full((n_nodes, P), 60.0),
                              np.full(n_nodes, 3.0), conn_state)


