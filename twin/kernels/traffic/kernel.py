"""Compiled inner loop of the traffic kernel (see :mod:`twin.kernels.traffic`).

One call of :func:`advance` moves every member of a batch by ``n_steps`` steps of ``dt``
seconds. All state lives in the arrays passed in (struct of arrays, vehicles of all members
in one array, lanes as contiguous slot ranges holding vehicle indices sorted front to back);
nothing is allocated per vehicle. The loops are plain loops over those sorted arrays, compiled
by numba: at a few thousand vehicles the cost of a numpy call, not memory bandwidth, would
dominate a step written as whole-array operations.

Car following (per vehicle, parallel update from the state at the start of the step):
Newell's (2002) simplified car-following rule with bounded acceleration (Laval & Leclercq
2008), plus the Krauss (1998) safe speed as a comfortable-braking anticipation term::

    v' = max(0, min(u, v + a dt, v_newell, v_krauss))
    v_newell = (x_l(t + dt - tau) - s_j - x) / dt        (x_l interpolated in the last step)
    v_krauss = v_l + (g - v_l dt) / ((v + v_l) / (2 b) + dt),  g = x_l - x - s_j
    x' = x + v' dt

The Newell term gives an exactly triangular fundamental diagram (free speed u, jam spacing
s_j, wave speed s_j / tau) and makes the update collision free by construction; the Krauss
term (reaction time dt <= tau) never binds in steady following and only smooths braking
towards standing obstacles (red lights, queues).
"""

import numpy as np
from numba import njit, prange

from ._traffic_consts import (  # noqa: F401  (re-exported for the Python side)
    ACTIVE,
    ARRIVED,
    C_ACTIVE,
    C_ARRIVED,
    C_RELEASED,
    C_STUCK,
    C_WAITING,
    ERR_BACKWARDS,
    ERR_CONSERVATION,
    ERR_LANE_FULL,
    ERR_OK,
    ERR_OVERLAP,
    FREE,
    GREEN,
    N_COUNTERS,
    N_PARAMS,
    P_ACCEL,
    P_DECEL,
    P_DET_LEN,
    P_GAP_CRIT,
    P_JAM_SPACING,
    P_QUEUE_SPEED,
    P_TAU,
    P_TURN_LEFT,
    P_TURN_RIGHT,
    P_VEH_LEN,
    P_YELLOW_DECEL,
    RED,
    SCHEDULED,
    STUCK,
    TURN_LEFT,
    TURN_RIGHT,
    TURN_THROUGH,
    TURN_UTURN,
    WAITING,
    YELLOW,
)
from ._traffic_signals import update_signals

ARG_NAMES = (
    # network (static)
    "link_to", "link_len", "link_speed", "link_lane0", "link_opposing", "link_priority",
    "turn_ptr", "turn_to", "turn_kind", "turn_mask", "node_in_ptr", "node_in_link",
    "cross_order", "cross_rank", "lane_link", "lane_slot0", "lane_cap", "dest_links",
    # signals (per member)
    "link_phase", "sig_kind", "sig_cycle", "sig_offset", "sig_nph", "sig_green", "sig_yellow",
    "sig_min_green", "sig_max_green", "sig_gap", "act_phase", "act_elapsed", "act_yellow",
    "act_gap_timer", "node_phase", "node_color",
    # links (per member)
    "link_open", "link_out_cap", "link_credit", "lane_count", "lane_buf", "lane_blk",
    "cross_blk", "q_blk",
    # vehicles
    "v_dest", "v_orig", "v_depart", "v_status", "v_link", "v_lane", "v_next", "v_pos",
    "v_prev", "v_speed", "v_enter", "v_arrive", "v_link_enter", "v_ver", "v_qnext",
    "v_pos_new", "v_speed_new", "v_tlane", "v_nn",
    # demand and routing
    "q_head", "q_tail", "m_next", "m_end", "route_next", "latest_ver",
    # statistics and aggregates
    "ltt_sum", "ltt_cnt", "counters", "veh_seconds", "agg_flow", "agg_count", "agg_speed_sum",
    "agg_queue",
)


# lanes (in index order and in stop-line order) and links are swept in blocks of this many,
# skipping blocks with no vehicle, so that a step costs per vehicle, not per lane
BLOCK = 64


@njit(cache=True, inline="always")
def _move_count(b, g_from, g_to, lane_blk, cross_blk, cross_rank):
    """Keep the per-block vehicle counts in step with a vehicle leaving/entering lanes."""
    if g_from >= 0:
        lane_blk[b, g_from // BLOCK] -= 1
        cross_blk[b, cross_rank[g_from] // BLOCK] -= 1
    if g_to >= 0:
        lane_blk[b, g_to // BLOCK] += 1
        cross_blk[b, cross_rank[g_to] // BLOCK] += 1


@njit(cache=True, inline="always")
def _approach_state(b, lnk, link_to, link_phase, node_phase, node_color):
    p = link_phase[b, lnk]
    if p < 0:
        return FREE
    n = link_to[lnk]
    if node_phase[b, n] != p:
        return RED
    return node_color[b, n]


@njit(cache=True, inline="always")
def _find_turn(lnk, nxt, turn_ptr, turn_to):
    for k in range(turn_ptr[lnk], turn_ptr[lnk + 1]):
        if turn_to[k] == nxt:
            return k
    return -1


@njit(cache=True)
def _choose_lane(b, lnk, mask, link_lane0, lane_slot0, lane_count, lane_buf, pos):
    """Global lane index of the lane of `lnk` allowed by `mask` with most room at its start."""
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
            if room > best_room:
                best_room = room
                best = g
        if best >= 0:
            break
    return best


@njit(cache=True)
def _approaching(b, o, so, skip_left, link_open, link_len, link_lane0, lane_slot0, lane_count, lane_buf,
                 v_pos, v_speed, v_next, v_tlane, turn_ptr, turn_to, turn_kind, par):
    """True if a front vehicle of approach `o` will cross its stop line within the gap."""
    lo = link_len[o]
    for g in range(link_lane0[o], link_lane0[o + 1]):
        if lane_count[b, g] == 0:
            continue
        w = lane_buf[b, lane_slot0[g]]
        nw = v_next[w]
        if nw < 0:
            continue
        if skip_left:
            k = _find_turn(o, nw, turn_ptr, turn_to)
            if k >= 0 and turn_kind[k] == TURN_LEFT:
                continue
        dist = lo - v_pos[w]
        sw = v_speed[w]
        if so == RED:
            continue
        if so == YELLOW and dist > sw * sw / (2.0 * par[P_YELLOW_DECEL]):
            continue
        if sw < 0.5:
            # standing at the line: a conflict only if it can actually leave
            if dist < 1.0 and _can_enter(b, nw, v_tlane[w], link_open, lane_slot0, lane_count,
                                         lane_buf, v_pos, par):
                return True
        elif dist < par[P_GAP_CRIT] * sw:
            return True
    return False


@njit(cache=True)
def _can_enter(b, lnk, tl, link_open, lane_slot0, lane_count, lane_buf, v_pos, par):
    """True if lane `tl` of link `lnk` (-1: none chosen) has room at its upstream end."""
    if tl < 0 or link_open[b, lnk] == 0:
        return False
    c = lane_count[b, tl]
    return c == 0 or v_pos[lane_buf[b, lane_slot0[tl] + c - 1]] >= par[P_JAM_SPACING]


@njit(cache=True)
def _must_yield(b, lnk, kind, st, link_open, link_to, link_opposing, link_priority, link_phase, node_phase,
                node_color, node_in_ptr, node_in_link, link_len, link_lane0, lane_slot0,
                lane_count, lane_buf, v_pos, v_speed, v_next, v_tlane, turn_ptr, turn_to, turn_kind,
                par):
    """True if the front vehicle of `lnk` turning `kind` must give way at the node."""
    if st == FREE:
        n = link_to[lnk]
        pr = link_priority[lnk]
        opp = link_opposing[lnk]
        for k in range(node_in_ptr[n], node_in_ptr[n + 1]):
            o = node_in_link[k]
            if o == lnk:
                continue
            po = link_priority[o]
            if po > pr or (po == pr and kind == TURN_LEFT and o == opp):
                if _approaching(b, o, FREE, po == pr, link_open, link_len, link_lane0, lane_slot0,
                                lane_count, lane_buf, v_pos, v_speed, v_next, v_tlane, turn_ptr,
                                turn_to, turn_kind, par):
                    return True
        return False
    if kind != TURN_LEFT:
        return False
    o = link_opposing[lnk]
    if o < 0:
        return False
    so = _approach_state(b, o, link_to, link_phase, node_phase, node_color)
    if so == RED:
        return False
    return _approaching(b, o, so, True, link_open, link_len, link_lane0, lane_slot0, lane_count, lane_buf,
                        v_pos, v_speed, v_next, v_tlane, turn_ptr, turn_to, turn_kind, par)


@njit(cache=True)
def _advance_member(b, link_to, link_len, link_speed, link_lane0, link_opposing, link_priority,
                   turn_ptr, turn_to, turn_kind, turn_mask, node_in_ptr, node_in_link,
                   cross_order, cross_rank, lane_link, lane_slot0, lane_cap, dest_links,
                   link_phase, sig_kind, sig_cycle, sig_offset, sig_nph, sig_green, sig_yellow,
                   sig_min_green, sig_max_green, sig_gap, act_phase, act_elapsed, act_yellow,
                   act_gap_timer, node_phase, node_color,
                   link_open, link_out_cap, link_credit, lane_count, lane_buf, lane_blk, cross_blk, q_blk,
                   v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos,
                   v_prev, v_speed, v_enter, v_arrive, v_link_enter, v_ver, v_qnext,
                   v_pos_new, v_speed_new, v_tlane, v_nn,
                   q_head, q_tail, m_next, m_end, route_next, latest_ver,
                   ltt_sum, ltt_cnt, counters, veh_seconds, agg_flow, agg_count, agg_speed_sum,
                   agg_queue,
                   par, t0, dt, n_steps, debug):
    """Advance member b by n_steps steps of dt s from time t0; return an error code."""
    n_lanes = lane_count.shape[1]
    n_links = link_len.shape[0]
    veh_len = par[P_VEH_LEN]
    s_j = par[P_JAM_SPACING]
    tau = par[P_TAU]
    acc_max = par[P_ACCEL]
    dec = par[P_DECEL]
    theta = (tau - dt) / dt  # fraction of the last step to look back (0 <= theta <= 1)
    for j in range(agg_flow.shape[1]):
        agg_flow[b, j] = 0
    # per call, not per step: the signalized nodes and the links with an outflow limit
    # (plans and limits change only between calls); the steps then cost per vehicle,
    # signal and occupied block of lanes, not per link of the network
    n_nodes = sig_kind.shape[1]
    sig_nodes = np.empty(n_nodes, np.int64)
    n_sig = 0
    for n in range(n_nodes):
        if sig_kind[b, n] == 0:
            node_phase[b, n] = -1
            node_color[b, n] = FREE
        else:
            sig_nodes[n_sig] = n
            n_sig += 1
    capped = np.empty(n_links, np.int64)
    n_capped = 0
    for lnk in range(n_links):
        if link_out_cap[b, lnk] < np.inf:
            capped[n_capped] = lnk
            n_capped += 1
    n_blk = lane_blk.shape[1]
    n_qblk = q_blk.shape[1]
    for step in range(n_steps):
        t = t0 + step * dt
        t_end = t + dt
        veh_seconds[b] += counters[b, C_ACTIVE] * dt
        update_signals(b, t, dt, sig_nodes[:n_sig], sig_kind, sig_cycle, sig_offset, sig_nph,
                       sig_green, sig_yellow, sig_min_green, sig_max_green, sig_gap,
                       act_phase, act_elapsed, act_yellow, act_gap_timer, node_phase,
                       node_color, link_phase, node_in_ptr, node_in_link, link_len,
                       link_lane0, lane_slot0, lane_count, lane_buf, v_pos, par)
        for i in range(n_capped):
            lnk = capped[i]
            cap = link_out_cap[b, lnk]
            c = link_credit[b, lnk] + cap * dt
            lim = max(1.0, cap * dt)
            link_credit[b, lnk] = c if c < lim else lim
        # ---- phase A: new speeds and positions from the old state
        for bi in range(n_blk):
            if lane_blk[b, bi] == 0:
                continue
            for g in range(bi * BLOCK, min(n_lanes, (bi + 1) * BLOCK)):
                    cnt = lane_count[b, g]
                    if cnt == 0:
                        continue
                    lnk = lane_link[g]
                    L = link_len[lnk]
                    u = link_speed[lnk]
                    s0 = lane_slot0[g]
                    for k in range(cnt):
                        v = lane_buf[b, s0 + k]
                        x = v_pos[v]
                        sp = v_speed[v]
                        has_leader = False
                        v_turn = np.inf
                        xl = 0.0
                        xlp = 0.0
                        vl = 0.0
                        if k > 0:
                            ld = lane_buf[b, s0 + k - 1]
                            has_leader = True
                            xl = v_pos[ld]
                            xlp = v_prev[ld]
                            vl = v_speed[ld]
                        else:
                            v_tlane[v] = -1
                            d_link = dest_links[v_dest[v]]
                            nx = v_next[v]
                            if lnk != d_link and nx < 0:
                                # no route when it entered (closure): ask again
                                nx = route_next[v_ver[v], b, v_dest[v], lnk]
                                v_next[v] = nx
                            if lnk != d_link:
                                st = _approach_state(b, lnk, link_to, link_phase, node_phase,
                                                     node_color)
                                stop = nx < 0 or link_open[b, nx] == 0
                                if st == RED:
                                    stop = True
                                elif st == YELLOW and L - x > sp * sp / (2.0 * par[P_YELLOW_DECEL]):
                                    stop = True
                                if not stop and link_out_cap[b, lnk] < np.inf:
                                    stop = link_credit[b, lnk] < 1.0
                                tk = _find_turn(lnk, nx, turn_ptr, turn_to)
                                kind = turn_kind[tk] if tk >= 0 else TURN_THROUGH
                                if not stop:
                                    stop = _must_yield(b, lnk, kind, st, link_open, link_to, link_opposing,
                                                       link_priority, link_phase, node_phase,
                                                       node_color, node_in_ptr, node_in_link,
                                                       link_len, link_lane0, lane_slot0,
                                                       lane_count, lane_buf, v_pos, v_speed,
                                                       v_next, v_tlane, turn_ptr, turn_to, turn_kind, par)
                                has_leader = True
                                if stop:
                                    xl = L + s_j
                                    xlp = xl
                                    vl = 0.0
                                else:
                                    if kind == TURN_RIGHT:
                                        v_turn = par[P_TURN_RIGHT]
                                    elif kind != TURN_THROUGH:
                                        v_turn = par[P_TURN_LEFT]
                                    # lane on the next link that serves the turn after it
                                    if nx == d_link:
                                        nn = -1
                                        mask = -1
                                    else:
                                        nn = route_next[v_ver[v], b, v_dest[v], nx]
                                        tk2 = _find_turn(nx, nn, turn_ptr, turn_to)
                                        mask = turn_mask[tk2] if tk2 >= 0 else -1
                                    v_nn[v] = nn
                                    tl = _choose_lane(b, nx, mask, link_lane0, lane_slot0,
                                                      lane_count, lane_buf, v_pos)
                                    v_tlane[v] = tl
                                    tc = lane_count[b, tl]
                                    if tc > 0:
                                        ld = lane_buf[b, lane_slot0[tl] + tc - 1]
                                        xl = L + v_pos[ld]
                                        xlp = L + v_prev[ld]
                                        vl = v_speed[ld]
                                    else:
                                        has_leader = False
                        vn = sp + acc_max * dt
                        if vn > u:
                            vn = u
                        if v_turn < vn:
                            # reach the stop line no faster than the turn allows
                            v_lim = np.sqrt(v_turn * v_turn + 2.0 * dec * max(L - x, 0.0))
                            if v_lim < vn:
                                vn = v_lim
                        if has_leader:
                            xd = xl - theta * (xl - xlp)
                            v_nw = (xd - s_j - x) / dt
                            if v_nw < vn:
                                vn = v_nw
                            gap = xl - x - s_j
                            v_kr = vl + (gap - vl * dt) / ((sp + vl) / (2.0 * dec) + dt)
                            if v_kr < vn:
                                vn = v_kr
                        if vn < 0.0:
                            vn = 0.0
                        v_speed_new[v] = vn
                        v_pos_new[v] = x + vn * dt
        # ---- phase C: node transfers and arrivals, in priority order
        for bi in range(n_blk):
            # checked when reached: a lane an earlier transfer filled is served
            if cross_blk[b, bi] == 0:
                continue
            for ci in range(bi * BLOCK, min(n_lanes, (bi + 1) * BLOCK)):
                g = cross_order[ci]
                cnt = lane_count[b, g]
                if cnt == 0:
                    continue
                s0 = lane_slot0[g]
                v = lane_buf[b, s0]
                lnk = lane_link[g]
                L = link_len[lnk]
                nx = v_next[v]
                if nx < 0 and lnk != dest_links[v_dest[v]]:
                    # no next link towards its destination (phase A asked the current table
                    # again): it would stand at the stop line for good and block the lane;
                    # removed and counted as stuck instead (SUMO teleports such vehicles)
                    for k in range(cnt - 1):
                        lane_buf[b, s0 + k] = lane_buf[b, s0 + k + 1]
                    lane_count[b, g] = cnt - 1
                    _move_count(b, g, -1, lane_blk, cross_blk, cross_rank)
                    v_status[v] = STUCK
                    v_arrive[v] = t_end
                    v_link[v] = -1
                    v_lane[v] = -1
                    counters[b, C_ACTIVE] -= 1
                    counters[b, C_STUCK] += 1
                    continue
                if v_pos_new[v] <= L:
                    continue
                if lnk != dest_links[v_dest[v]]:
                    tl = v_tlane[v]
                    if tl < 0:  # was told to stop; numerical guard
                        v_pos_new[v] = L
                        v_speed_new[v] = (L - v_pos[v]) / dt
                        continue
                    tc = lane_count[b, tl]
                    xn = v_pos_new[v]
                    if tc > 0:
                        ld = lane_buf[b, lane_slot0[tl] + tc - 1]
                        xl = L + v_pos[ld]
                        xlp = L + v_prev[ld]
                        bound = xl - theta * (xl - xlp) - s_j
                        if bound < xn:
                            xn = bound
                    if xn <= L or tc >= lane_cap[tl]:
                        if xn > L:
                            xn = L
                        if xn < v_pos[v]:
                            xn = v_pos[v]
                        v_pos_new[v] = xn
                        v_speed_new[v] = (xn - v_pos[v]) / dt
                        continue
                    v_speed_new[v] = (xn - v_pos[v]) / dt
                    # move v from the front of g to the back of tl
                    for k in range(cnt - 1):
                        lane_buf[b, s0 + k] = lane_buf[b, s0 + k + 1]
                    lane_count[b, g] = cnt - 1
                    lane_buf[b, lane_slot0[tl] + tc] = v
                    lane_count[b, tl] = tc + 1
                    _move_count(b, g, tl, lane_blk, cross_blk, cross_rank)
                    agg_flow[b, lnk] += 1
                    if link_out_cap[b, lnk] < np.inf:
                        link_credit[b, lnk] -= 1.0
                    ltt_sum[b, lnk] += t_end - v_link_enter[v]
                    ltt_cnt[b, lnk] += 1
                    v_link_enter[v] = t_end
                    v_pos[v] -= L
                    v_prev[v] -= L
                    v_pos_new[v] = xn - L
                    v_link[v] = nx
                    v_lane[v] = tl
                    v_next[v] = v_nn[v]
                else:
                    # destination reached at the downstream end of the link
                    for k in range(cnt - 1):
                        lane_buf[b, s0 + k] = lane_buf[b, s0 + k + 1]
                    lane_count[b, g] = cnt - 1
                    _move_count(b, g, -1, lane_blk, cross_blk, cross_rank)
                    agg_flow[b, lnk] += 1
                    ltt_sum[b, lnk] += t_end - v_link_enter[v]
                    ltt_cnt[b, lnk] += 1
                    v_status[v] = ARRIVED
                    v_arrive[v] = t_end
                    v_link[v] = -1
                    v_lane[v] = -1
                    counters[b, C_ACTIVE] -= 1
                    counters[b, C_ARRIVED] += 1
        # ---- phase E: release departures into entry queues, insert at origins
        i = m_next[b]
        while i < m_end[b] and v_depart[i] < t_end:
            v_status[i] = WAITING
            v_qnext[i] = -1
            o = v_orig[i]
            if q_head[b, o] < 0:
                q_head[b, o] = i
            else:
                v_qnext[q_tail[b, o]] = i
            q_tail[b, o] = i
            q_blk[b, o // BLOCK] += 1
            counters[b, C_RELEASED] += 1
            counters[b, C_WAITING] += 1
            i += 1
        m_next[b] = i
        for qi in range(n_qblk if counters[b, C_WAITING] > 0 else 0):
            if q_blk[b, qi] == 0:
                continue
            for o in range(qi * BLOCK, min(n_links, (qi + 1) * BLOCK)):
                while q_head[b, o] >= 0 and link_open[b, o]:
                    v = q_head[b, o]
                    d = v_dest[v]
                    ver = latest_ver[0]
                    if o == dest_links[d]:
                        nx = -1
                        mask = -1
                    else:
                        nx = route_next[ver, b, d, o]
                        tk = _find_turn(o, nx, turn_ptr, turn_to)
                        mask = turn_mask[tk] if tk >= 0 else -1
                    g = _choose_lane(b, o, mask, link_lane0, lane_slot0, lane_count,
                                     lane_buf, v_pos_new)
                    c = lane_count[b, g]
                    u = link_speed[o]
                    vin = u
                    # a fresh departure enters at free speed if there is room for it
                    # (it entered during the step: at most u (t_end - depart) in)
                    t_in = v_depart[v] if v_depart[v] > t else t
                    xin = u * (t_end - t_in)
                    if xin > link_len[o]:
                        xin = link_len[o]
                    fly = v_depart[v] >= t
                    if c > 0:
                        ld = lane_buf[b, lane_slot0[g] + c - 1]
                        if c >= lane_cap[g]:
                            break
                        room = v_pos_new[ld] - s_j
                        if room - u * tau < xin:
                            xin = room - u * tau
                            fly = fly and xin >= 0.0
                    if not fly:
                        # otherwise it has been queuing upstream of the link: Newell's
                        # rule puts it on its leader's trajectory shifted by (tau, s_j),
                        # so it joins once that point is on the link (saturated entry
                        # then flows at capacity, like a queue discharging)
                        vin = 0.0
                        xin = 0.0
                        if c > 0:
                            xl = v_pos[ld]
                            xin = xl - theta * (xl - v_prev[ld]) - s_j
                            if xin < 0.0:
                                break
                            vin = v_speed[ld] if v_speed[ld] < u else u
                    lane_buf[b, lane_slot0[g] + c] = v
                    lane_count[b, g] = c + 1
                    _move_count(b, -1, g, lane_blk, cross_blk, cross_rank)
                    q_head[b, o] = v_qnext[v]
                    q_blk[b, o // BLOCK] -= 1
                    v_status[v] = ACTIVE
                    v_ver[v] = ver
                    v_enter[v] = t_end
                    v_link_enter[v] = t_end
                    v_link[v] = o
                    v_lane[v] = g
                    v_next[v] = nx
                    v_pos[v] = xin - vin * dt
                    v_prev[v] = v_pos[v] - vin * dt
                    v_speed[v] = vin
                    v_pos_new[v] = xin
                    v_speed_new[v] = vin
                    counters[b, C_WAITING] -= 1
                    counters[b, C_ACTIVE] += 1
        # ---- phase D: commit, aggregates, debug invariants
        last = step == n_steps - 1
        if last:
            for lnk in range(n_links):
                agg_count[b, lnk] = 0
                agg_speed_sum[b, lnk] = 0.0
                agg_queue[b, lnk] = 0.0
        n_in = 0
        for bi in range(n_blk):
            if lane_blk[b, bi] == 0:
                continue
            for g in range(bi * BLOCK, min(n_lanes, (bi + 1) * BLOCK)):
                cnt = lane_count[b, g]
                if cnt == 0:
                    continue
                n_in += cnt
                s0 = lane_slot0[g]
                lnk = lane_link[g]
                queuing = last
                prev_x = np.inf
                for k in range(cnt):
                    v = lane_buf[b, s0 + k]
                    xn = v_pos_new[v]
                    if debug:
                        if xn < v_pos[v] - 1e-9:
                            return ERR_BACKWARDS * 2**40 + b * 2**20 + v
                        if prev_x - xn < veh_len - 1e-6:
                            return ERR_OVERLAP * 2**40 + b * 2**20 + v
                    prev_x = xn
                    v_prev[v] = v_pos[v]
                    v_pos[v] = xn
                    v_speed[v] = v_speed_new[v]
                    if last:
                        agg_speed_sum[b, lnk] += v_speed_new[v]
                        if queuing:
                            if v_speed_new[v] < par[P_QUEUE_SPEED]:
                                q = link_len[lnk] - (xn - veh_len)
                                if q > agg_queue[b, lnk]:
                                    agg_queue[b, lnk] = q
                            else:
                                queuing = False
                if last:
                    agg_count[b, lnk] += cnt
        if debug:
            if n_in != counters[b, C_ACTIVE] or (
                    counters[b, C_RELEASED] != counters[b, C_WAITING]
                    + counters[b, C_ACTIVE] + counters[b, C_ARRIVED] + counters[b, C_STUCK]):
                return ERR_CONSERVATION * 2**40 + b * 2**20
    return ERR_OK


@njit(cache=True, parallel=True)
def advance(link_to, link_len, link_speed, link_lane0, link_opposing, link_priority,
            turn_ptr, turn_to, turn_kind, turn_mask, node_in_ptr, node_in_link,
            cross_order, cross_rank, lane_link, lane_slot0, lane_cap, dest_links,
            link_phase, sig_kind, sig_cycle, sig_offset, sig_nph, sig_green, sig_yellow,
            sig_min_green, sig_max_green, sig_gap, act_phase, act_elapsed, act_yellow,
            act_gap_timer, node_phase, node_color,
            link_open, link_out_cap, link_credit, lane_count, lane_buf, lane_blk, cross_blk, q_blk,
            v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos,
            v_prev, v_speed, v_enter, v_arrive, v_link_enter, v_ver, v_qnext,
            v_pos_new, v_speed_new, v_tlane, v_nn,
            q_head, q_tail, m_next, m_end, route_next, latest_ver,
            ltt_sum, ltt_cnt, counters, veh_seconds, agg_flow, agg_count, agg_speed_sum,
            agg_queue,
            par, t0, dt, n_steps, debug):
    """Advance all members by n_steps steps of dt s from time t0; return an error code.

    Members are independent and run in parallel (numba prange over the member axis); each
    member's arithmetic is the same as in a run of its own, so results are bit-identical.
    The error code is ERR_OK, or (code, member, object index) packed as code * 2**40 +
    member * 2**20 + index when ``debug`` checks fail.
    """
    n_members = lane_count.shape[0]
    errs = np.zeros(n_members, np.int64)
    for b in prange(n_members):
        errs[b] = _advance_member(b, link_to, link_len, link_speed, link_lane0, link_opposing,
                                  link_priority, turn_ptr, turn_to, turn_kind, turn_mask,
                                  node_in_ptr, node_in_link, cross_order, cross_rank,
                                  lane_link, lane_slot0, lane_cap, dest_links, link_phase, sig_kind,
                                  sig_cycle, sig_offset, sig_nph, sig_green, sig_yellow,
                                  sig_min_green, sig_max_green, sig_gap, act_phase,
                                  act_elapsed, act_yellow, act_gap_timer, node_phase,
                                  node_color, link_open, link_out_cap, link_credit,
                                  lane_count, lane_buf, lane_blk, cross_blk, q_blk, v_dest, v_orig, v_depart, v_status,
                                  v_link, v_lane, v_next, v_pos, v_prev, v_speed, v_enter,
                                  v_arrive, v_link_enter, v_ver, v_qnext, v_pos_new,
                                  v_speed_new, v_tlane, v_nn, q_head, q_tail, m_next, m_end,
                                  route_next, latest_ver, ltt_sum, ltt_cnt, counters,
                                  veh_seconds, agg_flow, agg_count, agg_speed_sum,
                                  agg_queue, par, t0, dt, n_steps, debug)
    for b in range(n_members):
        if errs[b] != 0:
            return errs[b]
    return ERR_OK
