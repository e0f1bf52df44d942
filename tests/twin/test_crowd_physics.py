"""Crowd kernel physics against published figures and data: free walking speed in a corridor,
bottleneck capacity (Weidmann 1993's maximum specific flow), the single-file fundamental
diagram data (RiMEA test 16), and the RiMEA tests that apply to a mesoscopic network model.

Which RiMEA tests apply (``../shared/validation/evacuation/RIMEA_TESTS.md``): the model moves
people along walkway links with a speed from the link's density and link capacities; it has
no 2D space inside a link. It applies to test 1 (corridor speed), 4 (fundamental diagram),
5 (pre-movement times), 9 (room with four / two exits: a capacity effect), 10 (assigned
routes: each goes to its assigned destination), 12 (bottlenecks in series: no jam at the
second, flow grows with width) and 16 (1D fundamental diagram). Not applicable: 2, 3, 13
(stairs: the street walkways have none; no stair links), 6 and 15 (walls and corners: a
corner is a node, lengths are along the links), 7 (one free speed for all, no demographic
draws), 8 and 14 (documentation only). Test 11 (route switching under congestion, with
``reroute=True``) is in ``test_crowd_rimea11.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.kernels.crowd import CrowdError, CrowdSim, WalkNet, Weidmann, routes_to
from twin.kernels.crowd.sim import ARRIVED, WALKING

V0 = 1.34                 # m/s, Weidmann's free speed (RiMEA test 1 uses 1.33)
JMAX_WEIDMANN = 1.225     # P/(m·s), Weidmann (1993): maximum specific flow, at 1.75 P/m²
RHO_C_WEIDMANN = 1.75
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "validation" / "evacuation"


def chain(lengths, widths) -> WalkNet:
    """Links in a row along x: node i at the start of link i."""
    lengths = np.asarray(lengths, float)
    x = np.r_[0.0, np.cumsum(lengths)]
    n = lengths.size
    return WalkNet(np.arange(n), np.arange(1, n + 1), lengths, np.broadcast_to(widths, (n,)),
                   np.c_[x, np.zeros(n + 1)], np.array([f"l{i}" for i in range(n)]),
                   np.array([f"n{i}" for i in range(n + 1)]))


def place(sim: CrowdSim, link, pos, head):
    """Put people on links (walking, already out of the door)."""
    sim.status[:] = WALKING
    sim.link[:], sim.pos[:], sim.head[:] = link, pos, head
    sim.entered[:] = 0.0


def run_until_done(sim, t_max=3000.0, gate_link=None):
    """Step until everyone arrived; return the times each entered ``gate_link``."""
    passed = np.full(sim.start.size, np.nan)
    while sim.t < t_max and (sim.status != ARRIVED).any():
        sim.step(sim.dt)
        if gate_link is not None:
            m = np.isnan(passed) & ((sim.link >= gate_link) | (sim.status == ARRIVED))
            passed[m] = sim.t
    return passed


def room_bottleneck(width, n=200, room=10.0, seed=0, dt=0.25):
    """A room (room × room m), a 1 m long bottleneck of ``width``, a wide exit area."""
    net = chain([room, 1.0, 4.0], [room, width, 8.0])
    nxt, _ = routes_to(net, [3])
    sim = CrowdSim(net, np.zeros(n, int), 0.0, 0, nxt, [3], dt=dt)
    rng = np.random.default_rng(seed)
    place(sim, 0, rng.uniform(0, room, n), 1)
    return sim


# ---- free walking speed ----------------------------------------------------------------------
def test_rimea_1_corridor_single_person_walks_at_free_speed():
    net = chain(np.full(20, 2.0), 2.0)          # 2 m × 40 m corridor, 2 m cells
    nxt, _ = routes_to(net, [20])
    sim = CrowdSim(net, [0], [0.0], [0], nxt, [20], dt=0.5)
    sim.advance(60.0)
    t = sim.arrive[0]
    assert 26.0 <= t <= 34.0                     # RiMEA test 1
    assert abs(40.0 / t - V0) < 0.005            # the free speed, m/s


def test_corridor_low_density_reaches_free_speed():
    # 10 people 4 m apart in a 2 m wide corridor (0.125 P/m²): free walking
    net = chain(np.full(50, 2.0), 2.0)
    nxt, _ = routes_to(net, [50])
    sim = CrowdSim(net, np.zeros(10, int), 0.0, 0, nxt, [50], dt=0.25)
    x = np.arange(10) * 4.0 + 1.0
    place(sim, (x // 2).astype(int), x % 2, (x // 2).astype(int) + 1)
    run_until_done(sim)
    speed = (100.0 - x) / sim.arrive
    assert speed.min() > 0.99 * V0 and speed.max() <= V0 + 1e-9


# ---- bottleneck capacity -------------------------------------------------------------------
@pytest.mark.parametrize("width", [0.8, 1.2, 2.0, 3.0])
def test_bottleneck_flow_is_width_times_weidmann_capacity(width):
    sim = room_bottleneck(width)
    passed = run_until_done(sim, gate_link=2)
    p = np.sort(passed)
    i, j = 20, 180                                # the 10 %…90 % passages
    flow = (j - i) / (p[j] - p[i])                # P/s
    assert flow / width == pytest.approx(JMAX_WEIDMANN, rel=0.03)


def test_weidmann_maximum_matches_the_published_figures():
    rc, jm = Weidmann().critical()
    assert rc == pytest.approx(RHO_C_WEIDMANN, abs=0.02)
    assert jm == pytest.approx(JMAX_WEIDMANN, abs=0.005)


# ---- the fundamental diagram on a ring (RiMEA 4 and 16) --------------------------------------
def ring_speed(density_per_m2, width, circumference=30.0, cells=15, t_end=120.0, warm=20.0):
    """Mean walking speed (m/s) of people on a closed ring at a given 2D density."""
    n_links = cells
    L = circumference / n_links
    a = np.arange(n_links)
    ang = 2 * np.pi * np.arange(n_links) / n_links
    net = WalkNet(a, (a + 1) % n_links, np.full(n_links, L), np.full(n_links, width),
                  np.c_[np.cos(ang), np.sin(ang)] * circumference / (2 * np.pi),
                  a.astype(str), a.astype(str))
    nxt = ((a + 1) % n_links)[None, :]           # always onwards; never arrives
    P = int(round(density_per_m2 * circumference * width))
    sim = CrowdSim(net, np.zeros(P, int), 0.0, 0, nxt, [-1], dt=0.1)
    s = (np.arange(P) + 0.5) * circumference / P
    place(sim, (s // L).astype(int), s % L, ((s // L).astype(int) + 1) % n_links)
    sim.advance(warm)
    x0 = sim.link * L + sim.pos + 0.0
    laps0 = np.zeros(P)
    prev = sim.link.copy()
    while sim.t < t_end - 1e-9:
        sim.step(sim.dt)
        laps0 += (sim.link < prev)               # wrapped past node 0
        prev = sim.link.copy()
    x1 = sim.link * L + sim.pos + laps0 * circumference
    return float(np.mean(x1 - x0) / (t_end - warm)), P


def test_rimea_4_fundamental_diagram():
    rho = np.array([0.5, 1.0, 2.0, 3.0, 4.0, 5.0])
    v = np.array([ring_speed(r, 4.0, circumference=60.0, cells=10)[0] for r in rho])
    assert (np.diff(v) < 0).all()                              # speed falls with density
    # Weidmann's curve at these densities (v0 1.34, ρmax 5.4, γ 1.913; RiMEA's values)
    ref = 1.34 * (1 - np.exp(-1.913 * (1 / rho - 1 / 5.4)))
    assert np.abs(v - ref).max() < 0.05


@pytest.fixture(scope="module")
def single_file():
    d = DATA / "single_file_fd"
    files = sorted(d.glob("*_all.txt")) if d.is_dir() else []
    if not files:
        pytest.skip(f"single-file data not found under {d}")
    return np.concatenate([np.loadtxt(f) for f in files])


def test_rimea_16_single_file_inside_the_empirical_envelope(single_file):
    """A ring 40 m round of four 10 m links, one lane 0.6 m wide (Fruin 1971's
    body-ellipse width, 0.61 m), at the line densities of the data: the simulated speed lies between the 10 % and 90 % quantiles of
    the measured speeds in each density bin (0.25 P/m wide)."""
    width = 0.6
    D = single_file
    for rho_line in (0.625, 0.875, 1.125, 1.375, 1.625, 1.875, 2.125, 2.375):
        v, _ = ring_speed(rho_line / width, width, circumference=40.0, cells=4)
        m = np.abs(D[:, 0] - rho_line) < 0.125
        lo, hi = np.quantile(D[m, 1], [0.1, 0.9])
        assert lo <= v <= hi, (rho_line, lo, v, hi)


# ---- RiMEA 5, 9, 12 --------------------------------------------------------------------------
def test_rimea_5_each_starts_at_its_premovement_time():
    rng = np.random.default_rng(5)
    pre = rng.uniform(10.0, 100.0, 10)
    net = chain([8.0, 1.0], [5.0, 1.0])
    nxt, _ = routes_to(net, [2])
    sim = CrowdSim(net, np.zeros(10, int), pre, 0, nxt, [2], dt=0.5)
    sim.advance(30.0)
    assert ((sim.status == WALKING) | (sim.status == ARRIVED)).sum() == (pre < 30.0).sum()
    sim.advance(200.0)
    assert np.allclose(sim.entered, pre)
    assert (sim.status == ARRIVED).all()


def room_exits(n_exits, n=1000, seed=9):
    """RiMEA 9: a 30 m × 20 m room as four quadrant links (15 m × 10 m) from the centre to
    a 1 m door each. Each person heads for the nearest open door; people of a closed door's
    quadrant walk through the centre to an open one (ties split evenly: routes are static,
    the choice of exit is the person's)."""
    hub, doors = 0, np.arange(1, 5)
    outs = 5 + np.arange(n_exits)
    a = np.r_[np.zeros(4, int), doors[:n_exits]]
    b = np.r_[doors, outs]
    length = np.r_[np.full(4, 15.0), np.full(n_exits, 0.5)]
    width = np.r_[np.full(4, 10.0), np.full(n_exits, 1.0)]
    xy = np.array([[0, 0], [15, 0], [-15, 0], [0, 10], [0, -10], [16, 0], [-16, 0],
                   [0, 11], [0, -11]], float)[:5 + n_exits]
    net = WalkNet(a, b, length, width, xy, np.arange(a.size).astype(str),
                  np.arange(xy.shape[0]).astype(str))
    nxt, _ = routes_to(net, outs)
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 4, n)
    pos = rng.uniform(0, 15.0, n)
    closed = q >= n_exits
    dest = np.where(closed, np.arange(n) % n_exits, q)
    sim = CrowdSim(net, np.zeros(n, int), 0.0, dest, nxt, outs, dt=0.5)
    place(sim, q, pos, q + 1)
    sim.head[closed] = hub                       # walk back to the centre first
    sim.pos[closed] = 15.0 - pos[closed]
    run_until_done(sim)
    assert (sim.status == ARRIVED).all()
    return np.nanmax(sim.arrive)


def test_rimea_9_two_exits_take_about_twice_as_long_as_four():
    ratio = room_exits(2) / room_exits(4)
    assert 1.6 <= ratio <= 2.4                   # JuPedSim's acceptance range


def test_rimea_12_no_jam_at_the_second_bottleneck_and_flow_grows_with_width():
    flows = []
    for w in (0.8, 1.0, 1.2):
        # room A, bottleneck 1, corridor, bottleneck 2 (same width), room B
        net = chain([10.0, 1.0, 10.0, 1.0, 10.0], [10.0, w, 2.0, w, 10.0])
        nxt, _ = routes_to(net, [5])
        sim = CrowdSim(net, np.zeros(150, int), 0.0, 0, nxt, [5], dt=0.25)
        place(sim, 0, np.random.default_rng(1).uniform(0, 10, 150), 1)
        q2 = 0
        while (sim.status != ARRIVED).any() and sim.t < 1000:
            sim.step(sim.dt)
            q2 = max(q2, sim.queue[0, 2])       # people held before bottleneck 2
        assert q2 <= 1
        assert sim.queue.max() == 0 and (sim.status == ARRIVED).all()
        flows.append(150 / np.nanmax(sim.arrive))
    assert flows[0] < flows[1] < flows[2]


# ---- bad input ---------------------------------------------------------------------------
def test_bad_network_and_people_get_clear_errors():
    with pytest.raises(CrowdError, match="length"):
        chain([10.0, -1.0], 2.0)
    with pytest.raises(CrowdError, match="width"):
        chain([10.0, 1.0], [2.0, 0.0])
    net = chain([10.0], 2.0)
    nxt, _ = routes_to(net, [1])
    with pytest.raises(CrowdError, match="start node"):
        CrowdSim(net, [7], 0.0, 0, nxt, [1])
    with pytest.raises(CrowdError, match="finite"):
        CrowdSim(net, [0], np.nan, 0, nxt, [1])
