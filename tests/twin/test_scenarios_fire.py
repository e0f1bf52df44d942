"""scenarios/liangxi_chemical_fire.py end to end (quick version): the zone is evacuated and
nobody is lost, the hydrants draw their fire flow and their pressure drops, no vehicle
enters the cordon, the fire engines arrive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import twin
from twin.cli import scenario_file

SCRIPT = Path(__file__).resolve().parents[2] / "scenarios" / "liangxi_chemical_fire.py"


@pytest.fixture(scope="module")
def fire(tmp_path_factory):
    sc = scenario_file.build_scenario(SCRIPT, quick=True)
    run = twin.run(sc, tmp_path_factory.mktemp("fire") / "f.zarr", progress=False)
    return sc, run


@pytest.mark.slow
def test_zone_evacuated_nobody_lost(fire):
    sc, run = fire
    c = run.open("crowd").isel(member=0)
    share = c.evacuated_share.values
    assert share[0] < 0.05 and share[-1] > 0.9
    people = run.table("crowd", "evacuees")["evac_household"].size
    total = sum(c[v].values[-1] for v in ("evacuated", "home", "walking", "driving",
                                         "not_evacuated"))
    assert total == people > 1000


@pytest.mark.slow
def test_hydrants_flow_and_pressure_drops(fire):
    sc, run = fire
    ff = [e for e in sc.events if e.kind == "fire_flow"]
    assert len(ff) == 3
    w = run.open("water").isel(member=0)
    t = w.time.values
    idx = [list(w.water_node.values).index(e.target) for e in ff]
    p = w.pressure.values[:, idx]
    before, on = t <= ff[0].at, t > ff[0].at
    # 3 × 15 L/s asked; the emitters draw about that at the pressure they meet
    q = w.leak_flow.values
    assert (q[before] < 1e-9).all() and (q[on] > 0.04).all() and (q[on] < 0.046).all()
    assert (p[on] < p[before].min(axis=0) - 1.0).all()


@pytest.mark.slow
def test_no_vehicle_enters_the_cordon(fire):
    sc, run = fire
    cl = [e for e in sc.events if e.kind == "closure"]
    assert cl and all(e.layer == "traffic" for e in cl)
    tr = run.open("traffic").isel(member=0)
    idx = [list(tr.road_link.values).index(e.target) for e in cl]
    t = tr.time.values
    flow = tr.link_flow.values[:, idx]
    assert flow[t <= cl[0].at].sum() > 0                      # used before the cordon
    assert (tr.link_open.values[t > cl[0].at][:, idx] == 0).all()
    # after the first interval (vehicles already on them drive off) no flow at all
    assert (flow[t > cl[0].at + 60.0] == 0).all()
    assert (tr.link_count.values[t > cl[0].at + 60.0][:, idx] == 0).all()


@pytest.mark.slow
def test_fire_engines_arrive(fire):
    _, run = fire
    c = run.table("dispatch", "calls")
    assert list(c["call_unit_kind"]) == ["fire_engine", "fire_engine"]
    assert np.isfinite(c["call_response_s"]).all() and (c["call_response_s"] >= 120).all()
