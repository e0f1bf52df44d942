"""Dispatch on live traffic (agents.responders) on the 3×3 grid city: the unit chosen is the
one with the least live travel time (checked against an independent Dijkstra on the same
link speeds), a closed link changes the choice, units drive as vehicles in the traffic
kernel and meet its queues, queued calls are served by priority, the same seed gives the
same run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import twin
from agents.responders import INCIDENT_TYPES, DispatchError, DispatchProcess, incident
from agents.responders import dispatch as dispatch_mod
from agents.responders.routing import MIN_SPEED
from twin.kernels.traffic import TrafficParams, TrafficProcess

from ..twin.runcompare import assert_runs_equal
from .dispatch_city import dispatch_city, reference_times, route_time, scenario

ENGINES = [("E1", "fire_engine", "fs1", "h00:f"), ("E2", "fire_engine", "fs2", "h21:b"),
           ("E3", "fire_engine", "fs1", "v00:f"), ("E4", "fire_engine", "fs2", "v12:b")]
AMBULANCE = [("A1", "ambulance", "h1", "h20:f")]


def _capture(monkeypatch):
    """Record, at each unit choice, the network the centre saw and what it chose."""
    seen = []
    original = dispatch_mod.DispatchCentre.choose_unit

    def spy(self, c):
        m = self.model
        tr = m.ctx.kernel("traffic")
        a = tr.state.arrays
        snap = {"call": c, "speed": np.array(m.ctx.bus.get("traffic/link_speed")),
                "vmax": a["link_vmax"][0].copy(), "open": a["link_open"][0].copy(),
                "free": np.flatnonzero((m.unit_kind == m.calls["unit_kind"][c])
                                       & (m.unit_call < 0))}
        u = original(self, c)
        snap.update(unit=u, est=m.calls["est_travel"][c], route=m._route.copy())
        seen.append(snap)
        return u

    monkeypatch.setattr(dispatch_mod.DispatchCentre, "choose_unit", spy)
    return seen


def _live_tt(roads, s) -> np.ndarray:
    v = np.where(np.isfinite(s["speed"]), np.maximum(s["speed"], MIN_SPEED), s["vmax"])
    return np.where(s["open"] > 0, roads.link_length / v, np.inf)


def test_unit_with_least_live_time_is_sent(tmp_path, monkeypatch):
    city = dispatch_city()
    seen = _capture(monkeypatch)
    fires = [incident("fire", at=60.0 * k, building=b, on_scene_s=300.0)
             for k, b in enumerate(["bn11", "bn12", "bn01", "bn21", "bn10", "bn02"], 2)]
    run = twin.run(scenario(city, [DispatchProcess(fires, units=ENGINES)], n_trips=700),
                   tmp_path / "r.zarr", progress=False)
    roads = city.roads
    calls = run.table("dispatch", "calls")
    assert len(seen) == 6 and (np.isfinite(calls["call_arrived_s"])).all()
    congested = 0
    for s in seen:
        tt = _live_tt(roads, s)
        congested += int((np.isfinite(s["speed"]) & (s["speed"] < 0.8 * s["vmax"])).sum())
        dest = int(np.flatnonzero(roads.link_ids == calls["call_road_link"][
            list(calls["call_id"]).index(s["call"])])[0])
        ref = reference_times(roads, tt, dest)
        homes = np.array([roads.link_ids.tolist().index(u[3]) for u in ENGINES])
        free_t = ref[homes[s["free"]]]
        assert np.isclose(ref[homes[s["unit"]]], free_t.min(), rtol=1e-12)
        assert s["unit"] == s["free"][np.argmin(free_t)]      # ties: the first free unit
        np.testing.assert_allclose(s["est"], free_t.min(), rtol=1e-12)
        np.testing.assert_allclose(route_time(roads, tt, s["route"]), s["est"], rtol=1e-12)
    assert congested > 0            # the live speeds were not all free-flow speeds


def _two_engine_case(roads):
    """Find (home of E1, home of E2, incident link, link to close) on the grid: E1 is
    faster at free flow, but with the closed link on its fastest route it is slower than
    E2 (margins >= 15 s), and E2's fastest route avoids the closed link."""
    ff = roads.link_length / roads.link_free_speed
    L = roads.n_links
    for dest in range(L):
        ref = reference_times(roads, ff, dest)
        for a in range(L):
            for b in range(L):
                if not (ref[a] + 15 < ref[b] < np.inf) or a == dest or b == dest:
                    continue
                for x in range(L):
                    if x in (a, b, dest):
                        continue
                    cut = ff.copy()
                    cut[x] = np.inf
                    r2 = reference_times(roads, cut, dest)
                    if r2[a] > r2[b] + 15 and np.isclose(r2[b], ref[b]):
                        return a, b, dest, x
    raise AssertionError("no case on the grid")


class FakeFlood(twin.Kernel):
    """Publishes ``speed_factor`` per road link: 0 on ``link`` from ``at`` s (a flooded
    street), 1 elsewhere."""

    name, dt = "flood", 10.0
    publishes = {"speed_factor": twin.Spec(("road_link",), "1")}

    def __init__(self, link, at=30.0):
        self.link, self.at = link, at

    def init(self, ctx):
        self.step(0.0, 0.0, ctx)

    def step(self, t, dt, ctx):
        f = np.ones(ctx.city.roads.n_links)
        if t >= self.at:
            f[ctx.index("road_link", self.link)] = 0.0
        ctx.bus.publish("flood/speed_factor", f, dims=("road_link",), units="1")


@pytest.mark.parametrize("how", ["closure", "flood"])
def test_closed_or_flooded_link_changes_the_choice(tmp_path, how):
    city = dispatch_city()
    roads = city.roads
    a, b, dest, x = _two_engine_case(roads)
    ids = roads.link_ids
    units = [("E1", "fire_engine", "fs1", ids[a]), ("E2", "fire_engine", "fs2", ids[b])]
    fire = incident("fire", at=120.0, road_link=ids[dest], on_scene_s=60.0)
    chosen = {}
    for cut in (False, True):
        kw = {}
        if cut and how == "closure":
            kw["events"] = [twin.Event("closure", ids[x], at=30.0)]
        if how == "flood":   # the dispatcher avoids the flooded link; traffic still drives it
            kw["kernels"] = [TrafficProcess(vehicle_slots=16, threads=1),
                             FakeFlood(ids[x], at=30.0 if cut else 1e9)]
            kw["couplings"] = {"dispatch/speed_factor": "flood/speed_factor"}
        run = twin.run(scenario(city, [DispatchProcess([fire], units=units)], n_trips=10,
                                duration=900.0, **kw),
                       tmp_path / f"c{cut}.zarr", progress=False)
        calls = run.table("dispatch", "calls")
        chosen[cut] = str(calls["call_unit"][0])
        trips = run.table("traffic", "trips")
        k = list(trips["trip_id"]).index(calls["call_trip_scene"][0])
        assert np.isfinite(trips["trip_arrival_s"][k])
    assert chosen == {False: "E1", True: "E2"}


def test_units_drive_in_traffic_and_meet_its_queues(tmp_path):
    """The unit's trips are the traffic kernel's: in its trips table with the call's
    departure, origin and destination, and the call's arrival is the trip's arrival. The same
    call in heavy traffic takes longer than on empty streets."""
    city = dispatch_city()
    med = [incident("medical", at=200.0, building="bn02", on_scene_s=120.0, transport=True)]
    travel = {}
    for n_trips in (10, 900):
        run = twin.run(scenario(city, [DispatchProcess(med, units=AMBULANCE)],
                                n_trips=n_trips, duration=2400.0),
                       tmp_path / f"t{n_trips}.zarr", progress=False)
        c = {k: v[0] for k, v in run.table("dispatch", "calls").items()}
        trips = run.table("traffic", "trips")
        links = list(run.open("traffic").road_link.values)
        k = list(trips["trip_id"]).index(c["call_trip_scene"])
        assert trips["trip_depart_s"][k] == c["call_departed_s"]
        assert trips["trip_arrival_s"][k] == c["call_arrived_s"]
        assert trips["trip_origin_link"][k] == links.index("h20:f")
        assert trips["trip_destination_link"][k] == links.index(c["call_road_link"])
        # call taking (60 s) then turnout (60 s); transport to hospital, handover, back
        assert c["call_dispatched_s"] == 260.0 and c["call_departed_s"] == 320.0
        assert c["call_arrived_s"] < c["call_cleared_s"] < c["call_hospital_s"] < c["call_back_s"]
        assert c["call_cleared_s"] == c["call_arrived_s"] + 120.0
        assert c["call_response_s"] == c["call_arrived_s"] - 200.0
        back = list(trips["trip_id"]).index(c["call_trip"])
        assert trips["trip_arrival_s"][back] == c["call_back_s"]
        assert trips["trip_destination_link"][back] == links.index("h20:f")
        travel[n_trips] = c["call_arrived_s"] - c["call_departed_s"]
        rec = run.open("dispatch").isel(member=0)
        assert int(rec.units_busy.max()) == 1 and int(rec.units_busy[-1]) == 0
        # positions: at its station (h1, at 0, 600) when free, on the streets when driving
        x, y = rec.unit_x.values[:, 0], rec.unit_y.values[:, 0]
        stage = rec.unit_stage.values[:, 0]
        assert (x[stage == 0] == 0.0).all() and (y[stage == 0] == 600.0).all()
        drive = np.isin(stage, [3, 5, 7])
        assert drive.sum() >= 3
        off = np.minimum(np.abs(x[drive] - np.round(x[drive] / 300) * 300),
                         np.abs(y[drive] - np.round(y[drive] / 300) * 300))
        assert off.max() <= 7.0
    assert travel[900] > travel[10] + 10


def test_higher_priority_call_takes_the_next_free_unit(tmp_path):
    city = dispatch_city()
    calls_in = [incident("medical", at=100.0, building="bn22", priority=2, on_scene_s=300.0,
                         transport=False),
                incident("medical", at=200.0, building="bn01", priority=3, transport=False),
                incident("medical", at=300.0, building="bn10", priority=1, transport=False),
                incident("medical", at=400.0, building="bn12", priority=3, transport=False)]
    run = twin.run(scenario(city, [DispatchProcess(calls_in, units=AMBULANCE)], n_trips=10,
                            duration=7200.0), tmp_path / "p.zarr", progress=False)
    c = run.table("dispatch", "calls")
    order = np.argsort(c["call_id"])
    disp = c["call_dispatched_s"][order]
    assert list(c["call_queued"][order]) == [0, 1, 1, 1]
    # the unit is back from call 0, then serves call 2 (priority 1), then 1 and 3 (by time)
    assert np.argsort(disp).tolist() == [0, 2, 1, 3]
    back = c["call_back_s"][order]
    assert disp[2] == back[0] and disp[1] == back[2] and disp[3] == back[1]
    rec = run.open("dispatch").isel(member=0)
    assert int(rec.calls_queued.max()) == 3
    k = twin.kpis(run)
    assert k.value("dispatch", "calls_queued") == 3
    assert k.value("dispatch", "calls") == 4


@pytest.fixture(scope="module")
def poisson_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("seed")
    city = dispatch_city()
    gen = {"scale": 30000.0, "types": ["fire", "medical", "traffic_crash"]}
    quick = {k: dataclasses.replace(v, on_scene_s=150.0, handover_s=60.0)
             for k, v in INCIDENT_TYPES.items()}
    units = ENGINES + AMBULANCE + [("A2", "ambulance", "h1"), ("A3", "ambulance", "fs2")]

    def one(name, seed, **kw):
        return twin.run(scenario(city, [DispatchProcess(generate=gen, units=units,
                                                        types=quick)],
                                 n_trips=300, duration=1500.0, seed=seed, **kw),
                        d / name, progress=False)
    return (one("a.zarr", 5), one("b.zarr", 5), one("c.zarr", 6),
            one("ab.zarr", 5, members=2, seeds=[5, 6]))


def test_same_seed_same_run_other_seed_other_incidents(poisson_runs):
    a, b, c, _ = poisson_runs
    ta = a.table("dispatch", "calls")
    assert len(ta["call_id"]) >= 5 and np.isfinite(ta["call_arrived_s"]).sum() >= 3
    assert_runs_equal(a, b, ("traffic", "dispatch"),
                      (("traffic", "trips"), ("dispatch", "calls")))
    tc = c.table("dispatch", "calls")
    assert not (len(tc["call_time_s"]) == len(ta["call_time_s"])
                and np.array_equal(np.sort(tc["call_time_s"]), np.sort(ta["call_time_s"])))
    k = twin.kpis(a)
    assert k.value("dispatch", "response_p50_s") > 0
    assert k.value("dispatch", "response_p90_s") >= k.value("dispatch", "response_p50_s")


def test_members_of_a_batch_equal_separate_runs(poisson_runs):
    """Two members (seeds 5 and 6) in one run: each member's calls and unit trips are those
    of the run with its seed alone."""
    a, _, c, both = poisson_runs
    for m, single in ((0, a), (1, c)):
        for layer, table in (("dispatch", "calls"), ("traffic", "trips")):
            one, bm = single.table(layer, table), both.table(layer, table, member=m)
            for k in one:
                if not k.endswith("_member"):
                    np.testing.assert_array_equal(bm[k], one[k], err_msg=f"{table}/{k}")
        np.testing.assert_array_equal(both.open("dispatch").unit_stage.isel(member=m).values,
                                      single.open("dispatch").unit_stage.isel(member=0).values)


def test_bad_input_is_a_clear_error(tmp_path):
    city = dispatch_city()
    cases = [([incident("fire", at=10.0, building="nowhere")], ENGINES, "unknown building"),
             ([incident("fire", at=10.0, building="bn11")], [("E9", "fire_engine", "fs9")],
              "E9.*no home station"),
             ([incident("medical", at=10.0, building="bn11")], ENGINES, "ambulance"),
             ([incident("fire", at=10.0, road_link="zz:f")], ENGINES, "unknown road link")]
    for inc, units, msg in cases:
        with pytest.raises(DispatchError, match=msg):
            twin.run(scenario(city, [DispatchProcess(inc, units=units)], n_trips=10,
                              duration=60.0), tmp_path / "bad.zarr", progress=False,
                     overwrite=True)
    with pytest.raises(DispatchError, match="time -5"):
        incident("fire", at=-5.0, building="b1")
    with pytest.raises(DispatchError, match="no location"):
        incident("fire", at=5.0)
    assert isinstance(DispatchError("x"), twin.ScenarioError)


def test_free_flow_response_is_processing_turnout_and_shortest_path(tmp_path):
    """On empty streets with perfect drivers (no Krauss dawdling, ``sigma=0``): response =
    call taking + turnout + the fastest free-flow drive (from an independent Dijkstra), to
    the traffic kernel's 1 s step, for routes that do not cross the signal at n11 (those wait
    for their green, up to a cycle)."""
    city = dispatch_city()
    roads = city.roads
    where = [dict(road_link="h01:f"), dict(building="bn22"), dict(road_link="v02:f"),
             dict(building="bn11"), dict(road_link="h00:f")]
    fires = [incident("fire", at=100.0 + 500 * k, on_scene_s=60.0, **w)
             for k, w in enumerate(where)]
    perfect = TrafficProcess(vehicle_slots=16, threads=1, params=TrafficParams(sigma=0.0))
    run = twin.run(scenario(city, [DispatchProcess(fires, units=ENGINES[:1])], n_trips=0,
                            duration=3400.0, kernels=[perfect]), tmp_path / "ff.zarr",
                   progress=False)
    c = run.table("dispatch", "calls")
    ff = roads.link_length / roads.link_free_speed
    home = list(roads.link_ids).index(ENGINES[0][3])
    n11 = list(roads.node_ids).index("n11")
    clear = 0
    for k in range(len(c["call_id"])):
        dest = list(roads.link_ids).index(c["call_road_link"][k])
        best = reference_times(roads, ff, dest)[home]
        assert c["call_est_travel_s"][k] == pytest.approx(best, rel=1e-12)
        drive = c["call_arrived_s"][k] - c["call_departed_s"][k]
        assert c["call_queued"][k] == 0                    # the engine was back in time
        assert c["call_departed_s"][k] == c["call_time_s"][k] + 60.0 + 80.0
        path_nodes = _nodes_on_fastest(roads, ff, home, dest)
        if n11 in path_nodes:
            assert best - 1e-9 <= drive <= best + 60.0
        else:
            assert 0.0 <= drive - best <= 1.5
            clear += 1
    assert clear >= 3


def _nodes_on_fastest(roads, tt, origin, dest) -> set:
    """Nodes crossed by the fastest route from ``origin`` to ``dest`` (greedy walk down the
    reference times)."""
    togo = reference_times(roads, tt, dest)
    link, nodes = origin, set()
    while link != dest:
        node = roads.link_to[link]
        nodes.add(int(node))
        nxt = [b for b in np.flatnonzero(roads.link_from == node)
               if roads.link_to[b] != roads.link_from[link]]
        link = min(nxt, key=lambda b: togo[b])
    return nodes
