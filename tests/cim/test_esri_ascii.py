"""ESRI ASCII grid DEM: header variants, NODATA, sidecar .prj, writer round trip, errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import cim
from cim.formats import esri_ascii

GRID = """NCOLS 3
nrows 2
xllcenter 105.0
yllcenter 205.0
cellsize 10
NODATA_value -1
1 2 -1
4 5 6.5
"""


def test_read_center_header_nodata_north_first(tmp_path):
    p = tmp_path / "dem.asc"
    p.write_text(GRID)
    city = cim.load(p)
    t = city.terrain
    assert (t.x0, t.y0, t.cell) == (100.0, 200.0, 10.0)
    assert np.isnan(t.z[0, 2]) and t.z[1, 2] == 6.5
    assert t.z[0, 0] == 1  # row 0 is the north row
    assert t.sample([105.0], [215.0])[0] == pytest.approx(1.0)
    assert city.crs is None and any("no .prj" in n for n in city.report.notes)


def test_gz_with_sidecar_prj(tmp_path):
    (tmp_path / "dem.asc.gz").write_bytes(gzip.compress(GRID.encode(), mtime=0))
    (tmp_path / "dem.prj").write_text(cim.resolve_crs("EPSG:4549").to_wkt("WKT1_ESRI"))
    city = cim.load(tmp_path / "dem.asc.gz")
    assert city.crs.to_epsg() == 4549 and city.terrain.shape == (2, 3)


def test_write_is_deterministic_and_round_trips(tmp_path):
    z = np.array([[1.25, np.nan], [3.0, -4.5]])
    t = cim.Terrain(z, 500000.0, 3500000.0, 2.0)
    a = esri_ascii.write(t, tmp_path / "a.asc.gz", crs="EPSG:4549")
    b = esri_ascii.write(t, tmp_path / "b.asc.gz", crs="EPSG:4549")
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a.prj").exists()
    back = cim.load(a)
    assert back.crs.to_epsg() == 4549
    assert np.array_equal(back.terrain.z, z, equal_nan=True)
    assert (back.terrain.x0, back.terrain.y0, back.terrain.cell) == (500000.0, 3500000.0, 2.0)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)),
              elements=st.floats(-1e4, 1e4, allow_nan=False).filter(lambda v: v != -9999)))
def test_round_trip_property(tmp_path_factory, z):
    p = tmp_path_factory.mktemp("rt") / "z.asc"
    esri_ascii.write(cim.Terrain(z, 0.0, 0.0, 1.0), p)
    back = cim.load(p).terrain.z
    assert np.allclose(back, z, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("text, line, match", [
    ("ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2 3\n4 5\n", 7, "6 values"),
    ("ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2 3\n4 5 6 7\n", 7, "6 values"),
    ("ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2 3\n4 x 6\n", 7, "'x'"),
    ("ncols 3\nnrows two\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2 3\n4 5 6\n", 2, "header"),
    ("ncols 3\nnrows 2\nxllcorner 0\ncellsize 1\n1 2 3\n4 5 6\n", 5, "yllcorner"),
    ("ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 0\n1 2 3\n4 5 6\n", 1, "cellsize"),
])
def test_bad_grids(tmp_path, text, line, match):
    p = tmp_path / "bad.asc"
    p.write_text(text)
    with pytest.raises(cim.FormatError, match=match) as ei:
        cim.load(p)
    assert ei.value.line == line


def test_unknown_prj(tmp_path):
    (tmp_path / "dem.asc").write_text(GRID)
    (tmp_path / "dem.prj").write_text('PROJCS["nonsense",GEOGCS["x"]]')
    with pytest.raises(cim.CRSError):
        cim.load(tmp_path / "dem.asc")
    city = cim.load(tmp_path / "dem.asc", lenient=True)
    assert city.crs is None and city.report.n_skipped == 1
