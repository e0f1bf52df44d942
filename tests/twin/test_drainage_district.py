"""The pilot districts' storm sewers (assets/drainage.py → drainage.inp, read by
cim.load_district): gravity to outfalls at the lake and rivers, cover, inlets, and a short
routing run whose mass balance closes."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

import cim
from twin.kernels.flood.drainage import DrainageSim, Network1D


@pytest.fixture(scope="module")
def lihu():
    try:
        return cim.load_district("lihu")
    except cim.CIMError as e:
        pytest.skip(f"district assets not generated: {e}")


def test_district_sewers_drain_by_gravity_to_water(lihu):
    net = lihu.drainage
    assert net is not None and net.n_links > 1000
    assert "drainage.inp" in lihu.report.files[-1] or any("drainage.inp" in f
                                                          for f in lihu.report.files)
    out = net.nodes_of("outfall")
    assert len(out) >= 5
    # outfalls on the shores of the water bodies
    water = shapely.union_all([lihu.water_bodies.polygons.to_shapely(i)
                               for i in range(len(lihu.water_bodies))])
    d = shapely.distance(water, shapely.points(net.node_xy[out]))
    assert (d < 1.0).all()
    # gravity: every conduit falls at least at its minimum slope
    fr, to = net.link_from, net.link_to
    slope = (net.node_invert[fr] - net.node_invert[to]) / net.link_length
    assert (slope > 0.0).all(), slope.min()  # ≥ the minimum slope up to mm rounding
    # a tree: each junction has an outgoing conduit (two only where a shore node has two
    # outfalls)
    j = net.nodes_of("junction")
    out_deg = np.bincount(fr, minlength=net.n_nodes)[j]
    assert (out_deg >= 1).all() and (out_deg > 1).sum() <= len(out)
    # cover: crowns below ground
    crown = net.node_invert[fr] + net.link_geom[:, 0]
    assert (crown <= net.rim[fr] + 1e-6).all()
    # inlets along the streets
    assert np.isfinite(net.node_inlet_capacity[j]).mean() > 0.9
    assert lihu.crs is not None and lihu.crs.to_epsg() == 4549


def test_district_network_routes_closed(lihu):
    n1 = Network1D(lihu.drainage)
    sim = DrainageSim(n1, 1)
    lat = np.where(np.isfinite(lihu.drainage.node_inlet_capacity),
                   0.2 * np.nan_to_num(lihu.drainage.node_inlet_capacity), 0.0)
    dt = n1.stable_dt()
    for _ in range(int(600 / dt)):
        sim.step(dt, lat)
    b = sim.balance()
    assert b["rel_error"][0] < 1e-9
    assert b["outfall"][0] > 0 and b["storage"][0] > 0.5 * b["lateral"][0]
