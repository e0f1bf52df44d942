"""Route tables of the traffic kernel: batched shortest paths on the turn graph.

Routing runs on the *turn graph* (one graph node per link, one edge per allowed turn), so
that turn prohibitions such as U-turns are respected. A trip's destination is a link; the
travel cost of a path is the sum of the costs of the links it enters. For every destination
link one Dijkstra search on the transposed turn graph (compiled, destinations in parallel)
gives the cost-to-go of every link, from which the next link to take follows at once — a
next-hop table, so no per-vehicle route is stored (:mod:`._route_solve`). Only destinations
of trips that have not arrived are solved; the rows of the others stay -1.

Tables are versioned: each vehicle holds the version it routes by; a re-route appends a
version computed from current travel times and moves a seeded share of the drivers onto it;
versions no vehicle uses are dropped. Closures and reopenings move every driver at once.
Each version keeps the link costs and open flags it was computed from (``route_cost``,
``route_open``), so that a checkpoint need not hold the tables: :func:`rebuild_tables`
recomputes them bit for bit.

Tables are made incrementally (:mod:`._route_tables`): when the costs and open flags equal
those of a version in the state, that version is the new one (nothing is computed or copied);
when they differ from one only on a few links (a closure, a reopening), only the rows of the
destinations those links can affect are solved, the others copied. The rows any vehicle can
still read are the same as if every table were solved in full.

The public entry points are re-exported by :mod:`twin.kernels.traffic`.
"""

import weakref

import numpy as np

from . import consts as _k
from ._route_solve import TIE_S as _TIE_S  # noqa: F401  (defined here before)
from ._route_tables import TableCache, TurnGraph, build_version


def next_hop_tables(turn_from, turn_to, turn_penalty, turn_rank, pad_turn, n_links, dest_links,
                    link_cost, link_open, dest_rows=None):
    """Return the next-hop table for every member, shape (n_members, n_dest, n_links) int32.

    Parameters
    ----------
    turn_from, turn_to : (n_turns,) int64
        Allowed turns ``turn_from[k] -> turn_to[k]`` (link indices).
    turn_penalty : (n_turns,) float64, s
        Added to the cost of making the turn (e.g. SUMO's 1.5 s for minor links).
    turn_rank : (n_turns,) int64
        Tie-break among equally short next links (within 1 ms): lowest rank wins (through
        before right before left: keep going straight while that stays on a shortest path,
        as SUMO's router does on a grid).
    pad_turn : (n_links, k_max) int64
        Turn indices leaving each link, padded with -1 at the end.
    n_links : int
    dest_links : (n_dest,) int64
        Destination links.
    link_cost : (n_members, n_links) float64, s
        Cost of entering (traversing) each link, > 0.
    link_open : (n_members, n_links) bool/uint8
        Closed links cannot be entered.
    dest_rows : (n,) int, optional
        Destinations (indices into ``dest_links``) to solve; the other rows are -1.

    Returns
    -------
    next_link : (n_members, n_dest, n_links) int32
        Link to take after link ``l`` to reach destination ``d``; -1 where ``l`` is the
        destination itself, the destination is unreachable or not solved.
    """
    return _tables(turn_from, turn_to, turn_penalty, turn_rank, pad_turn, n_links, dest_links,
                   link_cost, link_open, dest_rows, False)[0]


def cost_to_go(turn_from, turn_to, turn_penalty, pad_turn, n_links, dest_links, link_cost,
               link_open):
    """Return the cost from the downstream end of each link to the downstream end of each
    destination, shape (n_members, n_dest, n_links) float64, s (inf when unreachable)."""
    rank = np.zeros(len(turn_from), np.int64)
    return _tables(turn_from, turn_to, turn_penalty, rank, pad_turn, n_links, dest_links,
                   link_cost, link_open, None, True)[1]


def _tables(turn_from, turn_to, turn_penalty, turn_rank, pad_turn, n_links, dest_links,
            link_cost, link_open, dest_rows, want_dist):
    n_members = link_cost.shape[0]
    dest_links = np.asarray(dest_links, np.int64)
    n_dest = dest_links.size
    rows = (np.arange(n_dest) if dest_rows is None
            else np.asarray(dest_rows, np.int64))
    g = TurnGraph(turn_from, turn_to, turn_penalty, turn_rank, pad_turn, n_links)
    if not want_dist:
        nxt = np.empty((n_members, n_dest, n_links), dtype=np.int32)
        build_version(g, dest_links, link_cost, link_open, rows, nxt)
        return nxt, None
    nxt = np.full((n_members, n_dest, n_links), -1, dtype=np.int32)
    dist = np.full((n_members, rows.size, n_links), np.inf)
    done = {}
    for b in range(n_members):
        is_open = np.asarray(link_open[b], dtype=bool)
        key = (link_cost[b].tobytes(), is_open.tobytes())
        if key in done:  # members with equal costs share one solve
            nxt[b] = nxt[done[key]]
            dist[b] = dist[done[key]]
            continue
        done[key] = b
        dist[b] = g.solve(g.weights(link_cost[b], is_open), dest_links, rows, nxt[b], True)
    return nxt, dist


def measured_link_cost(free_time, prev_cost, ltt_sum, ltt_cnt, age_max):
    """Return current link travel-time estimates (s), shape (n_members, n_links).

    The estimate is the mean traversal time of the vehicles that left the link since the last
    update (the previous estimate where none left), never below the free-flow time and never
    below the time the longest-waiting vehicle still on the link has already spent there.
    """
    mean_tt = np.where(ltt_cnt > 0, ltt_sum / np.maximum(ltt_cnt, 1), prev_cost)
    return np.maximum(np.maximum(mean_tt, free_time[None, :]), age_max)


_TURN_RANK = np.array([1, 0, 2, 3])  # by turn kind (right, through, left, U): through first


def _penalty(net, params):
    return np.where(net.turn_kind == _k.TURN_LEFT, params.left_turn_penalty, 0.0)


def _graph(net, params):
    """The turn graph of ``net`` with the turn penalties of ``params`` (cached on ``net``)."""
    penalty = _penalty(net, params)
    cache = net.__dict__.setdefault("_route_graphs", {})
    key = penalty.tobytes()
    if key not in cache:
        cache[key] = TurnGraph(net.turn_from, net.turn_to_arr, penalty,
                               _TURN_RANK[net.turn_kind], net.turn_pad, net.n_links)
    return cache[key]


def tables(net, params, dest_links, link_cost, link_open, dest_rows=None):
    """Return the next-hop tables (n_members, n_dest, n_links) int32 for ``net``."""
    dest_links = np.asarray(dest_links, np.int64)
    rows = np.arange(dest_links.size) if dest_rows is None else dest_rows
    out = np.empty((link_cost.shape[0], dest_links.size, net.n_links), np.int32)
    build_version(_graph(net, params), dest_links, link_cost, link_open, rows, out)
    return out


def pending_dest_rows(state):
    """Return the destinations (indices into ``dest_links``) of trips not yet arrived.

    Trips only ever move towards arrival, so this set only shrinks: the rows a version was
    made with cover every row needed later.
    """
    a = state.arrays
    return np.unique(a["v_dest"][a["v_status"] < _k.ARRIVED])


def init_tables(net, state, cache=None) -> None:
    """Add the first route-table version (from ``link_cost`` and ``link_open``, every
    destination) to a new state: ``route_cost``, ``route_open``, ``latest_ver`` now and
    ``route_next`` when first read (:class:`LazyTables`: trips that all follow routes of their
    own never need it). ``cache``: a folder where tables made before from the same inputs are
    read and new ones stored (:class:`._route_tables.TableCache`); None: solved."""
    a = state.arrays
    a["route_cost"] = a["link_cost"][None].copy()
    a["route_open"] = a["link_open"][None].copy()
    a["latest_ver"] = np.zeros(1, np.int64)
    state.arrays = LazyTables(a, _graph(net, state.params), state, cache)


class LazyTables(dict):
    """A state's arrays whose first table version (``route_next``, all destinations, from
    ``route_cost[0]`` and ``route_open[0]``; read from or stored in the table cache ``cache``
    when given) is made when first read — ``arrays["route_next"]`` or ``state.route_next`` —
    bit for bit the tables solved at once. Until then ``"route_next" not in arrays``; the
    kernel runs without them while every trip not yet arrived follows its own route
    (:func:`kernel_tables`). Copies: ``dict(a)`` has no tables (as a checkpoint's arrays);
    pickles and deep copies stay lazy."""

    def __init__(self, arrays, graph, state=None, cache=None):
        super().__init__(arrays)
        self.graph = graph
        self.cache = cache
        self.owner = weakref.ref(state) if state is not None else None

    def __missing__(self, key):
        if key != "route_next":
            raise KeyError(key)
        g, dest, cost, is_open = (self.graph, self["dest_links"], self["route_cost"][0],
                                  self["route_open"][0])
        shape = cost.shape[:1] + (dest.size, g.n_links)
        rows = np.arange(dest.size)
        store = TableCache(self.cache) if self.cache is not None else None
        key = store.key(g, dest, cost, is_open, rows) if store else None
        table = store.open(key, shape) if store else None
        if table is not None:
            out = table[None]  # not this state's buffer: a new version is added to a copy
        else:
            st = self.owner() if self.owner is not None else None
            if st is not None and st.__dict__.get("arrays") is self:
                out = _own_buffer(st, (1,) + shape)  # this state may append in place
            else:
                out = np.empty((1,) + shape, np.int32)
            build_version(g, dest, cost, is_open, rows, out[0])
            if store is not None:
                store.write(key, out[0])
        self["route_next"] = out
        return out

    def __reduce__(self):
        return (LazyTables, (dict(self), self.graph, None, self.cache))


# stands in for tables not solved yet while no vehicle reads them (the same array type)
_NO_TABLES = np.full((1, 1, 1, 1), -1, np.int32)


def tables_needed(arrays) -> bool:
    """True if a vehicle not yet arrived has no route of its own (it reads the tables)."""
    return bool(((arrays["v_status"] < _k.ARRIVED) & (arrays["v_route"] < 0)).any())


def kernel_tables(arrays):
    """``route_next`` for the compiled kernel: a stand-in while lazy tables are not solved and
    no vehicle reads them (every one not yet arrived follows its own route), else the tables
    (solved now if they were not)."""
    if "route_next" not in arrays and isinstance(arrays, LazyTables) and not tables_needed(
            arrays):
        return _NO_TABLES
    return arrays["route_next"]


def _bases(cost, is_open, tables_):
    """(member, cost, open flags, table) of each member of each version, newest first."""
    return [(b, cost[k, b], is_open[k, b], tables_[k, b])
            for k in range(tables_.shape[0] - 1, -1, -1) for b in range(tables_.shape[1])]


def rebuild_tables(net, state) -> None:
    """Recompute ``route_next`` from each version's ``route_cost`` and ``route_open``.

    Bit-identical to the tables computed when the versions were made, for every destination
    a trip still needs (rows of destinations all of whose trips have arrived stay -1). A
    version is made from the versions before it where their inputs are the same or differ
    on a few links (closures).
    """
    a = state.arrays
    rows = pending_dest_rows(state)
    cost, is_open = a["route_cost"], a["route_open"]
    out = _own_buffer(state, cost.shape[:2] + (a["dest_links"].size, net.n_links))
    g = _graph(net, state.params)
    for k in range(cost.shape[0]):
        build_version(g, a["dest_links"], cost[k], is_open[k], rows, out[k],
                      _bases(cost[:k], is_open[:k], out[:k]))
    a["route_next"] = out


def _own_buffer(state, shape):
    """Return ``route_next`` storage of ``shape`` (versions first): a view of a buffer with
    room for more versions (untouched memory until used), which this state may append to."""
    buf = np.empty((shape[0] + max(2, shape[0] // 2),) + tuple(shape[1:]), np.int32)
    state.__dict__["_route_buf"] = (id(state), buf)
    return buf[:shape[0]]


def _with_room(state, old_next, keep, extra):
    """Return ``route_next`` with versions ``keep`` of ``old_next`` and ``extra`` slots after
    them.

    Appends in place when the state owns the buffer behind ``old_next`` (made by this state,
    not a copy of it), no version is dropped and the buffer has room: the slot written lies
    past the end of every view handed out before, so those stay as they were.
    """
    n = old_next.shape[0]
    own = state.__dict__.get("_route_buf")
    buf = old_next.base
    if (own is not None and own[0] == id(state) and own[1] is buf and buf.shape[0] >= n + extra
            and buf.shape[1:] == old_next.shape[1:] and keep.size == n
            and old_next.__array_interface__["data"][0] == buf.__array_interface__["data"][0]
            and np.array_equal(keep, np.arange(n))):
        return buf[:n + extra]
    out = _own_buffer(state, (keep.size + extra,) + old_next.shape[1:])
    for i, k in enumerate(keep):
        out[i] = old_next[k]
    return out


def _member_index(state, member):
    return np.arange(state.n_members) if member is None else np.atleast_1d(member)


def reroute(net, state, share: float | None = None) -> None:
    """Recompute route tables from current link travel times; ``share`` of drivers adopt them.

    Departing vehicles always use the newest table. Each member draws who re-routes from its
    own generator (vehicles on a route given with their trip leave it for the tables; those
    on a route added during the run keep it).
    """
    p = state.params
    share = p.reroute_share if share is None else float(share)
    a = state.arrays
    B, n_links = state.n_members, net.n_links
    active = a["v_status"] == _k.ACTIVE
    age = np.zeros((B, n_links))
    if active.any():
        np.maximum.at(age, (a["v_member"][active], a["v_link"][active]),
                      state.time - a["v_link_enter"][active])
    a["link_cost"] = measured_link_cost(net.free_time, a["link_cost"], a["ltt_sum"],
                                        a["ltt_cnt"], age)
    a["ltt_sum"][:] = 0.0
    a["ltt_cnt"][:] = 0
    _new_tables(net, state)
    new = a["latest_ver"][0]
    if share > 0:
        for b in range(B):
            lo, hi = a["m_start"][b], a["m_end"][b]
            idx = lo + np.flatnonzero(a["v_status"][lo:hi] == _k.ACTIVE)
            pick = state.rngs[b].random(idx.size) < share
            a["v_ver"][idx[pick]] = new
            _drop_given_routes(a, idx[pick])
    if np.isfinite(p.reroute_period):
        a["next_reroute"][0] = state.time + p.reroute_period


def _drop_given_routes(a, idx):
    """Vehicles ``idx`` re-route: those on a route given with their trip (before
    ``route_soft`` in ``route_links``) leave it for the tables; routes added to a running
    simulation (:func:`.insert.add_trips`) are kept."""
    soft = a.get("route_soft")
    if soft is None or soft[0] == 0 or idx.size == 0:
        return
    r = a["v_route"][idx]
    drop = idx[(r >= 0) & (r < soft[0])]
    a["v_route"][drop] = -1
    a["v_route_pos"][drop] = 0
    # the next link too, from the table the driver now uses (-1 on its destination link)
    lnk = a["v_link"][drop]
    d = a["v_dest"][drop]
    nxt = a["route_next"][a["v_ver"][drop], a["v_member"][drop], d, lnk]
    a["v_next"][drop] = np.where(lnk == a["dest_links"][d], -1, nxt)


def _new_tables(net, state):
    """Make the tables of the current ``link_cost`` and ``link_open`` the latest version and
    drop the versions no vehicle uses.

    A version made from the same costs and open flags becomes the latest as it is; otherwise
    a version is appended, made from the existing ones where they allow (:mod:`._route_tables`).
    """
    a = state.arrays
    cost, is_open = a["link_cost"], a["link_open"]
    old_next, old_cost, old_open = a["route_next"], a["route_cost"], a["route_open"]
    n_ver = old_next.shape[0]
    active = a["v_status"] == _k.ACTIVE
    used = np.unique(a["v_ver"][active])
    same = [j for j in range(n_ver)
            if np.array_equal(old_cost[j], cost) and np.array_equal(old_open[j], is_open)]
    keep = np.union1d(used, same[-1:]).astype(np.int64)
    remap = np.full(n_ver, -1, np.int64)
    remap[keep] = np.arange(keep.size)
    if same:
        latest = remap[same[-1]]
        if keep.size < n_ver:
            a["route_next"] = _with_room(state, old_next, keep, 0)
            a["route_cost"] = old_cost[keep]
            a["route_open"] = old_open[keep]
    else:
        latest = keep.size
        nxt = _with_room(state, old_next, keep, 1)
        build_version(_graph(net, state.params), a["dest_links"], cost, is_open,
                      pending_dest_rows(state), nxt[keep.size],
                      _bases(old_cost, old_open, old_next))
        a["route_next"] = nxt
        a["route_cost"] = np.concatenate([old_cost[keep], cost[None]])
        a["route_open"] = np.concatenate([old_open[keep], is_open[None]])
    a["v_ver"][active] = remap[a["v_ver"][active]]
    a["latest_ver"][0] = latest


def close_link(net, state, link, member=None) -> None:
    """Close link(s) to entering traffic (vehicles on it still leave) and re-route everyone.

    Drivers learn of a closure at once: all adopt the new tables, and those about to turn
    into the closed link choose another turn, preferably one their lane serves. Vehicles on a
    fixed route (:func:`.insert.add_trips`) keep it and wait at the stop line before the
    closed link until it reopens.
    """
    a = state.arrays
    m = _member_index(state, member)
    a["link_open"][np.ix_(m, np.atleast_1d(link))] = 0
    _replan_after_closure(net, state)


def open_link(net, state, link, member=None) -> None:
    """Reopen closed link(s); new route tables are computed and adopted by all drivers."""
    a = state.arrays
    a["link_open"][np.ix_(_member_index(state, member), np.atleast_1d(link))] = 1
    _replan_after_closure(net, state)


def _replan_after_closure(net, state):
    a = state.arrays
    _new_tables(net, state)
    active = a["v_status"] == _k.ACTIVE
    a["v_ver"][active] = a["latest_ver"][0]
    nx = a["v_next"]
    mem = a["v_member"]
    blocked = active & (nx >= 0) & (a["v_route"] < 0)  # a fixed route waits for the reopening
    blocked[blocked] = a["link_open"][mem[blocked], nx[blocked]] == 0
    idx = np.flatnonzero(blocked)
    if idx.size == 0:
        return
    # cost-to-go of the destinations of the blocked vehicles, from the costs just used
    dest_rows, dest = np.unique(a["v_dest"][idx], return_inverse=True)
    togo = cost_to_go(net.turn_from, net.turn_to_arr, _penalty(net, state.params),
                      net.turn_pad, net.n_links, a["dest_links"][dest_rows], a["link_cost"],
                      a["link_open"])
    # candidate turns per vehicle, padded: cost = cost(next) + cost-to-go, +penalty if the
    # vehicle's lane does not serve the turn
    lnk = a["v_link"][idx]
    cand = net.turn_pad_to[lnk]                                # (n, k)
    mask = net.turn_pad_mask[lnk]
    lane_in_link = a["v_lane"][idx] - net.link_lane0[lnk]
    valid = cand >= 0
    c = np.where(valid, cand, 0)
    cost = a["link_cost"][mem[idx, None], c] + togo[mem[idx, None], dest[:, None], c]
    is_dest = c == a["dest_links"][a["v_dest"][idx]][:, None]
    cost = np.where(is_dest, a["link_cost"][mem[idx, None], c], cost)
    cost = np.where(valid & (a["link_open"][mem[idx, None], c] == 1), cost, np.inf)
    serves = ((mask >> lane_in_link[:, None]) & 1) == 1
    cost = cost + np.where(serves, 0.0, 1e6)
    best = np.argmin(cost, axis=1)
    ok = np.isfinite(cost[np.arange(idx.size), best])
    nx[idx] = np.where(ok, cand[np.arange(idx.size), best], -1)
