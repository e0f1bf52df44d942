"""Route tables of the traffic kernel: batched shortest paths on the turn graph.

Routing runs on the *turn graph* (one graph node per link, one edge per allowed turn), so
that turn prohibitions such as U-turns are respected. A trip's destination is a link; the
travel cost of a path is the sum of the costs of the links it enters. One
``scipy.sparse.csgraph.dijkstra`` call per member, from all destination links at once on the
transposed turn graph, gives for every (destination, link) the next link to take — a
next-hop table, so no per-vehicle route is stored.

Tables are versioned: each vehicle holds the version it routes by; a re-route appends a
version computed from current travel times and moves a seeded share of the drivers onto it;
versions no vehicle uses are dropped. Closures and reopenings move every driver at once.
The public entry points are re-exported by :mod:`twin.kernels.traffic`.
"""

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from . import _traffic_consts as _k


def next_hop_tables(turn_from, turn_to, turn_penalty, turn_rank, pad_turn, n_links, dest_links,
                    link_cost, link_open):
    """Return the next-hop table and the cost-to-go for every member.

    Parameters
    ----------
    turn_from, turn_to : (n_turns,) int64
        Allowed turns ``turn_from[k] -> turn_to[k]`` (link indices).
    turn_penalty : (n_turns,) float64, s
        Added to the cost of making the turn (e.g. SUMO's 1.5 s for minor links).
    turn_rank : (n_turns,) int64
        Tie-break among equally short next links: lowest rank wins (through before right
        before left: keep going straight while that stays on a shortest path, as SUMO's
        router does on a grid).
    pad_turn : (n_links, k_max) int64
        Turn indices leaving each link, padded with -1.
    n_links : int
    dest_links : (n_dest,) int64
        Destination links.
    link_cost : (n_members, n_links) float64, s
        Cost of entering (traversing) each link, > 0.
    link_open : (n_members, n_links) bool/uint8
        Closed links cannot be entered.

    Returns
    -------
    next_link : (n_members, n_dest, n_links) int32
        Link to take after link ``l`` to reach destination ``d``; -1 where ``l`` is the
        destination itself or the destination is unreachable.
    cost_to_go : (n_members, n_dest, n_links) float64, s
        Cost from the downstream end of ``l`` to the downstream end of ``d`` (inf when
        unreachable).
    """
    n_members = link_cost.shape[0]
    n_dest = len(dest_links)
    nxt = np.full((n_members, n_dest, n_links), -1, dtype=np.int32)
    dist = np.empty((n_members, n_dest, n_links))
    done = {}
    valid = pad_turn >= 0
    pt = np.where(valid, pad_turn, 0)
    for b in range(n_members):
        key = (link_cost[b].tobytes(), np.asarray(link_open[b], dtype=bool).tobytes())
        if key in done:  # members with equal costs share one solve
            nxt[b], dist[b] = nxt[done[key]], dist[done[key]]
            continue
        done[key] = b
        ok = np.asarray(link_open[b], dtype=bool)[turn_to]
        w = link_cost[b, turn_to] + turn_penalty
        # transposed turn graph: edge (to -> from) weighted by the cost of the turn
        g = csr_matrix((w[ok], (turn_to[ok], turn_from[ok])), shape=(n_links, n_links))
        d = dijkstra(g, directed=True, indices=dest_links)
        dist[b] = d
        if turn_to.size == 0:
            continue
        # next hop: cheapest turn, ties (within 1 ms) broken by rank
        val = np.where(ok, w, np.inf)[pt] + d[:, turn_to[pt]]          # (n_dest, nl, k)
        val = np.where(valid[None], val, np.inf)
        best = val.min(axis=2, keepdims=True)
        rank = np.where(val <= best + 1e-3, turn_rank[pt][None], np.iinfo(np.int64).max)
        k = rank.argmin(axis=2)
        choice = np.take_along_axis(turn_to[pt][None].repeat(n_dest, 0), k[..., None],
                                    axis=2)[..., 0]
        nxt[b] = np.where(np.isfinite(best[..., 0]), choice, -1)
        nxt[b, np.arange(n_dest), dest_links] = -1
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


def tables(net, params, dest_links, link_cost, link_open):
    penalty = np.where(net.turn_kind == _k.TURN_LEFT, params.left_turn_penalty, 0.0)
    return next_hop_tables(net.turn_from, net.turn_to_arr, penalty, _TURN_RANK[net.turn_kind],
                           net.turn_pad, net.n_links, dest_links, link_cost, link_open)


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
    nxt, dist = tables(net, state.params, a["dest_links"], a["link_cost"], a["link_open"])
    a["route_dist"] = dist
    used = np.unique(a["v_ver"][a["v_status"] == _k.ACTIVE])
    remap = np.full(a["route_next"].shape[0], -1, np.int64)
    remap[used] = np.arange(used.size)
    a["route_next"] = np.concatenate([a["route_next"][used], nxt[None].astype(np.int64)])
    active = a["v_status"] == _k.ACTIVE
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
    # candidate turns per vehicle, padded: cost = cost(next) + cost-to-go, +penalty if the
    # vehicle's lane does not serve the turn
    lnk = a["v_link"][idx]
    cand = net.turn_pad_to[lnk]                                # (n, k)
    mask = net.turn_pad_mask[lnk]
    lane_in_link = a["v_lane"][idx] - net.link_lane0[lnk]
    valid = cand >= 0
    c = np.where(valid, cand, 0)
    dest = a["v_dest"][idx]
    cost = a["link_cost"][mem[idx, None], c] + a["route_dist"][mem[idx, None], dest[:, None], c]
    is_dest = c == a["dest_links"][dest][:, None]
    cost = np.where(is_dest, a["link_cost"][mem[idx, None], c], cost)
    cost = np.where(valid & (a["link_open"][mem[idx, None], c] == 1), cost, np.inf)
    serves = ((mask >> lane_in_link[:, None]) & 1) == 1
    cost = cost + np.where(serves, 0.0, 1e6)
    best = np.argmin(cost, axis=1)
    ok = np.isfinite(cost[np.arange(idx.size), best])
    nx[idx] = np.where(ok, cand[np.arange(idx.size), best], -1)
