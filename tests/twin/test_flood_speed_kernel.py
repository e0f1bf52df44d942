"""The fused flood sweep (twin/kernels/flood/solver.py): row blocks with recomputed halo rows
give the same bits whatever the block size; mirrored set-ups give mirrored results exactly;
the division-free h^(-7/3) against numpy's power. (Throughput is measured in
benchmarks/flood_kernel.py, never asserted in a test.)"""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from twin.kernels.flood import rain
from twin.kernels.flood import solver as S
from twin.kernels.flood.grid import make_grid
from twin.kernels.flood.sim import FloodSim


def _city_like(ny=37, nx=29, dx=10.0):
    """A bumpy tile with a wall block, porous cells, a held pond, two land uses (Horton)."""
    yy, xx = np.mgrid[0:ny, 0:nx]
    z = 0.03 * xx + 0.02 * yy + 0.4 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    phi = np.ones((ny, nx))
    phi[8:12, 5:11] = 0.0
    phi[20:25, 15:19] = 0.55
    lu = np.zeros((ny, nx), int)
    lu[:, nx // 2:] = 1
    level = np.full((ny, nx), np.nan)
    level[30:34, 3:8] = z[30:34, 3:8].max() + 0.2
    return make_grid(z, dx, phi=phi, lu=lu, classes=["residential", "park"],
                     infiltration="horton", fixed_level=level)


def _run(grid, block, monkeypatch, K=2, t_end=1200.0, boundary=None):
    monkeypatch.setattr(S, "BLOCK", block)
    ny, nx = grid.shape
    field = np.linspace(10.0, 80.0, ny * nx).reshape(ny, nx)
    storms = [rain.chicago(100, 1200, step=300),
              rain.from_series([0.0, 600.0, 1200.0], np.stack([field, 0.5 * field]))][:K]
    sim = FloodSim(grid, K, boundary=boundary or {"east": "open", "south": "open"},
                   parallel=False)  # the same blocks as the threaded build, one after another
    sim.advance(t_end, storms)
    return sim


def test_block_size_does_not_change_a_bit(monkeypatch):
    """Blocks of 1, 2, 5, 16 and all rows (one block): identical depths, discharges, peaks
    and balances — the halo rows each block recomputes equal what their owners compute."""
    g = _city_like()
    ref = _run(g, 10 ** 6, monkeypatch)
    assert S.block_rows(g.shape[0]) == g.shape[0]
    assert ref.balance()["rel_error"].max() < 1e-9 and ref.balance()["outflow"].min() > 0
    for block in (1, 2, 5, 16):
        sim = _run(g, block, monkeypatch)
        assert S.block_rows(g.shape[0]) <= block
        for a in ("h", "qx", "qy", "hpeak", "tw", "t", "steps"):
            assert np.array_equal(getattr(sim, a), getattr(ref, a)), (block, a)
        for key in ("rain", "infiltration", "outflow", "water_bodies", "storage"):
            np.testing.assert_allclose(sim.balance()[key], ref.balance()[key], rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1])
def test_mirrored_setup_gives_the_mirrored_result_exactly(axis):
    """A dam break on a bed mirrored about the middle row (column): the depths are mirrored
    to the last bit, discharges change sign (the sweep's sums are grouped symmetrically)."""
    n = 41
    yy, xx = np.mgrid[0:n, 0:n]
    z = 0.3 * np.sin(xx / 3.0) ** 2 + 0.2 * np.cos(yy / 5.0) ** 2
    z = 0.5 * (z + np.flip(z, axis))
    h0 = np.where(np.abs(yy - n // 2) + np.abs(xx - n // 2) < 6, 1.5, 0.0)
    g = make_grid(z, 5.0, manning=0.02)
    sim = FloodSim(g, 1, boundary="open", h0=h0)
    for t in (30.0, 60.0, 120.0):
        sim.advance(t, [rain.uniform(30.0, 600)])
    h = sim.h[0]
    assert h.max() > 0.05 and sim.balance()["outflow"][0] > 0
    assert np.array_equal(h, np.flip(h, axis))
    q = sim.qy[0] if axis == 0 else sim.qx[0]
    assert np.array_equal(q, -np.flip(q, axis))


def test_division_free_friction_power_matches_numpy():
    """h^(-7/3) from the bit-level guess and Newton steps, against numpy's power."""
    f = nb.njit(lambda a: np.array([S._rpow73(x) for x in a]))
    h = np.geomspace(1e-6, 1e4, 200_001)
    rel = np.abs(f(h) / np.power(h, -7.0 / 3.0) - 1.0)
    assert rel.max() < 2e-9
