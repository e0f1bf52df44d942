"""The benchmark regression gate (benchmarks/_gate.py) on synthetic result files: no benchmark
runs here."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_gate", ROOT / "benchmarks" / "_gate.py")
gate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gate)


def _baseline():
    return {"benchmarks": {
        "grid": {"ci": True, "figures": {
            "ratio_vs_peer": {"baseline": 50.0, "gate": True, "better": "higher", "rel": 0.5,
                              "peer": "peer_rate"},
            "tt_diff": {"baseline": 0.10, "gate": True, "better": "lower", "abs": 0.02},
            "lost": {"baseline": 0, "gate": True, "better": "lower", "abs": 0},
            "wall_s": {"baseline": 1.0, "gate": False},
        }},
        "power": {"ci": True, "figures": {
            "n1.max_dvm": {"baseline": 1e-6, "gate": True, "better": "lower", "abs": 1e-5},
        }},
        "slow": {"ci": False, "figures": {
            "ratio": {"baseline": 2.0, "gate": True, "better": "higher", "rel": 0.1}}},
    }}


def _write(out: Path, name: str, figures: dict, **extra) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"benchmark": name, "figures": figures,
                                                  "config": {"grid": 5}, **extra}))


def _results(tmp_path, grid=None, power=None):
    grid = {"ratio_vs_peer": 48.0, "tt_diff": 0.11, "lost": 0, "wall_s": 9.0,
            "peer_rate": 1e5} if grid is None else grid
    _write(tmp_path, "grid", grid)
    _write(tmp_path, "power", {"speedup": 3.0}, n1={"max_dvm": 2e-6, "ours_s": 0.1}
           if power is None else power)
    return gate.load_results(tmp_path, ["grid", "power", "slow"])


def test_within_tolerance_passes_and_absolute_times_are_not_gated(tmp_path):
    # wall_s is 9x its baseline: reported only
    assert gate.check(_baseline(), _results(tmp_path)) == []


def test_regression_beyond_tolerance_fails_with_one_line_per_figure(tmp_path):
    res = _results(tmp_path, grid={"ratio_vs_peer": 20.0, "tt_diff": 0.15, "lost": 3,
                                   "wall_s": 1.0})
    fails = gate.check(_baseline(), res)
    assert len(fails) == 3
    assert all("\n" not in line for line in fails)
    by_fig = {line.split(":")[0]: line for line in fails}
    assert set(by_fig) == {"FAIL grid.ratio_vs_peer", "FAIL grid.tt_diff", "FAIL grid.lost"}
    assert "20 < allowed 25" in by_fig["FAIL grid.ratio_vs_peer"]
    assert "baseline 50" in by_fig["FAIL grid.ratio_vs_peer"]
    assert "0.15 > allowed 0.12" in by_fig["FAIL grid.tt_diff"]


def test_direction_is_respected(tmp_path):
    # far better than the baseline in each figure's direction: passes
    res = _results(tmp_path, grid={"ratio_vs_peer": 5000.0, "tt_diff": 0.0, "lost": 0})
    assert gate.check(_baseline(), res) == []
    # the same size of change the other way round fails
    base = _baseline()
    base["benchmarks"]["grid"]["figures"]["ratio_vs_peer"]["better"] = "lower"
    fails = gate.check(base, res)
    assert len(fails) == 1 and fails[0].startswith("FAIL grid.ratio_vs_peer: 5000 > allowed 75")


def test_exactly_at_the_limit_passes_just_beyond_fails(tmp_path):
    assert gate.check(_baseline(), _results(tmp_path, grid={
        "ratio_vs_peer": 25.0, "tt_diff": 0.12, "lost": 0})) == []
    fails = gate.check(_baseline(), _results(tmp_path, grid={
        "ratio_vs_peer": 24.99, "tt_diff": 0.1201, "lost": 0}))
    assert len(fails) == 2


def test_missing_figure_fails(tmp_path):
    res = _results(tmp_path, grid={"ratio_vs_peer": 60.0, "lost": 0})
    assert gate.check(_baseline(), res) == ["FAIL grid.tt_diff: missing"]


def test_null_or_nan_figure_counts_as_missing(tmp_path):
    _write(tmp_path, "grid", {"ratio_vs_peer": None, "tt_diff": 0.1, "lost": 0})
    (tmp_path / "power.json").write_text('{"figures": {}, "n1": {"max_dvm": NaN}}')
    fails = gate.check(_baseline(), gate.load_results(tmp_path, ["grid", "power"]))
    assert fails == ["FAIL grid.ratio_vs_peer: missing", "FAIL power.n1.max_dvm: missing"]


def test_crashed_benchmark_fails_every_gated_figure_and_says_why(tmp_path):
    _results(tmp_path)
    (tmp_path / "power.json").unlink()
    res = gate.load_results(tmp_path, ["grid", "power"])
    fails = gate.check(_baseline(), res, runs={"power": {"rc": 1, "wall_s": 3.0}})
    assert fails == ["FAIL power: benchmark exited with status 1",
                     "FAIL power.n1.max_dvm: missing (benchmark exited with status 1)"]
    # a crash after the result file was written still fails
    fails = gate.check(_baseline(), _results(tmp_path / "b"), runs={"grid": {"rc": "timeout"}})
    assert fails == ["FAIL grid: benchmark exited with status timeout"]
    (tmp_path / "grid.json").write_text("{not json")
    fails = gate.check(_baseline(), gate.load_results(tmp_path, ["grid", "power"]))
    assert len(fails) == 4 and all("no result file" in f for f in fails)


def test_nested_figure_regression_and_benchmarks_outside_ci(tmp_path):
    res = _results(tmp_path, power={"max_dvm": 5e-5})
    assert gate.check(_baseline(), res) == [
        "FAIL power.n1.max_dvm: 5e-05 > allowed 1.1e-05 (baseline 1e-06, lower is better, "
        "tolerance 1e-05)"]
    # "slow" has no results at all, but is not run in CI; a full check names it
    assert any(f.startswith("FAIL slow.ratio") for f in gate.check(_baseline(), res,
                                                                   ci_only=False))


def test_cli_check_exit_status(tmp_path, capsys):
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(_baseline()))
    out = tmp_path / "out"
    _results(out)
    assert gate.main(["check", "--out", str(out), "--baseline", str(base)]) == 0
    _write(out, "grid", {"ratio_vs_peer": 1.0, "tt_diff": 0.1, "lost": 0})
    assert gate.main(["check", "--out", str(out), "--baseline", str(base)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "FAIL grid.ratio_vs_peer: 1 < allowed 25" in "\n".join(lines)
    assert lines[-1] == "benchmark gate: 1 of 4 gated figures fail"


def test_update_keeps_tolerances_and_adds_new_figures_ungated(tmp_path):
    res = _results(tmp_path)
    new, problems = gate.update(_baseline(), res)
    g = new["benchmarks"]["grid"]["figures"]
    assert g["ratio_vs_peer"] == {**_baseline()["benchmarks"]["grid"]["figures"][
        "ratio_vs_peer"], "baseline": 48.0}
    assert g["wall_s"]["baseline"] == 9.0 and not g["wall_s"]["gate"]
    assert g["peer_rate"] == {"baseline": 1e5, "gate": False}
    assert new["benchmarks"]["power"]["figures"]["n1.ours_s"]["baseline"] == 0.1
    assert problems == ["slow: no results, its baseline is kept"]
    assert new["benchmarks"]["slow"] == _baseline()["benchmarks"]["slow"]
    # a gated figure the fresh run lacks is kept and named
    _write(tmp_path, "grid", {"ratio_vs_peer": 48.0, "lost": 0})
    new, problems = gate.update(_baseline(), gate.load_results(tmp_path, ["grid"]))
    assert new["benchmarks"]["grid"]["figures"]["tt_diff"]["baseline"] == 0.10
    assert "grid.tt_diff: gated but missing, kept at its old value" in problems
    # a new benchmark joins outside CI
    new, _ = gate.update(_baseline(), {"fresh": {"x": 1.0}})
    assert new["benchmarks"]["fresh"] == {"ci": False,
                                          "figures": {"x": {"baseline": 1.0, "gate": False}}}


def test_report_lists_every_figure_with_baseline_and_peer(tmp_path):
    res = _results(tmp_path, grid={"ratio_vs_peer": 20.0, "tt_diff": 0.1, "lost": 0,
                                   "wall_s": 2.0, "peer_rate": 1e5})
    md = gate.report(_baseline(), res, runs={"grid": {"rc": 0, "wall_s": 12.5}})
    assert "| ratio_vs_peer | 20 | 50 | 25 | higher | 100,000 (peer_rate) | **FAIL** |" in md
    assert "| wall_s | 2 | 1 |  |  |  | reported |" in md
    assert "| grid | 0 | 12.5 | yes |" in md
    assert "**CI gate: 1 failing figure(s)**" in md
    for fig in ("tt_diff", "lost", "peer_rate", "n1.max_dvm", "n1.ours_s", "speedup"):
        assert f"| {fig} |" in md


@pytest.mark.parametrize("entry,value,verdict", [
    ({"baseline": 0.0, "gate": True, "better": "lower", "abs": 0}, 0.0, "ok"),
    ({"baseline": 0.0, "gate": True, "better": "lower", "abs": 0}, 1.0, "worse"),
    ({"baseline": 10.0, "gate": True, "better": "higher", "rel": 0.2, "abs": 5}, 5.0, "ok"),
    ({"baseline": 10.0, "gate": True, "better": "higher", "rel": 0.2, "abs": 5}, 4.9, "worse"),
    ({"baseline": 10.0, "gate": False}, None, "report"),
])
def test_judge(entry, value, verdict):
    assert gate.judge(entry, value) == verdict


def test_committed_baseline_is_well_formed():
    base = json.loads((ROOT / "benchmarks" / "baseline.json").read_text())
    scripts = set(gate.all_benchmarks())
    n_gated = 0
    for name, bench in base["benchmarks"].items():
        assert name in scripts, name
        for fig, e in bench["figures"].items():
            if e.get("gate"):
                n_gated += 1
                assert e["better"] in ("higher", "lower"), (name, fig)
                assert e["baseline"] is not None and (e.get("rel", 0) > 0 or "abs" in e)
                assert e.get("why"), (name, fig)
    assert n_gated >= 8


def test_baseline_from_the_median_of_several_runs(tmp_path):
    runs = [{"grid": {"ratio_vs_peer": v, "lost": 0.0}, "power": None}
            for v in (10.0, 200.0, 40.0)]
    runs[1]["power"] = {"n1.max_dvm": 1e-9}
    med = gate.median_results(runs)
    assert med == {"grid": {"ratio_vs_peer": 40.0, "lost": 0.0}, "power": {"n1.max_dvm": 1e-9}}
    assert gate.median_results(runs[:2])["grid"]["ratio_vs_peer"] == 105.0
    # through the command line: two result directories, the baseline gets their median
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(_baseline()))
    for k, v in enumerate((30.0, 70.0)):
        _results(tmp_path / f"r{k}", grid={"ratio_vs_peer": v, "tt_diff": 0.1, "lost": 0})
    assert gate.main(["update", "--baseline", str(base), "--out", str(tmp_path / "r0"),
                      "--out", str(tmp_path / "r1")]) == 1  # "slow" has no results: named
    new = json.loads(base.read_text())
    assert new["benchmarks"]["grid"]["figures"]["ratio_vs_peer"]["baseline"] == 50.0
    assert new["benchmarks"]["grid"]["figures"]["ratio_vs_peer"]["rel"] == 0.5
