"""`twin compare`: KPI differences, the PNG plot, and runs that are not run stores."""

import numpy as np
import pytest

from tests.twin.test_kpis import two_links, write_store
from twin.analysis import compare, kpis
from twin.cli import main as cli


@pytest.fixture
def two_runs(tmp_path):
    a = write_store(tmp_path / "a.zarr", two_links())
    d = two_links()
    d.count = d.count * 2  # B: twice as many vehicles, half as fast on link a
    d.speed = np.array([[2.5, np.nan], [5.0, 2.0]])
    b = write_store(tmp_path / "b.zarr", d, veh_seconds=500.0)
    return a, b


def test_differences(two_runs):
    ka, kb = (kpis.compute(r) for r in two_runs)
    diff = compare.differences(ka, kb)
    va, vb, d, pct, verdict = diff[("traffic", "vht_h")]
    assert (va, vb) == pytest.approx((250 / 3600, 500 / 3600))
    assert d == pytest.approx(250 / 3600) and pct == pytest.approx(100.0)
    assert verdict == "worse"                       # more vehicle-hours: lower is better
    assert diff[("traffic", "trips_completed")] == (3, 3, 0, 0, "same")
    assert diff[("traffic", "vkt_km")][4] == ""       # neither better nor worse


def test_compare_cli_prints_differences_and_writes_png(two_runs, capsys):
    a, b = two_runs
    assert cli(["compare", str(a.path), str(b.path)]) == 0
    out = capsys.readouterr().out
    assert "vehicle-hours travelled" in out and "+100.0" in out and "B − A" in out
    assert "[traffic]" in out and "worse" in out
    png = b.path.parent / "b.zarr.compare.png"
    assert png.exists() and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    other = b.path.parent / "plots" / "x.png"
    assert cli(["compare", str(a.path), str(b.path), "--plot", str(other)]) == 0
    assert other.stat().st_size > 10_000


@pytest.mark.parametrize("which", [0, 1])
def test_not_a_run_store_is_one_line(two_runs, tmp_path, capsys, which):
    paths = [str(r.path) for r in two_runs]
    paths[which] = str(tmp_path / "missing.zarr")
    assert cli(["compare", *paths]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"twin: {tmp_path / 'missing.zarr'} is not a run store"]
    folder = tmp_path / "folder"
    folder.mkdir()
    assert cli(["compare", str(folder), paths[1 - which]]) == 1
    assert "is not a run store" in capsys.readouterr().err
