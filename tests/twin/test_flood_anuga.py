"""The flood kernel against ANUGA (``anuga``) on the shared urban tile of
benchmarks/flood_anuga.py: 1 km, 0.2 % slope, 16 raised building blocks, n = 0.03, 100 mm/h
for 1 h, 80 min, 20 m cells (ANUGA: 10,000 triangles of the same squares).

Metrics (stated in the benchmark's docstring): the mean over 8 gauges of
|max depth ours − ANUGA| / ANUGA, the area whose maximum depth reaches 5 cm, and the water on
the tile at the end — each within 10 %."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("anuga", reason="anuga is not installed (pip install anuga)")

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("flood_anuga",
                                               ROOT / "benchmarks" / "flood_anuga.py")
fa = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fa)


@pytest.mark.slow
def test_depths_and_flooded_area_agree_with_anuga(tmp_path):
    M, L = 50, 1000.0
    ours = fa.run_ours(M, L, 100.0, 3600.0, 4800.0)
    peer = fa.run_anuga(M, L, 100.0, 3600.0, 4800.0, workdir=str(tmp_path))
    m = fa.compare(ours, peer, M, L)
    assert m["max_depth_mean_rel_diff"] < 0.10, m
    assert m["flooded_area_rel_diff"] < 0.10, m
    assert m["volume_rel_diff"] < 0.10, m
    assert ours["mass_rel_error"] < 1e-9 and peer["mass_rel_error"] < 1e-9
