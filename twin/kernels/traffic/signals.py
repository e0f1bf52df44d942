"""Signal controllers of the traffic kernel (compiled): fixed-time and actuated plans.

Called once per step and member by ``kernel._advance_member`` for the signalized nodes
``sig_nodes`` (``advance`` marks the others ``FREE`` once per call); writes the phase and
colour of each (``node_phase``, ``node_color``), from which each approach's state follows.
Fixed-time: phase and colour from ``(t - offset) mod cycle``, so plan changes apply at once.
Actuated: a green lasts at least ``min_green``; it ends (yellow, then the next phase with a
call) when another phase has a call and either no vehicle has been on the phase's detectors
(the last ``detector_length`` m of its approaches) for ``gap`` s (gap-out) or ``max_green``
is reached (max-out); without a conflicting call it rests in green.
"""

from numba import njit

from .consts import GREEN, P_DET_LEN, RED, YELLOW


@njit(cache=True)
def update_signals(b, t, dt, sig_nodes, sig_kind, sig_cycle, sig_offset, sig_nph, sig_green, sig_yellow,
                    sig_min_green, sig_max_green, sig_gap, act_phase, act_elapsed, act_yellow,
                    act_gap_timer, node_phase, node_color, link_phase, node_in_ptr, node_in_link,
                    link_len, link_lane0, lane_slot0, lane_count, lane_buf, v_pos, par):
    for i in range(sig_nodes.shape[0]):
        n = sig_nodes[i]
        kind = sig_kind[b, n]
        if kind == 1:
            c = (t - sig_offset[b, n]) % sig_cycle[b, n]
            acc = 0.0
            node_phase[b, n] = -1
            node_color[b, n] = RED
            for p in range(sig_nph[b, n]):
                if c < acc + sig_green[b, n, p]:
                    node_phase[b, n] = p
                    node_color[b, n] = GREEN
                    break
                acc += sig_green[b, n, p]
                if c < acc + sig_yellow[b, n, p]:
                    node_phase[b, n] = p
                    node_color[b, n] = YELLOW
                    break
                acc += sig_yellow[b, n, p]
        else:
            # actuated: detector presence in the last det_len m of each approach
            p = act_phase[b, n]
            nph = sig_nph[b, n]
            if act_yellow[b, n]:
                if act_elapsed[b, n] >= sig_yellow[b, n, p]:
                    # next phase with a call, else simply the next one
                    nxt = (p + 1) % nph
                    for k in range(1, nph + 1):
                        q = (p + k) % nph
                        if _phase_called(b, n, q, link_phase, node_in_ptr, node_in_link,
                                         link_len, link_lane0, lane_slot0, lane_count,
                                         lane_buf, v_pos, par):
                            nxt = q
                            break
                    act_phase[b, n] = nxt
                    act_yellow[b, n] = 0
                    act_elapsed[b, n] = 0.0
                    act_gap_timer[b, n] = 0.0
                    p = nxt
            else:
                if _phase_called(b, n, p, link_phase, node_in_ptr, node_in_link, link_len,
                                 link_lane0, lane_slot0, lane_count, lane_buf, v_pos, par):
                    act_gap_timer[b, n] = 0.0
                other_call = False
                for k in range(1, nph):
                    if _phase_called(b, n, (p + k) % nph, link_phase, node_in_ptr,
                                     node_in_link, link_len, link_lane0, lane_slot0,
                                     lane_count, lane_buf, v_pos, par):
                        other_call = True
                        break
                el = act_elapsed[b, n]
                if (other_call and el >= sig_min_green[b, n, p]
                        and (act_gap_timer[b, n] >= sig_gap[b, n]
                             or el >= sig_max_green[b, n, p])):
                    act_yellow[b, n] = 1
                    act_elapsed[b, n] = 0.0
            node_phase[b, n] = p
            node_color[b, n] = YELLOW if act_yellow[b, n] else GREEN
            act_elapsed[b, n] += dt
            act_gap_timer[b, n] += dt


@njit(cache=True)
def _phase_called(b, n, p, link_phase, node_in_ptr, node_in_link, link_len, link_lane0,
                  lane_slot0, lane_count, lane_buf, v_pos, par):
    for k in range(node_in_ptr[n], node_in_ptr[n + 1]):
        lnk = node_in_link[k]
        if link_phase[b, lnk] != p:
            continue
        zone = link_len[lnk] - par[P_DET_LEN]
        for g in range(link_lane0[lnk], link_lane0[lnk + 1]):
            if lane_count[b, g] > 0 and v_pos[lane_buf[b, lane_slot0[g]]] >= zone:
                return True
    return False
