"""Water solver: batched members equal separate solves, pressure-dependent demand against
WNTR's own simulator, typed errors, checkpoints restored bit-identically."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

WATER = Path(__file__).resolve().parents[2].parent / "shared" / "validation" / "water"
pytestmark = pytest.mark.skipif(not WATER.is_dir(), reason="validation data absent")


def _net(name="Net1"):
    import cim
    return cim.load(WATER / f"{name}.inp").water_network


SCEN = [{}, {"bursts": [("22", 0.02)]}, {"closed_links": ["110"]},
        {"demand_multiplier": 1.7, "bursts": [("31", 0.005), ("12", 0.01)]},
        {"pumps_off": ["9"]}, {"demand_multiplier": {"23": 3.0}}]


def test_batched_equals_single():
    import twin

    net = _net()
    both = twin.hydraulics(net, scenarios=SCEN)
    for k, s in enumerate(SCEN):
        one = twin.hydraulics(net, scenarios=[s])
        for v in ("head", "flow", "demand", "status"):
            np.testing.assert_allclose(both[v].values[k], one[v].values[0], rtol=0, atol=1e-9,
                                       err_msg=f"member {k} {v}")
    # the scenarios really differ (a burst lowers the heads, a closed pump drains the tank)
    h = both["head"].values
    assert (h[1] < h[0] - 0.1).any() and (h[4, -1] < h[0, -1] - 1).any()


def test_burst_matches_epanet_emitter(tmp_path):
    """A burst as an extra emitter equals EPANET with that emitter in the .inp."""
    wntr = pytest.importorskip("wntr")
    import twin

    net = _net()
    ds = twin.hydraulics(net, scenarios=[{"bursts": [("22", 0.02)]}])
    wn = wntr.network.WaterNetworkModel(str(WATER / "Net1.inp"))
    wn.get_node("22").emitter_coefficient = 0.02
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(tmp_path / "b"))
    ref = res.node["head"][list(net.node_ids)].values
    assert np.abs(ds["head"].values[0] - ref).max() < 0.01


def test_pdd_matches_wntr():
    wntr = pytest.importorskip("wntr")
    import twin

    net = _net()
    net.times["duration"] = 0.0
    net.options["demand_multiplier"] = 5.0
    ds = twin.hydraulics(net, pdd=dict(minimum_pressure=5.0, required_pressure=70.0,
                                       exponent=0.5))
    wn = wntr.network.WaterNetworkModel(str(WATER / "Net1.inp"))
    wn.options.time.duration = 0
    h = wn.options.hydraulic
    h.demand_multiplier, h.demand_model = 5.0, "PDD"
    h.minimum_pressure, h.required_pressure, h.pressure_exponent = 5.0, 70.0, 0.5
    res = wntr.sim.WNTRSimulator(wn).run_sim()
    ids = list(net.node_ids)
    d, dref = ds["demand"].values[0], res.node["demand"][ids].values[0]
    req = ds["demand_required"].values[0]
    assert ((d < req - 1e-4) & (net.node_type == "junction")).sum() >= 3  # deficient nodes
    np.testing.assert_allclose(ds["pressure"].values[0], res.node["pressure"][ids].values[0],
                               atol=0.01)
    np.testing.assert_allclose(d, dref, atol=1e-5)


def test_nonconvergence_is_typed_error():
    import twin
    from twin.kernels.water import HydraulicsError

    net = _net("Net3")
    net.options["trials"] = 2
    net.options["unbalanced"] = "stop"
    with pytest.raises(HydraulicsError, match=r"did not converge at t=0 s .*trials.*link"):
        twin.hydraulics(net)


def test_disconnected_part_is_typed_error():
    import twin
    from twin.kernels.water import HydraulicsError

    net = _net()
    net2 = _drop_links(net, net.link_ids != "10")   # cut pipe 10 after the pump and the

    with pytest.raises(HydraulicsError, match="not connected to any tank or reservoir") as e:
        twin.hydraulics(_drop_links(net2, net2.link_ids != "110"))  # tank's pipe 110
    assert "8 node(s)" in str(e.value) and "22" in str(e.value)


def _drop_links(net, keep):
    from dataclasses import replace
    cols = {f: getattr(net, f)[keep] for f in net.__dataclass_fields__
            if f.startswith("link_") and f != "link_attributes"}
    ctrl = [c for c in net.controls if keep[c.link]]
    remap = np.cumsum(keep) - 1
    for c in ctrl:
        c.link = int(remap[c.link])
    return replace(net, **cols, geometry_offsets=np.zeros(keep.sum() + 1, np.int64),
                   geometry_xy=np.zeros((0, 2)), controls=ctrl)


def test_checkpoint_restores_bit_identically():
    from twin.kernels.water import WaterSim

    net = _net()
    sim = WaterSim(net, members=2)
    sim.set_emitter([1], [3], 0.01)
    sim.run_until(5 * 3600)
    state = sim.get_state()
    sim.run_until(11 * 3600)
    a = sim.snapshot()
    sim.set_state(state)
    sim.run_until(11 * 3600)
    b = sim.snapshot()
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=True), k


def test_closure_overrides_controls():
    from twin.kernels.water import WaterSim

    net = _net()
    pump = int(np.flatnonzero(net.link_ids == "9")[0])
    sim = WaterSim(net, members=2)
    sim.set_link_closed([1], [pump], True)
    sim.run_until(3 * 3600)
    s = sim.snapshot()
    assert s["status"][1, pump] == 0 and s["flow"][1, pump] == pytest.approx(0, abs=1e-6)
    assert s["status"][0, pump] == 1
    sim.set_link_closed([1], [pump], False)
    sim.run_until(4 * 3600)
    assert sim.snapshot()["status"][1, pump] == 1


def test_fused_path_equals_vectorized_path():
    """The fused per-member kernels (threaded) give the vectorized reference path's numbers
    on Net3 (tank-level and time controls, pump patterns) with bursts and a closure."""
    from twin.kernels.water import WaterSim

    net = _net("Net3")
    times = np.arange(0, 30 * 3600 + 1, 1800)
    out = []
    for fused, threads in ((True, 2), (False, 1)):
        sim = WaterSim(net, members=3, threads=threads)
        sim.fused = fused
        sim.set_emitter([1], [5], 0.02)
        sim.set_emitter([2], [40], 0.05)
        sim.set_link_closed([2], [int(np.flatnonzero(net.link_ids == "10")[0])], True)
        out.append(sim.record(times))
    for k in out[0]:
        np.testing.assert_allclose(out[0][k], out[1][k], rtol=0, atol=1e-9, err_msg=k)
    assert np.abs(out[0]["head"][1] - out[0]["head"][0]).max() > 0.1
