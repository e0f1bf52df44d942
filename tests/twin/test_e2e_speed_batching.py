"""Steps batched into one kernel call (``multi_step``): the same stores as one call per step,
with re-routing, events and checkpoints inside the run, and across an interrupted run."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from tests.twin.runcompare import assert_runs_equal
from tests.twin.test_runtime_traffic import demand, grid_city
from twin.kernels import traffic
from twin.kernels.traffic import TrafficProcess


def _scenario(duration=420.0) -> twin.Scenario:
    city = grid_city()
    # re-routing every 45 s and events off the 30 s record grid: batches must end there
    params = traffic.TrafficParams(reroute_period=45.0, reroute_share=0.3)
    events = [twin.Event(at=97.0, kind="closure", target="h01:f", duration=61.0),
              twin.Event(at=200.0, kind="capacity_drop", target="v11:f", duration=100.0,
                         details={"factor": 0.3})]
    return twin.Scenario(city=city, duration=duration, seed=5, inputs={"traffic": demand(city)},
                         kernels=[TrafficProcess(params=params, vehicle_slots=32)],
                         events=events, record_interval=30.0, chunk_records=4, name="batch")


def _counting(monkeypatch, multi: bool) -> list:
    """Count TrafficProcess.step calls; ``multi``=False turns batching off."""
    calls = []
    step = TrafficProcess.step

    def counted(self, t, dt, ctx):
        calls.append(dt)
        return step(self, t, dt, ctx)

    monkeypatch.setattr(TrafficProcess, "step", counted)
    if not multi:
        monkeypatch.setattr(TrafficProcess, "multi_step", False)
    return calls


def test_batched_steps_equal_single_steps(tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        single = _counting(m, multi=False)
        a = twin.run(_scenario(), tmp_path / "single.zarr", progress=False)
    batched = _counting(monkeypatch, multi=True)
    b = twin.run(_scenario(), tmp_path / "batched.zarr", progress=False)
    assert len(single) == 420 and set(single) == {1.0}
    assert sum(batched) == 420.0 and len(batched) < 60      # steps batched
    assert max(batched) == 30.0                              # never past a record
    assert_runs_equal(a, b, ["traffic"])
    assert a.events.equals(b.events)
    assert int(a.open("traffic")["arrived"].values[-1, 0]) > 100


def test_batching_off_when_a_port_is_coupled(tmp_path, monkeypatch):
    calls = _counting(monkeypatch, multi=True)

    class Power:
        name, dt = "power", 10.0
        publishes = {"signal_power": twin.Spec(("road_node",), "1")}

        def init(self, ctx):
            self.n = len(ctx.city.roads.node_ids)

        def step(self, t, dt, ctx):
            ctx.bus.publish("power/signal_power", np.ones(self.n), dims=("road_node",),
                            units="1")

        def config(self):
            return {}

    sc = _scenario(duration=60.0)
    sc.events = []
    sc.kernels = [Power()] + sc.kernels
    sc.couplings = {"traffic/signal_power": "power/signal_power"}
    twin.run(sc, tmp_path / "coupled.zarr", progress=False)
    assert set(calls) == {1.0} and len(calls) == 60


def test_batched_run_resumes_bit_identical(tmp_path, monkeypatch):
    _counting(monkeypatch, multi=True)
    whole = twin.run(_scenario(), tmp_path / "whole.zarr", progress=False)
    step = TrafficProcess.step

    def crash(self, t, dt, ctx):
        if t + dt > 250.0:
            raise RuntimeError("killed")
        return step(self, t, dt, ctx)

    out = tmp_path / "cut.zarr"
    with monkeypatch.context() as m:
        m.setattr(TrafficProcess, "step", crash)
        with pytest.raises(RuntimeError, match="killed"):
            twin.run(_scenario(), out, progress=False)
    resumed = twin.run(_scenario(), out, resume=True, progress=False)
    assert resumed.provenance["resumed"] == 1
    assert_runs_equal(whole, resumed, ["traffic"])
