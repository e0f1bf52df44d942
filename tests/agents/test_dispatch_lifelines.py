"""Repair crews close the loop with the lifelines (grid city with water and power): a pipe
burst is isolated by the water kernel exactly when its crew arrives and repaired when the
repair is done; a cable fault is restored by its power crew; a crash blocks a lane until
the ambulance leaves. A run interrupted and resumed equals an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from agents.responders import DispatchProcess, incident
from twin.kernels.power.process import PowerProcess
from twin.kernels.traffic import TrafficProcess
from twin.kernels.water.process import WaterProcess

from ..twin.runcompare import assert_runs_equal
from ..twin.test_runtime_traffic import Crash
from .dispatch_city import dispatch_city, scenario

COUPLINGS = {"water/pump_power": "power/pump_power", "power/pump_load": "water/pump_load",
             "traffic/capacity_factor": "water/capacity_factor"}
CREWS = [("W1", "water_crew", "ps1", "h01:b"), ("P1", "power_crew", "ss1", "v02:f"),
         ("A1", "ambulance", "h1", "h20:f")]
PIPE = "P6"


def _kernels(crash_at=None):
    return [TrafficProcess(vehicle_slots=8, threads=1), PowerProcess(dt=30),
            WaterProcess(dt=60), Crash(crash_at)]


def _incidents():
    return [incident("pipe_burst", at=120.0, water_link=PIPE, on_scene_s=900.0),
            incident("power_fault", at=300.0, power_link="L2", on_scene_s=600.0),
            incident("traffic_crash", at=200.0, road_link="v10:f", on_scene_s=300.0,
                     transport=False)]


def _scenario(crash_at=None):
    return scenario(dispatch_city(), [DispatchProcess(_incidents(), units=CREWS)],
                    kernels=_kernels(crash_at), n_trips=200, duration=3000.0,
                    couplings=dict(COUPLINGS), chunk_records=8)


@pytest.fixture(scope="module")
def crews_run(tmp_path_factory):
    return twin.run(_scenario(), tmp_path_factory.mktemp("crews") / "r.zarr", progress=False)


def _call(run, typ):
    c = run.table("dispatch", "calls")
    k = list(c["call_type"]).index(typ)
    return {n: v[k] for n, v in c.items()}


def _events(run, kind, target):
    ev = run.events
    return ev[(ev.kind == kind) & (ev.target == target)]


def test_burst_is_isolated_when_the_crew_arrives_and_repaired_after(crews_run):
    run = crews_run
    c = _call(run, "pipe_burst")
    assert c["call_unit"] == "W1" and np.isfinite(c["call_arrived_s"])
    burst = _events(run, "burst", PIPE)
    iso = _events(run, "isolation", PIPE)
    rep = _events(run, "repair", PIPE)
    assert list(burst.time) == [120.0] and list(burst.phase) == ["start"]
    assert list(iso.time) == [c["call_arrived_s"]]                  # exactly on arrival
    assert list(rep.time) == [c["call_cleared_s"]] == [c["call_arrived_s"] + 900.0]
    assert set(burst.source) | set(iso.source) | set(rep.source) == {"dispatch"}
    assert sorted(rep.details.iloc[0]["ended"]) == ["burst", "isolation"]
    # the water kernel's own record: isolated from the crew's arrival to the repair
    iso_t = run.table("water", "isolations")
    assert iso_t["isolation_link"].tolist() == [PIPE]
    assert iso_t["isolation_start_s"].tolist() == [c["call_arrived_s"]]
    assert iso_t["isolation_end_s"].tolist() == [c["call_cleared_s"]]
    w = run.open("water").isel(member=0)
    t = w.time.values
    flow = np.abs(w.flow.sel(water_link=PIPE).values)
    closed = (t >= c["call_arrived_s"] + 60) & (t < c["call_cleared_s"])
    assert closed.sum() >= 10 and flow[closed].max() < 1e-6
    leak = (t > 180) & (t < c["call_arrived_s"])
    assert leak.any() and flow[leak].min() > 1e-4
    p_min = w.min_pressure.values
    assert p_min[leak].max() < p_min[t >= c["call_cleared_s"] + 120].min()


def test_power_crew_restores_the_line_and_crash_blocks_a_lane(crews_run):
    run = crews_run
    c = _call(run, "power_fault")
    out = _events(run, "outage", "L2")
    res = _events(run, "restoration", "L2")
    assert list(out.time) == [300.0]
    assert list(res.time) == [c["call_arrived_s"] + 600.0] == [c["call_cleared_s"]]
    p = run.open("power").isel(member=0)
    t = p.time.values
    dark = p.energized.sel(power_node="B2").values
    assert (dark[(t > 300) & (t < c["call_cleared_s"])] == 0).all()
    assert (dark[t > c["call_cleared_s"] + 30] == 1).all()
    k = _call(run, "traffic_crash")
    lane = _events(run, "incident", "v10:f")
    assert list(lane.phase) == ["start", "end"]
    assert list(lane.time) == [200.0, k["call_cleared_s"]]
    assert k["call_cleared_s"] == k["call_arrived_s"] + 300.0


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", [700.0, 1300.0])
def test_resume_is_bit_identical(tmp_path, crews_run, crash_at):
    """Killed while calls are queued / crews on scene, resumed from the last checkpoint: the
    same store as the uninterrupted run (the simpy clock and missions rebuilt)."""
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(_scenario(crash_at), tmp_path / "r.zarr", progress=False)
    run = twin.run(_scenario(), tmp_path / "r.zarr", resume=True, progress=False)
    assert run.provenance["resumed"] == 1
    assert_runs_equal(crews_run, run, ("traffic", "dispatch", "water", "power"),
                      (("traffic", "trips"), ("dispatch", "calls")))
    a, b = crews_run.events, run.events
    assert list(a.time) == list(b.time) and list(a.kind) == list(b.kind)
