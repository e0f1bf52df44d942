"""Helpers of the power-flow tests: pandapower cases read through ``cim.load`` (pandapower
JSON) and pandapower's own results on our bus / branch order."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pp = pytest.importorskip("pandapower")
pn = pytest.importorskip("pandapower.networks")


def case(name: str, tmp_path):
    """Return (net, grid): a pandapower.networks case and its PowerGrid via cim.load."""
    import cim

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = getattr(pn, name)()
        path = tmp_path / f"{name}.json"
        pp.to_json(net, str(path))
    city = cim.load(path)
    return net, getattr(city, "power_grid", city)


def runpp(net, dc: bool = False):
    """Run pandapower's NR (default options) or DC power flow, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dc:
            pp.rundcpp(net)
        else:
            pp.runpp(net, algorithm="nr")


def pp_bus(net, grid, col: str) -> np.ndarray:
    """pandapower's res_bus[col] in the grid's bus order (ids are pandapower's indices)."""
    s = net.res_bus[col]
    return s.loc[[int(b) for b in grid.node_ids]].to_numpy(float)


def pp_branch(net, grid, col: str) -> np.ndarray:
    """pandapower's res_line / res_trafo[col] in the grid's branch order (ids 'line_<i>',
    'trafo_<i>'); NaN for other branches."""
    out = np.full(grid.n_links, np.nan)
    for k, lid in enumerate(grid.link_ids):
        kind, _, i = str(lid).rpartition("_")
        table = {"line": net.res_line, "trafo": net.res_trafo}.get(kind)
        if table is not None and col in table and int(i) in table.index:
            out[k] = table.at[int(i), col]
    return out
