"""Route tables of the traffic kernel: batched shortest paths on the turn graph.

Routing runs on the *turn graph* (one graph node per link, one edge per allowed turn), so
that turn prohibitions such as U-turns are respected. A trip's destination is a link; the
travel cost of a path is the sum of the costs of the links it enters. One
``scipy.sparse.csgraph.dijkstra`` call per member, from all destination links at once on the
transposed turn graph, gives for every (destination, link) the next link to take — a
next-hop table, so no per-vehicle route is stored.
"""

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


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
