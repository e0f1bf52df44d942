"""Newton-Raphson for K members sharing one bus set, in numba: each member iterates on its
own (a converged member stops), with the symbolic factorisation of the base case's Jacobian
pattern reused by every member and iteration (:mod:`.sparselu`). The per-member cores
(:func:`member_y`, :func:`newton_one`, :func:`dc_one`) serve the member loops here and the
fused member kernel of :mod:`.members`; one member runs without a parallel region.

Unknowns are (angle, magnitude) at every bus, a 2x2 block per bus; a fixed variable (slack
angle and magnitude, PV magnitude, a de-energized bus) gets an identity row, so all members
share one pattern. A member's Ybus is the base Ybus less its removed branches and shunts.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .sparselu import factor, factor1, solve, solve1

OK, NOT_CONVERGED, SINGULAR, DIVERGED = 0, 1, 2, 3


@nb.njit(cache=True)
def member_y(ybase, off_ptr, off_idx, cpos, cval, m, ydata):
    """ydata (nnz,) = the base values less the contributions of member m's removed items."""
    ydata[:] = ybase
    for p in range(off_ptr[m], off_ptr[m + 1]):
        it = off_idx[p]
        for q in range(cpos.shape[1]):
            if cpos[it, q] >= 0:
                ydata[cpos[it, q]] -= cval[it, q]


@nb.njit(cache=True)
def newton_one(yr, yc, ydata, fpos, n, cp, ri, rp, rk, rpos, iperm, tg, sbus, v, fa, fm, tol,
               max_iter, nf, mis):
    """Newton-Raphson of one member from ``v`` (n,) complex (updated in place); ``sbus``
    (n,) complex; ``fa``/``fm`` (n,) float 1 where the angle / magnitude is unknown; ``mis``
    (n,) complex receives the last mismatch. Returns (status, iterations, worst bus)."""
    nnz = len(yr)
    va = np.angle(v)
    vm = np.abs(v)
    f = np.zeros((nf, 4))
    b = np.empty((n, 2))
    ib = np.empty(n, np.complex128)
    vn = np.empty(n, np.complex128)
    st = NOT_CONVERGED
    it = 0
    wb = 0
    while True:
        ib[:] = 0.0
        for e in range(nnz):
            ib[yr[e]] += ydata[e] * v[yc[e]]
        err = 0.0
        wb = 0
        finite = True
        for i in range(n):
            mis[i] = v[i] * np.conj(ib[i]) - sbus[i]
            a = max(abs(mis[i].real) * fa[i], abs(mis[i].imag) * fm[i])
            if not np.isfinite(a):
                finite = False
            if a > err:
                err = a
                wb = i
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
        for i in range(n):
            vn[i] = v[i] / vm[i]
        for e in range(nnz):
            i, j = yr[e], yc[e]
            y = ydata[e]
            dvm = v[i] * np.conj(y * vn[j])
            dva = -1j * vm[j] * dvm  # = j V_i conj(-Y V_j)
            if i == j:
                dva += 1j * v[i] * np.conj(ib[i])
                dvm += np.conj(ib[i]) * vn[i]
            t = fpos[e]
            f[t, 0] += dva.real * fa[i] * fa[j]
            f[t, 1] += dvm.real * fa[i] * fm[j]
            f[t, 2] += dva.imag * fm[i] * fa[j]
            f[t, 3] += dvm.imag * fm[i] * fm[j]
        for i in range(n):
            d = iperm[i]
            f[d, 0] += 1.0 - fa[i]
            f[d, 3] += 1.0 - fm[i]
            b[d, 0] = -mis[i].real * fa[i]
            b[d, 1] = -mis[i].imag * fm[i]
        if not factor(f, n, cp, ri, rp, rk, rpos, tg):
            st = SINGULAR
            break
        solve(f, n, cp, ri, rp, rk, rpos, b)
        for i in range(n):
            d = iperm[i]
            va[i] += b[d, 0]
            vm[i] += b[d, 1]
            v[i] = vm[i] * np.cos(va[i]) + 1j * (vm[i] * np.sin(va[i]))
    return st, it, wb


@nb.njit(cache=True)
def _newton_member(m, yr, yc, ybase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk,
                   rpos, iperm, tg, sbus, v0, fa, fm, tol, max_iter, nf, v_out, mis_out, status,
                   iters, worst):
    ydata = np.empty(len(yr), np.complex128)
    member_y(ybase, off_ptr, off_idx, cpos, cval, m, ydata)
    v = v0[m].copy()
    mis = np.empty(n, np.complex128)
    st, it, wb = newton_one(yr, yc, ydata, fpos, n, cp, ri, rp, rk, rpos, iperm, tg, sbus[m], v,
                            fa[m], fm[m], tol, max_iter, nf, mis)
    status[m], iters[m], worst[m] = st, it, wb
    v_out[m] = v
    mis_out[m] = mis


@nb.njit(cache=True)
def _newton_outputs(k, n):
    return (np.empty((k, n), np.complex128), np.empty((k, n), np.complex128),
            np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64))


@nb.njit(cache=True, parallel=True)
def _newton_par(yr, yc, ybase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos,
                iperm, tg, sbus, v0, fa, fm, tol, max_iter, nf):
    k = sbus.shape[0]
    v_out, mis_out, status, iters, worst = _newton_outputs(k, n)
    for m in nb.prange(k):
        _newton_member(m, yr, yc, ybase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp,
                       rk, rpos, iperm, tg, sbus, v0, fa, fm, tol, max_iter, nf, v_out, mis_out,
                       status, iters, worst)
    return v_out, status, iters, worst, mis_out


@nb.njit(cache=True)
def _newton_ser(yr, yc, ybase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos,
                iperm, tg, sbus, v0, fa, fm, tol, max_iter, nf):
    """The loop of :func:`_newton_par` without a parallel region (one member)."""
    k = sbus.shape[0]
    v_out, mis_out, status, iters, worst = _newton_outputs(k, n)
    for m in range(k):
        _newton_member(m, yr, yc, ybase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp,
                       rk, rpos, iperm, tg, sbus, v0, fa, fm, tol, max_iter, nf, v_out, mis_out,
                       status, iters, worst)
    return v_out, status, iters, worst, mis_out


def newton_members(yr, yc, ybase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos,
                   iperm, tg, sbus, v0, fa, fm, tol, max_iter, nf):
    """Solve K members. ``yr``/``yc`` (nnz,) the base Ybus pattern (with every diagonal),
    ``ybase`` (nnz,) complex its values; member m removes the contributions ``cval[l]`` at
    ``cpos[l]`` (-1: none) of items ``off_idx[off_ptr[m]:off_ptr[m + 1]]``; ``fpos`` (nnz,)
    factor positions; ``sbus``/``v0`` (K, n) complex; ``fa``/``fm`` (K, n) float 1 where the
    angle / magnitude is unknown. Returns (v (K, n), status (K,) int, iterations (K,),
    worst bus (K,), mismatch (K, n) complex)."""
    run = _newton_par if sbus.shape[0] > 1 else _newton_ser
    return run(yr, yc, ybase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos,
               iperm, tg, sbus, v0, fa, fm, tol, max_iter, nf)


@nb.njit(cache=True)
def dc_one(yr, yc, bd, fpos, n, cp, ri, rp, rk, rpos, iperm, tg, p, va0, fa, nf, out):
    """DC angles of one member: B (``bd`` (nnz,), its real part) restricted to the unknown
    angles (``fa`` (n,) 1) solves B va = p (n,); fixed angles keep ``va0``. Writes ``out``
    (n,) rad (NaN when B is singular); returns ok."""
    nnz = len(yr)
    f = np.zeros(nf)  # the scalar factor: B has no coupling to the magnitudes
    b = np.empty(n)
    rhs = p.copy()
    for e in range(nnz):  # move the fixed angles to the right-hand side
        i, j = yr[e], yc[e]
        if fa[i] > 0 and fa[j] == 0:
            rhs[i] -= bd[e].real * va0[j]
    for e in range(nnz):
        i, j = yr[e], yc[e]
        f[fpos[e]] += bd[e].real * fa[i] * fa[j]
    for i in range(n):
        d = iperm[i]
        f[d] += 1.0 - fa[i]
        b[d] = rhs[i] * fa[i]
    if not factor1(f, n, cp, ri, rp, rk, rpos, tg):
        out[:] = np.nan
        return False
    solve1(f, n, cp, ri, rp, rk, rpos, b)
    for i in range(n):
        out[i] = b[iperm[i]] if fa[i] > 0 else va0[i]
    return True


@nb.njit(cache=True)
def _dc_member(m, yr, yc, bbase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos,
               iperm, tg, p, va0, fa, nf, out, ok):
    bd = np.empty(len(yr), np.complex128)
    member_y(bbase, off_ptr, off_idx, cpos, cval, m, bd)
    ok[m] = dc_one(yr, yc, bd, fpos, n, cp, ri, rp, rk, rpos, iperm, tg, p[m], va0[m], fa[m], nf,
                   out[m])


@nb.njit(cache=True, parallel=True)
def _dc_par(yr, yc, bbase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos, iperm, tg,
            p, va0, fa, nf):
    k = p.shape[0]
    out = np.empty((k, n))
    ok = np.ones(k, np.bool_)
    for m in nb.prange(k):
        _dc_member(m, yr, yc, bbase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk,
                   rpos, iperm, tg, p, va0, fa, nf, out, ok)
    return out, ok


@nb.njit(cache=True)
def _dc_ser(yr, yc, bbase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos, iperm, tg,
            p, va0, fa, nf):
    """The loop of :func:`_dc_par` without a parallel region (one member)."""
    k = p.shape[0]
    out = np.empty((k, n))
    ok = np.ones(k, np.bool_)
    for m in range(k):
        _dc_member(m, yr, yc, bbase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk,
                   rpos, iperm, tg, p, va0, fa, nf, out, ok)
    return out, ok


def dc_members(yr, yc, bbase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos,
               iperm, tg, p, va0, fa, nf):
    """DC angles of K members (B: the base ``bbase`` less removed branches; ``p``/``va0``/
    ``fa`` (K, n)). Returns (va (K, n) rad, ok (K,) bool)."""
    run = _dc_par if p.shape[0] > 1 else _dc_ser
    return run(yr, yc, bbase, fpos, off_ptr, off_idx, cpos, cval, n, cp, ri, rp, rk, rpos,
               iperm, tg, p, va0, fa, nf)
