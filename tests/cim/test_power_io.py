"""Power-grid readers and writers against pandapower: pandapower JSON networks read into the
per-unit model equal pandapower's own internal case (``net._ppc`` after ``runpp``); grids
written with ``cim.write_pandapower`` run in pandapower to the same voltages; MATPOWER .m
round trips; errors on bad files."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import cim
from cim.errors import CIMError, FormatError, ReferenceError_, SchemaError, ValueRangeError

pp = pytest.importorskip("pandapower")
pn = pytest.importorskip("pandapower.networks")
from pandapower.pypower.idx_brch import (  # noqa: E402
    BR_B,
    BR_G,
    BR_R,
    BR_STATUS,
    BR_X,
    F_BUS,
    SHIFT,
    T_BUS,
    TAP,
)
from pandapower.pypower.idx_bus import BASE_KV, BS, GS, PD, QD  # noqa: E402
from pandapower.pypower.idx_gen import GEN_BUS, PG, VG  # noqa: E402

TOL = 1e-9


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _roundtrip_pp(net, tmp_path, name="net"):
    """Write ``net`` with pandapower, read it with cim and with pandapower (runpp)."""
    p = tmp_path / f"{name}.json"
    pp.to_json(net, str(p))
    grid = cim.load(p).power_grid
    ref = pp.from_json(str(p))
    pp.runpp(ref)
    return grid, ref, p


def _bus_map(grid, net) -> np.ndarray:
    """Our dense bus index -> pandapower's internal (ppc) bus index."""
    lk = net._pd2ppc_lookups
    parts = [lk["bus"][net.bus.index.values]]
    for aux in ("trafo3w", "xward"):
        if aux in lk["aux"]:
            parts.append(lk["bus"][lk["aux"][aux]])
    m = np.concatenate(parts).astype(np.int64)
    assert len(m) == grid.n_nodes
    return m


def _compare_case(grid, net, *, check_topology=True):
    """Assert the grid's per-unit data equals pandapower's internal case ``net._ppc``."""
    ppc = net._ppc
    m = _bus_map(grid, net)
    np.testing.assert_allclose(grid.node_vn_kv, ppc["bus"][m, BASE_KV], rtol=0, atol=TOL)
    sel = np.array([not str(i).startswith("switch") for i in grid.link_ids])
    br = ppc["branch"][: sel.sum()].real
    for col, ours in ((BR_R, grid.link_r_pu), (BR_X, grid.link_x_pu), (BR_B, grid.link_b_pu),
                      (BR_G, grid.link_g_pu), (TAP, grid.link_tap),
                      (SHIFT, grid.link_shift_degree)):
        np.testing.assert_allclose(ours[sel], br[:, col], rtol=0, atol=TOL, err_msg=str(col))
    both = grid.link_in_service[sel] & (br[:, BR_STATUS] > 0)
    if check_topology:
        assert np.array_equal(grid.link_in_service[sel], br[:, BR_STATUS] > 0)
    assert np.array_equal(m[grid.link_from[sel]][both], br[both, F_BUS].astype(int))
    assert np.array_equal(m[grid.link_to[sel]][both], br[both, T_BUS].astype(int))
    nbp = len(ppc["bus"])
    ld, g = grid.loads, grid.gens
    on = ld.in_service
    sg = (g.kind == "sgen") & g.in_service
    pd_ = np.bincount(m[ld.bus[on]], ld.p_mw[on], nbp) - np.bincount(m[g.bus[sg]], g.p_mw[sg],
                                                                    nbp)
    qd_ = np.bincount(m[ld.bus[on]], ld.q_mvar[on], nbp) - np.bincount(m[g.bus[sg]],
                                                                      g.q_mvar[sg], nbp)
    np.testing.assert_allclose(pd_, ppc["bus"][:, PD], rtol=0, atol=TOL)
    np.testing.assert_allclose(qd_, ppc["bus"][:, QD], rtol=0, atol=TOL)
    np.testing.assert_allclose(np.bincount(m, grid.node_gs_mw, nbp), ppc["bus"][:, GS],
                               rtol=0, atol=TOL)
    np.testing.assert_allclose(np.bincount(m, grid.node_bs_mvar, nbp), ppc["bus"][:, BS],
                               rtol=0, atol=TOL)
    # voltage-controlled generators: (ppc bus, Vg, Pg) as sets
    vg = g.in_service & (g.kind != "sgen")
    ours = sorted(zip(m[g.bus[vg]].tolist(), np.round(g.vm_pu[vg], 12).tolist()))
    gen = ppc["gen"].real
    theirs = sorted(zip(gen[:, GEN_BUS].astype(int).tolist(), np.round(gen[:, VG], 12).tolist()))
    assert ours == theirs
    lk = net._pd2ppc_lookups.get("gen")  # pandapower gen index -> ppc gen row
    if lk is not None and len(lk):
        pv = np.flatnonzero((g.kind == "gen") & g.in_service
                            & np.array([str(i).startswith("gen_") for i in g.ids]))
        rows = lk[[int(str(i)[4:]) for i in g.ids[pv]]]
        np.testing.assert_allclose(g.p_mw[pv], gen[rows, PG], rtol=0, atol=TOL)


@pytest.mark.parametrize("case", ["case9", "case30", "case118",
                                  pytest.param("case1354pegase", marks=pytest.mark.slow)])
def test_pandapower_case_equals_internal_ppc(case, tmp_path):
    grid, ref, _ = _roundtrip_pp(getattr(pn, case)(), tmp_path, case)
    assert grid.n_nodes == len(ref.bus) and grid.base_mva == ref.sn_mva
    assert set(grid.link_type) <= {"line", "trafo"}
    _compare_case(grid, ref)


def _tap_net():
    """A net with every kind of tap changer, parallel trafos, off-nominal rated voltages, a
    three-winding trafo, closed/open bus-bus switches, an open line switch, a shunt, an sgen,
    a ward and a load with kind/element columns."""
    net = pp.create_empty_network(sn_mva=10.0)
    b = [pp.create_bus(net, v) for v in (110.0, 20.0, 20.0, 10.0, 20.0, 20.0, 10.0, 0.4)]
    pp.create_ext_grid(net, b[0], vm_pu=1.02, va_degree=3.0)
    common = dict(vkr_percent=0.4, vk_percent=12.0, pfe_kw=30.0, i0_percent=0.08,
                  tap_neutral=0, tap_min=-9, tap_max=9)
    pp.create_transformer_from_parameters(
        net, b[0], b[1], sn_mva=40, vn_hv_kv=110, vn_lv_kv=20.5, shift_degree=150,
        tap_side="hv", tap_step_percent=1.5, tap_pos=3, tap_changer_type="Ratio", **common)
    pp.create_transformer_from_parameters(
        net, b[0], b[2], sn_mva=25, vn_hv_kv=115, vn_lv_kv=21, tap_side="lv",
        tap_step_percent=1.25, tap_step_degree=5, tap_pos=-2, tap_changer_type="Symmetrical",
        parallel=2, **common)
    pp.create_transformer_from_parameters(
        net, b[1], b[3], sn_mva=16, vn_hv_kv=20, vn_lv_kv=10, tap_side="hv",
        tap_step_degree=2.0, tap_pos=4, tap_changer_type="Ideal", **common)
    pp.create_transformer3w_from_parameters(
        net, b[0], b[4], b[6], vn_hv_kv=110, vn_mv_kv=20, vn_lv_kv=10, sn_hv_mva=40,
        sn_mv_mva=30, sn_lv_mva=10, vk_hv_percent=10, vk_mv_percent=11, vk_lv_percent=12,
        vkr_hv_percent=0.3, vkr_mv_percent=0.3, vkr_lv_percent=0.3, pfe_kw=20, i0_percent=0.1,
        shift_mv_degree=30, shift_lv_degree=150, tap_side="mv", tap_neutral=0, tap_pos=2,
        tap_step_percent=1.0, tap_min=-5, tap_max=5, tap_changer_type="Ratio")
    pp.create_transformer_from_parameters(net, b[3], b[7], sn_mva=0.63, vn_hv_kv=10,
                                          vn_lv_kv=0.4, vkr_percent=1.2, vk_percent=6,
                                          pfe_kw=1.1, i0_percent=0.3)
    ln = [pp.create_line_from_parameters(net, b[i], b[j], length_km=km, r_ohm_per_km=0.12,
                                         x_ohm_per_km=0.11, c_nf_per_km=280, max_i_ka=0.36,
                                         g_us_per_km=0.5)
          for i, j, km in ((1, 2, 2.5), (2, 5, 1.2), (4, 5, 3.0), (1, 4, 4.0))]
    pp.create_switch(net, b[1], b[2], et="b", closed=True)   # fuses buses 1 and 2
    pp.create_switch(net, b[4], b[5], et="b", closed=False)
    pp.create_switch(net, b[4], ln[3], et="l", closed=False)  # line 3 open at bus 4
    pp.create_shunt(net, b[5], q_mvar=-0.6, p_mw=0.01, vn_kv=21.0, step=2)
    pp.create_sgen(net, b[6], p_mw=1.5, q_mvar=0.2, scaling=0.8)
    pp.create_ward(net, b[3], ps_mw=0.5, qs_mvar=0.1, pz_mw=0.05, qz_mvar=-0.02)
    for bus, p in ((b[5], 2.0), (b[6], 1.0), (b[7], 0.3), (b[3], 0.7)):
        pp.create_load(net, bus, p_mw=p, q_mvar=p / 4, scaling=0.9)
    net.load["kind"] = ["building", "pump", "signal", None]
    net.load["element"] = ["B1", "P7", "S3", None]
    net.load["name"] = ["ld_a", "ld_b", "ld_c", "ld_d"]
    return net


def test_tap_changers_trafo3w_switches_equal_internal_ppc(tmp_path):
    grid, ref, _ = _roundtrip_pp(_tap_net(), tmp_path)
    _compare_case(grid, ref, check_topology=False)
    ids = list(grid.link_ids)
    assert not grid.link_in_service[ids.index("line_3")]  # its switch is open
    sw = grid.link_type == "switch"
    assert sw.sum() == 2 and sorted(grid.link_in_service[sw]) == [False, True]
    assert np.all(grid.link_r_pu[sw] == 0) and np.all(grid.link_x_pu[sw] == 0)
    assert list(grid.loads.ids[:4]) == ["ld_a", "ld_b", "ld_c", "ld_d"]
    assert list(grid.loads.kind[:4]) == ["building", "pump", "signal", ""]
    assert list(grid.loads.element[:4]) == ["B1", "P7", "S3", None]
    assert grid.loads.p_mw[0] == pytest.approx(1.8)


@pytest.mark.parametrize("name", ["example_multivoltage", "mv_oberrhein"])
def test_example_networks_branch_parameters(name, tmp_path):
    grid, ref, _ = _roundtrip_pp(getattr(pn, name)(), tmp_path, name)
    _compare_case(grid, ref, check_topology=False)
    if name == "mv_oberrhein":  # bus and line geodata
        xy = np.array([json.loads(g)["coordinates"] for g in ref.bus.geo])
        np.testing.assert_array_equal(grid.node_xy, xy)
        k = list(grid.link_ids).index("line_0")
        coords = json.loads(ref.line.geo.iloc[0])["coordinates"]
        np.testing.assert_array_equal(grid.link_geometry(k), np.asarray(coords))


@pytest.mark.parametrize("rel", [
    "IEEE_European_LV_Off_Peak_1.json",                       # written by pandapower 3.0.0.dev1
    "power_system_test_case_jsons/case300.json",               # written by pandapower 3.4.0
    pytest.param("lv_schutterwald.json", marks=pytest.mark.slow),
    pytest.param("power_system_test_case_jsons/case9241pegase.json", marks=pytest.mark.slow),
])
def test_files_shipped_with_pandapower(rel):
    """Real files written by other pandapower versions, read as they are."""
    from pathlib import Path

    p = Path(pn.__file__).parent / rel
    if not p.exists():
        pytest.skip(f"{rel} not shipped with this pandapower")
    grid = cim.load(p).power_grid
    ref = pp.from_json(str(p))
    pp.runpp(ref)
    _compare_case(grid, ref, check_topology=False)


def _voltages(net, ids):
    return net.res_bus.vm_pu.loc[ids].values, net.res_bus.va_degree.loc[ids].values


@pytest.mark.parametrize("case", ["case9", "case30", "case118",
                                  pytest.param("case1354pegase", marks=pytest.mark.slow)])
def test_write_pandapower_runs_to_the_same_voltages(case, tmp_path):
    grid, ref, _ = _roundtrip_pp(getattr(pn, case)(), tmp_path, case)
    out = cim.write_pandapower(grid, tmp_path / "out.json")
    net = pp.from_json(str(out))
    pp.runpp(net)
    assert net.converged
    ids = [int(i) for i in grid.node_ids]
    vm0, va0 = _voltages(ref, ids)
    vm1, va1 = _voltages(net, ids)
    assert np.abs(vm1 - vm0).max() < 1e-8
    assert np.abs(np.deg2rad(va1 - va0)).max() < 1e-8


def test_write_pandapower_trafos_switches_loads(tmp_path):
    """The tap net written back: same voltages as pandapower on the original (with the open
    line switch's line out of service, the reader's rule); kind/element columns kept."""
    src = _tap_net()
    grid, _, _ = _roundtrip_pp(src, tmp_path)
    out = cim.write_pandapower(grid, tmp_path / "out.json")
    net = pp.from_json(str(out))
    pp.runpp(net)
    ref = _tap_net()
    ref.line.loc[3, "in_service"] = False
    pp.runpp(ref)
    ids = list(ref.bus.index)
    vm0, va0 = _voltages(ref, ids)
    vm1, va1 = _voltages(net, ids)
    assert np.abs(vm1 - vm0).max() < 1e-8 and np.abs(np.deg2rad(va1 - va0)).max() < 1e-8
    assert list(net.load.kind[:3]) == ["building", "pump", "signal"]
    assert list(net.load.element[:3]) == ["B1", "P7", "S3"]
    again = cim.load(out).power_grid
    assert list(again.loads.ids) == list(grid.loads.ids)
    assert list(again.loads.element) == list(grid.loads.element)


# ---- MATPOWER ------------------------------------------------------------------------------

CASE = """function mpc = case4tiny
%CASE4TINY  a hand-written case: comments, names, a transformer, continuation
mpc.version = '2';
mpc.baseMVA = 100;   % MVA
%% bus data
%	bus_i	type	Pd	Qd	Gs	Bs	area	Vm	Va	baseKV	zone	Vmax	Vmin
mpc.bus = [
	10	3	0	0	0	0	1	1.02	0	138	1	1.1	0.9;
	20	1	50, 20	0	0.1	1	1	0	138	1	1.1	0.9
	30	2	0	0	0	0	1	1	0	69	1	1.1	0.9;
	40	1	80	30	5	-2	1	1	0	69 ...
	1	1.1	0.9;
];
%% generator data
mpc.gen = [
	10	0	0	Inf	-Inf	1.02	100	1	250	10;
	30	60	0	50	-50	1.01	100	1	100	0;
];
%% branch data
mpc.branch = [
	10	20	0.01	0.08	0.02	250	250	250	0	0	1	-360	360;
	20	30	0.002	0.05	0	100	100	100	0.975	-3	1	-360	360;
	30	40	0.03	0.12	0.01	90	90	90	0	0	1	-360	360;
	10	40	0.05	0.2	0.005	0	0	0	0	0	0	-360	360;
];
mpc.gencost = [
	2	0	0	3	0.01	20	0;
	2	0	0	3	0.02	25	0;
];
mpc.bus_name = {
	'North';
	'Mid';
	'South 69';
	'East''s';
};
"""

CASE_PPC = {
    "baseMVA": 100.0,
    "bus": np.array([[10, 3, 0, 0, 0, 0, 1, 1.02, 0, 138, 1, 1.1, 0.9],
                     [20, 1, 50, 20, 0, 0.1, 1, 1, 0, 138, 1, 1.1, 0.9],
                     [30, 2, 0, 0, 0, 0, 1, 1, 0, 69, 1, 1.1, 0.9],
                     [40, 1, 80, 30, 5, -2, 1, 1, 0, 69, 1, 1.1, 0.9]], float),
    "gen": np.array([[10, 0, 0, 1e9, -1e9, 1.02, 100, 1, 250, 10],
                     [30, 60, 0, 50, -50, 1.01, 100, 1, 100, 0]], float),
    "branch": np.array([[10, 20, 0.01, 0.08, 0.02, 250, 250, 250, 0, 0, 1, -360, 360],
                        [20, 30, 0.002, 0.05, 0, 100, 100, 100, 0.975, -3, 1, -360, 360],
                        [30, 40, 0.03, 0.12, 0.01, 90, 90, 90, 0, 0, 1, -360, 360],
                        [10, 40, 0.05, 0.2, 0.005, 0, 0, 0, 0, 0, 0, -360, 360]], float),
}


def test_read_handwritten_case(tmp_path):
    p = tmp_path / "case4tiny.m"
    p.write_text(CASE)
    assert cim.detect_format(p) == "matpower"
    g = cim.load(p).power_grid
    assert list(g.node_ids) == ["North", "Mid", "South 69", "East's"]
    assert list(g.link_type) == ["line", "trafo", "line", "line"]
    assert list(g.link_in_service) == [True, True, True, False]
    assert g.link_tap[1] == 0.975 and g.link_tap[0] == 1.0 and g.link_shift_degree[1] == -3
    assert list(g.gens.kind) == ["ext_grid", "gen"] and g.gens.q_max_mvar[0] == np.inf
    assert list(g.loads.ids) == ["load_Mid", "load_East's"]
    assert g.node_bs_mvar[3] == -2 and g.node_gs_mw[3] == 5 and g.node_vn_kv[3] == 69

    # against pandapower on the same case: write ours, run both
    out = cim.write_pandapower(g, tmp_path / "tiny.json")
    net = pp.from_json(str(out))
    pp.runpp(net)
    from pandapower.converter.pypower.from_ppc import from_ppc

    ref = from_ppc(CASE_PPC, f_hz=50)
    # from_ppc (pandapower 3.5) does not carry BR_STATUS 0 over to the impedance it makes of
    # branch 10-40 (138 kV - 69 kV): take it out here
    imp = ref.impedance
    assert len(imp[(imp.from_bus == 10) & (imp.to_bus == 40)]) == 1
    imp.loc[(imp.from_bus == 10) & (imp.to_bus == 40), "in_service"] = False
    pp.runpp(ref)
    np.testing.assert_allclose(net.res_bus.vm_pu.values, ref.res_bus.vm_pu.values, atol=1e-8)
    np.testing.assert_allclose(net.res_bus.va_degree.values, ref.res_bus.va_degree.values,
                               atol=1e-6)


def _assert_same_grid(a, b):
    for name in ("node_ids", "node_vn_kv", "node_bus_type", "node_gs_mw", "node_bs_mvar",
                 "node_vmax_pu", "node_vmin_pu", "link_type", "link_from", "link_to",
                 "link_r_pu", "link_x_pu", "link_b_pu", "link_tap", "link_shift_degree",
                 "link_rate_mva", "link_in_service"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for t in ("gens", "loads"):
        ta, tb = getattr(a, t), getattr(b, t)
        for name in ("ids", "bus", "p_mw", "q_mvar", "in_service"):
            assert np.array_equal(getattr(ta, name), getattr(tb, name)), (t, name)
    assert np.array_equal(a.gens.kind, b.gens.kind) and np.array_equal(a.gens.vm_pu,
                                                                       b.gens.vm_pu)
    assert a.base_mva == b.base_mva


def test_matpower_write_read_roundtrip(tmp_path):
    p = tmp_path / "case4tiny.m"
    p.write_text(CASE)
    g = cim.load(p).power_grid
    g2 = cim.load(cim.write_matpower(g, tmp_path / "again.m")).power_grid
    _assert_same_grid(g, g2)
    # a bigger case through pandapower's to_ppc, with integer bus numbers
    from pandapower.converter.pypower.to_ppc import to_ppc

    from cim.formats.matpower import grid_from_ppc

    net = pn.case30()
    pp.runpp(net)
    ppc = to_ppc(net)
    ppc["bus"][:, 0] += 1
    ppc["branch"][:, :2] += 1
    ppc["gen"][:, 0] += 1
    g = grid_from_ppc(ppc)
    assert list(g.node_ids[:3]) == ["1", "2", "3"]
    g3 = cim.load(cim.write_matpower(cim.CityModel(power_grid=g), tmp_path / "c30.m")).power_grid
    _assert_same_grid(g, g3)


# ---- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("edit, err, where", [
    (("50, 20", "50, x20"), FormatError, ":9:"),                       # not a number
    (("30	2	0	0	0	0	1	1	0	69	1	1.1	0.9;",
      "30	2	0	0	0	0	1	1	0	69	1	1.1;"), FormatError, ":10:"),  # wrong columns
    (("10	40	0.05", "10	99	0.05"), ReferenceError_, "branch"),  # unknown bus
    (("10	3	0	0", "10	1	0	0"), ValueRangeError, "slack"),     # no REF bus
    (("30	2	0	0", "20	2	0	0"), SchemaError, "duplicate"),     # duplicate bus
])
def test_bad_matpower_files(edit, err, where, tmp_path):
    p = tmp_path / "bad.m"
    text = CASE.replace("mpc.bus_name", "mpc.not_names")
    assert edit[0] in text
    p.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(err) as e:
        cim.load(p)
    assert "bad.m" in str(e.value) and where in str(e.value)


def test_unclosed_matrix(tmp_path):
    p = tmp_path / "open.m"
    p.write_text(CASE.split("mpc.gen")[0] + "mpc.gen = [\n 10 0 0 0 0 1 100 1 0 0;\n")
    with pytest.raises(FormatError, match="open.m.*not closed"):
        cim.load(p)


def _pp_file(tmp_path, net, name="bad.json"):
    p = tmp_path / name
    pp.to_json(net, str(p))
    return p


def test_bad_pandapower_files(tmp_path):
    net = pn.case9()
    net.ext_grid.drop(net.ext_grid.index, inplace=True)
    with pytest.raises(ValueRangeError, match="bad.json.*no slack"):
        cim.load(_pp_file(tmp_path, net))
    net = pn.case9()
    net.line.loc[0, "to_bus"] = 77
    with pytest.raises(ReferenceError_, match=r"bad.json.*\[line_0\].*not a bus"):
        cim.load(_pp_file(tmp_path, net))
    net = pn.case9()
    pp.create_dcline(net, 1, 2, p_mw=10, loss_percent=1, loss_mw=0.1, vm_from_pu=1,
                     vm_to_pu=1)
    with pytest.raises(SchemaError, match="bad.json.*'dcline' is not supported"):
        cim.load(_pp_file(tmp_path, net))
    p = _pp_file(tmp_path, pn.case9())
    text = p.read_text()
    p.write_text(text.replace('"ext_grid"', '"mystery_table"', 1))
    with pytest.raises(SchemaError, match="bad.json.*mystery_table"):
        cim.load(p)
    p.write_text(text[: len(text) // 2])
    with pytest.raises(FormatError, match="bad.json.*broken JSON"):
        cim.load(p)
    p.write_text('{"_class": "pandapowerNet", "_object": {"line": {}}}')
    with pytest.raises(FormatError, match="no 'bus' table"):
        cim.load(p)


def test_errors_are_cim_errors():
    assert issubclass(FormatError, CIMError) and issubclass(ReferenceError_, CIMError)


def test_grid_from_ppc_of_pandapower_case_dicts(tmp_path):
    """grid_from_ppc on pandapower's to_ppc dict (extra columns, BR_G under 'branch_g') and on
    net._ppc equals the JSON reader's grid."""
    from pandapower.converter.pypower.to_ppc import to_ppc

    from cim.formats.matpower import grid_from_ppc

    grid, ref, _ = _roundtrip_pp(pn.case118(), tmp_path)
    for ppc in (to_ppc(ref), ref._ppc):
        g = grid_from_ppc(ppc)
        for name in ("link_from", "link_to", "link_r_pu", "link_x_pu", "link_b_pu",
                     "link_g_pu", "link_tap", "link_shift_degree", "node_vn_kv"):
            np.testing.assert_allclose(getattr(g, name), getattr(grid, name), rtol=0,
                                       atol=TOL, err_msg=name)
        assert np.any(g.link_g_pu != 0)
        assert list(g.gens.kind).count("ext_grid") == 1
        assert (g.link_type == "trafo").sum() == (grid.link_type == "trafo").sum()
