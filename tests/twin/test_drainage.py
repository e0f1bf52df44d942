"""The 1D drainage solver against SWMM 5 (pyswmm) on the same network and inflows; its mass
balance; batched members = single runs; networks it cannot route."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cim
from twin.kernels.flood.drainage import DrainageError, route

SMALL = Path(__file__).resolve().parents[1] / "cim" / "swmm_small.inp"
pyswmm = pytest.importorskip("pyswmm", reason="pyswmm (test extra) not installed")

#: tolerances against SWMM: peak conduit flows 3 %, max node depths 3 cm, outfall and
#: flooding volumes 2 % (SWMM's own continuity error is ~0.1 %)
PEAK_RTOL, DEPTH_ATOL, VOL_RTOL = 0.03, 0.03, 0.02


def _swmm(path):
    with pyswmm.Simulation(str(path)) as sim:
        nodes, links = list(pyswmm.Nodes(sim)), list(pyswmm.Links(sim))
        for _ in sim:
            pass
        peak = {lk.linkid: lk.conduit_statistics["peak_flow"] for lk in links}
        st = {n.nodeid: n.statistics for n in nodes}
        out = {n.nodeid: n.cumulative_inflow for n in nodes if n.is_outfall()}
    return peak, st, out


def _variant(tmp_path, flood: bool):
    text = SMALL.read_text()
    if flood:  # a shallow manhole at J3 and more inflow: J3 floods
        text = text.replace("J3      9.6    3.0", "J3      9.6    1.2")
        text = text.replace("H3   0:20  0.4", "H3   0:20  0.7")
    p = tmp_path / ("flood.inp" if flood else "small.inp")
    p.write_text(text)
    return p


@pytest.mark.parametrize("flood", [False, True], ids=["surcharge", "flooding"])
def test_against_swmm(tmp_path, flood):
    p = _variant(tmp_path, flood)
    peak, st, out = _swmm(p)
    ds = route(cim.load(p).drainage, 3 * 3600, dt=1.0, record_every=300)
    for k, v in peak.items():
        assert float(ds.peak_flow.sel(link=k)) == pytest.approx(v, rel=PEAK_RTOL), k
    for k, s in st.items():
        assert float(ds.max_depth.sel(node=k)) == pytest.approx(s["max_depth"],
                                                                abs=DEPTH_ATOL), k
        # the same surcharged nodes (SWMM: hours surcharged > 0)
        assert bool(ds.surcharged.sel(node=k)) == (s["surcharge_duration"] > 0), k
        assert float(ds.flooding_m3.sel(node=k)) == pytest.approx(
            s["flooding_volume"], rel=VOL_RTOL, abs=1.0), k
    for k, v in out.items():
        assert float(ds.outfall_m3.sel(node=k)) == pytest.approx(v, rel=VOL_RTOL)
    assert set(ds.node.values[ds.surcharged.values]) >= {"J1", "J3"}
    assert (ds.flooding_m3.sum() > 100) == flood
    assert float(ds.mass_rel_error) < 1e-12


def test_batched_equals_single():
    net = cim.load(SMALL).drainage
    from twin.kernels.flood.drainage import series_flow

    fns = [lambda t: series_flow(net, t), lambda t: 1.6 * series_flow(net, t)]
    both = route(net, 5400, dt=1.0, inflows=fns, record_every=600)
    one = route(net, 5400, dt=1.0, inflows=fns[1], record_every=600)
    np.testing.assert_array_equal(both.depth.isel(member=1).values, one.depth.values)
    np.testing.assert_array_equal(both.flow.isel(member=1).values, one.flow.values)
    assert float(both.peak_flow.isel(member=1).sel(link="C5")) > \
        float(both.peak_flow.isel(member=0).sel(link="C5"))


def test_unroutable_networks_are_typed_errors(tmp_path):
    net = cim.load(SMALL).drainage
    net.link_type[2] = "pump"
    with pytest.raises(DrainageError, match="'C3': pumps are not routed"):
        route(net, 60)
    net = cim.load(SMALL).drainage
    net.link_shape[1] = "egg"
    with pytest.raises(DrainageError, match="'C2': shape 'egg'"):
        route(net, 60)
    net = cim.load(SMALL).drainage
    net.inflows[0].series = "NOPE"
    with pytest.raises(DrainageError, match="'NOPE' is not defined"):
        route(net, 60)
