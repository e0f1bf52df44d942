"""The scenario scripts: they build and validate, run in tiny versions, and do what they say
(the tunnel closes at 08:00, the signals are retimed); bad scenarios fail before the run."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import twin
from twin.cli import main as cli
from twin.cli import scenario_file
from twin.core.simulation import Simulation

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
TUNNEL = ("lihu_avenue-045:f", "lihu_avenue-045:b")


def tiny(sc, duration: float, every: int = 2):
    """Return ``sc`` cut to ``duration`` s with every ``every``-th of its trips."""
    d = sc.inputs["traffic"]
    keep = (d["depart_s"] < duration) & (np.arange(len(d["depart_s"])) % every == 0)
    sc.inputs["traffic"] = {k: v[keep] if isinstance(v, np.ndarray) else v for k, v in d.items()}
    sc.duration = duration
    return sc


@pytest.mark.parametrize("name", ["lihu_morning_peak", "lihu_tunnel_closure",
                                  "liangxi_signal_retiming"])
@pytest.mark.parametrize("quick", [False, True])
def test_scenario_builds_and_validates(name, quick):
    sc = scenario_file.build_scenario(SCENARIOS / f"{name}.py", quick=quick)
    assert isinstance(sc, twin.Scenario) and len(sc.inputs["traffic"]["depart_s"]) > 1000
    assert sc.duration == (1800 if quick else 10800 if name.startswith("lihu") else 7200)
    assert [k.name for k in sc.kernels] == ["traffic"]
    Simulation(sc)  # resolves the city and validates against the kernels' declarations
    assert sc.source_path.endswith(f"{name}.py") and "def scenario" in sc.source


def test_closure_is_the_baseline_plus_the_tunnel_closure_at_8():
    base = scenario_file.build_scenario(SCENARIOS / "lihu_morning_peak.py")
    sc = scenario_file.build_scenario(SCENARIOS / "lihu_tunnel_closure.py")
    for k in ("depart_s", "origin_node", "destination_node"):
        np.testing.assert_array_equal(base.inputs["traffic"][k], sc.inputs["traffic"][k])
    assert base.events == [] and sc.seed == base.seed
    assert {(e.kind, e.target, e.at) for e in sc.events} == {
        ("closure", link, 3600.0) for link in TUNNEL}
    quick = scenario_file.build_scenario(SCENARIOS / "lihu_tunnel_closure.py", quick=True)
    assert quick.start.hour == 7 and {e.at for e in quick.events} == {900.0}  # 07:45 + 15 min


@pytest.fixture(scope="module")
def tunnel_runs(tmp_path_factory):
    """Tiny baseline and closure runs, 07:45–08:05, closure at 08:00."""
    out = tmp_path_factory.mktemp("tunnel")
    runs = {}
    for name in ("lihu_morning_peak", "lihu_tunnel_closure"):
        sc = tiny(scenario_file.build_scenario(SCENARIOS / f"{name}.py", quick=True), 1200)
        runs[name] = twin.run(sc, out / f"{name}.zarr", progress=False)
    return runs["lihu_morning_peak"], runs["lihu_tunnel_closure"]


def test_tunnel_closes_at_8_and_no_vehicle_enters_it(tunnel_runs):
    base, closed = tunnel_runs
    ev = closed.events
    assert sorted(ev["target"]) == sorted(TUNNEL)
    assert set(ev["kind"]) == {"closure"} and set(ev["time"]) == {900.0}
    ds = closed.open("traffic").isel(member=0)
    t = ds["time"].values
    tun = ds.sel(road_link=list(TUNNEL))
    assert (tun["link_open"].values[t > 900] == 0).all()
    assert (tun["link_open"].values[t <= 900] == 1).all()
    # the tunnel empties within a record interval and nothing leaves it after that
    assert (tun["link_count"].values[t >= 960] == 0).all()
    assert (tun["link_flow"].values[t >= 1020] == 0).all()
    base_tun = base.open("traffic").isel(member=0).sel(road_link=list(TUNNEL))
    assert base_tun["link_flow"].values[t >= 1020].sum() > 0  # the baseline still uses it


def test_closure_changes_the_kpis(tunnel_runs):
    from twin.analysis import kpis

    kb, kc = (kpis.compute(r) for r in tunnel_runs)
    for k in (kb, kc):
        for x in k.layers["traffic"][0]:
            assert np.isfinite(x.value), x.name
        assert k.value("traffic", "trips_completed") > 100
        assert k.reports["traffic"][0].count(" veh·h ") == 10   # the ten worst links
    assert kb.value("traffic", "vkt_km") != kc.value("traffic", "vkt_km")
    assert kb.value("traffic", "vht_h") != kc.value("traffic", "vht_h")
    # identical until the closure
    sb, sc = (kpis.series(r, "traffic") for r in tunnel_runs)
    t = sb["vehicles_in_network"][2]
    np.testing.assert_array_equal(sb["vehicles_in_network"][3][t <= 900],
                                  sc["vehicles_in_network"][3][t <= 900])


def test_retiming_changes_signal_plans(tmp_path):
    path = SCENARIOS / "liangxi_signal_retiming.py"
    sc = tiny(scenario_file.build_scenario(path, quick=True), 300)
    base = tiny(scenario_file.build_scenario(path, quick=True, function="baseline"), 300)
    assert base.interventions == [] and len(sc.interventions) >= 20
    assert {e.kind for e in sc.interventions} == {"signal_plan"}
    run = twin.run(sc, tmp_path / "retimed.zarr", progress=False)
    ev = run.events
    assert len(ev) == len(sc.interventions) and set(ev["time"]) == {0.0}
    assert set(ev["source"]) == {"intervention"}
    changed = 0
    for d in ev["details"]:
        new, old = d["plan"], d["previous_plan"]
        assert new["cycle_s"] == 110.0 and sum(new["green_s"]) + 2 * new["yellow_s"] == 110.0
        same = new["green_s"] == old["green_s"] and new["cycle_s"] == old["cycle_s"]
        changed += not same
        # the 110 s four-phase plans already give the arterial 61 of 102 s of green (its
        # through and left greens and the yellow between them): only those stay as they are
        assert not same or old["cycle_s"] == 110.0
    assert changed > len(ev) / 2
    k = twin.kpis(run)
    assert all(np.isfinite(x.value) for x in k.layers["traffic"][0])


# ---- bad scenarios: one readable line, exit 1, nothing written ------------------------------
BAD = {
    "unknown_link": ('twin.Scenario("lihu", duration=600, kernels=["traffic"], '
                     'inputs={"traffic": DEMAND}, '
                     'events=[twin.Event("closure", "no-such-link", at=60)])', "no-such-link"),
    "unknown_district": ('twin.Scenario("atlantis", duration=600, kernels=["traffic"], '
                         'inputs={"traffic": DEMAND})', "unknown district 'atlantis'"),
    "negative_duration": ('twin.Scenario("lihu", duration=-600, kernels=["traffic"], '
                          'inputs={"traffic": DEMAND})', "duration must be > 0"),
    "no_kernels": ('twin.Scenario("lihu", duration=600)', "no kernels"),
    "unknown_kernel": ('twin.Scenario("lihu", duration=600, kernels=["sewer"])',
                       "no kernel called 'sewer'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_fails_before_the_run(case, tmp_path, capsys):
    body, expected = BAD[case]
    script = tmp_path / f"{case}.py"
    script.write_text(
        "import twin\n"
        "DEMAND = {'depart_s': [0.0], 'origin_node': [0], 'destination_node': [5]}\n\n\n"
        f"def scenario(quick=False):\n    return {body}\n")
    out = tmp_path / "run.zarr"
    assert cli(["run", str(script), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("twin: ") and expected in err[0], err
    assert not out.exists()


def test_script_without_scenario_function(tmp_path, capsys):
    script = tmp_path / "empty.py"
    script.write_text('"""Nothing here."""\n')
    assert cli(["run", str(script), "-q"]) == 1
    assert "no function scenario" in capsys.readouterr().err


def test_python_file_quick_as_subprocess(tmp_path):
    out = tmp_path / "peak.zarr"
    r = subprocess.run([sys.executable, str(SCENARIOS / "lihu_morning_peak.py"), "--quick",
                        "--out", str(out), "-q"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert "vehicle-hours travelled" in r.stdout and "worst links" in r.stdout
    run = twin.open_run(out)
    assert run.status == "complete" and run.provenance["scenario_path"].endswith(
        "lihu_morning_peak.py")
    # again without --overwrite: refused with one line
    r = subprocess.run([sys.executable, str(SCENARIOS / "lihu_morning_peak.py"), "--quick",
                        "--out", str(out), "-q"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and "--overwrite" in r.stderr.strip()
