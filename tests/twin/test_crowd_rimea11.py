"""RiMEA test 11 (choice of escape route, ``../shared/validation/evacuation/RIMEA_TESTS.md``):
a room with two exits on the same wall, the crowd starting near one. Expected: most use the
nearer exit, some switch to the farther one because of congestion.

The room as a walkway network: the crowd area (10 m × 10 m, 300 people) ends at node C by
the wall; exit 1 is 2 m from C, exit 2 is 20 m along the wall (approaches 4 m wide), each a
1 m door. Everyone starts with exit 1 (the nearest) as destination. Without route switching
all leave by exit 1, at the door's capacity (Weidmann 1993: 1.225 P/(m·s)); with it, people
waiting at C turn to exit 2 when its expected time is lower, so both exits are used and the
room empties sooner.
"""

from __future__ import annotations

import numpy as np

from twin.kernels.crowd import CrowdSim, WalkNet, routes_to
from twin.kernels.crowd.sim import ARRIVED, WALKING

JMAX_WEIDMANN = 1.225     # P/(m·s), Weidmann (1993): maximum specific flow
P = 300


def room():
    # nodes: 0 A (back of the crowd), 1 C (by the wall), 2 D1, 3 O1, 4 D2, 5 O2
    a = np.array([0, 1, 2, 1, 4])
    b = np.array([1, 2, 3, 4, 5])
    length = np.array([10.0, 2.0, 0.5, 20.0, 0.5])
    width = np.array([10.0, 4.0, 1.0, 4.0, 1.0])
    xy = np.array([[0, -10], [0, 0], [2, 0], [2, 0.5], [20, 0], [20, 0.5]], float)
    return WalkNet(a, b, length, width, xy, np.array(["crowd", "to1", "exit1", "to2",
                                                      "exit2"]), np.arange(6).astype(str))


def evacuate(reroute: bool, seed: int = 11, resume_at: float | None = None):
    net = room()
    outs = [3, 5]
    nxt, _ = routes_to(net, outs)
    sim = CrowdSim(net, np.zeros(P, int), 0.0, 0, nxt, outs, dt=0.25, reroute=reroute)
    sim.status[:] = WALKING
    sim.link[:], sim.head[:] = 0, 1
    sim.pos[:] = np.random.default_rng(seed).uniform(0, 10.0, P)
    sim.entered[:] = 0.0
    while (sim.status != ARRIVED).any() and sim.t < 2000.0:
        sim.step(sim.dt)
        if resume_at is not None and abs(sim.t - resume_at) < 1e-9:
            st = sim.get_state()
            sim = CrowdSim(net, np.zeros(P, int), 0.0, 0, nxt, outs, dt=0.25, reroute=reroute)
            sim.set_state(st)
    return sim


def test_rimea_11_both_exits_used_and_faster_than_all_at_the_nearest():
    static = evacuate(reroute=False)
    switch = evacuate(reroute=True)
    for sim in (static, switch):                     # nobody lost
        assert (sim.status == ARRIVED).all()
        assert sim.summary()["arrived"].sum() == P
    # without switching: all at exit 1, at the door's Weidmann capacity
    assert (static.head == 3).all()
    t_static = np.nanmax(static.arrive)
    assert abs(t_static - P / JMAX_WEIDMANN) / (P / JMAX_WEIDMANN) < 0.1
    # with switching: most at the nearer exit, some (≥ 10 %) switch to the farther one
    n1, n2 = (switch.head == 3).sum(), (switch.head == 5).sum()
    assert n1 + n2 == P
    assert n1 > n2 >= 0.1 * P, (n1, n2)
    t_switch = np.nanmax(switch.arrive)
    assert t_switch < 0.75 * t_static, (t_switch, t_static)
    # two doors, one 18 m farther: not faster than both doors at capacity from the start
    assert t_switch > P / (2 * JMAX_WEIDMANN)


def test_rimea_11_switching_is_deterministic_and_resumes_identically():
    a = evacuate(reroute=True)
    b = evacuate(reroute=True)
    c = evacuate(reroute=True, resume_at=40.0)
    for o in (b, c):
        assert np.array_equal(a.arrive, o.arrive, equal_nan=True)
        assert np.array_equal(a.head, o.head)


def test_route_switch_through_the_runtime_keeps_everyone_and_shelter_capacity(tmp_path):
    import twin
    from agents.evacuation import Evacuation, circle
    from tests.agents.conftest import make_city
    from tests.agents.test_evacuation import shelters
    from twin.kernels.crowd.process import CrowdProcess

    city = make_city(6, 6, 200.0)
    city.sites = shelters([[1000.0, 1000.0], [0.0, 1000.0]], [1000.0, np.nan])
    ev = Evacuation(circle(300.0, 300.0, 420.0), premovement_median_s=60.0)
    sc = twin.Scenario(city=city, duration=3600.0, seed=7, name="evac", record_interval=60.0,
                       kernels=[CrowdProcess(route_switch=True)], inputs={"crowd": ev})
    run = twin.run(sc, out=tmp_path / "r.zarr", progress=False)
    t = run.table("crowd", "evacuees")
    people = ev.draw(city, np.random.default_rng(0))["x"].size
    assert len(np.asarray(t["evac_status"])) == people
    status = np.asarray(t["evac_status"], dtype=object).astype(str)
    ok = status == "arrived"
    assert np.all(ok | np.char.startswith(status, "not_evacuated")) and ok.mean() > 0.95
    sh = np.asarray(t["evac_shelter"], dtype=object).astype(str)
    assert (sh == "s0").sum() <= 1000                  # switching never overfills s0
    ds = run.open("crowd")
    total = sum(ds[v].isel(time=-1).values for v in
                ("evacuated", "home", "walking", "driving", "not_evacuated"))
    assert (total == people).all()


def test_rimea_11_a_member_in_a_batch_equals_the_member_alone():
    net = room()
    outs = [3, 5]
    nxt, _ = routes_to(net, outs)
    member = np.r_[np.zeros(P, int), np.ones(P // 2, int)]
    pos = np.r_[np.random.default_rng(11).uniform(0, 10.0, P),
                np.random.default_rng(5).uniform(0, 10.0, P // 2)]
    sim = CrowdSim(net, np.zeros(member.size, int), 0.0, 0, nxt, outs, dt=0.25,
                   reroute=True, member=member, n_members=2)
    sim.status[:] = WALKING
    sim.link[:], sim.head[:], sim.pos[:], sim.entered[:] = 0, 1, pos, 0.0
    while (sim.status != ARRIVED).any() and sim.t < 2000.0:
        sim.step(sim.dt)
    alone = evacuate(reroute=True)
    assert np.array_equal(sim.arrive[:P], alone.arrive)
    assert np.array_equal(sim.head[:P], alone.head)
    assert (sim.status == ARRIVED).all()
