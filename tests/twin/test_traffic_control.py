"""Behaviour of the traffic kernel: determinism, batching, closures, signals, input errors."""

import numpy as np
import pytest

from twin.kernels import traffic as tr
from twin.kernels.traffic.grid import grid, grid_trips


@pytest.fixture(scope="module")
def g4():
    return grid(4)


def _trips(g, n, seed, t_demand=600.0):
    t, o, d, _, _ = grid_trips(g, n, seed, t_demand)
    return tr.Trips(t, o, d)


def test_same_seed_gives_identical_arrays(g4):
    params = tr.TrafficParams(reroute_period=60.0, reroute_share=0.3)
    trips = _trips(g4, 1500, 1)
    a = tr.run(g4.net, trips, params, until=900.0, seed=7, stop_when_done=False).state
    b = tr.run(g4.net, trips, params, until=900.0, seed=7, stop_when_done=False).state
    for name in ("v_pos", "v_speed", "v_link", "v_lane", "v_arrive", "v_ver", "agg_queue",
                 "lane_buf", "route_next"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    c = tr.run(g4.net, trips, params, until=900.0, seed=8, stop_when_done=False).state
    assert not np.array_equal(a.v_ver, c.v_ver)  # another seed re-routes other drivers


def test_batch_equals_single_runs(g4):
    params = tr.TrafficParams(reroute_period=60.0, reroute_share=0.5, debug=True)
    parts = [_trips(g4, 800 + 100 * k, seed=k) for k in range(4)]
    seeds = [11, 12, 13, 14]
    batch = tr.run(g4.net, tr.Trips.concat(parts), params, until=1500.0, seed=seeds,
                   stop_when_done=False)
    bt = batch.trips
    for k in range(4):
        single = tr.run(g4.net, parts[k], params, until=1500.0, seed=seeds[k],
                        stop_when_done=False)
        sel = bt["member"] == k
        for key in ("trip_id", "arrival", "travel_time", "enter"):
            np.testing.assert_array_equal(bt[key][sel], single.trips[key], err_msg=key)
        assert batch.veh_seconds[k] == single.veh_seconds[0]
        np.testing.assert_array_equal(batch.state.agg_queue[k], single.state.agg_queue[0])
        np.testing.assert_array_equal(batch.state.v_pos[batch.state.v_member == k],
                                      single.state.v_pos)


def test_conservation_and_entry_queue_never_loses_vehicles():
    # 300 vehicles want to enter one link at once: they wait in the entry queue
    xy = np.array([[0.0, 0.0], [200.0, 0.0], [400.0, 0.0]])
    net = tr.Network(xy, [0, 1], [1, 2], [200.0, 200.0], [1, 1], [13.9, 13.9])
    n = 300
    trips = tr.Trips(np.zeros(n), np.zeros(n, int), np.ones(n, int))
    params = tr.TrafficParams(debug=True)
    state = tr.init_state(net, trips, params)
    tr.step(net, state, 0.0)
    c = tr.counts(state)
    assert c["released"][0] == n and n - 3 <= c["waiting"][0] < n
    res = tr.run(net, trips, params, until=2000.0, state=state)
    assert res.counts["arrived"][0] == n
    # the entry queue is served first in, first out at the link's capacity
    done = res.trips
    assert np.all(np.diff(done["enter"][np.argsort(done["trip_id"])]) >= 0)
    rate = n / (done["enter"].max() - done["enter"].min())
    assert rate == pytest.approx(tr.fundamental_diagram(params, 13.9)["capacity"], rel=0.15)


def two_routes():
    """0 -> 3 either via node 1 (short, 600 m) or via node 2 (long, 900 m)."""
    xy = np.array([[0.0, 0.0], [300.0, 0.0], [300.0, 300.0], [600.0, 0.0], [900.0, 0.0],
                   [-300.0, 0.0]])
    lf = [5, 0, 1, 0, 2, 3]
    lt = [0, 1, 3, 2, 3, 4]
    length = [300.0, 300.0, 300.0, 450.0, 450.0, 300.0]
    return tr.Network(xy, lf, lt, length, [1] * 6, [13.9] * 6)


def test_closure_reroutes_traffic():
    net = two_routes()
    n = 200
    trips = tr.Trips(np.arange(n) * 3.0, np.zeros(n, int), np.full(n, 5))
    params = tr.TrafficParams(debug=True)
    state = tr.init_state(net, trips, params)
    flows = []
    for t in range(1200):
        if t == 200:
            tr.close_link(net, state, 1)
        if t == 400:
            tr.open_link(net, state, 1)
        flows.append(tr.step(net, state, float(t)).flow[0].copy())
    flows = np.array(flows)
    assert flows[:200, 3].sum() == 0 and flows[:200, 1].sum() > 0   # short route first
    # after the closure (and once the vehicles already on it have left) nobody enters link 1
    assert flows[260:400, 2].sum() == 0
    assert flows[230:420, 4].sum() > 30                             # detour used
    assert flows[600:, 4].sum() == 0 and flows[450:, 2].sum() > 0   # back after reopening
    assert tr.counts(state)["arrived"][0] == n


def test_capacity_drop_and_congestion_rerouting():
    net = two_routes()
    n = 900
    trips = tr.Trips(np.arange(n) * 1.2, np.zeros(n, int), np.full(n, 5))
    base = tr.TrafficParams(reroute_period=60.0, reroute_share=1.0)
    free = tr.run(net, trips, base, until=3000.0)
    detour = np.zeros(1, int)

    def count(state, stats):
        detour[0] += stats.flow[0, 3]

    state = tr.init_state(net, trips, base, seed=3)
    tr.set_link_capacity(net, state, 1, 0.25)       # e.g. an incident on the short route
    dropped = tr.run(net, trips, base, until=4000.0, state=state, on_step=count)
    assert dropped.counts["arrived"][0] == n
    assert detour[0] > 100                          # travel times pushed drivers to the detour
    assert dropped.trips["travel_time"].mean() > free.trips["travel_time"].mean()
    static = tr.TrafficParams()                     # no re-routing: all queue at the drop
    state = tr.init_state(net, trips, static)
    tr.set_link_capacity(net, state, 1, 0.25)
    stuck = tr.run(net, trips, static, until=8000.0, state=state)
    assert stuck.trips["travel_time"].mean() > 2 * dropped.trips["travel_time"].mean()


def cross(actuated, gap=3.0):
    """One signalized node with a west and a south approach (300 m each)."""
    xy = np.array([[0.0, 0.0], [-300.0, 0.0], [300.0, 0.0], [0.0, -300.0], [0.0, 300.0]])
    lf, lt = [1, 0, 3, 0], [0, 2, 0, 4]
    plan = tr.two_phase_plan(xy, lf, lt, [0], green=30.0, yellow=3.0, actuated=actuated,
                             min_green=5.0, max_green=40.0, gap=gap)
    return tr.Network(xy, lf, lt, [300.0] * 4, [1] * 4, [13.9] * 4, signals=plan)


def _phase_trace(net, trips, until):
    params = tr.TrafficParams(debug=True)
    state = tr.init_state(net, trips, params)
    trace, qmax = [], 0.0
    for t in range(int(until)):
        s = tr.step(net, state, float(t))
        trace.append((state.node_phase[0, 0], state.node_color[0, 0]))
        if t > 60:
            qmax = max(qmax, s.queue_length[0, 0])
    return np.array(trace), qmax, state


def test_actuated_rests_in_green_without_conflicting_demand():
    n = 100
    trips = tr.Trips(np.arange(n) * 6.0, np.zeros(n, int), np.ones(n, int))  # W -> E only
    trace, qmax, state = _phase_trace(cross(True), trips, 700)
    assert np.all(trace[60:, 0] == 1)          # east-west green from then on, no cycling
    assert qmax == 0.0                         # nobody waits at the stop line
    trace_f, qmax_f, _ = _phase_trace(cross(False), trips, 700)
    assert qmax_f > 20.0                       # fixed time makes them queue


def test_actuated_gaps_out_short_phase():
    # heavy east-west, one north-bound vehicle a minute: north-south greens gap out early
    n_ew, n_ns = 300, 10
    depart = np.concatenate([np.arange(n_ew) * 2.0, 30.0 + np.arange(n_ns) * 60.0])
    orig = np.concatenate([np.zeros(n_ew, int), np.full(n_ns, 2)])
    dest = np.concatenate([np.ones(n_ew, int), np.full(n_ns, 3)])
    net = cross(True)
    trace, _, state = _phase_trace(net, tr.Trips(depart, orig, dest), 700)
    ns_green = (trace[:, 0] == 0) & (trace[:, 1] == 2)
    starts = np.flatnonzero(np.diff(ns_green.astype(int)) == 1) + 1
    ends = np.flatnonzero(np.diff(ns_green.astype(int)) == -1) + 1
    lengths = ends[: len(starts)] - starts[: len(ends)]
    assert len(lengths) >= 5
    assert lengths.max() < 15                  # min green 5 s + gap 3 s + travel, not 40 s
    for t in range(700, 900):  # the east-west queue left at 700 s (near capacity) clears
        tr.step(net, state, float(t))
    assert tr.counts(state)["arrived"][0] == n_ew + n_ns


def test_fixed_time_plan_and_runtime_change():
    net = cross(False)
    trips = tr.Trips([0.0], [0], [1])
    state = tr.init_state(net, trips, tr.TrafficParams())
    colors = []
    for t in range(66):                        # cycle 2 x (30 + 3) s
        tr.step(net, state, float(t))
        colors.append((state.node_phase[0, 0], state.node_color[0, 0]))
    colors = np.array(colors)
    assert np.sum((colors[:, 0] == 0) & (colors[:, 1] == 2)) == 30
    assert np.sum((colors[:, 0] == 1) & (colors[:, 1] == 1)) == 3
    tr.set_signal_plan(net, state, 0, green=[10.0, 50.0], offset=5.0)
    assert state.sig_cycle[0, 0] == 66.0
    colors = []
    for t in range(66, 66 + 66):
        tr.step(net, state, float(t))
        colors.append((state.node_phase[0, 0], state.node_color[0, 0]))
    colors = np.array(colors)
    assert np.sum((colors[:, 0] == 1) & (colors[:, 1] == 2)) == 50


def test_bad_input_raises_typed_errors():
    xy = np.zeros((2, 2))
    xy[1, 0] = 100.0
    with pytest.raises(tr.NetworkError, match="link 0"):
        tr.Network(xy, [0], [5], [100.0], [1], [10.0])
    with pytest.raises(tr.NetworkError, match="length"):
        tr.Network(xy, [0], [1], [-1.0], [1], [10.0])
    with pytest.raises(tr.NetworkError, match="free speed"):
        tr.Network(xy, [0], [1], [100.0], [1], [np.nan])
    net = tr.Network(xy, [0], [1], [100.0], [1], [10.0])
    with pytest.raises(tr.TripError, match="trip 0"):
        tr.init_state(net, tr.Trips([0.0], [3], [0]))
    with pytest.raises(tr.TripError, match="departure"):
        tr.Trips([np.nan], [0], [0])
    with pytest.raises(tr.TrafficError, match="headway"):
        tr.advance(net, tr.init_state(net, tr.Trips([0.0], [0], [0])), 1, dt=0.5)
