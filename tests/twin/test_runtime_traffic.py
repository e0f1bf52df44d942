"""The traffic kernel inside the runtime: network from a hand-made city, trips from a demand
dict, recorded layers, events (closure, capacity drop, signal plan), KPIs, resume."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import cim
import twin
from cim.roads import RoadNetworkBuilder
from twin.errors import ScenarioError
from twin.kernels import traffic
from twin.kernels.traffic import TrafficProcess
from twin.kernels.traffic.demand import kernel_trips


def grid_city(n=3, spacing=300.0) -> cim.CityModel:
    """Return an n×n grid of two-way secondary streets; the centre node is signalized."""
    b = RoadNetworkBuilder()
    name = lambda i, j: f"n{i}{j}"  # noqa: E731
    for i in range(n):
        for j in range(n):
            if i + 1 < n:
                b.add_segment(f"v{i}{j}", name(i, j), name(i + 1, j),
                              [(j * spacing, i * spacing), (j * spacing, (i + 1) * spacing)],
                              cls="secondary", lanes_forward=2)
            if j + 1 < n:
                b.add_segment(f"h{i}{j}", name(i, j), name(i, j + 1),
                              [(j * spacing, i * spacing), ((j + 1) * spacing, i * spacing)],
                              cls="secondary", lanes_forward=2)
    c = n // 2
    b.set_signal(name(c, c), {"cycle_s": 60, "offset_s": 0, "green_s": [27, 27],
                              "yellow_s": 3})
    city = cim.CityModel(roads=b.build())
    city.metadata["district"] = "grid"
    return city


def demand(city, n_trips=400, horizon=480.0, seed=1) -> dict:
    rng = np.random.default_rng(seed)
    ids = list(city.roads.node_ids)
    edge = [ids.index(x) for x in ("n00", "n02", "n20", "n22", "n01", "n10", "n12", "n21")]
    o = rng.choice(edge, n_trips)
    d = rng.choice(edge, n_trips)
    return {"depart_s": np.sort(rng.uniform(0, horizon, n_trips)), "origin_node": o,
            "destination_node": d}


def scenario(duration=600.0, events=(), kernels=None, **kw) -> twin.Scenario:
    city = grid_city()
    return twin.Scenario(city=city, duration=duration, seed=5, inputs={"traffic": demand(city)},
                         kernels=kernels or [TrafficProcess(vehicle_slots=64, threads=1)],
                         events=list(events), record_interval=30.0, chunk_records=5,
                         name="grid", **kw)


class Crash:
    """A kernel that fails at a given time (to interrupt a run in-process)."""

    name, dt = "crash", 10.0

    def __init__(self, at=None):
        self.at = at

    def init(self, ctx):
        pass

    def step(self, t, dt, ctx):
        if self.at is not None and t >= self.at:
            raise RuntimeError("crash")

    def config(self):  # when it crashes is not part of what the run computes
        return {}

    def get_state(self):  # stateless (else the pickled crash time would come back)
        return {}

    def set_state(self, state):
        pass


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    return twin.run(scenario(), tmp_path_factory.mktemp("t") / "base.zarr", progress=False)


def test_traffic_layer_records_link_series(base_run):
    full = base_run.open("traffic")
    for v in ("link_flow", "link_speed", "link_density", "queue_length", "link_count"):
        assert full[v].dims == ("time", "member", "road_link")
    assert full.vehicle_x.dims == ("time", "member", "vehicle_slot")
    ds = full.isel(member=0)
    assert ds.link_flow.attrs["units"] == "veh/h" and ds.link_speed.attrs["units"] == "m/s"
    assert ds.sizes["time"] == 20 and float(ds.time[-1]) == 600.0
    assert ds.link_length.dims == ("road_link",)
    assert float(ds.link_length.sel(road_link="h00:f")) == 300.0
    assert float(ds.link_flow.sum()) > 0
    assert int(ds.arrived[-1]) > 100
    speeds = ds.link_speed.values
    assert np.nanmax(speeds) <= 50 / 3.6 + 1e-6 and np.nanmin(speeds) >= 0
    # sampled vehicles lie on the grid (x or y on a street line, within lane offsets)
    x, y = ds.vehicle_x.values, ds.vehicle_y.values
    ok = np.isfinite(x)
    assert ok.any()
    on_street = np.minimum(np.abs(x[ok] - np.round(x[ok] / 300) * 300),
                           np.abs(y[ok] - np.round(y[ok] / 300) * 300))
    assert on_street.max() <= 2 * 3.5 + 1e-6
    k = twin.kpis(base_run)
    assert k.value("traffic", "vkt_km") > 0 and 0 < k.value("traffic", "mean_speed_kmh") <= 50
    # the kernel's arrival counter and the per-vehicle trips table are independent records
    trips = base_run.table("traffic", "trips")
    assert np.isfinite(trips["trip_arrival_s"]).sum() == int(ds.arrived[-1])
    assert k.value("traffic", "trips_completed") == int(ds.arrived[-1])
    # each trip is in the table once, arrived or not
    assert len(np.unique(trips["trip_id"])) == len(trips["trip_id"])


def test_closure_capacity_drop_and_signal_plan(tmp_path, base_run):
    events = [traffic.closure("h11:f", at=120, duration=240),
              traffic.capacity_drop("v01:f", 0.2, at=60),
              traffic.signal_plan("n11", {"cycle_s": 100, "green_s": [70, 24], "yellow_s": 3},
                               at=90)]
    run = twin.run(scenario(events=events), tmp_path / "ev.zarr", progress=False)
    ds = run.open("traffic").isel(member=0)
    is_open = ds.link_open.sel(road_link="h11:f")
    assert int(is_open.sel(time=90)) == 1 and int(is_open.sel(time=150)) == 0
    assert int(is_open.sel(time=390)) == 1
    ev = run.events
    plan = ev[ev.kind == "signal_plan"].iloc[0]
    assert plan.details["previous_plan"]["green_s"] == [27.0, 27.0]
    # the capacity drop lowers what leaves v01:f compared with the base run
    base = base_run.open("traffic").isel(member=0).link_flow.sel(
        road_link="v01:f", time=slice(120, 600)).sum()
    assert float(ds.link_flow.sel(road_link="v01:f", time=slice(120, 600)).sum()) < float(base)


def test_unknown_targets_fail_before_run(tmp_path):
    with pytest.raises(ScenarioError, match="unknown road_link 'zz:f'"):
        twin.run(scenario(events=[traffic.closure("zz:f", at=10)]), tmp_path / "x.zarr",
                 progress=False)
    with pytest.raises(ScenarioError, match="unknown road_node 'n99'"):
        twin.run(scenario(events=[traffic.signal_plan("n99", {"cycle_s": 60}, at=10)]),
                 tmp_path / "x.zarr", progress=False)
    with pytest.raises(ScenarioError, match="headway"):
        twin.run(scenario(kernels=[TrafficProcess(dt=2.0, substep=2.0, threads=1)]),
                 tmp_path / "x.zarr", progress=False)
    assert not (tmp_path / "x.zarr").exists()


def test_traffic_resume_is_bit_identical(tmp_path, base_run):
    events = [traffic.closure("h11:f", at=100, duration=200)]
    ref = twin.run(scenario(events=events, kernels=[TrafficProcess(vehicle_slots=64, threads=1),
                                                    Crash()]),
                   tmp_path / "ref.zarr", progress=False)
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(scenario(events=events, kernels=[TrafficProcess(vehicle_slots=64, threads=1),
                                                  Crash(at=400)]),
                 tmp_path / "r.zarr", progress=False)
    part = xr.open_zarr(str(tmp_path / "r.zarr"), group="traffic")
    assert 0 < part.sizes["time"] < 20
    run = twin.run(scenario(events=events, kernels=[TrafficProcess(vehicle_slots=64, threads=1),
                                                    Crash()]),
                   tmp_path / "r.zarr", resume=True, progress=False)
    a, b = ref.open("traffic"), run.open("traffic")
    for v in a.variables:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)


def test_kernel_trips_from_nodes_spreads_over_links():
    city = grid_city()
    roads = city.roads
    n00 = list(roads.node_ids).index("n00")
    trips, dropped = kernel_trips({"depart": np.zeros(4), "origin": np.full(4, n00),
                                   "destination": np.full(4, n00)}, roads)
    assert dropped == 4 and trips.depart.size == 0           # origin == destination
    n22 = list(roads.node_ids).index("n22")
    trips, dropped = kernel_trips({"depart_s": np.arange(4.0), "origin_node": np.full(4, n00),
                                   "destination_node": np.full(4, n22)}, roads)
    assert dropped == 0
    assert set(roads.link_from[trips.origin]) == {n00}
    assert set(roads.link_to[trips.destination]) == {n22}
    assert len(set(trips.origin)) == 2                       # both links out of the corner
    rec = np.zeros(2, dtype=[("depart_s", float), ("origin_link", int),
                             ("destination_link", int)])
    trips, _ = kernel_trips(rec, roads)
    assert trips.depart.size == 2


def test_one_member_advances_on_one_thread_with_the_same_result(tmp_path, base_run,
                                                               monkeypatch):
    """A one-member kernel call runs on one numba thread (waking idle threads costs more than
    a small network's step), restores the thread count, and records what threads=1 records."""
    import numba

    seen = []
    compiled = traffic.api._k.advance

    def spy(*args):
        seen.append(numba.get_num_threads())
        return compiled(*args)

    monkeypatch.setattr(traffic.api._k, "advance", spy)
    threads = numba.get_num_threads()
    run = twin.run(scenario(kernels=[TrafficProcess(vehicle_slots=64)]), tmp_path / "d.zarr",
                   progress=False)
    assert seen and set(seen) == {1} and numba.get_num_threads() == threads
    a, b = base_run.open("traffic"), run.open("traffic")   # base_run: threads=1
    for v in a.variables:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    # members are independent: two members give the same on one thread as on all of them
    city = grid_city()
    roads = city.roads
    net = traffic.Network(roads.node_xy, roads.link_from, roads.link_to, roads.link_length,
                          roads.link_lanes, roads.link_free_speed)
    parts = [kernel_trips(demand(city, n_trips=100, horizon=60.0, seed=s), roads)[0]
             for s in (1, 2)]
    trips = traffic.Trips.concat(parts)  # member 1 has trips of its own
    assert np.bincount(trips.member).min() > 0
    states = []
    for n in (1, threads):
        numba.set_num_threads(n)
        try:
            st = traffic.init_state(net, trips, traffic.TrafficParams(), seed=[1, 2],
                                    n_members=2)
            traffic.run(net, trips, until=120.0, state=st)
        finally:
            numba.set_num_threads(threads)
        states.append(st)
    assert seen[-1] == min(2, threads)
    for k in ("v_pos", "v_speed", "counters"):
        np.testing.assert_array_equal(getattr(states[0], k), getattr(states[1], k), err_msg=k)


def test_resume_refuses_other_kernel_parameters(tmp_path):
    """The fingerprint covers each kernel's parameters: resuming with other TrafficParams is
    refused and the refusal names the parameter."""
    from twin.errors import StoreError

    with pytest.raises(RuntimeError, match="crash"):
        twin.run(scenario(kernels=[TrafficProcess(vehicle_slots=64, threads=1), Crash(at=200)]),
                 tmp_path / "r.zarr", progress=False)
    other = TrafficProcess(vehicle_slots=64, threads=1,
                           params=traffic.TrafficParams(headway=1.1))
    with pytest.raises(StoreError, match="params.params.headway: 1.2 -> 1.1"):
        twin.run(scenario(kernels=[other, Crash()]), tmp_path / "r.zarr", resume=True,
                 progress=False)
    # threads do not change the results: not part of the fingerprint
    run = twin.run(scenario(kernels=[TrafficProcess(vehicle_slots=64, threads=2), Crash()]),
                   tmp_path / "r.zarr", resume=True, progress=False)
    assert run.status == "complete"
