"""Trips on fixed routes (responders, evacuees sent along a dispatcher's route): a routed
vehicle takes exactly its links, whatever the rerouting and closures; bad routes are refused
naming the trip; runs without routes are unchanged; ``TrafficProcess.insert_trips(route=...)``
inside the runtime, through checkpoints and resume."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import twin
from twin.kernels import traffic
from twin.kernels.traffic import consts
from twin.kernels.traffic.grid import grid, grid_trips
from twin.kernels.traffic.process import TrafficProcess

from .runcompare import assert_runs_equal
from .test_runtime_traffic import Crash, scenario
from .test_traffic_insert import Responder

PARAMS = traffic.TrafficParams(debug=True, reroute_period=60.0, reroute_share=0.3)
# on grid(3): left0 -> A0 ... C0 -> right0; shortest A0 B0 C0, the detour goes up to row 1
SHORT = ["left0A0", "A0B0", "B0C0", "C0right0"]
DETOUR = ["left0A0", "A0A1", "A1B1", "B1C1", "C1C0", "C0right0"]


def _path(net, a, b):
    """Fewest-links path (link indices) from link ``a`` to link ``b`` over the turns."""
    nxt: dict = {}
    for f, t in zip(net.turn_from.tolist(), net.turn_to_arr.tolist()):
        nxt.setdefault(f, []).append(t)
    prev, queue = {a: -1}, [a]
    for x in queue:
        for y in nxt.get(x, []):
            if y not in prev:
                prev[y] = x
                queue.append(y)
    path = [b]
    while path[-1] != a:
        path.append(prev[path[-1]])
    return path[::-1]


def _detour(net, a, b):
    """The fastest (free flow) path from ``a`` to ``b`` through another link than the fewest-
    links path uses, passing ``b`` only at its end."""
    short = _path(net, a, b)
    best = None
    for w in range(net.n_links):
        if w in short:
            continue
        p = _path(net, a, w) + _path(net, w, b)[1:]
        if b in p[:-1]:
            continue
        key = (float(net.free_time[p].sum()), w)
        if best is None or key < best[0]:
            best = (key, p)
    return best[1]


def _links_over_time(net, st, trips, until, on_step=None):
    """Run to ``until`` step by step; per trip (``trips``: (member, trip id) pairs) the
    sequence of distinct links it was on."""
    seen = [[] for _ in trips]

    def record(state, stats):
        for m, (b, tid) in enumerate(trips):
            lk = int(traffic.follow(state, [tid], member=b)["link"][0])
            if lk >= 0 and (not seen[m] or seen[m][-1] != lk):
                seen[m].append(lk)
        if on_step is not None:
            on_step(state)

    traffic.run(net, None, PARAMS, until=until, state=st, stop_when_done=False,
                on_step=record)
    return seen


@pytest.fixture(scope="module")
def setup():
    g = grid(3)
    t, o, d, *_ = grid_trips(g, n_trips=300, seed=3, t_demand=300.0)
    base = traffic.Trips(t, o, d, member=np.arange(300) % 2, trip_id=np.arange(300))
    return g, base


def _state(g, base, until=100.0):
    st = traffic.init_state(g.net, base, PARAMS, seed=[1, 2], n_members=2)
    traffic.run(g.net, None, PARAMS, until=until, state=st, stop_when_done=False)
    return st


def test_routed_vehicle_follows_its_detour_through_rerouting(setup):
    g, base = setup
    net, ix = g.net, g.link_index
    route, short = [ix[k] for k in DETOUR], [ix[k] for k in SHORT]
    st = _state(g, base)
    assert (st.v_route == -1).all() and st.route_links.size == 0        # init_state: none
    o, d = route[0], route[-1]
    traffic.add_trips(net, st, [100.0] * 3, o, d, member=[0, 1, 0], trip_id=[9000, 9000, 9001],
                      routes=[route, route, None])
    assert st.route_links.tolist() == route                           # stored once

    def everyone_reroutes(state):                                     # on top of the periodic
        if state.time in (130.0, 170.0):
            traffic.reroute(net, state, share=1.0)

    seen = _links_over_time(net, st, [(0, 9000), (1, 9000), (0, 9001)], 900.0,
                            everyone_reroutes)
    assert seen == [route, route, short]      # the unrouted trip takes the direct way
    assert st.next_reroute[0] > 840.0                                 # rerouted all along
    f = traffic.follow(st, [9000, 9001], member=0)
    assert (f["status"] == consts.ARRIVED).all()
    free = net.free_time[route].sum()
    assert free > net.free_time[short].sum()                           # a real detour
    assert (traffic.follow(st, [9000], member=1)["travel_time"] >= free).all()
    assert f["travel_time"][0] >= free
    # the unrouted trip of the same origin and destination took the direct way
    assert f["travel_time"][1] < f["travel_time"][0]


def test_closure_on_the_route_is_waited_for(setup):
    g, base = setup
    net, ix = g.net, g.link_index
    route = [ix[k] for k in DETOUR]
    st = _state(g, base)
    traffic.close_link(net, st, ix["B1C1"], member=0)
    traffic.add_trips(net, st, 100.0, route[0], route[-1], member=0, trip_id=9000,
                      routes=[route])
    waited = []

    def reopen(state):
        f = traffic.follow(state, [9000], member=0)
        if f["link"][0] == ix["A1B1"] and f["speed"][0] == 0.0:
            waited.append(state.time)
        if state.time == 600.0:
            traffic.open_link(net, state, ix["B1C1"], member=0)

    seen = _links_over_time(net, st, [(0, 9000)], 1200.0, reopen)[0]
    assert seen == route and max(waited) >= 590.0         # held before B1C1 until reopened
    f = traffic.follow(st, [9000], member=0)
    assert f["status"][0] == consts.ARRIVED and f["arrival"][0] > 600.0
    assert st.counters[:, consts.C_STUCK].sum() == 0


def test_bad_routes_name_the_trip(setup):
    g, base = setup
    net, ix = g.net, g.link_index
    route = [ix[k] for k in DETOUR]
    st = _state(g, base, 10.0)
    before = {k: v.copy() for k, v in st.arrays.items()}
    o, d = route[0], route[-1]
    cases = [([route[0]] + route[2:], "trip 9000: route is not connected: no turn from link"),
             (route[1:], "trip 9000: route runs from link .* not from its origin"),
             (route + [ix["right0C0"]], "not from its origin .* to its destination"),
             ([], "trip 9000: route must be a non-empty"),
             ([o, 10_000], "trip 9000: route has link 10000 outside"),
             ([1.5, 2.0], "must be a non-empty sequence of link indices")]
    for bad, msg in cases:
        with pytest.raises(traffic.TrafficError, match=msg):
            traffic.add_trips(net, st, [20.0, 20.0], o, d, trip_id=[9001, 9000],
                              routes=[route, bad])
    loop = [ix[k] for k in ["left0A0", "A0B0", "B0C0", "C0right0"]]
    with pytest.raises(traffic.TrafficError, match="passes its destination link"):
        traffic.add_trips(net, st, 20.0, o, loop[-1], trip_id=9000, routes=[loop + loop[1:]])
    with pytest.raises(traffic.TrafficError, match="'routes' has 1 entries for 2 trips"):
        traffic.add_trips(net, st, [20.0, 20.0], o, d, trip_id=[9001, 9000], routes=[route])
    for k, v in st.arrays.items():                                # nothing inserted
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_runs_without_routes_are_unchanged(setup):
    """routes=None and routes of None only give the same state as before fixed routes came
    (the same code path with no routed trip); a routed trip in member 1 leaves member 0 as
    it was."""
    g, base = setup
    net = g.net
    o, d = base.origin[:3], base.destination[10:13]
    runs = []
    for routes in (None, [None] * 3, "member 1"):
        st = _state(g, base)
        if routes == "member 1":
            r = _path(net, int(o[0]), int(d[0]))
            traffic.add_trips(net, st, [100.0, 130.0], o[:2], d[:2], member=[0, 0],
                              trip_id=[9000, 9001])
            traffic.add_trips(net, st, 100.0, o[0], d[0], member=1, trip_id=9000, routes=[r])
        else:
            traffic.add_trips(net, st, [100.0, 130.0, 100.0], o, d, member=[0, 0, 1],
                              trip_id=[9000, 9001, 9000], routes=routes)
        traffic.close_link(net, st, [5, 17], member=0)
        traffic.run(net, None, PARAMS, until=400.0, state=st, stop_when_done=False)
        traffic.open_link(net, st, [5, 17])
        traffic.run(net, None, PARAMS, until=600.0, state=st, stop_when_done=False)
        runs.append(st)
    a, b, c = runs
    assert (a.v_route == -1).all() and a.route_links.size == 0
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)
    m0a, m0c = a.v_member == 0, c.v_member == 0
    for k in ("v_trip_id", "v_status", "v_link", "v_enter", "v_arrive", "v_pos", "v_speed"):
        np.testing.assert_array_equal(a.arrays[k][m0a], c.arrays[k][m0c], err_msg=k)
    np.testing.assert_array_equal(a.counters[0], c.counters[0])
    assert (c.v_route[c.v_member == 1] >= 0).sum() == 1


# ---- inside the runtime -------------------------------------------------------------------------
class RoutedResponder(Responder):
    """Responder sent along a detour (as road link ids) from ``origin`` to ``destination``;
    records the links it is on."""

    def step(self, t, dt, ctx):
        tr = ctx.kernel("traffic")
        if self.ids.size == 0 and ctx.now >= self.at:
            names = list(tr.coords["road_link"])
            self.route = _detour(tr.net, names.index(self.origin), names.index(self.destination))
            self.ids = tr.insert_trips(self.origin, self.destination,
                                       route=[names[k] for k in self.route])
        return super().step(t, dt, ctx)


def _kernels(crash_at=None):
    return [TrafficProcess(vehicle_slots=64, threads=1), RoutedResponder(), Crash(crash_at)]


@pytest.fixture(scope="module")
def routed_run(tmp_path_factory):
    return twin.run(scenario(kernels=_kernels()), tmp_path_factory.mktemp("r") / "ref.zarr",
                    progress=False)


def test_routed_trip_in_the_runtime(routed_run):
    rec = routed_run.open("responder").isel(member=0)
    assert rec.status.values[-1] == consts.ARRIVED
    names = list(routed_run.open("traffic").road_link.values)
    trips = routed_run.table("traffic", "trips")
    row = trips["trip_id"] == 400
    assert row.sum() == 1 and np.isfinite(trips["trip_arrival_s"][row][0])
    assert trips["trip_origin_link"][row][0] == names.index("h00:f")
    assert trips["trip_destination_link"][row][0] == names.index("v12:f")


def test_routed_trip_follows_the_detour_in_the_runtime(tmp_path):
    """The recorded links are the route's, in order, and the route is not the direct one."""
    seen = {}

    class Probe(RoutedResponder):
        def step(self, t, dt, ctx):
            out = super().step(t, dt, ctx)
            if self.ids.size:
                seen["route"] = self.route
                seen["direct"] = _path(ctx.kernel("traffic").net, self.route[0], self.route[-1])
                lk = int(ctx.kernel("traffic").follow(self.ids)["link"][0])
                if lk >= 0:
                    seen.setdefault("links", []).append(lk)
            return out

    twin.run(scenario(kernels=[TrafficProcess(vehicle_slots=64, threads=1), Probe()]),
             tmp_path / "p.zarr", progress=False)
    route, links = seen["route"], seen["links"]
    assert route != seen["direct"]                  # not the fewest-links path it would take
    distinct = [k for i, k in enumerate(links) if i == 0 or links[i - 1] != k]
    it = iter(route)
    assert all(k in it for k in distinct)                       # a subsequence of the route
    assert distinct[0] == route[0] and distinct[-1] == route[-1]


@pytest.mark.parametrize("crash_at", [150.0, 350.0])   # resumed before / after the insertion
def test_resume_with_a_routed_trip_is_bit_identical(tmp_path, routed_run, crash_at):
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(scenario(kernels=_kernels(crash_at)), tmp_path / "r.zarr", progress=False)
    part = xr.open_zarr(str(tmp_path / "r.zarr"), group="traffic")
    assert 0 < part.sizes["time"] < 20
    run = twin.run(scenario(kernels=_kernels()), tmp_path / "r.zarr", resume=True,
                   progress=False)
    assert_runs_equal(routed_run, run, ("traffic", "responder"))
