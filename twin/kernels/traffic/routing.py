"""Route tables of the traffic kernel: batched shortest paths on the turn graph.

Routing runs on the *turn graph* (one graph node per link, one edge per allowed turn), so
that turn prohibitions such as U-turns are respected. A trip's destination is a link; the
travel cost of a path is the sum of the costs of the links it enters. For every destination
link one Dijkstra search on the transposed turn graph (compiled, destinations in parallel)
gives the cost-to-go of every link, from which the next link to take follows at once — a
next-hop table, so no per-vehicle route is stored. Only destinations of trips that have not
arrived are solved; the rows of the others stay -1.

Tables are versioned: each vehicle holds the version it routes by; a re-route appends a
version computed from current travel times and moves a seeded share of the drivers onto it;
versions no vehicle uses are dropped. Closures and reopenings move every driver at once.
Each version keeps the link costs and open flags it was computed from (``route_cost``,
``route_open``), so that a checkpoint need not hold the tables: :func:`rebuild_tables`
recomputes them bit for bit.
The public entry points are re-exported by :mod:`twin.kernels.traffic`.
"""

import numpy as np
from numba import njit, prange

from . import _traffic_consts as _k

# next links whose cost is within this of the best one (s) count as equally short
_TIE_S = 1e-3


@njit(cache=True)
def _cost_to_go(src, in_ptr, in_turn, turn_from, w, dist, heap_key, heap_node):
    """Dijkstra from link ``src`` on the transposed turn graph; fills ``dist`` (s)."""
    dist[:] = np.inf
    dist[src] = 0.0
    heap_key[0] = 0.0
    heap_node[0] = src
    n = 1
    while n > 0:
        d = heap_key[0]
        u = heap_node[0]
        # pop: move the last entry to the root and sift it down
        n -= 1
        if n > 0:
            key, node = heap_key[n], heap_node[n]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= n:
                    break
                if c + 1 < n and heap_key[c + 1] < heap_key[c]:
                    c += 1
                if heap_key[c] < key:
                    heap_key[i] = heap_key[c]
                    heap_node[i] = heap_node[c]
                    i = c
                else:
                    break
            heap_key[i] = key
            heap_node[i] = node
        if d > dist[u]:
            continue  # stale entry
        for j in range(in_ptr[u], in_ptr[u + 1]):
            t = in_turn[j]
            nd = d + w[t]
            v = turn_from[t]
            if nd < dist[v]:
                dist[v] = nd
                # push and sift up
                i = n
                n += 1
                while i > 0:
                    p = (i - 1) // 2
                    if heap_key[p] <= nd:
                        break
                    heap_key[i] = heap_key[p]
                    heap_node[i] = heap_node[p]
                    i = p
                heap_key[i] = nd
                heap_node[i] = v


@njit(cache=True, parallel=True)
def _solve(rows, dest_links, in_ptr, in_turn, turn_from, turn_to, w, turn_rank, pad_turn,
           out_next, out_dist, want_dist):
    """Fill ``out_next[r]`` (and ``out_dist[i]`` if wanted) for destination rows ``rows``.

    The next link from ``l`` is the allowed turn minimising turn cost + cost-to-go; turns
    within ``_TIE_S`` of the best are equally short and the lowest ``turn_rank`` among them
    wins (first in turn order on equal rank).
    """
    n_links = pad_turn.shape[0]
    k_max = pad_turn.shape[1]
    n_turns = turn_from.shape[0]
    for i in prange(rows.shape[0]):
        r = rows[i]
        dist = np.empty(n_links)
        heap_key = np.empty(n_turns + 1)
        heap_node = np.empty(n_turns + 1, np.int64)
        _cost_to_go(dest_links[r], in_ptr, in_turn, turn_from, w, dist, heap_key, heap_node)
        for lnk in range(n_links):
            best = np.inf
            for k in range(k_max):
                t = pad_turn[lnk, k]
                if t < 0:
                    break
                val = w[t] + dist[turn_to[t]]
                if val < best:
                    best = val
            nxt = -1
            if best < np.inf:
                lim = best + _TIE_S
                rank = np.iinfo(np.int64).max
                for k in range(k_max):
                    t = pad_turn[lnk, k]
                    if t < 0:
                        break
                    if w[t] + dist[turn_to[t]] <= lim and turn_rank[t] < rank:
                        rank = turn_rank[t]
                        nxt = turn_to[t]
            out_next[r, lnk] = nxt
        out_next[r, dest_links[r]] = -1
        if want_dist:
            out_dist[i, :] = dist


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
    nxt = np.full((n_members, n_dest, n_links), -1, dtype=np.int32)
    dist = np.full((n_members, rows.size if want_dist else 0, n_links), np.inf)
    order = np.argsort(turn_to, kind="stable")
    in_ptr = np.searchsorted(turn_to[order], np.arange(n_links + 1)).astype(np.int64)
    in_turn = order.astype(np.int64)
    turn_from = np.asarray(turn_from, np.int64)
    turn_to = np.asarray(turn_to, np.int64)
    turn_rank = np.asarray(turn_rank, np.int64)
    pad_turn = np.asarray(pad_turn, np.int64)
    done = {}
    for b in range(n_members):
        is_open = np.asarray(link_open[b], dtype=bool)
        key = (link_cost[b].tobytes(), is_open.tobytes())
        if key in done:  # members with equal costs share one solve
            nxt[b] = nxt[done[key]]
            dist[b] = dist[done[key]]
            continue
        done[key] = b
        w = np.where(is_open[turn_to], link_cost[b, turn_to] + turn_penalty, np.inf)
        _solve(rows, dest_links, in_ptr, in_turn, turn_from, turn_to, w, turn_rank, pad_turn,
               nxt[b], dist[b], want_dist)
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


def tables(net, params, dest_links, link_cost, link_open, dest_rows=None):
    """Return the next-hop tables (n_members, n_dest, n_links) int32 for ``net``."""
    return next_hop_tables(net.turn_from, net.turn_to_arr, _penalty(net, params),
                           _TURN_RANK[net.turn_kind], net.turn_pad, net.n_links, dest_links,
                           link_cost, link_open, dest_rows)


def pending_dest_rows(state):
    """Return the destinations (indices into ``dest_links``) of trips not yet arrived."""
    a = state.arrays
    return np.unique(a["v_dest"][a["v_status"] < _k.ARRIVED])


def rebuild_tables(net, state) -> None:
    """Recompute ``route_next`` from each version's ``route_cost`` and ``route_open``.

    Bit-identical to the tables computed when the versions were made, for every destination
    a trip still needs (rows of destinations all of whose trips have arrived stay -1).
    """
    a = state.arrays
    rows = pending_dest_rows(state)
    a["route_next"] = np.stack([
        tables(net, state.params, a["dest_links"], cost, is_open, rows)
        for cost, is_open in zip(a["route_cost"], a["route_open"])])


def _member_index(state, member):
    return np.arange(state.n_members) if member is None else np.atleast_1d(member)


def reroute(net, state, share: float | None = None) -> None:
    """Recompute route tables from current link travel times; ``share`` of drivers adopt them.

    Departing vehicles always use the newest table. Each member draws who re-routes from its
    own generator.
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
    if np.isfinite(p.reroute_period):
        a["next_reroute"][0] = state.time + p.reroute_period


def _new_tables(net, state):
    """Append a route-table version from ``link_cost``; drop versions no vehicle uses."""
    a = state.arrays
    nxt = tables(net, state.params, a["dest_links"], a["link_cost"], a["link_open"],
                 pending_dest_rows(state))
    active = a["v_status"] == _k.ACTIVE
    used = np.unique(a["v_ver"][active])
    remap = np.full(a["route_next"].shape[0], -1, np.int64)
    remap[used] = np.arange(used.size)
    a["route_next"] = np.concatenate([a["route_next"][used], nxt[None]])
    a["route_cost"] = np.concatenate([a["route_cost"][used], a["link_cost"][None]])
    a["route_open"] = np.concatenate([a["route_open"][used], a["link_open"][None]])
    a["v_ver"][active] = remap[a["v_ver"][active]]
    a["latest_ver"][0] = used.size


def close_link(net, state, link, member=None) -> None:
    """Close link(s) to entering traffic (vehicles on it still leave) and re-route everyone.

    Drivers learn of a closure at once: all adopt the new tables, and those about to turn
    into the closed link choose another turn, preferably one their lane serves.
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
    blocked = active & (nx >= 0)
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
