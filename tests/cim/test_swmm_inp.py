"""SWMM 5 .inp reader/writer: detection, SI conversion, agreement with SWMM's own parse
(pyswmm), round trips that run identically in SWMM, and bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import cim
from cim.formats._swmm_parse import FLOW_FACTORS

HERE = Path(__file__).resolve().parent
SMALL = HERE / "swmm_small.inp"
pyswmm = pytest.importorskip("pyswmm", reason="pyswmm (test extra) not installed")
EXAMPLES = sorted((Path(pyswmm.__file__).parent / "tests" / "data").glob("*.inp"))
EXAMPLES = [p for p in EXAMPLES if "bad" not in p.name and "subcatch_stats" not in p.name]


def _stats(path):
    """{element: statistic} of a SWMM run of ``path`` (SWMM's own engine)."""
    out = {}
    with pyswmm.Simulation(str(path)) as sim:
        nodes, links = list(pyswmm.Nodes(sim)), list(pyswmm.Links(sim))
        for _ in sim:
            pass
        for n in nodes:
            out["n:" + n.nodeid] = (n.statistics["max_depth"], n.cumulative_inflow)
        for lk in links:
            if lk.is_conduit():
                out["l:" + lk.linkid] = lk.conduit_statistics["peak_flow"]
    return out


def test_detection_swmm_vs_epanet():
    assert cim.detect_format(SMALL) == "swmm"
    assert cim.detect_format(HERE / "epanet_hand.inp") == "epanet"
    for p in EXAMPLES:
        assert cim.detect_format(p) == "swmm", p.name


@pytest.mark.parametrize("path", EXAMPLES + [SMALL], ids=lambda p: p.name)
def test_reader_matches_swmm_parse(path, tmp_path):
    """Counts and properties as SWMM itself reads them (pyswmm, file units → SI)."""
    net = cim.load(path).drainage
    path = Path(shutil.copy(path, tmp_path / path.name))  # SWMM writes its report beside
    ft = 0.3048 if net.flow_units in ("CFS", "GPM", "MGD") else 1.0
    nid = net.id_maps()["drainage_node"]
    lid = net.id_maps()["drainage_link"]
    with pyswmm.Simulation(str(path)) as sim:
        nodes, links = list(pyswmm.Nodes(sim)), list(pyswmm.Links(sim))
        assert len(nodes) == net.n_nodes and len(links) == net.n_links
        assert len(pyswmm.Subcatchments(sim)) == len(net.subcatchments)
        for n in nodes:
            i = nid[n.nodeid]
            assert net.node_invert[i] == pytest.approx(n.invert_elevation * ft, abs=1e-9)
            if n.is_junction():
                assert net.node_type[i] == "junction"
                if net.node_max_depth[i] > 0:  # 0: SWMM takes the highest crown
                    assert net.node_max_depth[i] == pytest.approx(n.full_depth * ft, abs=1e-9)
            assert net.node_type[i] == ("outfall" if n.is_outfall() else
                                        "storage" if n.is_storage() else net.node_type[i])
        for lk in links:
            k = lid[lk.linkid]
            assert net.link_ids[k] == lk.linkid
            assert net.node_ids[net.link_from[k]] == lk.inlet_node
            assert net.node_ids[net.link_to[k]] == lk.outlet_node
            if lk.is_conduit():
                assert net.link_type[k] == "conduit"
                assert net.link_in_offset[k] == pytest.approx(lk.inlet_offset * ft, abs=1e-9)
                assert net.link_out_offset[k] == pytest.approx(lk.outlet_offset * ft, abs=1e-9)


def test_si_conversion_us_units(tmp_path):
    """A US-unit file and its SI model: ft → m, CFS → m³/s, acres → m²."""
    net = cim.load(SMALL).drainage
    net.sections = {k: v for k, v in net.sections.items() if k not in ("INFLOWS", "TIMESERIES")}
    net.inflows, net.timeseries = [], {}
    for code in ("CFS", "GPM", "MGD", "LPS", "MLD"):
        net.flow_units = code
        p = cim.write_swmm(net, tmp_path / f"n_{code}.inp")
        back = cim.load(p).drainage
        assert back.flow_units == code
        for col in ("node_invert", "node_max_depth", "link_length", "link_geom",
                    "link_in_offset"):
            np.testing.assert_allclose(getattr(back, col), getattr(net, col), rtol=1e-9)
        if code == "CFS":
            text = p.read_text()
            assert "32.8083989" in text  # J1 invert 10 m in ft
    assert FLOW_FACTORS["CFS"] == pytest.approx(0.028316846592)
    assert FLOW_FACTORS["MGD"] == pytest.approx(0.0438126364)


def test_inflows_and_series_si():
    net = cim.load(SMALL).drainage
    assert len(net.inflows) == 2 and net.inflows[0].series == "H1"
    t, v = net.timeseries["H1"]
    np.testing.assert_allclose(t, [0, 600, 1800, 3000, 4800])
    np.testing.assert_allclose(v, [0, 0.3, 0.6, 0.2, 0])
    us = cim.load(next(p for p in EXAMPLES if "full_features" in p.name)).drainage
    assert us.flow_units == "CFS"
    assert us.inflows[0].baseline == pytest.approx(1.0 * 0.3048 ** 3)


@pytest.mark.parametrize("path", [SMALL] + [p for p in EXAMPLES if "lids" in p.name
                                            or "storage_pump" in p.name
                                            or "full_features" in p.name],
                         ids=lambda p: p.name)
def test_round_trip_runs_identically(path, tmp_path):
    src = tmp_path / ("a_" + path.name)
    shutil.copy(path, src)
    out = cim.write_swmm(cim.load(src), tmp_path / ("b_" + path.name))
    a, b = _stats(src), _stats(out)
    assert a.keys() == b.keys()
    for k in a:
        assert np.allclose(a[k], b[k], rtol=1e-9, atol=1e-12), k


def test_inlets_sidecar_round_trip(tmp_path):
    net = cim.load(SMALL).drainage
    net.node_inlet_capacity[[0, 2]] = [0.12, 0.3]
    net.node_inlets[[0, 2]] = [2, 5]
    p = cim.write_swmm(net, tmp_path / "d.inp")
    assert (tmp_path / "d.inlets.csv").is_file()
    back = cim.load(p).drainage
    np.testing.assert_allclose(back.node_inlet_capacity[[0, 2]], [0.12, 0.3])
    assert back.node_inlets.tolist()[:3] == [2, 0, 5]


BAD = [
    ("[JUNKS]\nx 1\n", "unknown section [JUNKS]", "JUNKS"),
    ("[CONDUITS]\nC9 J1 JX 10 0.013 0 0\n", "undefined node 'JX'", "C9"),
    ("[JUNCTIONS]\nJ9 abc 3\n", "invert elevation 'abc' is not a number", "J9"),
    ("[CONDUITS]\nC9 J1 J2 -5 0.013 0 0\n", "length must be > 0", "C9"),
    ("[XSECTIONS]\nCX CIRCULAR 1 0 0 0 1\n", "undefined link 'CX'", "CX"),
    ("[OUTFALLS]\nO9 1 LAKE\n", "unknown outfall type 'LAKE'", "O9"),
]


@pytest.mark.parametrize("extra, msg, obj", BAD)
def test_bad_files_name_file_line_element(extra, msg, obj, tmp_path):
    text = SMALL.read_text() + "\n" + extra
    p = tmp_path / "bad.inp"
    p.write_text(text)
    k = 0 if "JUNKS" in extra else 1
    line = text.splitlines().index(extra.splitlines()[k]) + 1
    with pytest.raises(cim.CIMError) as ei:
        cim.load(p)
    e = ei.value
    assert msg in str(e) and e.path == str(p) and e.line == line
    if obj:
        assert e.obj_id == obj and f"[{obj}]" in str(e)
    city = cim.load(p, lenient=True)
    assert city.report.n_skipped >= 1 and city.drainage.n_nodes >= 5


def test_bad_flow_units(tmp_path):
    p = tmp_path / "u.inp"
    p.write_text(SMALL.read_text().replace("FLOW_UNITS           CMS", "FLOW_UNITS  XYZ"))
    with pytest.raises(cim.FormatError, match="unknown FLOW_UNITS 'XYZ'") as ei:
        cim.load(p)
    assert ei.value.line == 5
