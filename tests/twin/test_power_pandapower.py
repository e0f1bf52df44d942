"""AC and DC power flow against pandapower (runpp NR with default options, rundcpp) on the
cases pandapower ships, read through cim.load (pandapower JSON)."""

import numpy as np
import pytest

from twin.kernels.power import powerflow

from .power_cases import case, pp_branch, pp_bus, runpp

CASES = ["case9", "case30", "case118",
         pytest.param("case1354pegase", marks=pytest.mark.slow)]


@pytest.mark.parametrize("name", CASES)
def test_ac_matches_pandapower(name, tmp_path):
    net, grid = case(name, tmp_path)
    runpp(net)
    ds = powerflow(grid)
    assert bool(ds.converged)
    np.testing.assert_allclose(ds.vm_pu, pp_bus(net, grid, "vm_pu"), atol=1e-6, rtol=0)
    np.testing.assert_allclose(ds.va_degree, pp_bus(net, grid, "va_degree"), atol=1e-4, rtol=0)
    ld = pp_branch(net, grid, "loading_percent")
    ok = np.isfinite(ld)
    assert ok.sum() == grid.n_links
    np.testing.assert_allclose(ds.loading_percent.values[ok], ld[ok], atol=1e-3, rtol=0)
    for ours, theirs in (("p_from_mw", "p_from_mw"), ("q_to_mvar", "q_to_mvar")):
        col = "p_hv_mw" if theirs == "p_from_mw" else "q_lv_mvar"
        ref = np.where(np.isfinite(pp_branch(net, grid, theirs)),
                       pp_branch(net, grid, theirs), pp_branch(net, grid, col))
        np.testing.assert_allclose(ds[ours], ref, atol=1e-4, rtol=0)
    # bus injections: pandapower's res_bus.p_mw is consumption
    np.testing.assert_allclose(-ds.p_mw, pp_bus(net, grid, "p_mw"), atol=1e-4, rtol=0)
    np.testing.assert_allclose(-ds.q_mvar, pp_bus(net, grid, "q_mvar"), atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", ["case9", "case118"])
def test_dc_matches_pandapower(name, tmp_path):
    net, grid = case(name, tmp_path)
    runpp(net, dc=True)
    ds = powerflow(grid, method="dc")
    np.testing.assert_allclose(ds.va_degree, pp_bus(net, grid, "va_degree"), atol=1e-6, rtol=0)
    np.testing.assert_allclose(ds.vm_pu, pp_bus(net, grid, "vm_pu"), atol=1e-9, rtol=0)
    ref = pp_branch(net, grid, "p_from_mw")
    ref = np.where(np.isfinite(ref), ref, pp_branch(net, grid, "p_hv_mw"))
    np.testing.assert_allclose(ds.p_from_mw, ref, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ds.loading_percent, pp_branch(net, grid, "loading_percent"),
                               atol=1e-3, rtol=0)


def test_flat_and_dc_start_agree_with_pandapower(tmp_path):
    net, grid = case("case30", tmp_path)
    runpp(net)
    for init in ("flat", "dc"):
        ds = powerflow(grid, init=init)
        np.testing.assert_allclose(ds.vm_pu, pp_bus(net, grid, "vm_pu"), atol=1e-6, rtol=0)
