"""Trips inserted into a running traffic simulation and followed (responders, evacuees): the
array API (:mod:`twin.kernels.traffic.insert`) on the reference grid, and
``TrafficProcess.insert_trips`` / ``follow`` called by another kernel inside the runtime,
through checkpoints and resume."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import twin
from twin.kernels import traffic
from twin.kernels.traffic import consts, routing
from twin.kernels.traffic.grid import grid, grid_trips
from twin.kernels.traffic.process import TrafficProcess

from .runcompare import assert_runs_equal
from .test_runtime_traffic import Crash, scenario

T_INSERT = 240.0
PARAMS = traffic.TrafficParams(debug=True, reroute_period=60.0, reroute_share=0.3)


@pytest.fixture(scope="module")
def setup():
    """The 3x3 grid, 300 base trips over 2 members (trips 1-4, departing before 10 s, to the
    inner link B0B1: all arrive by 170 s, so later table versions leave its row -1) and six
    trips to insert at T_INSERT: one departing in the past (= now), five for member 1, three
    to a destination no base trip has (A1B1), one to B0B1."""
    g = grid(3)
    t, o, d, *_ = grid_trips(g, n_trips=300, seed=3, t_demand=300.0)
    d[1:5] = g.link_index["B0B1"]
    base = traffic.Trips(t, o, d, member=np.arange(300) % 2, trip_id=np.arange(300))
    new_dest, old_inner = g.link_index["A1B1"], g.link_index["B0B1"]
    new = dict(depart=np.array([T_INSERT, T_INSERT, T_INSERT + 7, T_INSERT + 30, 10.0,
                                T_INSERT]),
               origin=o[:6].copy(),
               destination=np.array([d[20], new_dest, new_dest, d[9], new_dest, old_inner]),
               member=np.array([1, 1, 1, 0, 1, 1]),
               trip_id=np.arange(1000, 1006))
    return g, base, new


def _run(net, trips, until, state=None):
    st = state or traffic.init_state(net, trips, PARAMS, seed=[1, 2], n_members=2)
    traffic.run(net, trips, PARAMS, until=until, state=st, stop_when_done=False)
    return st


def _free_flow_time(net, origin, destination):
    """Shortest free-flow time (s) from the upstream end of ``origin`` to the downstream end
    of ``destination`` (turn penalties zero, so a lower bound)."""
    dl = np.unique(destination)
    togo = routing.cost_to_go(net.turn_from, net.turn_to_arr, np.zeros(net.turn_from.size),
                              net.turn_pad, net.n_links, dl, net.free_time[None],
                              np.ones((1, net.n_links), np.uint8))[0]
    k = np.searchsorted(dl, destination)
    return net.free_time[origin] + np.where(origin == destination, 0.0, togo[k, origin])


def _assert_same_state(st, ref):
    """Every array equal (route tables: the rows a pending trip can read), and the time and
    generators."""
    assert st.arrays.keys() == ref.arrays.keys() and st.time == ref.time
    assert [g.bit_generator.state for g in st.rngs] == [g.bit_generator.state for g in ref.rngs]
    for k in st.arrays:
        if k != "route_next":
            np.testing.assert_array_equal(st.arrays[k], ref.arrays[k], err_msg=k)
    rows = routing.pending_dest_rows(st)
    np.testing.assert_array_equal(st.route_next[:, :, rows], ref.route_next[:, :, rows])


def test_inserting_at_t_equals_starting_with_the_trips(setup):
    """add_trips at T gives the state init_state gives with the trips appended (departures
    before T moved to T): the run up to T does not depend on trips not yet released, and
    the new trips take init_state's place (member, departure, after equal departures). So
    every vehicle's outcome is bit-identical, re-routing draws included."""
    g, base, new = setup
    net = g.net
    st = _run(net, base, T_INSERT)
    b0b1 = np.searchsorted(st.dest_links, g.link_index["B0B1"])
    # B0B1's trips have all arrived and the latest tables no longer hold its row
    assert b0b1 not in routing.pending_dest_rows(st)
    assert (st.route_next[st.latest_ver[0], :, b0b1] == -1).all()
    idx = traffic.add_trips(net, st, **new)
    np.testing.assert_array_equal(st.v_trip_id[idx], new["trip_id"])
    np.testing.assert_array_equal(st.v_depart[idx], np.maximum(new["depart"], T_INSERT))
    assert (st.v_status[idx] == consts.SCHEDULED).all()
    both = traffic.Trips(np.r_[base.depart, np.maximum(new["depart"], T_INSERT)],
                         np.r_[base.origin, new["origin"]],
                         np.r_[base.destination, new["destination"]],
                         np.r_[base.member, new["member"]], np.r_[base.trip_id, new["trip_id"]])
    ref = _run(net, both, T_INSERT)
    _assert_same_state(st, ref)
    # the tables hold every row a pending trip needs, as rebuilt from scratch
    grown = st.route_next.copy()
    routing.rebuild_tables(net, st)
    rows = routing.pending_dest_rows(st)
    np.testing.assert_array_equal(grown[:, :, rows], st.route_next[:, :, rows])
    st = _run(net, base, 4000.0, st)
    ref = _run(net, both, 4000.0, ref)
    _assert_same_state(st, ref)
    assert st.counters[:, consts.C_ARRIVED].sum() == 306


def test_repeated_insertions_into_entry_queues(setup):
    """Bursts from one origin (an evacuation) queue at its entry; inserting more while they
    queue, then more later, still equals starting with every trip (queue links remapped)."""
    g, base, _ = setup
    net = g.net
    o, d = base.origin[0], base.destination[:40]
    batches = [(60.0, traffic.Trips(np.full(80, 60.0), np.full(80, o), np.resize(d, 80),
                                    np.arange(80) % 2, 2000 + np.arange(80))),
               (62.0, traffic.Trips(np.full(40, 61.0), np.full(40, o), d,
                                    np.arange(40) % 2, 3000 + np.arange(40))),
               (100.0, traffic.Trips(100.0 + np.arange(40), base.origin[:40], d,
                                     np.ones(40, np.int64), 4000 + np.arange(40)))]
    st = _run(net, base, 0.0)
    for t, trips in batches:
        st = _run(net, base, t, st)
        traffic.add_trips(net, st, trips.depart, trips.origin, trips.destination,
                          trips.member, trips.trip_id)
        if t == 62.0:
            assert (traffic.counts(st)["waiting"] > 10).all()
    parts = [base] + [tr for _, tr in batches]
    both = traffic.Trips(*(np.concatenate([getattr(p, k) for p in parts]) for k in
                           ("depart", "origin", "destination", "member", "trip_id")))
    both.depart[base.depart.size + 80:base.depart.size + 120] = 62.0   # (61 s: past at 62)
    ref = _run(net, both, 0.0)
    for t, _ in batches:
        ref = _run(net, both, t, ref)
    _assert_same_state(st, ref)
    st, ref = _run(net, base, 4000.0, st), _run(net, both, 4000.0, ref)
    _assert_same_state(st, ref)
    assert traffic.counts(st)["arrived"].sum() == both.depart.size
    # a state started without trips takes some
    e = traffic.init_state(net, traffic.Trips([], [], []), PARAMS, seed=[1, 2], n_members=2)
    e = _run(net, None, 30.0, e)
    traffic.add_trips(net, e, [0.0, 40.0], base.origin[:2], d[:2], [1, 0], [5, 6])
    e = _run(net, None, 1000.0, e)
    assert (traffic.follow(e, [5, 6], [1, 0])["status"] == consts.ARRIVED).all()


def test_inserted_trips_arrive_and_other_members_are_unaffected(setup):
    g, base, new = setup
    net = g.net
    only1 = {k: v[new["member"] == 1] for k, v in new.items()}
    st = _run(net, base, T_INSERT)
    traffic.add_trips(net, st, **only1)
    ids = only1["trip_id"]
    f = traffic.follow(st, ids, member=1)
    assert (f["status"] == consts.SCHEDULED).all() and (f["link"] == -1).all()
    assert np.isnan(f["offset"]).all() and np.isnan(f["enter"]).all()
    np.testing.assert_array_equal(f["destination"], only1["destination"])
    # a few steps on: entered at their origin, followed along their route
    st = _run(net, base, T_INSERT + 5, st)       # (re-routes at T_INSERT as the reference)
    f = traffic.follow(st, ids[only1["depart"] <= T_INSERT], member=1)
    assert (f["status"] == consts.ACTIVE).all()
    assert (f["link"] >= 0).all() and (f["lane"] >= 0).all()
    assert (f["offset"] > 0).all() and (f["speed"] >= 0).all()
    assert (f["enter"] > T_INSERT).all() and np.isnan(f["arrival"]).all()
    st = _run(net, base, 4000.0, st)
    f = traffic.follow(st, ids, member=1)
    assert (f["status"] == consts.ARRIVED).all() and (f["link"] == -1).all()
    ff = _free_flow_time(net, only1["origin"], only1["destination"])
    assert (f["arrival"] - f["depart"] >= ff - 1e-9).all()
    np.testing.assert_array_equal(f["travel_time"], f["arrival"] - f["enter"])
    done = traffic.completed_trips(st)
    assert set(ids) <= set(done["trip_id"][done["member"] == 1])
    # member 0 drives exactly as without the insertion
    ref = _run(net, base, 4000.0)
    m0, r0 = st.v_member == 0, ref.v_member == 0
    for k in ("v_trip_id", "v_status", "v_enter", "v_arrive", "v_pos", "v_speed"):
        np.testing.assert_array_equal(st.arrays[k][m0], ref.arrays[k][r0], err_msg=k)
    assert (st.counters[0] == ref.counters[0]).all()
    assert st.counters[1, consts.C_ARRIVED] == ref.counters[1, consts.C_ARRIVED] + ids.size


def test_default_ids_validation_and_follow_errors(setup):
    g, base, _ = setup
    net = g.net
    st = traffic.init_state(net, base, PARAMS, seed=[1, 2], n_members=2)
    o, d = base.origin[0], base.destination[0]
    idx = traffic.add_trips(net, st, [0.0, 5.0], o, d, member=[1, 1])
    np.testing.assert_array_equal(st.v_trip_id[idx], [300, 301])   # above member 1's ids
    assert traffic.add_trips(net, st, [], [], []).size == 0
    cases = [(dict(depart=[np.nan]), "trip 7001 has departure time nan"),
             (dict(origin=[99]), "trip 7001 has origin 99 outside"),
             (dict(destination=[-1]), "trip 7001 has destination -1 outside"),
             (dict(member=[2]), "trip 7001 has member 2 outside"),
             (dict(trip_id=[300], member=[1]), "trip 300 exists in member 1")]
    for change, msg in cases:
        kw = dict(depart=[1.0], origin=[o], destination=[d], member=[0], trip_id=[7001])
        kw.update(change)
        n0 = st.v_depart.size
        with pytest.raises(traffic.TrafficError, match=msg):
            traffic.add_trips(net, st, **kw)
        assert st.v_depart.size == n0                                   # nothing added
    with pytest.raises(traffic.TrafficError, match="given twice"):
        traffic.add_trips(net, st, [1.0, 2.0], o, d, member=0, trip_id=[5000, 5000])
    with pytest.raises(traffic.TrafficError, match="no trip 4242 in member 0"):
        traffic.follow(st, [4242], member=0)
    f = traffic.follow(st, [300, 2], member=[1, 0])
    assert list(f["trip_id"]) == [300, 2] and list(f["member"]) == [1, 0]


# ---- inside the runtime -------------------------------------------------------------------------
class Responder(twin.Kernel):
    """Sends one vehicle per member from ``origin`` to ``destination`` at ``at`` s and
    records its status (-1 before) and its road link."""

    name, dt, batched = "responder", 10.0, True
    outputs = {"status": twin.Spec((), "1"), "link": twin.Spec((), "1")}

    def __init__(self, at=200.0, origin="h00:f", destination="v12:f"):
        self.at, self.origin, self.destination = at, origin, destination

    def config(self):
        return {"at": self.at, "origin": self.origin, "destination": self.destination}

    def init(self, ctx):
        self.ids = np.zeros(0, np.int64)

    def step(self, t, dt, ctx):
        tr = ctx.kernel("traffic")
        K = ctx.n_members
        if self.ids.size == 0 and ctx.now >= self.at:
            self.ids = tr.insert_trips(self.origin, self.destination)
        status, link = np.full(K, -1), np.full(K, -1)
        if self.ids.size:
            for m in range(K):
                f = tr.follow(self.ids, member=m)
                status[m], link[m] = f["status"][0], f["link"][0]
        return {"status": status, "link": link} if ctx.record_due else None

    def get_state(self):
        return {"ids": self.ids}

    def set_state(self, s):
        self.ids = np.array(s["ids"], np.int64)


def _kernels(crash_at=None):
    return [TrafficProcess(vehicle_slots=64, threads=1), Responder(), Crash(crash_at)]


@pytest.fixture(scope="module")
def responder_run(tmp_path_factory):
    return twin.run(scenario(kernels=_kernels()), tmp_path_factory.mktemp("r") / "ref.zarr",
                    progress=False)


def test_inserted_trip_is_followed_and_in_the_trips_table(responder_run):
    rec = responder_run.open("responder").isel(member=0)
    status = rec.status.values
    before = rec.time.values < 200
    assert (status[before] == -1).all()
    assert consts.ARRIVED in status and status[-1] == consts.ARRIVED
    assert (rec.link.values[status == consts.ACTIVE] >= 0).all()
    trips = responder_run.table("traffic", "trips")
    tid = trips["trip_id"]
    assert len(np.unique(tid)) == len(tid)                       # every trip once
    new = tid == tid.max()
    assert new.sum() == 1 and tid.max() == 400                   # above the demand's ids
    links = list(responder_run.open("traffic").road_link.values)
    row = {k: v[new][0] for k, v in trips.items()}
    assert row["trip_origin_link"] == links.index("h00:f")
    assert row["trip_destination_link"] == links.index("v12:f")
    assert row["trip_depart_s"] == 200.0 and np.isfinite(row["trip_arrival_s"])


@pytest.mark.parametrize("crash_at", [250.0, 400.0])   # resumed before / after the insertion
def test_resume_with_inserted_trips_is_bit_identical(tmp_path, responder_run, crash_at):
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(scenario(kernels=_kernels(crash_at)), tmp_path / "r.zarr", progress=False)
    part = xr.open_zarr(str(tmp_path / "r.zarr"), group="traffic")
    assert 0 < part.sizes["time"] < 20
    run = twin.run(scenario(kernels=_kernels()), tmp_path / "r.zarr", resume=True,
                   progress=False)
    assert_runs_equal(responder_run, run, ("traffic", "responder"))


def test_insert_trips_in_every_member_and_bad_input(tmp_path):
    class Probe(Responder):
        def step(self, t, dt, ctx):
            tr = ctx.kernel("traffic")
            if self.ids.size == 0 and ctx.now >= self.at:
                with pytest.raises(twin.ScenarioError, match="unknown road_link 'zz'"):
                    tr.insert_trips("zz", self.destination)
                with pytest.raises(twin.ScenarioError, match="outside"):
                    tr.insert_trips(0, 10_000)
                self.ids = tr.insert_trips([self.origin, "h01:f"], self.destination,
                                           depart=[ctx.now, ctx.now + 20])
                assert list(self.ids) == [400, 401]
            return super().step(t, dt, ctx)

    run = twin.run(scenario(kernels=[TrafficProcess(vehicle_slots=64, threads=1), Probe()],
                            members=2), tmp_path / "m.zarr", progress=False)
    rec = run.open("responder")
    assert (rec.status.values[-1] == consts.ARRIVED).all()       # in both members
    trips = run.table("traffic", "trips")
    for m in (0, 1):
        mine = trips["trip_id"][trips["trip_member"] == m]
        assert {400, 401} <= set(mine)
