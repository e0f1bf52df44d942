"""Departures and entry queues of the traffic kernel (compiled; see :mod:`.kernel`).

Phase E of a step: trips whose departure time falls in the step join the FIFO entry queue of
their origin link (:func:`release_departures`); the head of each queue then enters the
upstream end of its link while there is room (:func:`enter_queued`), so no trip is lost when
its origin link is full or closed.
"""

from numba import njit

from ._kcommon import BLOCK, choose_lane, find_turn, move_count, next_hop
from .consts import ACTIVE, C_ACTIVE, C_RELEASED, C_WAITING, P_TAU, WAITING


@njit(cache=True, inline="always")
def release_departures(b, veh, queues, counters, t_end):
    """Append the trips of member b departing before ``t_end`` to their entry queues (arrays
    in groups, :mod:`._kcommon`)."""
    (v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos, v_prev, v_speed, v_enter,
     v_arrive, v_link_enter, v_ver, v_qnext, v_pos_new, v_speed_new, v_tlane, v_nn) = veh
    q_head, q_tail, q_blk, m_next, m_end = queues
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


@njit(cache=True, inline="always")
def enter_queued(b, net, links, lanes, veh, fixed, vt, queues, route_next, latest_ver,
                 counters, par, theta, t, t_end, dt):
    """Insert queued vehicles of member b at the upstream end of their (open) origin links,
    links in index order, each queue while its head finds room (arrays in groups,
    :mod:`._kcommon`)."""
    (link_to, link_len, link_lane0, link_opposing, link_priority, turn_ptr, turn_to, turn_kind,
     turn_mask, node_in_ptr, node_in_link, cross_order, cross_rank, lane_link, lane_slot0,
     lane_cap, dest_links, turn_len, turn_lane_to) = net
    link_open, link_vmax, link_out_cap, link_credit = links
    lane_count, lane_buf, lane_blk, cross_blk = lanes
    (v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos, v_prev, v_speed, v_enter,
     v_arrive, v_link_enter, v_ver, v_qnext, v_pos_new, v_speed_new, v_tlane, v_nn) = veh
    q_head, q_tail, q_blk, m_next, m_end = queues
    if counters[b, C_WAITING] <= 0:
        return
    n_links = link_len.shape[0]
    v_len, v_gap, v_acc, v_dec, v_vmax = vt
    tau = par[P_TAU]
    for qi in range(q_blk.shape[1]):
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
                    nx = next_hop(v, 1, b, d, o, ver, route_next, fixed)
                    tk = find_turn(o, nx, turn_ptr, turn_to)
                    mask = turn_mask[tk] if tk >= 0 else -1
                g = choose_lane(b, o, mask, 0, 0.0, link_lane0, lane_slot0, lane_count, lane_buf,
                                v_pos_new)
                c = lane_count[b, g]
                u = min(link_vmax[b, o], v_vmax[v])
                vin = u
                # a fresh departure enters at free speed if there is room for it
                # (it entered during the step: at most u (t_end - depart) in)
                t_in = v_depart[v] if v_depart[v] > t else t
                xin = u * (t_end - t_in)
                if xin > link_len[o]:
                    xin = link_len[o]
                fly = v_depart[v] >= t
                ld = -1
                s_j = 0.0
                if c > 0:
                    ld = lane_buf[b, lane_slot0[g] + c - 1]
                    s_j = v_len[ld] + v_gap[v]
                    if c >= lane_cap[g]:
                        break
                    room = v_pos_new[ld] - s_j
                    if room - u * tau < xin:
                        xin = room - u * tau
                        fly = fly and xin >= 0.0
                if not fly:
                    # otherwise it has been queuing upstream of the link: Newell's rule puts
                    # it on its leader's trajectory shifted by (tau, s_j), so it joins once
                    # that point is on the link (saturated entry then flows at capacity, like
                    # a queue discharging)
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
                move_count(b, -1, g, lane_blk, cross_blk, cross_rank)
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
