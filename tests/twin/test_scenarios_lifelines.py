"""The lifeline scenario scripts run (quick versions) and show their cascades: a substation
trip stops pumps, darkens signals and buildings, pressure and service fall and come back; a
main break leaks, takes a lane, is isolated by its segment's valves and repaired."""

from pathlib import Path

import numpy as np
import pytest

import twin
from twin.cli import scenario_file

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _run(name, tmp_path):
    sc = scenario_file.build_scenario(SCENARIOS / f"{name}.py", quick=True)
    return sc, twin.run(sc, tmp_path / f"{name}.zarr", progress=False)


@pytest.mark.slow
def test_substation_outage_cascades_into_water_and_traffic(tmp_path):
    sc, run = _run("liangxi_substation_outage", tmp_path)
    (ev,) = sc.events
    t0, t1 = ev.at, ev.at + ev.duration
    p = run.open("power").isel(member=0)
    tp = p.time.values
    out = (tp > t0) & (tp <= t1)
    assert (p.buildings_dark.values[out] > 0).all() and (p.buildings_dark.values[~out] == 0).all()
    assert (p.signals_dark.values[out] > 0).all() and (p.signals_dark.values[~out] == 0).all()
    assert (p.shed_mw.values[out] > 0).all()
    w = run.open("water").isel(member=0)
    tw = w.time.values
    before, during, after = tw <= t0, (tw > t0 + 300) & (tw <= t1), tw > t1 + 300
    wtp = [i for i, k in enumerate(w.pump.values) if str(k).startswith("pump-wtp")]
    assert (w.pump_power.values[before][:, wtp] > 0).all()
    assert (w.pump_power.values[during][:, wtp] == 0).all()
    assert (w.pump_power.values[after][:, wtp] > 0).all()
    assert w.min_pressure.values[during].max() < w.min_pressure.values[before].min() - 5
    assert (w.unserved_total.values[during] > 0).all()
    assert (w.unserved_total.values[before] < 1e-6).all()
    assert (w.unserved_total.values[after] < 1e-6).all()
    k = twin.kpis(run)
    assert k.value("water", "unserved_m3") > 0 and k.value("power", "energy_not_served_mwh") > 0
    assert k.value("power", "max_signals_dark") > 0


@pytest.mark.slow
def test_main_break_is_isolated_by_its_valves_and_repaired(tmp_path):
    sc, run = _run("lihu_main_break", tmp_path)
    burst, iso, repair = sc.events
    w = run.open("water").isel(member=0)
    t = w.time.values
    pipe = list(w.water_link.values).index(burst.target)
    assert np.abs(w.flow.values[(t > iso.at) & (t <= repair.at), pipe]).max() < 1e-6
    cut = (t > iso.at) & (t <= repair.at)
    assert (w.unserved_total.values[cut] > 0).all()
    assert (w.unserved_total.values[t > repair.at + 300] < 1e-6).all()
    table = run.table("water", "isolations")
    assert table["isolation_link"].tolist() == [burst.target]
    assert table["isolation_valves"][0] >= 1 and table["isolation_nodes"][0] >= 1
    assert table["isolation_end_s"].tolist() == [repair.at]
    ev = run.events
    lanes = ev.details[list(ev.kind).index("burst")]["road_links"]
    assert lanes, "the main lies under a street: the burst takes a lane"
    ended = ev.details[list(ev.kind).index("repair")]["ended"]
    assert ended == ["burst", "isolation"]
