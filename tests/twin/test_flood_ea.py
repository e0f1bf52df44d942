"""UK Environment Agency 2D benchmark tests (Néelz & Pender 2013, SC120002) that need no
external data, on set-ups rebuilt from their published descriptions (see
``../shared/validation/flood/EA_BENCHMARK_NOTES.md``): Test 1 (filling a disconnected water
body), Test 2 (filling floodplain depressions) and Test 4 (speed of flood propagation).

The official DEMs and boundary files are not available here, so each test checks the
documented *behaviour* against references that do not come from the model: the DEM's own
volume below the spill level (Test 1), stillness, level ponds and the volume (Test 2), and the
symmetry of radial spreading (Test 4). Inflows enter as a spatial hyetograph on the inflow
cells (their volume is counted as "rain" in the balance)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.kernels.flood import rain
from twin.kernels.flood.grid import make_grid
from twin.kernels.flood.sim import FloodSim


def _inflow(shape, cells, dx, times, q):
    """A spatial hyetograph putting q(t) m³/s (piecewise constant on ``times``) evenly on
    ``cells`` (boolean mask)."""
    q = np.asarray(q, float)
    field = cells / (cells.sum() * dx * dx)
    return rain.Hyetograph(times, q[:, None, None] * field[None])


def test_ea1_disconnected_water_body_fills_to_the_crest():
    """A strip with a depression behind a crest at 10.0 m; the west boundary level rises to
    10.35 m, holds, and falls back. The depression stays dry until the level passes the crest,
    and ends still and level at the crest (the highest cell of the raster's crest, 9.9875 m):
    its volume is the DEM's volume below that level."""
    dx, nx, ny = 10.0, 70, 5
    x = (np.arange(nx) + 0.5) * dx
    prof = np.interp(x, [0, 100, 300, 450, 550, 700], [9.5, 9.5, 10.0, 9.0, 9.0, 10.5])
    z = np.tile(prof, (ny, 1))
    g = make_grid(z, dx, manning=0.03)
    sim = FloodSim(g, 1, boundary="closed", dt_max=5.0)
    west = np.zeros(z.shape, bool)
    west[:, 0] = True
    behind = x > 300.0

    def level(t):
        return np.interp(t, [0, 3600, 3 * 3600, 4 * 3600], [9.5, 10.35, 10.35, 9.5])

    vol_before = None
    for t in np.arange(60.0, 12 * 3600 + 1, 60.0):
        sim.set_level(west, level(t))
        sim.advance(t)
        assert sim.h.min() >= 0.0
        if t == 2100.0:  # level 9.996 m: not yet over the crest
            vol_before = sim.h[0][:, behind].sum()
    assert vol_before == 0.0
    h = sim.h[0]
    eta = z + h
    pond = behind[None, :] & (h > 1e-3)
    crest = prof[(x > 100) & (x < 450)].max()
    expected = np.maximum(crest - z[:, behind], 0.0).sum() * dx * dx
    got = h[:, behind].sum() * dx * dx
    assert abs(got - expected) / expected < 0.02
    assert crest <= eta[pond].mean() <= crest + 0.01 and eta[pond].std() < 1e-3
    u, v = sim.velocity()       # the pond is still (films on the slopes still drain into it)
    speed = np.hypot(u[0], v[0])[pond]
    assert speed.mean() < 2e-4 and speed.max() < 5e-3
    assert sim.balance()["rel_error"][0] < 1e-9


@pytest.mark.slow
def test_ea2_floodplain_depressions_fill_and_settle():
    """A 2 km egg box of 4 × 4 depressions 0.5 m deep on slopes of 1:1500 (N–S) and 1:3000
    (W–E), n = 0.03, 20 m cells, a 100 m inflow line south of the NW corner (triangular
    hydrograph, peak 20 m³/s, base 85 min), 48 h: the water settles in ponds that are level
    and still, holds all the inflow, and never reaches the far (SE) depressions."""
    dx, n = 20.0, 100
    c = (np.arange(n) + 0.5) * dx
    X, Y = np.meshgrid(c, c[::-1])  # row 0 north
    z = Y / 1500 + (2000 - X) / 3000 - 0.5 * np.sin(np.pi * X / 500) ** 2 \
        * np.sin(np.pi * Y / 500) ** 2
    g = make_grid(z, dx, manning=0.03)
    cells = np.zeros(z.shape, bool)
    cells[:5, 0] = True
    times = np.arange(0, 85 * 60 + 1, 60.0)
    mid = 0.5 * (times[:-1] + times[1:])
    q = np.interp(mid, [0, 15 * 60, 85 * 60], [0, 20.0, 0])
    hy = _inflow(z.shape, cells, dx, times, q)
    sim = FloodSim(g, 1, boundary="closed", dt_max=20.0)
    sim.advance(48 * 3600.0, [hy])
    b = sim.balance()
    v_in = float((q * 60.0).sum())
    assert abs(b["rain"][0] - v_in) < 1e-9 * v_in
    assert b["rel_error"][0] < 1e-9
    h = sim.h[0]
    u, v = sim.velocity()
    speed = np.hypot(u[0], v[0])[h > 0.01]     # ponds are still (films still feed them)
    assert speed.mean() < 1e-3 and speed.max() < 1e-2
    from scipy import ndimage

    lab, npond = ndimage.label(h > 0.01)
    assert npond >= 1
    eta = z + h
    for k in range(1, npond + 1):
        assert eta[lab == k].std() < 5e-3     # every pond is level
    assert h[X > 1500][Y[X > 1500] < 500].max() < 1e-3  # the SE depression stays dry


def test_ea4_flood_spreads_radially_from_a_wall_source():
    """Flat 1000 m × 2000 m, n = 0.05, 10 m cells, a 20 m inflow line at the middle of the west
    wall (triangular hydrograph, peak 20 m³/s at 1 h): the wetting front arrives at the same
    time 300 m east and 300 m north along the wall (radial spreading, by the half-plane
    reflection of the EA notes), the N and S halves mirror each other, and arrival times grow
    with distance at the EA output points 1–5 (50, 100, 200, 300, 400 m)."""
    dx, nx, ny = 10.0, 100, 200
    g = make_grid(np.zeros((ny, nx)), dx, manning=0.05)
    cells = np.zeros((ny, nx), bool)
    cells[99:101, 0] = True                    # y = 990–1010 m
    times = np.arange(0, 5 * 3600 + 1, 300.0)
    mid = 0.5 * (times[:-1] + times[1:])
    hy = _inflow((ny, nx), cells, dx, times, np.interp(mid, [0, 3600, 5 * 3600], [0, 20, 0]))
    sim = FloodSim(g, 1, boundary="closed")
    pts = {"p1": (99, 5), "p2": (99, 10), "p3": (99, 20), "p4": (99, 30), "p5": (99, 40),
           "north300": (69, 0), "p4_south": (100, 30)}
    arrival = {k: np.nan for k in pts}
    for t in np.arange(60.0, 3 * 3600 + 1, 60.0):
        sim.advance(t, [hy])
        for k, (r, c) in pts.items():
            if np.isnan(arrival[k]) and sim.h[0, r, c] > 0.01:
                arrival[k] = t
    a = [arrival[f"p{i}"] for i in range(1, 6)]
    assert np.all(np.isfinite(a)) and np.all(np.diff(a) > 0)
    assert abs(arrival["north300"] - arrival["p4"]) <= 0.1 * arrival["p4"]
    h = sim.h[0]
    np.testing.assert_allclose(h[:100][::-1], h[100:], rtol=1e-9, atol=1e-12)
    assert sim.balance()["rel_error"][0] < 1e-9
