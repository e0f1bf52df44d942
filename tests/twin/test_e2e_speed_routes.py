"""The route-table cache (``TrafficProcess(route_cache=…)``): tables read back equal the
solved ones, changed inputs make new entries, bad entries are ignored, and a run with the
cache (closure and re-routing adding versions to a mapped table) equals one without."""

from __future__ import annotations

import numpy as np

import twin
from tests.twin.runcompare import assert_runs_equal
from tests.twin.test_runtime_traffic import demand, grid_city
from twin.kernels import traffic
from twin.kernels.traffic import TrafficProcess
from twin.kernels.traffic._route_tables import TableCache
from twin.kernels.traffic.demand import kernel_network, kernel_trips
from twin.kernels.traffic.plans import signal_plans


def _net_trips():
    city = grid_city()
    net = kernel_network(city.roads, signal_plans(city.roads))
    trips, _ = kernel_trips(demand(city), city.roads, net, {}, [])
    return net, trips


def _tables(net, trips, cache, **params):
    st = traffic.init_state(net, trips, traffic.TrafficParams(**params), seed=1,
                            route_cache=cache)
    return st.arrays["route_next"]


def test_cached_tables_equal_solved_ones(tmp_path):
    net, trips = _net_trips()
    solved = _tables(net, trips, None)
    assert (solved >= 0).any()
    first = _tables(net, trips, tmp_path)
    (entry,) = tmp_path.glob("routes-*.i32")
    entry.write_bytes(np.full(solved.size, 7, np.int32).tobytes())  # same size: a marker
    mapped = _tables(net, trips, tmp_path)
    np.testing.assert_array_equal(first, solved)
    assert (mapped == 7).all()                 # read from the entry, not solved again
    entry.write_bytes(b"short")                # wrong size: ignored, solved and rewritten
    np.testing.assert_array_equal(_tables(net, trips, tmp_path), solved)
    np.testing.assert_array_equal(_tables(net, trips, tmp_path), solved)


def test_changed_inputs_make_new_entries(tmp_path, monkeypatch):
    net, trips = _net_trips()
    _tables(net, trips, tmp_path)
    penalised = _tables(net, trips, tmp_path, left_turn_penalty=30.0)
    assert len(list(tmp_path.glob("routes-*.i32"))) == 2
    np.testing.assert_array_equal(penalised, _tables(net, trips, None, left_turn_penalty=30.0))
    monkeypatch.setattr(TableCache, "KEEP", 2)
    fewer = kernel_trips_subset(trips)
    _tables(net, fewer, tmp_path)              # other destinations: a third entry, oldest out
    assert len(list(tmp_path.glob("routes-*.i32"))) == 2
    monkeypatch.setattr(TableCache, "MAX_BYTES", 1)
    _tables(net, trips, tmp_path, left_turn_penalty=7.0)
    assert len(list(tmp_path.glob("routes-*.i32"))) == 1  # over the size budget: the newest


def kernel_trips_subset(trips):
    keep = trips.destination != trips.destination[0]
    return traffic.Trips(**{k: getattr(trips, k)[keep] for k in ("depart", "origin",
                                                                  "destination")})


def _scenario(cache):
    city = grid_city()
    params = traffic.TrafficParams(reroute_period=60.0)
    return twin.Scenario(city=city, duration=300.0, seed=5, inputs={"traffic": demand(city)},
                         kernels=[TrafficProcess(params=params, vehicle_slots=16,
                                                 route_cache=cache)],
                         events=[traffic.closure("h11:f", at=90, duration=120)],
                         record_interval=30.0, name="routes")


def test_run_with_the_cache_equals_one_without(tmp_path):
    plain = twin.run(_scenario(None), tmp_path / "plain.zarr", progress=False)
    twin.run(_scenario(tmp_path / "c"), tmp_path / "fill.zarr", progress=False)
    again = twin.run(_scenario(tmp_path / "c"), tmp_path / "again.zarr", progress=False)
    assert len(list((tmp_path / "c").glob("routes-*.i32"))) == 1
    assert _scenario(None).fingerprint() == _scenario(tmp_path / "c").fingerprint()
    assert_runs_equal(plain, again, ["traffic"])
