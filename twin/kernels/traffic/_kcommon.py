"""Small compiled helpers shared by the steps of the traffic kernel (see :mod:`.kernel`).

Lanes are slot ranges of ``lane_buf`` holding vehicle indices sorted front to back; the
per-block vehicle counts (``lane_blk`` in lane index order, ``cross_blk`` in stop-line order)
let the sweeps skip blocks of empty lanes.

The steps take the kernel's arrays in groups (tuples, unpacked in the step; see
``kernel.ARG_NAMES`` for each array)::

    net    = (link_to, link_len, link_lane0, link_opposing, link_priority, turn_ptr, turn_to,
              turn_kind, turn_mask, node_in_ptr, node_in_link, cross_order, cross_rank,
              lane_link, lane_slot0, lane_cap, dest_links, turn_len,
              turn_lane_to)                                               # static network
    sig    = (link_phase, node_phase, node_color, turn_sig)                # signal states
    links  = (link_open, link_vmax, link_out_cap, link_credit)             # per member
    lanes  = (lane_count, lane_buf, lane_blk, cross_blk)                   # per member
    veh    = (v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos, v_prev,
              v_speed, v_enter, v_arrive, v_link_enter, v_ver, v_qnext, v_pos_new,
              v_speed_new, v_tlane, v_nn)                                  # vehicles
    queues = (q_head, q_tail, q_blk, m_next, m_end)                        # entry queues
    stats  = (ltt_sum, ltt_cnt, counters, agg_flow)                        # statistics
    fixed  = (v_route, v_route_pos, route_links)                           # fixed routes

``turn_len`` (n_turns,) m: path length of each turn through its junction (a vehicle enters
its next link that far before the link's start, at a negative position); ``turn_lane_to``
(n_turns, 16) int64: for each lane of the from-link, the bit mask of the next link's lanes its
connections lead to (-1: any); ``turn_sig`` (n_turns, MAX_PHASES) int64: each turn's signal
state in each phase of its node (per-movement plans; -1: the approach's, ``link_phase``).

Fixed routes: a vehicle with ``v_route[v] >= 0`` follows the link sequence
``route_links[v_route[v]:]`` (its origin first, its destination link last and only there)
instead of the next-hop tables; ``v_route_pos[v]`` is the index of its current link in that
sequence (the links it entered after its origin; 0 without a route). :func:`next_hop`
is the one place the steps read a vehicle's next links; rerouting (new table versions,
``v_ver``) therefore never changes a fixed route, and a closed link on it holds the vehicle at
the stop line until it reopens, as for any closed next link (never counted stuck: its next
link is always known).
"""

import numpy as np
from numba import njit

from .consts import FREE, RED

# lanes (in index order and in stop-line order) and links are swept in blocks of this many,
# skipping blocks with no vehicle, so that a step costs per vehicle, not per lane
BLOCK = 16


@njit(cache=True, inline="always")
def move_count(b, g_from, g_to, lane_blk, cross_blk, cross_rank):
    """Keep the per-block vehicle counts in step with a vehicle leaving/entering lanes."""
    if g_from >= 0:
        lane_blk[b, g_from // BLOCK] -= 1
        cross_blk[b, cross_rank[g_from] // BLOCK] -= 1
    if g_to >= 0:
        lane_blk[b, g_to // BLOCK] += 1
        cross_blk[b, cross_rank[g_to] // BLOCK] += 1


@njit(cache=True, inline="always")
def pop_front(b, g, s0, cnt, lane_buf, lane_count):
    """Remove the front vehicle of lane ``g`` (slots from ``s0``, ``cnt`` vehicles)."""
    for k in range(cnt - 1):
        lane_buf[b, s0 + k] = lane_buf[b, s0 + k + 1]
    lane_count[b, g] = cnt - 1


@njit(cache=True, inline="always")
def approach_state(b, lnk, link_to, link_phase, node_phase, node_color):
    """Signal state (RED, YELLOW, GREEN; FREE if not controlled) of approach ``lnk``."""
    p = link_phase[b, lnk]
    if p < 0:
        return FREE
    n = link_to[lnk]
    if node_color[b, n] == FREE:  # switched off (kind 0): priority rules, like no signal
        return FREE
    if node_phase[b, n] != p:
        return RED
    return node_color[b, n]


@njit(cache=True, inline="always")
def movement_state(b, lnk, tk, turn_sig, link_to, link_phase, node_phase, node_color):
    """Signal state of turn ``tk`` from approach ``lnk``: its own state in the node's
    current phase where the plan gives per-movement states (``turn_sig``: RED, YELLOW,
    GREEN, GREEN_MINOR, FREE), else (and for ``tk`` < 0) the approach's
    (:func:`approach_state`)."""
    if tk < 0 or turn_sig[tk, 0] < 0:
        return approach_state(b, lnk, link_to, link_phase, node_phase, node_color)
    n = link_to[lnk]
    if node_color[b, n] == FREE:  # switched off (dark): priority rules
        return FREE
    p = node_phase[b, n]
    if p < 0:
        return RED
    return turn_sig[tk, p]


@njit(cache=True, inline="always")
def find_turn(lnk, nxt, turn_ptr, turn_to):
    """Index of the turn ``lnk -> nxt``, or -1."""
    for k in range(turn_ptr[lnk], turn_ptr[lnk + 1]):
        if turn_to[k] == nxt:
            return k
    return -1


@njit(cache=True, inline="always")
def next_hop(v, ahead, b, d, lnk, ver, route_next, fixed):
    """The link vehicle ``v`` (destination row ``d``) takes after link ``lnk``: from its fixed
    route (``ahead`` links after its current one: 1 for the next link, 2 for the one after)
    if it has one, else from version ``ver`` of the next-hop tables (-1: none)."""
    v_route, v_route_pos, route_links = fixed
    r = v_route[v]
    if r >= 0:
        i = r + v_route_pos[v] + ahead
        # compiled without bounds checks: never read past the stored routes
        return route_links[i] if i < route_links.size else -1
    return route_next[ver, b, d, lnk]


@njit(cache=True, inline="always")
def turn_lanes(tk, from_lane, nx, nn, turn_ptr, turn_to, turn_mask, turn_lane_to, wide):
    """Lanes of link ``nx`` a vehicle may take after turn ``tk`` from its lane ``from_lane``:
    ``(mask, own)`` bit masks. ``mask``: the lanes that serve its turn after that (``nn``;
    -1: none, all lanes) and, unless ``wide``, of those the lanes its own lane's connection
    leads to, when any (the lane change its next turn needs is made at the node); ``own``: 0.
    With ``wide`` (``TrafficParams.own_lane_bonus`` >= 0), ``mask`` keeps every lane that
    serves its next turn and is open to the vehicles (a lane some turn of ``nx`` leaves from,
    or turn ``tk`` leads to: never a lane closed to them, such as a bus lane), and ``own`` is
    the part of it that its own lane's connection leads to (preferred by
    :func:`choose_lane`); it stands in for lane changes on the link after entry."""
    mask = -1
    if nn >= 0:
        tk2 = find_turn(nx, nn, turn_ptr, turn_to)
        if tk2 >= 0:
            mask = turn_mask[tk2]
    if tk < 0:
        return mask, 0
    conn = turn_lane_to[tk, from_lane]
    if wide:
        open_ = 0
        for k in range(turn_ptr[nx], turn_ptr[nx + 1]):
            open_ |= turn_mask[k]
        for i in range(turn_lane_to.shape[1]):
            open_ |= turn_lane_to[tk, i]
        widened = mask & open_
        if widened != 0:
            return widened, widened & conn
    both = mask & conn
    if both != 0:
        mask = both
    return mask, 0


@njit(cache=True)
def choose_lane(b, lnk, mask, own, bonus, link_lane0, lane_slot0, lane_count, lane_buf, pos):
    """Global lane index of the lane of `lnk` allowed by `mask` with most room at its start
    (m; lanes in ``own`` get ``bonus`` m more; any lane when `mask` allows none)."""
    g0 = link_lane0[lnk]
    n = link_lane0[lnk + 1] - g0
    best = -1
    best_room = -np.inf
    for pass_ in range(2):
        for i in range(n):
            if pass_ == 0 and not ((mask >> i) & 1):
                continue
            g = g0 + i
            c = lane_count[b, g]
            if c == 0:
                room = np.inf
            else:
                room = pos[lane_buf[b, lane_slot0[g] + c - 1]]
            if (own >> i) & 1:
                room += bonus
            if room > best_room:
                best_room = room
                best = g
        if best >= 0:
            break
    return best


@njit(cache=True)
def signal_nodes(b, sig_kind, node_phase, node_color, out):
    """Write the signalized nodes of member b to ``out``, mark the others FREE; return how
    many (per call, not per step: plans change only between calls)."""
    n_sig = 0
    for n in range(sig_kind.shape[1]):
        if sig_kind[b, n] == 0:
            node_phase[b, n] = -1
            node_color[b, n] = FREE
        else:
            out[n_sig] = n
            n_sig += 1
    return n_sig


@njit(cache=True)
def capped_links(b, link_out_cap, out):
    """Write the links of member b with an outflow limit to ``out``; return how many."""
    n_capped = 0
    for lnk in range(link_out_cap.shape[1]):
        if link_out_cap[b, lnk] < np.inf:
            out[n_capped] = lnk
            n_capped += 1
    return n_capped


@njit(cache=True)
def refill_credit(b, capped, link_out_cap, link_credit, dt):
    """Outflow credit of the capped links: + capacity x dt, at most max(1, capacity x dt)."""
    for i in range(capped.shape[0]):
        lnk = capped[i]
        cap = link_out_cap[b, lnk]
        c = link_credit[b, lnk] + cap * dt
        lim = max(1.0, cap * dt)
        link_credit[b, lnk] = c if c < lim else lim
