"""The fast single-grid path of the power flow: the one-pass ordering + symbolic
factorisation, the LU with precomputed update targets, pandapower's start, and the string
coordinates of the result."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from twin.kernels.power import sparselu as slu
from twin.kernels.power.api import _str_dtype

from .power_cases import case, pp_bus, runpp


def _random_pattern(n: int, extra: int, seed: int):
    """A connected random graph: a random spanning tree plus ``extra`` chords (rows, cols),
    both directions, with the diagonal."""
    rng = np.random.default_rng(seed)
    parent = np.array([rng.integers(0, i) for i in range(1, n)])
    a = np.concatenate([np.arange(1, n), rng.integers(0, n, extra)])
    b = np.concatenate([parent, rng.integers(0, n, extra)])
    keep = a != b
    a, b = a[keep], b[keep]
    d = np.arange(n)
    return np.concatenate([a, b, d]), np.concatenate([b, a, d])


def _elimination_tree_symbolic(rows, cols, n, perm):
    """The classic symbolic factorisation (elimination tree and row climbs) for ``perm``."""
    return slu.symbolic(rows, cols, n, order=perm)


@pytest.mark.parametrize("n, extra, seed", [(5, 3, 0), (60, 20, 1), (400, 150, 2),
                                            (2000, 900, 3)])
def test_one_pass_symbolic_equals_the_elimination_tree(n, extra, seed):
    rows, cols = _random_pattern(n, extra, seed)
    one = slu.symbolic(rows, cols, n)
    assert np.array_equal(np.sort(one.perm), np.arange(n))
    ref = _elimination_tree_symbolic(rows, cols, n, one.perm)
    for name in ("iperm", "cp", "ri", "rp", "rk", "rpos", "tg"):
        assert np.array_equal(getattr(one, name), getattr(ref, name)), name


def _block_matrix(rows, cols, n, seed):
    """A random 2x2-block matrix on the pattern (strong diagonal blocks) as (scipy csc
    (2n, 2n), blocks (nnz, 4) row-major)."""
    rng = np.random.default_rng(seed)
    blocks = rng.uniform(-1.0, 1.0, (len(rows), 4))
    diag = rows == cols
    blocks[diag] += np.array([8.0, 0.0, 0.0, 8.0])
    r = np.concatenate([2 * rows, 2 * rows, 2 * rows + 1, 2 * rows + 1])
    c = np.concatenate([2 * cols, 2 * cols + 1, 2 * cols, 2 * cols + 1])
    a = sp.csc_matrix((blocks.T.ravel(), (r, c)), shape=(2 * n, 2 * n))
    return a, blocks


@pytest.mark.parametrize("n, extra, seed", [(60, 40, 4), (1500, 700, 5)])
def test_block_lu_solves_as_scipy(n, extra, seed):
    rows, cols = _random_pattern(n, extra, seed)
    sym = slu.symbolic(rows, cols, n)
    a, blocks = _block_matrix(rows, cols, n, seed)
    f = np.zeros((sym.n_f, 4))
    np.add.at(f, slu.positions(sym, rows, cols), blocks)
    assert slu.factor(f, n, sym.cp, sym.ri, sym.rp, sym.rk, sym.rpos, sym.tg)
    rhs = np.random.default_rng(seed).normal(size=2 * n)
    b = rhs.reshape(n, 2)[sym.perm].copy()
    slu.solve(f, n, sym.cp, sym.ri, sym.rp, sym.rk, sym.rpos, b)
    x = np.empty((n, 2))
    x[sym.perm] = b
    ref = sla.spsolve(a, rhs)
    assert np.abs(x.ravel() - ref).max() < 1e-10 * np.abs(ref).max()
    # the scalar (DC) factor on the same pattern
    s = sp.csc_matrix((blocks[:, 0], (rows, cols)), shape=(n, n))
    f1 = np.zeros(sym.n_f)
    np.add.at(f1, slu.positions(sym, rows, cols), blocks[:, 0])
    assert slu.factor1(f1, n, sym.cp, sym.ri, sym.rp, sym.rk, sym.rpos, sym.tg)
    b1 = rhs[:n][sym.perm].copy()
    slu.solve1(f1, n, sym.cp, sym.ri, sym.rp, sym.rk, sym.rpos, b1)
    x1 = np.empty(n)
    x1[sym.perm] = b1
    ref1 = sla.spsolve(s, rhs[:n])
    assert np.abs(x1 - ref1).max() < 1e-10 * np.abs(ref1).max()


def test_singular_block_is_reported():
    rows, cols = _random_pattern(30, 10, 6)
    sym = slu.symbolic(rows, cols, 30)
    f = np.zeros((sym.n_f, 4))  # all zero: the first pivot block is singular
    assert not slu.factor(f, 30, sym.cp, sym.ri, sym.rp, sym.rk, sym.rpos, sym.tg)


@pytest.mark.parametrize("name", ["case30", "case118"])
def test_start_and_iterations_as_pandapower(name, tmp_path):
    """The default start (DC angles, PQ magnitudes at the mean voltage set point, as
    pandapower's init "auto") takes pandapower's number of Newton iterations."""
    from twin.kernels.power import powerflow

    net, grid = case(name, tmp_path)
    runpp(net)
    ds = powerflow(grid)
    assert int(ds.iterations) == int(net._ppc["iterations"])
    assert np.nanmax(np.abs(ds.vm_pu.values - pp_bus(net, grid, "vm_pu"))) < 1e-9
    assert np.nanmax(np.abs(ds.va_degree.values - pp_bus(net, grid, "va_degree"))) < 1e-7
    flat = powerflow(grid, init="dc")  # PQ magnitudes 1: the same solution
    assert np.nanmax(np.abs(flat.vm_pu.values - ds.vm_pu.values)) < 1e-9


@pytest.mark.parametrize("items", [
    ["a", "bb", "ccc"], ["x"], [""], ["", ""], ["", "abc"], ["é", "日本語x"], [1, "ab"],
    ["a\x00bcd", "e"], [np.str_("abcd"), "a"], [], ["\ud800"], [None, "a"]])
def test_coordinate_width_as_numpy(items):
    a = np.empty(len(items), object)
    a[:] = items
    assert _str_dtype(a) == np.asarray(a, str).dtype
