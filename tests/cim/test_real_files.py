"""Every reader over the real files within reach (``benchmarks/reader_sweep.py --quick``):
each loads or is rejected with a CIMError naming it; none crashes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SWEEP = Path(__file__).resolve().parents[2] / "benchmarks" / "reader_sweep.py"


@pytest.mark.slow
def test_real_file_sweep_has_no_crash():
    spec = importlib.util.spec_from_file_location("reader_sweep", SWEEP)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.sweep(quick=True, timeout=120)
    assert res["files_loaded"] > 0, res["groups"]
    assert res["files_crashed"] == 0, "\n".join(res["crashes"])
