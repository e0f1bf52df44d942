"""Newton-Raphson for K members sharing one bus set, in numba: one parallel loop over members,
each iterating on its own (a converged member stops), with the symbolic factorisation of the
base case's Jacobian pattern reused by every member and iteration (:mod:`.sparselu`).

Unknowns are (angle, magnitude) at every bus, a 2x2 block per bus; a fixed variable (slack
angle and magnitude, PV magnitude, a de-energized bus) gets an identity row, so all members
share one pattern. A member's Ybus is the base Ybus less its removed branches and shunts.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .sparselu import factor, solve

OK, NOT_CONVERGED, SINGULAR, DIVERGED = 0, 1, 2, 3


@nb.njit(cache=True)
def _member_y(ybase, off_ptr, off_idx, cpos, cval, m, ydata):
    ydata[:] = ybase
    for p in range(off_ptr[m], off_ptr[m + 1]):
        it = off_idx[p]
        for q in range(cpos.shape[1]):
            if cpos[it, q] >= 0:
                ydata[cpos[it, q]] -= cval[it, q]


@nb.njit(cache=True, parallel=True)
def newton_members(yr, yc, ybase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos,
                   iperm, sbus, v0, fa, fm, tol, max_iter, nf):
    """Solve K members. ``yr``/``yc`` (nnz,) the base Ybus pattern (with every diagonal),
    ``ybase`` (nnz,) complex its values; member m removes the contributions ``cval[l]`` at
    ``cpos[l]`` (-1: none) of items ``off_idx[off_ptr[m]:off_ptr[m + 1]]``; ``fpos`` (nnz,)
    factor positions; ``sbus``/``v0`` (K, n) complex; ``fa``/``fm`` (K, n) float 1 where the
    angle / magnitude is unknown. Returns (v (K, n), status (K,) int, iterations (K,),
    worst bus (K,), mismatch (K, n) complex)."""
    k = sbus.shape[0]
    nnz = len(yr)
    v_out = np.empty((k, n), np.complex128)
    mis_out = np.empty((k, n), np.complex128)
    status = np.zeros(k, np.int64)
    iters = np.zeros(k, np.int64)
    worst = np.zeros(k, np.int64)
    for m in nb.prange(k):
        ydata = np.empty(nnz, np.complex128)
        _member_y(ybase, off_ptr, off_idx, cpos, cval, m, ydata)
        v = v0[m].copy()
        va = np.angle(v)
        vm = np.abs(v)
        f = np.zeros((nf, 4))
        pos = np.empty(n, np.int64)
        b = np.empty((n, 2))
        ib = np.empty(n, np.complex128)
        mis = np.empty(n, np.complex128)
        st = NOT_CONVERGED
        it = 0
        while True:
            ib[:] = 0.0
            for e in range(nnz):
                ib[yr[e]] += ydata[e] * v[yc[e]]
            err = 0.0
            wb = 0
            finite = True
            for i in range(n):
                mis[i] = v[i] * np.conj(ib[i]) - sbus[m, i]
                a = max(abs(mis[i].real) * fa[m, i], abs(mis[i].imag) * fm[m, i])
                if not np.isfinite(a):
                    finite = False
                if a > err:
                    err = a
                    wb = i
            worst[m] = wb
            if not finite:
                st = DIVERGED
                break
            if err < tol:
                st = OK
                break
            if it >= max_iter:
                break
            it += 1
            f[:] = 0.0
            for e in range(nnz):
                i, j = yr[e], yc[e]
                y = ydata[e]
                dva = 1j * v[i] * np.conj(-y * v[j])
                dvm = v[i] * np.conj(y * v[j] / vm[j])
                if i == j:
                    dva += 1j * v[i] * np.conj(ib[i])
                    dvm += np.conj(ib[i]) * v[i] / vm[i]
                t = fpos[e]
                f[t, 0] += dva.real * fa[m, i] * fa[m, j]
                f[t, 1] += dvm.real * fa[m, i] * fm[m, j]
                f[t, 2] += dva.imag * fm[m, i] * fa[m, j]
                f[t, 3] += dvm.imag * fm[m, i] * fm[m, j]
            for i in range(n):
                d = iperm[i]
                f[d, 0] += 1.0 - fa[m, i]
                f[d, 3] += 1.0 - fm[m, i]
                b[d, 0] = -mis[i].real * fa[m, i]
                b[d, 1] = -mis[i].imag * fm[m, i]
            if not factor(f, n, cp, ri, rp, rk, rpos, pos):
                st = SINGULAR
                break
            solve(f, n, cp, ri, rp, rk, rpos, b)
            for i in range(n):
                d = iperm[i]
                va[i] += b[d, 0]
                vm[i] += b[d, 1]
                v[i] = vm[i] * np.exp(1j * va[i])
        status[m] = st
        iters[m] = it
        v_out[m] = v
        mis_out[m] = mis
    return v_out, status, iters, worst, mis_out


@nb.njit(cache=True, parallel=True)
def dc_members(yr, yc, bbase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos,
               iperm, p, va0, fa, nf):
    """DC angles of K members: B (the base ``bbase`` less removed branches) restricted to
    the unknown angles (``fa`` 1) solves B va = p; fixed angles keep ``va0``. Returns
    (va (K, n), ok (K,) bool)."""
    k = p.shape[0]
    nnz = len(yr)
    out = np.empty((k, n))
    ok = np.ones(k, np.bool_)
    for m in nb.prange(k):
        bd = np.empty(nnz, np.complex128)
        _member_y(bbase, off_ptr, off_idx, cpos, cval, m, bd)
        f = np.zeros((nf, 4))
        pos = np.empty(n, np.int64)
        b = np.empty((n, 2))
        rhs = p[m].copy()
        for e in range(nnz):  # move the fixed angles to the right-hand side
            i, j = yr[e], yc[e]
            if fa[m, i] > 0 and fa[m, j] == 0:
                rhs[i] -= bd[e].real * va0[m, j]
        for e in range(nnz):
            i, j = yr[e], yc[e]
            f[fpos[e], 0] += bd[e].real * fa[m, i] * fa[m, j]
        for i in range(n):
            d = iperm[i]
            f[d, 0] += 1.0 - fa[m, i]
            f[d, 3] += 1.0
            b[d, 0] = rhs[i] * fa[m, i]
            b[d, 1] = 0.0
        if not factor(f, n, cp, ri, rp, rk, rpos, pos):
            ok[m] = False
            out[m] = np.nan
            continue
        solve(f, n, cp, ri, rp, rk, rpos, b)
        for i in range(n):
            out[m, i] = b[iperm[i], 0] if fa[m, i] > 0 else va0[m, i]
    return out, ok
