"""Compiled inner loop of the traffic kernel (see :mod:`twin.kernels.traffic.api`).

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
towards standing obstacles (red lights, queues). ``u`` is the link's speed limit in the member,
``link_vmax[b, link]`` (the free speed unless :func:`.api.set_link_speed` changed it); fresh
departures enter at it too. The new speed then loses the mean of SUMO's Krauss dawdling
(``sigma a dt / 2``; ``sigma v / 2`` below ``a dt``; ``TrafficParams.sigma``).

Junctions (calibrated against SUMO, issue 10): a vehicle that crosses its stop line drives the
turn's path through the junction (``turn_len``, SUMO's internal lane, estimated from the
geometry by :func:`.geometry.turn_lengths`) before its next link starts: it enters that link
at position ``-turn_len`` behind its last vehicle. It takes a lane of the next link that
serves its turn after it (of those, the lanes its own lane's connection leads to,
``turn_lane_to``), the one with most room; when a vehicle served before it in the same step
took that room, another such lane (phase C).

Signals: a front vehicle obeys its own movement's state (``turn_sig``, from SUMO's
per-connection programs: a priority green ``G`` never yields, a green ``g`` that yields gives
way to the opposing approach as a permissive left turn) where the plan gives one, else its
approach's phase (``link_phase``). Vehicle types: each vehicle has its own length, minimum gap,
acceleration, deceleration and top speed (``v_len``, ``v_gap``, ``v_acc``, ``v_dec``,
``v_vmax``); the jam spacing behind a leader is the leader's length plus the follower's gap.

A step of one member (:func:`_advance_member`) runs these compiled steps in turn:

* signals (:func:`.signals.update_signals`) and the outflow credit of capped links
  (:func:`._kcommon.refill_credit`);
* phase A, car following (:func:`._kfollow.car_following`): new speeds and positions, and the
  stop-line decisions of the front vehicles;
* phase C, node transfers, arrivals and teleports of vehicles stuck for
  ``time_to_teleport`` s (:mod:`._kteleport`), in stop-line priority order
  (:func:`._ktransfer.node_transfers`);
* phase E, departures into the entry queues and entries at the origin links
  (:func:`._kentry.release_departures`, :func:`._kentry.enter_queued`);
* phase D, commit, per-link aggregates and debug invariants (:func:`_commit`).
"""

import hashlib
import sys
from pathlib import Path

import numpy as np
from numba import njit, prange

from . import _kcommon, _kentry, _kfollow, _kteleport, _ktransfer, consts, signals
from ._kcommon import BLOCK, capped_links, refill_credit, signal_nodes  # noqa: F401 (BLOCK: api)
from ._kentry import enter_queued, release_departures
from ._kfollow import car_following
from ._kteleport import WAIT_SPEED
from ._ktransfer import node_transfers
from .consts import (  # noqa: F401  (re-exported for the Python side)
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
from .signals import update_signals

ARG_NAMES = (
    # network (static)
    "link_to", "link_len", "link_lane0", "link_opposing", "link_priority",
    "turn_ptr", "turn_to", "turn_kind", "turn_mask", "node_in_ptr", "node_in_link",
    "cross_order", "cross_rank", "lane_link", "lane_slot0", "lane_cap", "dest_links", "turn_len",
    "turn_lane_to",
    # signals (per member)
    "link_phase", "sig_kind", "sig_cycle", "sig_offset", "sig_nph", "sig_green", "sig_yellow",
    "sig_min_green", "sig_max_green", "sig_gap", "act_phase", "act_elapsed", "act_yellow",
    "act_gap_timer", "node_phase", "node_color", "turn_sig",
    # links (per member; link_vmax: speed limit, m/s)
    "link_open", "link_vmax", "link_out_cap", "link_credit", "lane_count", "lane_buf",
    "lane_blk", "cross_blk", "q_blk",
    # vehicles
    "v_dest", "v_orig", "v_depart", "v_status", "v_link", "v_lane", "v_next", "v_pos",
    "v_prev", "v_speed", "v_enter", "v_arrive", "v_link_enter", "v_ver", "v_qnext",
    "v_pos_new", "v_speed_new", "v_tlane", "v_nn", "v_route", "v_route_pos", "v_wait", "v_tele",
    # vehicle types: length, min gap (m), accel, decel (m/s^2), max speed (m/s)
    "v_len", "v_gap", "v_acc", "v_dec", "v_vmax",
    # demand and routing (route_links: the fixed routes, :mod:`._kcommon`)
    "q_head", "q_tail", "m_next", "m_end", "route_next", "latest_ver", "route_links",
    # statistics and aggregates
    "ltt_sum", "ltt_cnt", "counters", "veh_seconds", "teleports", "agg_flow", "agg_count",
    "agg_speed_sum", "agg_queue",
)


@njit(cache=True, inline="always")
def _commit(b, link_len, lane_link, lane_slot0, lane_count, lane_buf, lane_blk, v_pos, v_prev,
            v_speed, v_pos_new, v_speed_new, v_wait, v_len, counters, agg_count, agg_speed_sum,
            agg_queue, par, dt, last, debug):
    """Phase D: commit the new positions and speeds and the time each vehicle has stood
    (``v_wait``, s; reset when it moves at :data:`._kteleport.WAIT_SPEED` or more); on the ``last`` step of a call also the
    per-link aggregates (count, speed sum, queue length); with ``debug`` check overlap,
    backward motion and conservation. Returns an error code (ERR_OK: none)."""
    n_lanes = lane_count.shape[1]
    veh_len = par[P_VEH_LEN]
    if last:
        for lnk in range(link_len.shape[0]):
            agg_count[b, lnk] = 0
            agg_speed_sum[b, lnk] = 0.0
            agg_queue[b, lnk] = 0.0
    n_in = 0
    for bi in range(lane_blk.shape[1]):
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
            prev_len = 0.0
            for k in range(cnt):
                v = lane_buf[b, s0 + k]
                xn = v_pos_new[v]
                if debug:
                    if xn < v_pos[v] - 1e-9:
                        return ERR_BACKWARDS * 2**40 + b * 2**20 + v
                    if prev_x - xn < prev_len - 1e-6:  # the leader's length
                        return ERR_OVERLAP * 2**40 + b * 2**20 + v
                prev_x = xn
                prev_len = v_len[v]
                v_prev[v] = v_pos[v]
                v_pos[v] = xn
                v_speed[v] = v_speed_new[v]
                if v_speed_new[v] < WAIT_SPEED:
                    v_wait[v] += dt
                else:
                    v_wait[v] = 0.0
                if last:
                    agg_speed_sum[b, lnk] += v_speed_new[v]
                    if queuing:
                        if v_speed_new[v] < par[P_QUEUE_SPEED]:
                            q = min(link_len[lnk], link_len[lnk] - (xn - veh_len))
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


@njit(cache=True)
def _advance_member(b, link_to, link_len, link_lane0, link_opposing, link_priority,
                    turn_ptr, turn_to, turn_kind, turn_mask, node_in_ptr, node_in_link,
                    cross_order, cross_rank, lane_link, lane_slot0, lane_cap, dest_links,
                    turn_len, turn_lane_to,
                    link_phase, sig_kind, sig_cycle, sig_offset, sig_nph, sig_green, sig_yellow,
                    sig_min_green, sig_max_green, sig_gap, act_phase, act_elapsed, act_yellow,
                    act_gap_timer, node_phase, node_color, turn_sig,
                    link_open, link_vmax, link_out_cap, link_credit, lane_count, lane_buf,
                    lane_blk, cross_blk, q_blk,
                    v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos,
                    v_prev, v_speed, v_enter, v_arrive, v_link_enter, v_ver, v_qnext,
                    v_pos_new, v_speed_new, v_tlane, v_nn, v_route, v_route_pos, v_wait,
                    v_tele, v_len, v_gap, v_acc, v_dec, v_vmax, q_head, q_tail, m_next, m_end, route_next, latest_ver, route_links,
                    ltt_sum, ltt_cnt, counters, veh_seconds, teleports, agg_flow, agg_count,
                    agg_speed_sum, agg_queue,
                    par, t0, dt, n_steps, debug):
    """Advance member b by n_steps steps of dt s from time t0; return an error code."""
    theta = (par[P_TAU] - dt) / dt  # fraction of the last step to look back (0 <= theta <= 1)
    for j in range(agg_flow.shape[1]):
        agg_flow[b, j] = 0
    # per call, not per step: the signalized nodes and the links with an outflow limit
    # (plans and limits change only between calls); the steps then cost per vehicle,
    # signal and occupied block of lanes, not per link of the network
    sig_nodes = np.empty(sig_kind.shape[1], np.int64)
    sig_nodes = sig_nodes[:signal_nodes(b, sig_kind, node_phase, node_color, sig_nodes)]
    capped = np.empty(link_len.shape[0], np.int64)
    capped = capped[:capped_links(b, link_out_cap, capped)]
    # the arrays the steps share, grouped (layouts in :mod:`._kcommon`): numba inlines the
    # steps here (inline="always"), which it cannot do for calls of more than 30 arguments,
    # and the steps compiled as functions of their own run 10-20 % slower
    net = (link_to, link_len, link_lane0, link_opposing, link_priority, turn_ptr, turn_to,
           turn_kind, turn_mask, node_in_ptr, node_in_link, cross_order, cross_rank, lane_link,
           lane_slot0, lane_cap, dest_links, turn_len, turn_lane_to)
    sig = (link_phase, node_phase, node_color, turn_sig)
    links = (link_open, link_vmax, link_out_cap, link_credit)
    lanes = (lane_count, lane_buf, lane_blk, cross_blk)
    veh = (v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos, v_prev, v_speed,
           v_enter, v_arrive, v_link_enter, v_ver, v_qnext, v_pos_new, v_speed_new, v_tlane, v_nn)
    queues = (q_head, q_tail, q_blk, m_next, m_end)
    stats = (ltt_sum, ltt_cnt, counters, agg_flow)
    fixed = (v_route, v_route_pos, route_links)
    tele = (v_wait, v_tele, teleports)
    vt = (v_len, v_gap, v_acc, v_dec, v_vmax)
    for step in range(n_steps):
        t = t0 + step * dt
        t_end = t + dt
        veh_seconds[b] += counters[b, C_ACTIVE] * dt
        update_signals(b, t, dt, sig_nodes, sig_kind, sig_cycle, sig_offset, sig_nph,
                       sig_green, sig_yellow, sig_min_green, sig_max_green, sig_gap,
                       act_phase, act_elapsed, act_yellow, act_gap_timer, node_phase,
                       node_color, link_phase, node_in_ptr, node_in_link, link_len,
                       link_lane0, lane_slot0, lane_count, lane_buf, v_pos, par)
        refill_credit(b, capped, link_out_cap, link_credit, dt)
        # ---- phase A: new speeds and positions from the old state
        car_following(b, net, sig, links, lanes, veh, fixed, vt, route_next, par, theta, dt)
        # ---- phase C: node transfers and arrivals, in priority order
        node_transfers(b, net, links, lanes, veh, fixed, tele, vt, route_next, stats, par,
                       theta, dt, t_end)
        # ---- phase E: release departures into entry queues, insert at origins
        release_departures(b, veh, queues, counters, t_end)
        enter_queued(b, net, links, lanes, veh, fixed, vt, queues, route_next, latest_ver,
                     counters, par, theta, t, t_end, dt)
        # ---- phase D: commit, aggregates, debug invariants
        err = _commit(b, link_len, lane_link, lane_slot0, lane_count, lane_buf, lane_blk, v_pos,
                      v_prev, v_speed, v_pos_new, v_speed_new, v_wait, v_len, counters, agg_count,
                      agg_speed_sum, agg_queue, par, dt, step == n_steps - 1, debug)
        if err != ERR_OK:
            return err
    return ERR_OK


@njit(cache=True, parallel=True)
def advance(link_to, link_len, link_lane0, link_opposing, link_priority,
            turn_ptr, turn_to, turn_kind, turn_mask, node_in_ptr, node_in_link,
            cross_order, cross_rank, lane_link, lane_slot0, lane_cap, dest_links,
            turn_len, turn_lane_to,
            link_phase, sig_kind, sig_cycle, sig_offset, sig_nph, sig_green, sig_yellow,
            sig_min_green, sig_max_green, sig_gap, act_phase, act_elapsed, act_yellow,
            act_gap_timer, node_phase, node_color, turn_sig,
            link_open, link_vmax, link_out_cap, link_credit, lane_count, lane_buf, lane_blk,
            cross_blk, q_blk,
            v_dest, v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos,
            v_prev, v_speed, v_enter, v_arrive, v_link_enter, v_ver, v_qnext,
            v_pos_new, v_speed_new, v_tlane, v_nn, v_route, v_route_pos, v_wait, v_tele,
            v_len, v_gap, v_acc, v_dec, v_vmax, q_head, q_tail, m_next, m_end, route_next, latest_ver, route_links,
            ltt_sum, ltt_cnt, counters, veh_seconds, teleports, agg_flow, agg_count,
            agg_speed_sum, agg_queue,
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
        errs[b] = _advance_member(b, link_to, link_len, link_lane0, link_opposing,
                                  link_priority, turn_ptr, turn_to, turn_kind, turn_mask,
                                  node_in_ptr, node_in_link, cross_order, cross_rank,
                                  lane_link, lane_slot0, lane_cap, dest_links, turn_len,
                                  turn_lane_to, link_phase,
                                  sig_kind, sig_cycle, sig_offset, sig_nph, sig_green,
                                  sig_yellow, sig_min_green, sig_max_green, sig_gap, act_phase,
                                  act_elapsed, act_yellow, act_gap_timer, node_phase,
                                  node_color, turn_sig, link_open, link_vmax, link_out_cap, link_credit,
                                  lane_count, lane_buf, lane_blk, cross_blk, q_blk, v_dest,
                                  v_orig, v_depart, v_status, v_link, v_lane, v_next, v_pos,
                                  v_prev, v_speed, v_enter, v_arrive, v_link_enter, v_ver,
                                  v_qnext, v_pos_new, v_speed_new, v_tlane, v_nn, v_route,
                                  v_route_pos, v_wait, v_tele, v_len, v_gap, v_acc, v_dec,
                                  v_vmax, q_head, q_tail, m_next, m_end,
                                  route_next, latest_ver, route_links, ltt_sum,
                                  ltt_cnt, counters, veh_seconds, teleports, agg_flow,
                                  agg_count, agg_speed_sum, agg_queue, par, t0, dt, n_steps,
                                  debug)
    for b in range(n_members):
        if errs[b] != 0:
            return errs[b]
    return ERR_OK


def _cache_on_sources(dispatchers, modules):
    """Key numba's on-disk cache of ``dispatchers`` and of every compiled function of
    ``modules`` on the source of ``modules`` as well.

    numba keys a cached function on its own file only, but the kernel inlines and links the
    steps of the modules next to it, and they use each other's helpers and constants (a
    compiled function freezes the globals it reads, e.g. ``BLOCK``): without this, editing one
    of them would leave cached code running the old version. (numba's cache class is private
    API: if it changes, the default cache stays.)
    """
    try:
        from numba.core.caching import FunctionCache
        from numba.core.registry import CPUDispatcher

        dispatchers = list(dispatchers) + [
            d for m in modules for d in vars(m).values()
            if isinstance(d, CPUDispatcher) and d.py_func.__module__ == m.__name__
            and d._cache.__class__ is FunctionCache]

        digest = hashlib.sha256(b"".join(Path(m.__file__).read_bytes()
                                         for m in modules)).hexdigest()

        class _SourceCache(FunctionCache):
            def _index_key(self, sig, codegen):
                return super()._index_key(sig, codegen) + (digest,)

        for d in dispatchers:
            d._cache = _SourceCache(d.py_func)
    except Exception:  # pragma: no cover  (a numba without this API: keep its default)
        pass


_cache_on_sources((advance, _advance_member), (_kcommon, _kentry, _kfollow, _kteleport,
                                              _ktransfer, consts, signals,
                                              sys.modules[__name__]))
