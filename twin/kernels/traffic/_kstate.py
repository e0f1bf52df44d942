"""Initial state arrays of the traffic kernel (see :func:`.api.init_state`).

All mutable arrays of a simulation except the route tables (:func:`.routing.init_tables`
adds those): the network's static arrays, signal plans and controller state, links and lanes
per member, vehicles in internal order (by member, then departure), entry queues, statistics.
"""

from __future__ import annotations

import numpy as np

from ._kcommon import BLOCK
from .consts import FREE, N_COUNTERS
from .network import TrafficError, TripError


def state_arrays(net, trips, params, n_members: int | None = None) -> dict:
    """Return the arrays of the initial state for ``trips`` on ``net`` (dict, by name).

    Raises TrafficError for unusable parameters, TripError for trips inconsistent with the
    network or the number of members.
    """
    dt_ok = params.headway > 0 and params.vehicle_length > 0 and params.min_gap >= 0
    if not dt_ok:
        raise TrafficError("params: headway and vehicle_length must be > 0, min_gap >= 0")
    if not 0.0 <= params.sigma <= 1.0:
        raise TrafficError(f"params: sigma must be in 0..1, got {params.sigma}")
    n_links = net.n_links
    for name in ("origin", "destination"):
        a = getattr(trips, name)
        if a.size and (a.min() < 0 or a.max() >= n_links):
            bad = trips.trip_id[(a < 0) | (a >= n_links)][0]
            raise TripError(f"trips: trip {bad} has {name} link outside 0..{n_links - 1}")
    B = int(n_members if n_members is not None else (trips.member.max() + 1 if trips.depart.size
                                                     else 1))
    if trips.depart.size and trips.member.max() >= B:
        raise TripError(f"trips: member index {trips.member.max()} >= n_members={B}")
    n = trips.depart.size
    order = np.lexsort((np.arange(n), trips.depart, trips.member))
    member = trips.member[order]
    dest_links, dest_idx = np.unique(trips.destination[order], return_inverse=True)
    m_start = np.searchsorted(member, np.arange(B + 1))
    a = {}
    for name in net.kernel_arrays:
        a[name] = net.kernel_arrays[name]
    # vehicle types (``trips.vehicle``; NaN: the params' values): length, min gap (m),
    # accel, decel (m/s^2), max speed (m/s), per vehicle in internal order
    vt = np.array([params.vehicle_length, params.min_gap, params.max_accel,
                   params.comfort_decel, np.inf])
    vt = np.broadcast_to(vt, (n, 5)).copy()
    if getattr(trips, "vehicle", None) is not None:
        given = trips.vehicle[order]
        vt = np.where(np.isnan(given), vt, given)
    for k, name in enumerate(("v_len", "v_gap", "v_acc", "v_dec", "v_vmax")):
        a[name] = np.ascontiguousarray(vt[:, k])
    # room for the link and the junction paths into it (vehicles there have positions < 0)
    room = (net.link_length + net.link_in_len)[net.lane_link]
    shortest = min(params.vehicle_length, float(vt[:, 0].min(initial=np.inf)))
    lane_cap = (np.floor(room / shortest) + 2).astype(np.int64)
    a["lane_cap"] = lane_cap
    a["lane_slot0"] = np.concatenate([[0], np.cumsum(lane_cap)]).astype(np.int64)
    a["dest_links"] = dest_links.astype(np.int64)
    sig = net.signals.broadcast(B)
    a.update(sig)
    nn = net.n_nodes
    a["act_phase"] = np.zeros((B, nn), np.int64)
    a["act_elapsed"] = np.zeros((B, nn))
    a["act_yellow"] = np.zeros((B, nn), np.uint8)
    a["act_gap_timer"] = np.zeros((B, nn))
    a["node_phase"] = np.full((B, nn), -1, np.int64)
    a["node_color"] = np.full((B, nn), FREE, np.int64)
    a["link_open"] = np.ones((B, n_links), np.uint8)
    a["link_vmax"] = np.broadcast_to(net.link_free_speed, (B, n_links)).copy()
    a["link_out_cap"] = np.full((B, n_links), np.inf)
    a["link_credit"] = np.zeros((B, n_links))
    a["lane_count"] = np.zeros((B, net.n_lanes), np.int64)
    a["lane_buf"] = np.full((B, int(a["lane_slot0"][-1])), -1, np.int64)
    # vehicles per block of lanes (index and stop-line order) and queued per block of links
    n_blk = -(-net.n_lanes // BLOCK)
    a["lane_blk"] = np.zeros((B, n_blk), np.int64)
    a["cross_blk"] = np.zeros((B, n_blk), np.int64)
    a["q_blk"] = np.zeros((B, -(-n_links // BLOCK)), np.int64)
    a["v_dest"] = dest_idx.astype(np.int64)
    a["v_orig"] = trips.origin[order].copy()
    a["v_member"] = member
    a["v_trip_id"] = trips.trip_id[order]
    a["v_depart"] = trips.depart[order].copy()
    a["v_status"] = np.zeros(n, np.int64)
    for name in ("v_link", "v_lane", "v_next", "v_qnext", "v_tlane", "v_nn"):
        a[name] = np.full(n, -1, np.int64)
    a["v_ver"] = np.zeros(n, np.int64)
    # fixed routes (:mod:`._kcommon`): the trips' given routes (dropped when the driver
    # re-routes: those before ``route_soft`` in ``route_links``); add_trips may add more
    a["v_route"] = np.full(n, -1, np.int64)
    a["v_route_pos"] = np.zeros(n, np.int64)
    a["route_links"] = np.zeros(0, np.int64)
    if trips.route is not None:
        from .insert import fixed_routes

        flat, start = fixed_routes(net, [trips.route[i] for i in order], a["v_orig"],
                                   trips.destination[order], a["v_trip_id"], "trips")
        a["v_route"] = start
        a["route_links"] = flat
    a["route_soft"] = np.array([a["route_links"].size], np.int64)
    # deadlocks (:mod:`._kteleport`): s stood still, teleports per vehicle and per member
    a["v_wait"] = np.zeros(n)
    a["v_tele"] = np.zeros(n, np.int64)
    a["teleports"] = np.zeros(B, np.int64)
    for name in ("v_pos", "v_prev", "v_speed", "v_pos_new", "v_speed_new", "v_link_enter"):
        a[name] = np.zeros(n)
    a["v_enter"] = np.full(n, np.nan)
    a["v_arrive"] = np.full(n, np.nan)
    a["q_head"] = np.full((B, n_links), -1, np.int64)
    a["q_tail"] = np.full((B, n_links), -1, np.int64)
    a["m_next"] = m_start[:-1].astype(np.int64).copy()
    a["m_end"] = m_start[1:].astype(np.int64).copy()
    a["m_start"] = m_start[:-1].astype(np.int64).copy()
    a["ltt_sum"] = np.zeros((B, n_links))
    a["ltt_cnt"] = np.zeros((B, n_links), np.int64)
    a["counters"] = np.zeros((B, N_COUNTERS), np.int64)
    a["veh_seconds"] = np.zeros(B)
    a["agg_flow"] = np.zeros((B, n_links), np.int32)
    a["agg_count"] = np.zeros((B, n_links), np.int32)
    a["agg_speed_sum"] = np.zeros((B, n_links))
    a["agg_queue"] = np.zeros((B, n_links))
    a["link_cost"] = np.broadcast_to(net.free_time, (B, n_links)).copy()
    a["par"] = params.vector()
    return a
