"""Node transfers and arrivals of the traffic kernel (compiled; see :mod:`.kernel`).

:func:`node_transfers` is phase C of a step: the front vehicle of each lane whose new position
lies past the stop line moves onto the lane chosen on its next link (or arrives, at the end of
its destination link), lanes served in stop-line priority order, so that merging vehicles never
overlap.
"""

import numpy as np
from numba import njit

from ._kcommon import BLOCK, find_turn, move_count, pop_front, turn_lanes
from ._kteleport import due, teleport
from .consts import ARRIVED, C_ACTIVE, C_ARRIVED, C_STUCK, P_OWN_LANE_BONUS, STUCK


@njit(cache=True, inline="always")
def _leave(b, v, status, t_end, v_status, v_arrive, v_link, v_lane, counters, counter):
    """Book vehicle v out of the network (arrived or stuck) at t_end."""
    v_status[v] = status
    v_arrive[v] = t_end
    v_link[v] = -1
    v_lane[v] = -1
    counters[b, C_ACTIVE] -= 1
    counters[b, counter] += 1


@njit(cache=True, inline="always")
def _bound(b, tl, x0, xn, lane_count, lane_buf, lane_slot0, v_pos, v_prev, theta, v_len, gap):
    """``xn`` (m, in the coordinates of the link before, whose next link starts at ``x0``)
    bounded by Newell's rule behind the last vehicle of lane ``tl`` of the next link (jam
    spacing: that vehicle's length ``v_len`` plus the follower's minimum ``gap``)."""
    tc = lane_count[b, tl]
    if tc > 0:
        ld = lane_buf[b, lane_slot0[tl] + tc - 1]
        xl = x0 + v_pos[ld]
        bound = xl - theta * (xl - (x0 + v_prev[ld])) - (v_len[ld] + gap)
        if bound < xn:
            return bound
    return xn


@njit(cache=True, inline="always")
def node_transfers(b, net, links, lanes, veh, fixed, tele, vt, route_next, stats, par, theta,
                   dt, t_end):
    """Phase C: transfers at nodes, arrivals, teleports (:mod:`._kteleport`) and removals of
    stuck vehicles, lanes in stop-line priority order (``cross_order``).

    The front vehicle of a lane whose new position lies past the stop line moves onto the
    lane chosen in phase A if its position there, bounded by the last vehicle of that lane,
    is past the stop line and the lane has a free slot; otherwise it is held at most at the
    stop line. A vehicle crosses at most one node per step: it enters its next link at
    most at that link's stop line (links shorter than a step's move, a few m) and is not
    served again in the step it entered its lane. The arrays come in groups
    (:mod:`._kcommon`)."""
    (link_to, link_len, link_lane0, link_opposing, link_priority, turn_ptr, turn_to, turn_kind,
     turn_mask, node_in_ptr, node_in_link, cross_order, cross_rank, lane_link, lane_slot0,
     lane_cap, dest_links, turn_len, turn_lane_to) = net
    link_open, link_vmax, link_out_cap, link_credit = links
    lane_count, lane_buf, lane_blk, cross_blk = lanes
    (v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos, v_prev, v_speed, v_enter,
     v_arrive, v_link_enter, v_ver, v_qnext, v_pos_new, v_speed_new, v_tlane, v_nn) = veh
    ltt_sum, ltt_cnt, counters, agg_flow = stats
    n_lanes = lane_count.shape[1]
    for bi in range(cross_blk.shape[1]):
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
            if v_link_enter[v] == t_end:
                # entered this lane in this step (transferred or teleported from a lane
                # served before): it crosses at most one node per step
                continue
            lnk = lane_link[g]
            L = link_len[lnk]
            nx = v_next[v]
            if nx < 0 and lnk != dest_links[v_dest[v]]:
                # no next link towards its destination (phase A asked the current table
                # again): it would stand at the stop line for good and block the lane;
                # removed and counted as stuck instead (SUMO teleports such vehicles)
                pop_front(b, g, s0, cnt, lane_buf, lane_count)
                move_count(b, g, -1, lane_blk, cross_blk, cross_rank)
                _leave(b, v, STUCK, t_end, v_status, v_arrive, v_link, v_lane, counters,
                       C_STUCK)
                continue
            if (lnk != dest_links[v_dest[v]] and due(v, tele[0], par)
                    and link_open[b, nx] != 0):
                # stood for time_to_teleport s at the head of its lane: ahead along its route
                if teleport(b, v, g, s0, cnt, lnk, net, links, lanes, veh, fixed, route_next,
                            tele, stats, par, t_end):
                    continue
            if v_pos_new[v] <= L:
                continue
            if lnk != dest_links[v_dest[v]]:
                tl = v_tlane[v]
                if tl < 0:  # was told to stop; numerical guard
                    v_pos_new[v] = L
                    v_speed_new[v] = (L - v_pos[v]) / dt
                    continue
                # the next link starts after the turn's path through the junction
                tk = find_turn(lnk, nx, turn_ptr, turn_to)
                x0 = L + (turn_len[tk] if tk >= 0 else 0.0)
                xn = _bound(b, tl, x0, v_pos_new[v], lane_count, lane_buf, lane_slot0, v_pos,
                            v_prev, theta, vt[0], vt[1][v])
                if xn <= L or lane_count[b, tl] >= lane_cap[tl]:
                    # a vehicle served before took the room on that lane in this step:
                    # another lane that serves its next turn, the one with most room
                    mask, _own = turn_lanes(tk, g - link_lane0[lnk], nx, v_nn[v], turn_ptr,
                                            turn_to, turn_mask, turn_lane_to,
                                            par[P_OWN_LANE_BONUS] >= 0.0)
                    for h in range(link_lane0[nx], link_lane0[nx + 1]):
                        if h == tl or not (mask >> (h - link_lane0[nx])) & 1 or (
                                lane_count[b, h] >= lane_cap[h]):
                            continue
                        xh = _bound(b, h, x0, v_pos_new[v], lane_count, lane_buf, lane_slot0,
                                    v_pos, v_prev, theta, vt[0], vt[1][v])
                        if xh > L and xh > xn:
                            xn = xh
                            tl = h
                    v_tlane[v] = tl
                tc = lane_count[b, tl]
                if xn <= L or tc >= lane_cap[tl]:
                    # held at most at the stop line
                    if xn > L:
                        xn = L
                    if xn < v_pos[v]:
                        xn = v_pos[v]
                    v_pos_new[v] = xn
                    v_speed_new[v] = (xn - v_pos[v]) / dt
                    continue
                v_speed_new[v] = (xn - v_pos[v]) / dt
                if xn > x0 + link_len[nx]:
                    # a next link shorter than the rest of its move: it ends the step at
                    # that link's stop line, at the speed it drove (the rest of the move is
                    # lost; its next node is decided in the next step's phase A)
                    xn = x0 + link_len[nx]
                # move v from the front of g to the back of tl
                pop_front(b, g, s0, cnt, lane_buf, lane_count)
                lane_buf[b, lane_slot0[tl] + tc] = v
                lane_count[b, tl] = tc + 1
                move_count(b, g, tl, lane_blk, cross_blk, cross_rank)
                agg_flow[b, lnk] += 1
                if link_out_cap[b, lnk] < np.inf:
                    link_credit[b, lnk] -= 1.0
                ltt_sum[b, lnk] += t_end - v_link_enter[v]
                ltt_cnt[b, lnk] += 1
                v_link_enter[v] = t_end
                v_pos[v] -= x0
                v_prev[v] -= x0
                v_pos_new[v] = xn - x0
                v_link[v] = nx
                v_lane[v] = tl
                v_next[v] = v_nn[v]
                if fixed[0][v] >= 0:  # on a fixed route: one link further along it
                    fixed[1][v] += 1
            else:
                # destination reached at the downstream end of the link
                pop_front(b, g, s0, cnt, lane_buf, lane_count)
                move_count(b, g, -1, lane_blk, cross_blk, cross_rank)
                agg_flow[b, lnk] += 1
                ltt_sum[b, lnk] += t_end - v_link_enter[v]
                ltt_cnt[b, lnk] += 1
                _leave(b, v, ARRIVED, t_end, v_status, v_arrive, v_link, v_lane, counters,
                       C_ARRIVED)
