"""Shared assertion for the resume tests: two run stores hold the same records and rows."""

from __future__ import annotations

import numpy as np


def assert_runs_equal(a, b, layers, tables=(("traffic", "trips"),)) -> None:
    """Assert that runs ``a`` and ``b`` have bit-identical ``layers`` and ``tables``."""
    for layer in layers:
        da, db = a.open(layer), b.open(layer)
        assert set(da.variables) == set(db.variables), layer
        for v in da.variables:
            np.testing.assert_array_equal(da[v].values, db[v].values, err_msg=f"{layer}/{v}")
    for layer, name in tables:
        ta, tb = a.table(layer, name), b.table(layer, name)
        for k in ta:
            np.testing.assert_array_equal(ta[k], tb[k], err_msg=f"{layer}/{name}/{k}")
