"""Batched members (N-1) against pandapower, batched equal to single solves, islands,
switch fusion and the typed errors."""

import numpy as np
import pytest

from cim.model.power import PowerGens, PowerGrid, PowerLoads
from twin.kernels.power import PowerFlow, PowerFlowError, n_minus_1, powerflow

from .power_cases import case, pp_branch, pp_bus, runpp


@pytest.fixture(scope="module")
def c118(tmp_path_factory):
    return case("case118", tmp_path_factory.mktemp("c118"))


def test_n_minus_1_matches_pandapower(c118):
    net, grid = c118
    ds = n_minus_1(grid)
    assert ds.sizes["member"] == int(np.sum(grid.link_in_service))
    assert bool(ds.converged.all())
    islands = np.flatnonzero(ds.n_deenergized.values > 0)
    assert len(islands) >= 1  # radial branches isolate buses
    sample = sorted(set(range(0, ds.sizes["member"], 23)) | set(islands[:3].tolist()))
    for m in sample:
        out = str(ds.member.values[m])
        kind, _, i = out.rpartition("_")
        table = net.line if kind == "line" else net.trafo
        table.loc[int(i), "in_service"] = False
        try:
            runpp(net)
            vm = pp_bus(net, grid, "vm_pu")
            dead = np.isnan(vm)
            np.testing.assert_array_equal(~ds.energized.values[m], dead, err_msg=out)
            np.testing.assert_allclose(ds.vm_pu.values[m], vm, atol=1e-6, rtol=0, err_msg=out)
            np.testing.assert_allclose(ds.va_degree.values[m], pp_bus(net, grid, "va_degree"),
                                       atol=1e-4, rtol=0, err_msg=out)
            ld = pp_branch(net, grid, "loading_percent")
            np.testing.assert_allclose(ds.loading_percent.values[m], ld, atol=1e-3, rtol=0,
                                       err_msg=out)
            # loads of isolated buses are not served (pandapower: 0 MW)
            served = net.res_load.p_mw.to_numpy() != 0
            pl = net.load.p_mw.to_numpy() != 0
            np.testing.assert_array_equal(ds.load_served.values[m][pl] > 0, served[pl])
            shed = net.load.p_mw.sum() - net.res_load.p_mw.sum()
            assert ds.load_shed_mw.values[m] == pytest.approx(shed, abs=1e-6)
        finally:
            table.loc[int(i), "in_service"] = True


def test_batched_equals_single(c118):
    _, grid = c118
    pf = PowerFlow(grid)
    pf.solve()
    rng = np.random.default_rng(3)
    k = 12
    mask = np.zeros((k, grid.n_links), bool)
    mask[np.arange(k), rng.choice(grid.n_links, k, replace=False)] = True
    mask[3, rng.choice(grid.n_links, 2, replace=False)] = True
    scale = rng.uniform(0.8, 1.2, (k, len(grid.loads)))
    batch = pf.solve(mask, None, scale)
    for m in range(k):
        one = pf.solve(mask[m:m + 1], None, scale[m:m + 1])
        for key in ("vm", "va", "loading", "p_from", "q_to"):
            np.testing.assert_allclose(batch[key][m], one[key][0], atol=1e-9, rtol=0,
                                       equal_nan=True)
    # the generic (SuperLU, block-diagonal) path agrees with the numba path
    slow = PowerFlow(grid, fast=False).solve(mask, None, scale)
    np.testing.assert_allclose(slow["vm"], batch["vm"], atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("method,init", [("ac", "flat"), ("ac", "dc"), ("dc", "auto")])
def test_fused_members_equal_block_diagonal_path(c118, method, init):
    """The fused numba member kernel against the generic SuperLU path on the same members:
    branch, bus and generator outages (islands included) and load factors."""
    _, grid = c118
    rng = np.random.default_rng(5)
    k = 6
    branch_out = rng.random((k, grid.n_links)) < 0.02
    bus_out = np.zeros((k, grid.n_nodes), bool)
    bus_out[1, 10] = bus_out[4, [40, 41]] = True
    gen_out = np.zeros((k, len(grid.gens.bus)), bool)
    gen_out[2, 3] = gen_out[5, 5:9] = True
    scale = rng.uniform(0.8, 1.2, (k, len(grid.loads)))
    args = dict(branch_out=branch_out, bus_out=bus_out, gen_out=gen_out, load_scale=scale,
                method=method, init=init)
    fused = PowerFlow(grid).solve(**args)
    slow = PowerFlow(grid, fast=False).solve(**args)
    assert fused["converged"].all() and (~fused["energized"]).any()
    assert set(fused) == set(slow)
    for key in fused:
        np.testing.assert_allclose(fused[key], slow[key], atol=1e-9 * (100 if key in (
            "p", "q", "p_from", "q_from", "p_to", "q_to", "load_p") else 1), rtol=0,
            equal_nan=True, err_msg=key)


def test_bus_outage_and_gen_members(c118):
    _, grid = c118
    pf = PowerFlow(grid)
    bus_out = np.zeros((2, grid.n_nodes), bool)
    bus_out[1, 10] = True
    r = pf.solve(bus_out=bus_out)
    assert r["converged"].all()
    assert np.isnan(r["vm"][1, 10]) and not r["energized"][1, 10]
    touching = (grid.link_from == 10) | (grid.link_to == 10)
    assert np.isnan(r["p_from"][1, touching]).all()
    assert np.isfinite(r["p_from"][0]).all()


def _small(with_switch: bool):
    """Slack - line - bus1 (= bus1b by a switch) - line - bus2 with a PV gen, loads."""
    ids = ["0", "1", "1b", "2"] if with_switch else ["0", "1", "2"]
    n = len(ids)
    idx = {b: i for i, b in enumerate(ids)}
    links = [("0", "1", "line"), ("1b" if with_switch else "1", "2", "line")]
    if with_switch:
        links.append(("1", "1b", "switch"))
    nl = len(links)
    r = np.array([0.01, 0.02, 0.0][:nl])
    x = np.array([0.1, 0.08, 0.0][:nl])
    gens = PowerGens(np.array(["ext", "g"], object), np.array([0, idx["2"]]),
                     np.array(["ext_grid", "gen"], object), np.array([0.0, 30.0]),
                     np.zeros(2), np.array([1.02, 1.01]), np.zeros(2), np.full(2, np.inf),
                     np.full(2, -np.inf), np.ones(2, bool))
    loads = PowerLoads(np.array(["a", "b"], object),
                       np.array([idx["1b" if with_switch else "1"], idx["2"]]),
                       np.array([60.0, 40.0]), np.array([20.0, 10.0]), np.ones(2, bool),
                       np.array(["", ""], object), np.array([None, None], object))
    return PowerGrid(
        node_ids=np.array(ids, object), node_xy=np.zeros((n, 2)),
        link_ids=np.array([f"l{k}" for k in range(nl)], object),
        link_from=np.array([idx[a] for a, _, _ in links]),
        link_to=np.array([idx[b] for _, b, _ in links]), link_length=np.ones(nl),
        geometry_offsets=np.zeros(nl + 1, np.int64), geometry_xy=np.zeros((0, 2)),
        link_type=np.array([t for _, _, t in links], object), link_r_pu=r, link_x_pu=x,
        link_b_pu=np.array([0.02, 0.01, 0.0][:nl]), node_vn_kv=np.full(n, 110.0),
        gens=gens, loads=loads)


def test_switch_fusion_equals_merged_bus():
    fused = powerflow(_small(True))
    merged = powerflow(_small(False))
    np.testing.assert_allclose(fused.vm_pu.sel(bus=["0", "1", "2"]), merged.vm_pu, atol=1e-12)
    assert float(fused.vm_pu.sel(bus="1b")) == float(fused.vm_pu.sel(bus="1"))
    assert float(fused.vm_pu.sel(bus="2")) == pytest.approx(1.01)
    # opening the switch islands buses 1b and 2 (a PV gen is no slack): de-energized
    open_ = powerflow(_small(True), outages=[["l2"]])
    assert not bool(open_.energized.sel(member=0, bus="2"))
    assert np.isnan(float(open_.vm_pu.sel(member=0, bus="1b")))
    assert float(open_.load_served.sel(member=0, load="a")) == 0.0


def test_no_slack_is_a_typed_error():
    g = _small(False)
    g.gens.in_service[0] = False
    with pytest.raises(PowerFlowError, match="no slack"):
        powerflow(g)


def test_non_convergence_names_worst_mismatch(c118):
    _, grid = c118
    with pytest.raises(PowerFlowError) as e:
        powerflow(grid, loads=np.full(len(grid.loads), 50.0))
    err = e.value
    assert err.iterations is not None and err.iterations > 0
    assert err.bus in set(np.asarray(grid.node_ids, str))
    assert max(abs(err.mismatch_mw), abs(err.mismatch_mvar)) > 1e-3
    assert "MW" in str(err) and err.bus in str(err)
    # as a member: NaN and converged False, the others fine
    pf = PowerFlow(grid)
    r = pf.solve(load_scale=np.stack([np.ones(len(grid.loads)),
                                      np.full(len(grid.loads), 50.0)]))
    assert r["converged"].tolist() == [True, False]
    assert np.isnan(r["vm"][1]).all() and np.isfinite(r["vm"][0]).all()
