"""The `twin` command line on a district and on malformed files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from twin.cli import main

ROOT = Path(__file__).resolve().parents[2]
MINIMAL_BUILDING = {
    "type": "CityJSON", "version": "2.0",
    "transform": {"scale": [0.001, 0.001, 0.001], "translate": [0, 0, 0]},
    "CityObjects": {"b1": {"type": "Building", "geometry": [{
        "type": "Solid", "lod": "1", "boundaries": [[
            [[0, 3, 2, 1]], [[4, 5, 6, 7]], [[0, 1, 5, 4]], [[1, 2, 6, 5]], [[2, 3, 7, 6]],
            [[3, 0, 4, 7]]]]}]}},
    "vertices": [[0, 0, 0], [10000, 0, 0], [10000, 10000, 0], [0, 10000, 0],
                 [0, 0, 9000], [10000, 0, 9000], [10000, 10000, 9000], [0, 10000, 9000]],
}


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "good.city.json"
    good.write_text(json.dumps(MINIMAL_BUILDING))
    bad_json = tmp_path / "broken.city.json"
    bad_json.write_text('{"type": "CityJSON", "version": "2.0",\n  "CityObjects": {,}}')
    bad_vertex = json.loads(json.dumps(MINIMAL_BUILDING))
    bad_vertex["CityObjects"]["b1"]["geometry"][0]["boundaries"][0][0][0][0] = 99
    bad_idx = tmp_path / "badindex.city.json"
    bad_idx.write_text(json.dumps(bad_vertex))
    return good, bad_json, bad_idx


def test_districts_lists_both(capsys):
    assert main(["districts"]) == 0
    out = capsys.readouterr().out
    assert "lihu" in out and "liangxi" in out


def test_validate_good_and_bad(files, capsys):
    good, bad_json, bad_idx = files
    assert main(["validate", str(good)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["validate", str(bad_json)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "broken.city.json:2" in out[0]
    assert main(["validate", str(bad_idx), str(good)]) == 1
    out = capsys.readouterr().out
    assert "badindex.city.json" in out and "b1" in out


def test_info_on_file_and_malformed(files, capsys):
    good, bad_json, _ = files
    assert main(["info", str(good)]) == 0
    out = capsys.readouterr().out
    assert "cityjson" in out and "buildings: 1" in out and "no reference system" in out
    assert main(["info", str(bad_json)]) == 1


def test_build_file_writes_outputs(files, tmp_path, capsys):
    good, bad_json, _ = files
    out = tmp_path / "o"
    assert main(["build", str(good), "--out", str(out), "-q", "--no-snapshot"]) == 0
    assert (out / "good.glb").stat().st_size > 0
    assert (out / "good.city.json").exists()
    assert json.loads((out / "summary.json").read_text())["name"] == "good"
    assert main(["build", str(bad_json), "--out", str(out), "-q"]) == 1
    assert "broken.city.json" in capsys.readouterr().err


@pytest.mark.slow
def test_build_district_console_script(tmp_path):
    out = tmp_path / "lihu"
    p = subprocess.run([sys.executable, "-m", "twin.cli", "build", "lihu", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["name"] == "lihu"
    for f in ("lihu.glb", "lihu.city.json", "lihu.png"):
        assert (out / f).stat().st_size > 1000
    p = subprocess.run([sys.executable, "-m", "twin.cli", "info",
                        str(out / "lihu.city.json")], capture_output=True, text=True)
    assert p.returncode == 0 and "synthetic" in p.stdout
