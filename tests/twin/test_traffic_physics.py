"""Physics of the traffic kernel: capacity, LWR wave speed, no overlap, conservation."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.kernels import traffic as tr

T_GREEN = 500.0  # red until then at the corridor signal (queue of ~190 vehicles)


def corridor(lanes=1, length=3000.0, speed=13.9):
    """Origin link 0 (long, signal at its end), then links 1 and 2; one lane each."""
    xy = np.array([[0.0, 0.0], [length, 0.0], [length + 500, 0.0], [length + 1000, 0.0]])
    lf, lt = np.array([0, 1, 2]), np.array([1, 2, 3])
    n_nodes, n_links = 4, 3
    plan = tr.SignalPlan.none(n_nodes, n_links)
    plan.kind[1] = 1
    plan.green = np.zeros((n_nodes, 2))
    plan.yellow = np.zeros((n_nodes, 2))
    plan.min_green = np.zeros((n_nodes, 2))
    plan.max_green = np.zeros((n_nodes, 2))
    plan.green[1] = [T_GREEN, 1e5]   # phase 0 serves nobody: red for link 0 until T_GREEN
    plan.n_phases[1] = 2
    plan.cycle[1] = T_GREEN + 1e5
    plan.link_phase[0] = 1
    return tr.Network(xy, lf, lt, [length, 500.0, 500.0], [lanes] * 3, [speed] * 3,
                      signals=plan)


@pytest.fixture(scope="module")
def discharge():
    """Queue on a single lane held by a red light, then released; per-step positions."""
    net = corridor()
    n = 700
    trips = tr.Trips(np.arange(n) * 1.0, np.zeros(n, int), np.full(n, 2))
    # Newell's triangular diagram is the model without Krauss' dawdling (sigma = 0)
    params = tr.TrafficParams(debug=True, sigma=0.0)
    state = tr.init_state(net, trips, params)
    pos, link, flow = [], [], []

    def record(s, stats):
        pos.append(s.v_pos.copy())
        link.append(s.v_link.copy())
        flow.append(stats.flow[0, 0])

    tr.run(net, trips, params, until=T_GREEN + 400, on_step=record, state=state,
           stop_when_done=False)
    return net, params, np.array(pos), np.array(link), np.array(flow)


def test_capacity_single_lane(discharge):
    net, params, pos, link, flow = discharge
    # saturated discharge from the queue; skip the first 20 s (start-up)
    t0 = int(T_GREEN) + 20
    q = flow[t0:t0 + 120].sum() / 120.0 * 3600.0
    fd = tr.fundamental_diagram(params, 13.9)
    assert 1800.0 <= q <= 2200.0
    assert q == pytest.approx(fd["capacity"] * 3600.0, rel=0.03)


def test_discharge_wave_speed_matches_lwr(discharge):
    net, params, pos, link, flow = discharge
    k = int(T_GREEN) - 1           # row k holds positions at the end of step k (t = k + 1)
    standing = (link[k] == 0) & (np.abs(pos[k] - pos[k - 5]) < 1e-9) & (pos[k] > 0)
    idx = np.flatnonzero(standing)
    idx = idx[np.argsort(-pos[k, idx])]          # front of the queue first
    assert idx.size > 100
    x0 = pos[k, idx]
    # the fundamental diagram measured numerically: jam density from the standing queue,
    # capacity from the discharge flow, critical density = capacity / free speed
    k_jam = 1.0 / np.mean(-np.diff(x0))
    t0 = int(T_GREEN) + 20
    q_c = flow[t0:t0 + 120].sum() / 120.0
    k_c = q_c / 13.9
    w_lwr = q_c / (k_jam - k_c)
    # measured: when each queued vehicle starts to move (more than 0.5 m)
    moved = pos[k + 1:, idx] - x0[None, :] > 0.5
    t_start = np.argmax(moved, axis=0).astype(float)
    sel = slice(5, 100)
    slope = np.polyfit(x0[sel], t_start[sel], 1)[0]   # s per m, negative
    w = -1.0 / slope
    assert w == pytest.approx(w_lwr, rel=0.10)
    assert w_lwr == pytest.approx(tr.fundamental_diagram(params, 13.9)["wave_speed"], rel=0.05)


def test_red_light_holds_and_nobody_overlaps(discharge):
    net, params, pos, link, flow = discharge
    on0 = link[: int(T_GREEN) - 1] == 0
    assert np.all(pos[: int(T_GREEN) - 1][on0] <= 3000.0 + 1e-9)
    assert flow[: int(T_GREEN)].sum() == 0


@st.composite
def small_case(draw):
    nx = draw(st.integers(2, 3))
    ny = draw(st.integers(1, 3))
    spacing = draw(st.floats(40.0, 250.0))
    xy = np.array([(i * spacing, j * spacing) for i in range(nx) for j in range(ny)])
    pairs = []
    for i in range(nx):
        for j in range(ny):
            a = i * ny + j
            if i + 1 < nx:
                pairs += [(a, a + ny), (a + ny, a)]
            if j + 1 < ny:
                pairs += [(a, a + 1), (a + 1, a)]
    lf = np.array([p[0] for p in pairs])
    lt = np.array([p[1] for p in pairs])
    n_links = len(pairs)
    lanes = np.array(draw(st.lists(st.integers(1, 3), min_size=n_links, max_size=n_links)))
    speed = np.array(draw(st.lists(st.floats(5.0, 20.0), min_size=n_links,
                                   max_size=n_links)))
    length = spacing * np.array(draw(st.lists(st.floats(1.0, 1.5), min_size=n_links,
                                              max_size=n_links)))
    signalized = np.array(draw(st.lists(st.booleans(), min_size=len(xy), max_size=len(xy))))
    actuated = draw(st.booleans())
    plan = tr.two_phase_plan(xy, lf, lt, np.flatnonzero(signalized),
                             green=draw(st.floats(5.0, 40.0)), actuated=actuated)
    net = tr.Network(xy, lf, lt, length, lanes, speed, signals=plan, allow_uturns=True)
    n = draw(st.integers(1, 150))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    trips = tr.Trips(rng.uniform(0, 200, n), rng.integers(0, n_links, n),
                     rng.integers(0, n_links, n))
    return net, trips, seed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_case(), st.sampled_from([0.0, 0.5]))
def test_invariants_on_random_networks(case, share):
    net, trips, seed = case
    params = tr.TrafficParams(debug=True, reroute_period=30.0, reroute_share=share)
    state = tr.init_state(net, trips, params, seed=seed)
    prev_pos = state.v_pos.copy()
    prev_link = state.v_link.copy()
    for t in range(400):
        tr.step(net, state, float(t))     # debug mode raises on overlap / backwards / count
        c = tr.counts(state)
        assert c["released"][0] == c["waiting"][0] + c["in_network"][0] + c["arrived"][0]
        same = (state.v_link == prev_link) & (state.v_status == 2)
        assert np.all(state.v_pos[same] >= prev_pos[same] - 1e-9)
        prev_pos, prev_link = state.v_pos.copy(), state.v_link.copy()
    pos = tr.vehicle_positions(net, state)
    # within each lane, vehicles keep at least a vehicle length between fronts
    key = np.lexsort((-pos["offset"], pos["lane"], pos["link"]))
    same_lane = (np.diff(pos["link"][key]) == 0) & (np.diff(pos["lane"][key]) == 0)
    gaps = -np.diff(pos["offset"][key])[same_lane]
    assert np.all(gaps >= params.vehicle_length - 1e-6)
    assert np.all(pos["offset"] <= net.link_length[pos["link"]] + 1e-9)
