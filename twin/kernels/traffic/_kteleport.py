"""Deadlock resolution of the traffic kernel: teleports (compiled; see :mod:`.kernel`).

SUMO's rule (``--time-to-teleport``, 300 s by default): the front vehicle of a lane that has
stood (speed below :data:`WAIT_SPEED`) for ``time_to_teleport`` s is taken off its lane and
put on the next link of its route that has room at its upstream end (the lane serving its
turn after that link, at position 0, standing); when no link up to its destination has room
it ends the teleport at its destination and arrives. It keeps its route (fixed route or
next-hop table). Teleports are counted per vehicle (``v_tele``) and per member
(``teleports``). A vehicle held before a closed link is not teleported (it waits for the
reopening, like a vehicle at a red light).

``tele = (v_wait, v_tele, teleports)``: s stood still so far, teleports per vehicle, per member.
"""

from numba import njit

from ._kcommon import choose_lane, find_turn, move_count, next_hop, pop_front
from .consts import ARRIVED, C_ACTIVE, C_ARRIVED, P_JAM_SPACING, P_TELEPORT

#: m/s: a vehicle slower than this is waiting (SUMO's 0.1 m/s)
WAIT_SPEED = 0.1


@njit(cache=True, inline="always")
def due(v, v_wait, par):
    """True if vehicle ``v`` has waited long enough to be teleported."""
    tp = par[P_TELEPORT]
    return tp > 0.0 and v_wait[v] >= tp


@njit(cache=True)
def teleport(b, v, g, s0, cnt, lnk, net, links, lanes, veh, fixed, route_next, tele, stats,
             par, t_end):
    """Teleport the front vehicle ``v`` of lane ``g`` (link ``lnk``; slots from ``s0``,
    ``cnt`` vehicles) along its route; return True if it left the lane (always, unless its
    route ends before its destination)."""
    (link_to, link_len, link_lane0, link_opposing, link_priority, turn_ptr, turn_to, turn_kind,
     turn_mask, node_in_ptr, node_in_link, cross_order, cross_rank, lane_link, lane_slot0,
     lane_cap, dest_links, turn_len, turn_lane_to) = net
    link_open, link_vmax, link_out_cap, link_credit = links
    lane_count, lane_buf, lane_blk, cross_blk = lanes
    (v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos, v_prev, v_speed, v_enter,
     v_arrive, v_link_enter, v_ver, v_qnext, v_pos_new, v_speed_new, v_tlane, v_nn) = veh
    v_wait, v_tele, teleports = tele
    ltt_sum, ltt_cnt, counters, agg_flow = stats
    s_j = par[P_JAM_SPACING]
    d = v_dest[v]
    dest = dest_links[d]
    ver = v_ver[v]
    cur = v_next[v]
    ahead = 1
    for _ in range(link_len.shape[0]):
        if cur < 0:
            return False
        at_dest = cur == dest
        nn = -1
        if not at_dest:
            nn = next_hop(v, ahead + 1, b, d, cur, ver, route_next, fixed)
        if link_open[b, cur]:
            mask = -1
            if nn >= 0:
                tk = find_turn(cur, nn, turn_ptr, turn_to)
                mask = turn_mask[tk] if tk >= 0 else -1
            tl = choose_lane(b, cur, mask, 0, 0.0, link_lane0, lane_slot0, lane_count, lane_buf,
                             v_pos_new)
            tc = lane_count[b, tl]
            room = tc < lane_cap[tl]
            if tc > 0 and room:
                last = lane_buf[b, lane_slot0[tl] + tc - 1]
                room = v_pos[last] >= s_j and v_pos_new[last] >= s_j
            if room:
                pop_front(b, g, s0, cnt, lane_buf, lane_count)
                lane_buf[b, lane_slot0[tl] + tc] = v
                lane_count[b, tl] = tc + 1
                move_count(b, g, tl, lane_blk, cross_blk, cross_rank)
                v_link[v] = cur
                v_lane[v] = tl
                v_next[v] = nn
                v_pos[v] = 0.0
                v_prev[v] = 0.0
                v_pos_new[v] = 0.0
                v_speed[v] = 0.0
                v_speed_new[v] = 0.0
                v_link_enter[v] = t_end
                v_tlane[v] = -1
                v_nn[v] = -1
                if fixed[0][v] >= 0:
                    fixed[1][v] += ahead
                v_wait[v] = 0.0
                v_tele[v] += 1
                teleports[b] += 1
                return True
        if at_dest:
            # no room up to its destination: the teleport ends there (SUMO: arrived)
            pop_front(b, g, s0, cnt, lane_buf, lane_count)
            move_count(b, g, -1, lane_blk, cross_blk, cross_rank)
            v_status[v] = ARRIVED
            v_arrive[v] = t_end
            v_link[v] = -1
            v_lane[v] = -1
            counters[b, C_ACTIVE] -= 1
            counters[b, C_ARRIVED] += 1
            v_tele[v] += 1
            teleports[b] += 1
            return True
        cur = nn
        ahead += 1
    return False
