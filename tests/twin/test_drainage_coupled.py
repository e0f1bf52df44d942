"""2D surface + 1D storm sewers (FloodSim(drainage=…)): inlets capture street water, a
small pipe surcharges and returns water to the street, the outfall discharges into the lake;
the mass balance over surface and sewers stays closed; batched members = single runs."""

from __future__ import annotations

import numpy as np
import pytest

from cim.model.drainage import DrainageNetwork
from twin.kernels.flood.grid import make_grid
from twin.kernels.flood.rain import uniform
from twin.kernels.flood.sim import FloodSim

NY, NX, DX = 40, 60, 5.0


def _grid():
    x = (np.arange(NX) + 0.5) * DX
    y = (NY - np.arange(NY) - 0.5) * DX
    X, Y = np.meshgrid(x, y)
    z = 12 - 0.02 * X + 0.05 * np.abs(Y - 100)  # a valley along y = 100 m falling east
    lvl = np.full((NY, NX), np.nan)
    lvl[:, -4:] = 6.5                             # a lake on the east edge
    z[:, -4:] = 5.0
    return make_grid(z, DX, fixed_level=lvl)


def _net(d: float, cap: float = 0.2) -> DrainageNetwork:
    xy = np.array([[40, 100], [120, 100], [220, 100], [290, 100]], float)
    ground = 12 - 0.02 * xy[:3, 0]
    inv = np.append(ground - 1.8, 6.0)
    return DrainageNetwork(
        node_ids=np.array(["J1", "J2", "J3", "O1"], object), node_xy=xy,
        link_ids=np.array(["C1", "C2", "C3"], object), link_from=np.array([0, 1, 2]),
        link_to=np.array([1, 2, 3]), link_length=np.array([80.0, 100, 70]),
        geometry_offsets=np.array([0, 2, 4, 6]),
        geometry_xy=xy[[0, 1, 1, 2, 2, 3]], node_type=np.array(["junction"] * 3 + ["outfall"],
                                                                 object),
        node_invert=inv, node_max_depth=np.array([1.8, 1.8, 1.8, 0]),
        node_outfall_type=np.array([None, None, None, "free"], object),
        node_flap_gate=np.array([0, 0, 0, 1], bool),
        link_roughness=np.full(3, 0.013), link_shape=np.array(["circular"] * 3, object),
        link_geom=np.array([[d, 0, 0, 0]] * 3, float),
        node_inlet_capacity=np.array([cap, cap, cap, np.nan]),
        node_inlets=np.array([4, 4, 4, 0]))


RAIN = [uniform(60, 1800), uniform(100, 1800)]


@pytest.mark.parametrize("d", [0.8, 0.3], ids=["big pipes", "small pipes"])
def test_coupled_mass_balance_and_exchange(d):
    s = FloodSim(_grid(), 2, boundary="closed", drainage=_net(d))
    s.advance(3600, RAIN)
    b = s.balance()
    assert (b["rel_error"] < 1e-9).all(), b["rel_error"]
    assert (b["drainage_captured"] > 100).all()
    assert (b["drainage_outfall"] > 100).all()          # into the lake
    # the outfall discharge and the water held equal what the inlets took (+ overflow back)
    np.testing.assert_allclose(b["drainage_captured"] - b["drainage_returned"],
                               b["drainage_outfall"] + b["drainage_storage"], rtol=1e-9)
    if d < 0.5:   # small pipes surcharge and return water to the street
        assert (b["drainage_returned"] > 10).all()
        assert (b["surcharged_nodes"] >= 2).all()
    else:
        assert (b["drainage_returned"] < 1.0).all()


def test_drainage_lowers_street_water():
    g = _grid()
    with_d = FloodSim(g, 1, boundary="closed", drainage=_net(0.8))
    without = FloodSim(_grid(), 1, boundary="closed")
    for s in (with_d, without):
        s.advance(1800, RAIN[1:])
    assert with_d.balance()["water_bodies"][0] < without.balance()["water_bodies"][0]
    assert with_d.balance()["drainage_outfall"][0] > 0


def test_coupled_batched_equals_single():
    both = FloodSim(_grid(), 2, boundary="closed", drainage=_net(0.3))
    both.advance(2400, RAIN)
    one = FloodSim(_grid(), 1, boundary="closed", drainage=_net(0.3))
    one.advance(2400, RAIN[1:])
    np.testing.assert_array_equal(both.h[1], one.h[0])
    np.testing.assert_array_equal(both.drain.d.y[1], one.drain.d.y[0])
