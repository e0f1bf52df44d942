"""Car following and stop-line decisions of the traffic kernel (compiled; see :mod:`.kernel`).

:func:`car_following` is phase A of a step: every vehicle's new speed and position from the
state at the start of the step (parallel update). A vehicle follows its leader on the lane; the
front vehicle of a lane follows either a standing obstacle at the stop line (red, yellow it can
stop for, closed or full next link, no outflow credit, must give way) or the last vehicle of the
lane it will take on its next link.
"""

import numpy as np
from numba import njit

from ._kcommon import (
    BLOCK,
    approach_state,
    choose_lane,
    find_turn,
    movement_state,
    next_hop,
    turn_lanes,
)
from .consts import (
    FREE,
    GREEN,
    P_ACCEL,
    P_GAP_CRIT,
    P_JAM_SPACING,
    P_OWN_LANE_BONUS,
    P_SIGMA,
    P_TURN_LEFT,
    P_TURN_RIGHT,
    P_YELLOW_DECEL,
    RED,
    TURN_LEFT,
    TURN_RIGHT,
    TURN_THROUGH,
    YELLOW,
)


@njit(cache=True)
def _can_enter(b, lnk, tl, link_open, lane_slot0, lane_count, lane_buf, v_pos, par):
    """True if lane `tl` of link `lnk` (-1: none chosen) has room at its upstream end."""
    if tl < 0 or link_open[b, lnk] == 0:
        return False
    c = lane_count[b, tl]
    return c == 0 or v_pos[lane_buf[b, lane_slot0[tl] + c - 1]] >= par[P_JAM_SPACING]


@njit(cache=True, inline="always")
def _arrival_time(dist, v, a, u):
    """Time (s) to cover ``dist`` m from speed ``v``, accelerating at ``a`` up to ``u``."""
    if v >= u:
        return dist / max(v, 1e-9)
    d_acc = (u * u - v * v) / (2.0 * a)
    if dist <= d_acc:
        return (np.sqrt(v * v + 2.0 * a * dist) - v) / a
    return (u - v) / a + (dist - d_acc) / u


@njit(cache=True)
def _approaching(b, o, so, skip_left, link_open, link_vmax, link_len, link_lane0, lane_slot0,
                 lane_count, lane_buf, v_pos, v_speed, v_next, v_tlane, turn_ptr, turn_to,
                 turn_kind, par, link_to, sig):
    """True if a front vehicle of approach `o` will reach its stop line within the critical
    gap (s), accelerating as it can up to the link's speed (a foe that speeds up, such as the
    head of a queue starting at green, arrives sooner than its speed says); a standing one
    only when it stands at the line and can leave. ``so`` is the approach's signal state;
    a vehicle whose movement has a state of its own (per-movement plans, ``sig``) uses
    that."""
    link_phase, node_phase, node_color, turn_sig = sig
    lo = link_len[o]
    a = par[P_ACCEL] * (1.0 - 0.5 * par[P_SIGMA])
    u = link_vmax[b, o]
    for g in range(link_lane0[o], link_lane0[o + 1]):
        if lane_count[b, g] == 0:
            continue
        w = lane_buf[b, lane_slot0[g]]
        nw = v_next[w]
        if nw < 0:
            continue
        k = find_turn(o, nw, turn_ptr, turn_to)
        if skip_left and k >= 0 and turn_kind[k] == TURN_LEFT:
            continue
        sv = so
        if k >= 0 and turn_sig[k, 0] >= 0:
            sv = movement_state(b, o, k, turn_sig, link_to, link_phase, node_phase, node_color)
        dist = lo - v_pos[w]
        sw = v_speed[w]
        if sv == RED:
            continue
        if sv == YELLOW and dist > sw * sw / (2.0 * par[P_YELLOW_DECEL]):
            continue
        if sw < 0.5:
            # standing at the line: a conflict only if it can actually leave
            if dist < 1.0 and _can_enter(b, nw, v_tlane[w], link_open, lane_slot0, lane_count,
                                         lane_buf, v_pos, par):
                return True
        elif _arrival_time(dist, sw, a, u) < par[P_GAP_CRIT]:
            return True
    return False


@njit(cache=True, inline="always")
def _occupied(b, lnk, link_lane0, lane_count):
    """True if a lane of link ``lnk`` holds a vehicle (else nobody on it to give way to)."""
    for g in range(link_lane0[lnk], link_lane0[lnk + 1]):
        if lane_count[b, g] > 0:
            return True
    return False


@njit(cache=True, inline="always")
def _must_yield(b, lnk, kind, st, link_open, link_vmax, link_to, link_opposing, link_priority,
                sig, tk, node_in_ptr, node_in_link, link_len,
                link_lane0, lane_slot0, lane_count, lane_buf, v_pos, v_speed, v_next, v_tlane,
                turn_ptr, turn_to, turn_kind, par):
    """True if the front vehicle of `lnk` turning `kind` (turn `tk`) in signal state `st`
    must give way at the node: at an uncontrolled node to higher-priority approaches; at a
    signal a left turn to the opposing approach's vehicles that may go, unless its movement
    has a priority green of its own (a protected left, SUMO ``G``); a permissive movement
    (``g``) yields as an approach's left turn."""
    link_phase, node_phase, node_color, turn_sig = sig
    if st == FREE:
        n = link_to[lnk]
        pr = link_priority[lnk]
        opp = link_opposing[lnk]
        for k in range(node_in_ptr[n], node_in_ptr[n + 1]):
            o = node_in_link[k]
            if o == lnk:
                continue
            po = link_priority[o]
            if (po > pr or (po == pr and kind == TURN_LEFT and o == opp)) and _occupied(
                    b, o, link_lane0, lane_count):
                if _approaching(b, o, FREE, po == pr, link_open, link_vmax, link_len,
                                link_lane0, lane_slot0, lane_count, lane_buf, v_pos, v_speed,
                                v_next, v_tlane, turn_ptr, turn_to, turn_kind, par, link_to,
                                sig):
                    return True
        return False
    if kind != TURN_LEFT:
        return False
    if st == GREEN and tk >= 0 and turn_sig[tk, 0] >= 0:
        return False  # protected
    o = link_opposing[lnk]
    if o < 0:
        return False
    if not _occupied(b, o, link_lane0, lane_count):
        return False
    so = approach_state(b, o, link_to, link_phase, node_phase, node_color)
    if so == RED and (tk < 0 or turn_sig[tk, 0] < 0):
        return False  # (per-movement: each opposing vehicle's own movement state counts)
    return _approaching(b, o, so, True, link_open, link_vmax, link_len, link_lane0, lane_slot0,
                        lane_count, lane_buf, v_pos, v_speed, v_next, v_tlane, turn_ptr, turn_to,
                        turn_kind, par, link_to, sig)


@njit(cache=True, inline="always")
def _held_at_line(blocked, st, dist, sp, credit, yellow_decel):
    """True if a front vehicle ``dist`` m before the stop line at speed ``sp`` must stop there:
    its next link is missing or closed (``blocked``), the approach state ``st`` is red, or
    yellow and it can stop, or its link's outflow ``credit`` is below one vehicle (giving way
    is checked after this)."""
    stop = blocked
    if st == RED:
        stop = True
    elif st == YELLOW and dist > sp * sp / (2.0 * yellow_decel):
        stop = True
    if not stop:
        stop = credit < 1.0
    return stop


@njit(cache=True, inline="always")
def follow_speed(x, sp, u, L, v_turn, has_leader, xl, xlp, vl, theta, s_j, acc_max, dec, dt,
                 sigma):
    """New speed: min(u, v + a dt, turn limit, Newell, Krauss), at least 0, less the mean of
    Krauss' dawdling (module doc of :mod:`.kernel`)."""
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
    # dawdling (SUMO's Krauss, driver imperfection sigma): SUMO takes a random share of
    # sigma a dt off the speed (of sigma v below a dt); the kernel takes its mean
    if vn >= acc_max * dt:
        vn -= 0.5 * sigma * acc_max * dt
    else:
        vn *= 1.0 - 0.5 * sigma
    if vn < 0.0:
        vn = 0.0
    return vn


@njit(cache=True, inline="always")
def car_following(b, net, sig, links, lanes, veh, fixed, vt, route_next, par, theta, dt):
    """Phase A: new speeds and positions (``v_speed_new``, ``v_pos_new``) of all vehicles of
    member b from the old state; lanes in index order, front to back. Also decides for the
    front vehicle of each lane whether it may cross the stop line and, if so, its lane on the
    next link (``v_tlane``) and the turn after that (``v_nn``), from the vehicle's fixed route
    if it has one (:func:`._kcommon.next_hop`).

    The arrays come in groups (:mod:`._kcommon`); ``link_vmax`` (n_members, n_links) is the
    speed limit of each link (m/s); ``vt`` = (v_len, v_gap, v_acc, v_dec, v_vmax), each
    vehicle's type: its own acceleration, deceleration and top speed, and a jam spacing of
    its leader's length plus its own minimum gap.
    """
    v_len, v_gap, v_acc, v_dec, v_vmax = vt
    (link_to, link_len, link_lane0, link_opposing, link_priority, turn_ptr, turn_to, turn_kind,
     turn_mask, node_in_ptr, node_in_link, cross_order, cross_rank, lane_link, lane_slot0,
     lane_cap, dest_links, turn_len, turn_lane_to) = net
    link_phase, node_phase, node_color, turn_sig = sig
    link_open, link_vmax, link_out_cap, link_credit = links
    lane_count, lane_buf, lane_blk, cross_blk = lanes
    (v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos, v_prev, v_speed, v_enter,
     v_arrive, v_link_enter, v_ver, v_qnext, v_pos_new, v_speed_new, v_tlane, v_nn) = veh
    n_lanes = lane_count.shape[1]
    sigma = par[P_SIGMA]
    bonus = par[P_OWN_LANE_BONUS]
    for bi in range(lane_blk.shape[1]):
        if lane_blk[b, bi] == 0:
            continue
        for g in range(bi * BLOCK, min(n_lanes, (bi + 1) * BLOCK)):
            cnt = lane_count[b, g]
            if cnt == 0:
                continue
            lnk = lane_link[g]
            L = link_len[lnk]
            u_link = link_vmax[b, lnk]
            s0 = lane_slot0[g]
            for k in range(cnt):
                v = lane_buf[b, s0 + k]
                u = min(u_link, v_vmax[v])
                acc_max = v_acc[v]
                dec = v_dec[v]
                s_j = v_len[v] + v_gap[v]
                x = v_pos[v]
                sp = v_speed[v]
                has_leader = False
                v_turn = np.inf
                xl = 0.0
                xlp = 0.0
                vl = 0.0
                if k > 0:
                    ld = lane_buf[b, s0 + k - 1]
                    s_j = v_len[ld] + v_gap[v]
                    has_leader = True
                    xl = v_pos[ld]
                    xlp = v_prev[ld]
                    vl = v_speed[ld]
                else:
                    # the front vehicle: a standing obstacle just past the stop line when it
                    # must stop, else the last vehicle of the lane it takes on its next link
                    v_tlane[v] = -1
                    d_link = dest_links[v_dest[v]]
                    nx = v_next[v]
                    if lnk != d_link and nx < 0:
                        # no route when it entered (closure): ask again
                        nx = next_hop(v, 1, b, v_dest[v], lnk, v_ver[v], route_next, fixed)
                        v_next[v] = nx
                    if lnk != d_link:
                        tk = find_turn(lnk, nx, turn_ptr, turn_to)
                        kind = turn_kind[tk] if tk >= 0 else TURN_THROUGH
                        st = movement_state(b, lnk, tk, turn_sig, link_to, link_phase,
                                            node_phase, node_color)
                        credit = link_credit[b, lnk] if link_out_cap[b, lnk] < np.inf else np.inf
                        stop = _held_at_line(nx < 0 or link_open[b, nx] == 0, st, L - x, sp,
                                             credit, par[P_YELLOW_DECEL])
                        # (at a signal only a left turn may have to give way)
                        if not stop and (st == FREE or kind == TURN_LEFT):
                            stop = _must_yield(b, lnk, kind, st, link_open, link_vmax, link_to,
                                               link_opposing, link_priority, sig, tk,
                                               node_in_ptr,
                                               node_in_link, link_len, link_lane0, lane_slot0,
                                               lane_count, lane_buf, v_pos, v_speed, v_next,
                                               v_tlane, turn_ptr, turn_to, turn_kind, par)
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
                            nn = -1
                            if nx != d_link:
                                nn = next_hop(v, 2, b, v_dest[v], nx, v_ver[v], route_next,
                                              fixed)
                            v_nn[v] = nn
                            mask, own = turn_lanes(tk, g - link_lane0[lnk], nx, nn,
                                                   turn_ptr, turn_to, turn_mask,
                                                   turn_lane_to, bonus >= 0.0)
                            tl = choose_lane(b, nx, mask, own, bonus, link_lane0, lane_slot0,
                                             lane_count, lane_buf, v_pos)
                            v_tlane[v] = tl
                            tc = lane_count[b, tl]
                            if tc > 0:
                                # its next link starts the turn's path through the
                                # junction after the stop line
                                ld = lane_buf[b, lane_slot0[tl] + tc - 1]
                                s_j = v_len[ld] + v_gap[v]
                                x0 = L + (turn_len[tk] if tk >= 0 else 0.0)
                                xl = x0 + v_pos[ld]
                                xlp = x0 + v_prev[ld]
                                vl = v_speed[ld]
                            else:
                                has_leader = False
                vn = follow_speed(x, sp, u, L, v_turn, has_leader, xl, xlp, vl, theta, s_j,
                                  acc_max, dec, dt, sigma)
                v_speed_new[v] = vn
                v_pos_new[v] = x + vn * dt
