"""Flood kernel physics: mass conservation, lake at rest, the planar-wave analytic solution of
the local-inertial papers, wetting and drying without negative depths, batched = single, and
typed errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from twin.kernels.flood import FloodError, rain
from twin.kernels.flood.grid import make_grid
from twin.kernels.flood.sim import FloodSim


def _bumpy(ny=40, nx=50, dx=10.0):
    yy, xx = np.mgrid[0:ny, 0:nx]
    return 0.02 * np.hypot(xx - nx / 2, yy - ny / 2) + 0.4 * np.sin(xx / 4) * np.cos(yy / 5)


def test_closed_basin_storage_equals_rain_minus_infiltration():
    """A closed basin with buildings (porosity and walls) under a Chicago storm and a uniform
    one: storage = rain − infiltration to 1e-9 relative, at every record."""
    z = _bumpy()
    phi = np.ones_like(z)
    phi[10:14, 10:20] = 0.0            # a building block: walls (roof rain drains off)
    phi[25:30, 30:35] = 0.6            # partly built cells
    lu = np.zeros(z.shape, int)
    lu[:, 25:] = 1
    g = make_grid(z, 10.0, phi=phi, lu=lu, classes=["residential", "park"],
                  infiltration="horton")
    storms = [rain.chicago(100, 3600, step=300), rain.uniform(40.0, 1800)]
    sim = FloodSim(g, 2, boundary="closed")
    expected_rain = [s.total_mm() * 1e-3 * z.size * 100.0 for s in storms]
    for t in (600, 1800, 3600, 5400):
        sim.advance(t, storms)
        b = sim.balance()
        assert (b["outflow"] == 0).all() and (b["water_bodies"] == 0).all()
        np.testing.assert_array_less(b["rel_error"], 1e-9)
        assert np.all(np.abs(b["storage"] - (b["rain"] - b["infiltration"]))
                      <= 1e-9 * b["rain"])
    # all the rain that fell entered the grid (walls included: their roofs drain)
    np.testing.assert_allclose(sim.balance()["rain"], expected_rain, rtol=1e-12)
    assert (sim.balance()["infiltration"] > 0).all()
    assert sim.h.min() >= 0.0


def test_lake_at_rest_stays_at_rest():
    """Still water over a bumpy bed with dry islands and walls: no flow appears."""
    z = _bumpy()
    z[5:9, 5:9] += 3.0                  # an island above the water
    phi = np.ones_like(z)
    phi[20:23, 30:40] = 0.0
    g = make_grid(z, 10.0, phi=phi, manning=0.02)
    level = 0.6
    h0 = np.maximum(level - z, 0.0)
    sim = FloodSim(g, 1, boundary="closed", h0=h0)
    sim.advance(3600.0)
    assert np.abs(sim.qx).max() < 1e-12 and np.abs(sim.qy).max() < 1e-12
    np.testing.assert_allclose(sim.h[0], np.where(phi > 0, h0, 0.0), atol=1e-12)


def _planar(h_x0, n, u, dx, L, t_end):
    """Run the 1-D planar wave of Hunter et al. (2005) / Bates et al. (2010, §4.1): the
    boundary depth h(0, t) = (7/3 n² u³ t)^(3/7) drives a front at constant speed u."""
    nx = int(L / dx)
    g = make_grid(np.zeros((1, nx)), dx, manning=n)
    sim = FloodSim(g, 1, boundary="closed", theta=0.9, hmin=1e-4)
    bc = np.zeros((1, nx), bool)
    bc[0, 0] = True
    for t in np.arange(1.0, t_end + 1.0, 1.0):
        sim.set_level(bc, h_x0(t))
        sim.advance(t)
    return sim


def test_planar_wave_matches_the_analytic_front_within_5_percent():
    """n = 0.03: the analytic solution neglects inertia (a diffusion wave); the local
    acceleration the scheme keeps is ~10 % of the friction at n = 0.01 (front 8 % behind),
    ~1 % at n = 0.03 (front 2.5 % behind at 10 m cells)."""
    n, u, dx, t_end = 0.03, 1.0, 10.0, 3600.0

    def h_exact(x, t):
        return np.maximum(7.0 / 3.0 * n ** 2 * u ** 2 * (u * t - x), 0.0) ** (3.0 / 7.0)

    sim = _planar(lambda t: h_exact(0.0, t), n, u, dx, 5000.0, t_end)
    x = np.arange(sim.h.shape[2]) * dx
    h = sim.h[0, 0]
    front = x[h > 0.01].max()
    assert abs(front - u * t_end) / (u * t_end) < 0.05
    behind = x < 0.9 * u * t_end
    err = np.sqrt(np.mean((h[behind] - h_exact(x[behind], t_end)) ** 2))
    assert err / h_exact(0.0, t_end) < 0.05


def test_wetting_and_drying_never_makes_negative_depths():
    """A dam break onto a dry, steep, rough bed, then rain on a thin film draining away:
    depths stay ≥ 0; what the clamp at zero adds is round-off (≤ 1e-12 of the water)."""
    ny, nx = 20, 120
    x = np.arange(nx) * 5.0
    z = np.tile(-0.05 * x + 2.0 * (np.sin(x / 17.0) > 0.8), (ny, 1))
    h0 = np.zeros((ny, nx))
    h0[:, :10] = 3.0
    g = make_grid(z, 5.0, manning=0.015)
    sim = FloodSim(g, 1, boundary="open", h0=h0)
    for t in range(60, 1201, 60):
        sim.advance(float(t), [rain.uniform(30.0, 600)])
        assert sim.h.min() >= 0.0
    b = sim.balance()
    assert b["clipped"][0] <= 1e-12 * (b["rain"][0] + sim.storage0[0])
    assert b["outflow"][0] > 0 and b["rel_error"][0] < 1e-9


def test_batched_members_equal_single_runs():
    z = _bumpy()
    g = make_grid(z, 10.0, lu=np.zeros(z.shape, int), classes=["residential"],
                  infiltration="horton")
    storms = [rain.chicago(2, 3600, step=300), rain.chicago(100, 3600, step=600, r=0.3),
              rain.uniform(20.0, 1200, start=600)]
    batch = FloodSim(g, 3, boundary="open")
    batch.advance(2400.0, storms)
    for k, s in enumerate(storms):
        one = FloodSim(g, 1, boundary="open")
        one.advance(2400.0, [s])
        assert np.array_equal(one.h[0], batch.h[k])
        assert np.array_equal(one.qx[0], batch.qx[k])
        assert one.steps[0] == batch.steps[k]


def test_serial_and_parallel_builds_agree():
    z = _bumpy()
    g = make_grid(z, 10.0)
    a = FloodSim(g, 2, parallel=False)
    b = FloodSim(g, 2, parallel=True)
    storms = [rain.uniform(60.0, 900), rain.chicago(10, 900, step=300)]
    a.advance(900.0, storms)
    b.advance(900.0, storms)
    assert np.array_equal(a.h, b.h)


def test_chicago_storm_depth_and_peak():
    """The storm's total is the formula's depth for its duration, its peak falls at r, and
    every window around the peak holds the formula's depth for that window."""
    f = rain.WUXI
    s = rain.chicago(100, 3 * 3600, step=60)
    assert abs(s.total_mm() - 17.969 * (1 + 1.24 * 2) / (180 + 18.415) ** 0.785 * 180) < 1e-9
    peak = int(np.argmax(s.rate))
    assert abs(s.edges[peak] / (3 * 3600) - 0.43) < 60 / (3 * 3600) + 1e-12
    # 30-min window of 30 blocks around the peak, split 0.43 / 0.57
    depth = s.rate[peak - 13:peak + 17] @ np.diff(s.edges)[peak - 13:peak + 17] * 1e3
    assert abs(depth - f.depth(100, 30.0)) / f.depth(100, 30.0) < 0.02


def test_bad_input_gets_typed_errors():
    with pytest.raises(FloodError, match="negative rain"):
        rain.from_series([0, 600, 1200], [10.0, -5.0])
    z = np.zeros((5, 5))
    z[2, 3] = np.nan
    with pytest.raises(FloodError, match="NaN") as e:
        make_grid(z, 5.0)
    assert e.value.cell == (2, 3)
    with pytest.raises(FloodError, match="return period"):
        rain.chicago(0, 3600)
    with pytest.raises(FloodError, match="boundary"):
        FloodSim(make_grid(np.zeros((3, 3)), 1.0), boundary="leaky")
    with pytest.raises(FloodError, match="members"):
        FloodSim(make_grid(np.zeros((3, 3)), 1.0), 2).advance(10.0, [rain.uniform(1, 5)])
