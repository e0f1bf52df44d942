"""The GGA Newton iteration with EPANET 2.2's status logic (hydsolver.c / hydstatus.c) on one
member's state rows; members are solved one after the other, each on its own trial path
(own trial count, status checks, relaxation) with a work set that stays in cache. Units ft,
cfs.

:func:`hydsolve` returns: trials, relative error, a code (0 converged, 1 not converged
within the trials, 2 ill-conditioned) and the worst element (link with the largest last
flow change, or -(node + 1) for an emitter/demand, or the singular node).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .coeffs import (
    F_DAMP,
    F_HACC,
    F_HERR,
    F_PEXP,
    F_PMIN,
    F_PREQ,
    F_QCHG,
    F_QEXP,
    I_CHECKF,
    I_EXTRA,
    I_MAXCHK,
    I_MAXIT,
    I_PDA,
    emitter_headloss,
    headloss_coeffs,
    matrix_coeffs,
    member,
)
from .compile import (
    CT_HI,
    CT_LOW,
    HTOL,
    LT_CV,
    LT_FCV,
    LT_PIPE,
    LT_PRV,
    LT_PSV,
    LT_PUMP,
    MISSING,
    PT_CONST_HP,
    QTOL,
    ST_ACTIVE,
    ST_CLOSED,
    ST_OPEN,
    ST_TEMPCLOSED,
    ST_XFCV,
    ST_XHEAD,
    ST_XPRESSURE,
)
from .linalg import factor, solve
from .pdd import demand_headloss, pda_converged, pressure_range


@nb.njit(cache=True)
def _newflows(na, st, wk, relax):
    """Update flows of one member from the new heads; return (relerr, worst, max change)."""
    H, Q, D = st.H, st.Q, st.D
    for i in range(len(na.isj)):
        if not na.isj[i]:
            D[i] = 0.0
    qsum = 0.0
    dqsum = 0.0
    dqmax = 0.0
    worst = 0
    for lk in range(len(na.n1)):
        a, b = na.n1[lk], na.n2[lk]
        dq = wk.Y[lk] - wk.P[lk] * (H[a] - H[b])
        dq *= relax
        if na.ltype[lk] == LT_PUMP:
            if na.ptype[na.pump_of[lk]] == PT_CONST_HP and dq > Q[lk]:
                dq = Q[lk] / 2.0
        Q[lk] -= dq
        qsum += np.abs(Q[lk])
        dqsum += np.abs(dq)
        if np.abs(dq) > dqmax:
            dqmax = np.abs(dq)
            worst = lk
        if st.S[lk] > ST_CLOSED:
            if not na.isj[a]:
                D[a] -= Q[lk]
            if not na.isj[b]:
                D[b] += Q[lk]
    qexp = na.fprm[F_QEXP]
    for i in na.junctions:
        if st.Ke[i] == 0.0:
            continue
        hloss, hgrad = emitter_headloss(st.Ke[i], st.E[i], qexp)
        dq = (hloss - (H[i] - na.el[i])) / hgrad * relax
        st.E[i] -= dq
        qsum += np.abs(st.E[i])
        dqsum += np.abs(dq)
        if np.abs(dq) > dqmax:
            dqmax = np.abs(dq)
            worst = -(i + 1)
    if na.iprm[I_PDA]:
        pmin = na.fprm[F_PMIN]
        dp = pressure_range(pmin, na.fprm[F_PREQ])
        n = 1.0 / na.fprm[F_PEXP]
        for i in na.junctions:
            if D[i] <= 0.0:
                continue
            hloss, hgrad = demand_headloss(st.DF[i], D[i], dp, n)
            dq = (hloss - (H[i] - na.el[i] - pmin)) / hgrad * relax
            if np.abs(dq) > 0.4 * D[i]:
                dq = 0.4 * D[i] * (-1.0 if dq < 0.0 else 1.0)
            st.DF[i] -= dq
            qsum += np.abs(st.DF[i])
            dqsum += np.abs(dq)
            if np.abs(dq) > dqmax:
                dqmax = np.abs(dq)
                worst = -(i + 1)
    rel = dqsum / qsum if qsum > na.fprm[F_HACC] else dqsum
    return rel, worst, dqmax


@nb.njit(cache=True, inline="always")
def _cvstatus(s, dh, q):
    if np.abs(dh) > HTOL:
        if dh < -HTOL or q < -QTOL:
            return ST_CLOSED
        return ST_OPEN
    if q < -QTOL:
        return ST_CLOSED
    return s


@nb.njit(cache=True)
def _valvestatus(na, st):
    """PRV/PSV status updates of one member; True if any changed."""
    change = False
    H = st.H
    for lk in na.valves:
        t = na.ltype[lk]
        if (t != LT_PRV and t != LT_PSV) or st.KS[lk] == MISSING or st.lock[lk]:
            continue
        a, b = na.n1[lk], na.n2[lk]
        s = st.S[lk]
        q = st.Q[lk]
        h1, h2 = H[a], H[b]
        hml = na.Km[lk] * q * q
        new = s
        if t == LT_PRV:
            hset = na.el[b] + st.KS[lk]
            if s == ST_ACTIVE:
                if q < -QTOL:
                    new = ST_CLOSED
                elif h1 - hml < hset - HTOL:
                    new = ST_OPEN
            elif s == ST_OPEN:
                if q < -QTOL:
                    new = ST_CLOSED
                elif h2 >= hset + HTOL:
                    new = ST_ACTIVE
            elif s == ST_CLOSED:
                if h1 >= hset + HTOL and h2 < hset - HTOL:
                    new = ST_ACTIVE
                elif h1 < hset - HTOL and h1 > h2 + HTOL:
                    new = ST_OPEN
            elif s == ST_XPRESSURE and q < -QTOL:
                new = ST_CLOSED
        else:
            hset = na.el[a] + st.KS[lk]
            if s == ST_ACTIVE:
                if q < -QTOL:
                    new = ST_CLOSED
                elif h2 + hml > hset + HTOL:
                    new = ST_OPEN
            elif s == ST_OPEN:
                if q < -QTOL:
                    new = ST_CLOSED
                elif h1 < hset - HTOL:
                    new = ST_ACTIVE
            elif s == ST_CLOSED:
                if h2 > hset + HTOL and h1 > h2 + HTOL:
                    new = ST_OPEN
                elif h1 >= hset + HTOL and h1 > h2 + HTOL:
                    new = ST_ACTIVE
            elif s == ST_XPRESSURE and q < -QTOL:
                new = ST_CLOSED
        if new != s:
            st.S[lk] = new
            change = True
    return change


@nb.njit(cache=True, inline="always")
def _tankstatus(na, st, lk):
    if st.S[lk] <= ST_CLOSED:
        return
    a, b = na.n1[lk], na.n2[lk]
    q = st.Q[lk]
    if na.isj[a]:
        if na.isj[b]:
            return
        a, b = b, a
        q = -q
    ti = na.tank_of[a]
    if ti < 0:
        return
    h = st.H[a] - st.H[b]
    pump = na.ltype[lk] == LT_PUMP
    if st.H[a] >= na.tHmax[ti] - HTOL and not na.toverflow[ti]:
        if pump:
            if na.n2[lk] == a:
                st.S[lk] = ST_TEMPCLOSED
        elif _cvstatus(ST_OPEN, h, q) == ST_CLOSED:
            st.S[lk] = ST_TEMPCLOSED
    if st.H[a] <= na.tHmin[ti] + HTOL:
        if pump:
            if na.n1[lk] == a:
                st.S[lk] = ST_TEMPCLOSED
        elif _cvstatus(ST_CLOSED, h, q) == ST_OPEN:
            st.S[lk] = ST_TEMPCLOSED


@nb.njit(cache=True)
def _linkstatus(na, st):
    """Status checks of CVs, pumps, FCVs and links to tanks of one member."""
    change = False
    H = st.H
    for lk in range(len(na.n1)):
        if st.lock[lk]:
            continue
        a, b = na.n1[lk], na.n2[lk]
        dh = H[a] - H[b]
        s0 = st.S[lk]
        if s0 == ST_XHEAD or s0 == ST_TEMPCLOSED:
            st.S[lk] = ST_OPEN
        t = na.ltype[lk]
        if t == LT_CV:
            st.S[lk] = _cvstatus(st.S[lk], dh, st.Q[lk])
        if t == LT_PUMP and st.S[lk] >= ST_OPEN and st.KS[lk] > 0.0:
            p = na.pump_of[lk]
            hmax = 1e10 if na.ptype[p] == PT_CONST_HP else \
                st.KS[lk] * st.KS[lk] * na.pHmax[p]
            if -dh > hmax + HTOL:
                st.S[lk] = ST_XHEAD
            else:
                st.S[lk] = ST_OPEN
        if t == LT_FCV and st.KS[lk] != MISSING:
            ns = s0
            if dh < -HTOL or st.Q[lk] < -QTOL:
                ns = ST_XFCV
            elif s0 == ST_XFCV and st.Q[lk] >= st.KS[lk]:
                ns = ST_ACTIVE
            st.S[lk] = ns
        if not na.isj[a] or not na.isj[b]:
            _tankstatus(na, st, lk)
        if st.S[lk] != s0:
            change = True
    return change


@nb.njit(cache=True)
def _pswitch(na, st):
    """Junction-pressure simple controls of one member; True if any acted."""
    any_ = False
    for c in range(len(na.pc_link)):
        lk = na.pc_link[c]
        if st.lock[lk]:
            continue
        n = na.pc_node[c]
        h = st.H[n]
        reset = (na.pc_type[c] == CT_LOW and h <= na.pc_grade[c] + HTOL) or \
                (na.pc_type[c] == CT_HI and h >= na.pc_grade[c] - HTOL)
        if not reset:
            continue
        t = na.ltype[lk]
        s = st.S[lk]
        change = False
        if t == LT_PIPE and s != na.pc_status[c]:
            change = True
        if t == LT_PUMP and st.KS[lk] != na.pc_setting[c]:
            change = True
        if t >= LT_PRV:
            if st.KS[lk] != na.pc_setting[c]:
                change = True
            elif st.KS[lk] == MISSING and s != na.pc_status[c]:
                change = True
        if change:
            st.S[lk] = na.pc_status[c]
            if t > LT_PIPE:
                st.KS[lk] = na.pc_setting[c]
            any_ = True
    return any_


@nb.njit(cache=True)
def _badvalve(na, st, node):
    """Fix an active PRV/PSV/FCV at ``node`` (EPANET's badvalve); True if one was fixed."""
    for lk in na.valves:
        if na.n1[lk] == node or na.n2[lk] == node:
            t = na.ltype[lk]
            if (t == LT_PRV or t == LT_PSV or t == LT_FCV) and st.S[lk] == ST_ACTIVE:
                st.S[lk] = ST_XFCV if t == LT_FCV else ST_XPRESSURE
                return True
            return False
    return False


@nb.njit(cache=True)
def _headerror(na, st, wk):
    headloss_coeffs(na, st, wk)
    emax = 0.0
    for lk in range(len(na.n1)):
        if st.S[lk] <= ST_CLOSED or wk.P[lk] == 0.0:
            continue
        dh = st.H[na.n1[lk]] - st.H[na.n2[lk]]
        e = np.abs(dh - wk.Y[lk] / wk.P[lk])
        emax = max(emax, e)
    return emax


@nb.njit(cache=True)
def hydsolve(na, st, wk):
    """Solve one member (EPANET's hydsolve): ``st`` its State rows, ``wk`` a Work set.
    Return (trials, relative error, code (0 ok, 1 not converged, 2 ill-conditioned),
    worst element)."""
    fp, ip = na.fprm, na.iprm
    maxtrials = ip[I_MAXIT] + (ip[I_EXTRA] if ip[I_EXTRA] > 0 else 0)
    it = 1
    nextcheck = ip[I_CHECKF]
    relax = 1.0
    code = 1
    worst = 0
    relerr = 0.0
    while it <= maxtrials:
        headloss_coeffs(na, st, wk)
        matrix_coeffs(na, st, wk)
        err = factor(na.colptr, na.rptr, na.rcol, na.rpos, na.mptr, na.rmap, wk.lval)
        solve(na.colptr, na.rowind, wk.lval, wk.F)
        if err >= 0:
            node = na.row2node[err]
            if _badvalve(na, st, node):
                continue
            code = 2
            worst = node
            break
        for i in na.junctions:
            st.H[i] = wk.F[na.row[i]]
        rel, wst, dqmax = _newflows(na, st, wk, relax)
        relerr = rel
        worst = wst
        relax = 1.0
        vchange = False
        if fp[F_DAMP] > 0.0:
            if rel <= fp[F_DAMP]:
                relax = 0.6
                vchange = _valvestatus(na, st)
        else:
            vchange = _valvestatus(na, st)
        conv = rel <= fp[F_HACC]
        if conv and (fp[F_HERR] > 0.0 or fp[F_QCHG] > 0.0):
            if fp[F_HERR] > 0.0 and _headerror(na, st, wk) > fp[F_HERR]:
                conv = False
            if fp[F_QCHG] > 0.0 and dqmax > fp[F_QCHG]:
                conv = False
        if conv and ip[I_PDA]:
            conv = pda_converged(na.junctions, st.H, na.el, st.D, st.DF, fp[F_PMIN],
                                 fp[F_PREQ], fp[F_PEXP])
        if conv:
            code = 0
            if it > ip[I_MAXIT]:
                break
            c1 = _linkstatus(na, st)
            c2 = _pswitch(na, st)
            if not (vchange or c1 or c2):
                break
            code = 1
            nextcheck = it + ip[I_CHECKF]
        elif it <= ip[I_MAXCHK] and it == nextcheck:
            _linkstatus(na, st)
            nextcheck += ip[I_CHECKF]
        it += 1
    if code == 1 and relerr <= fp[F_HACC]:
        code = 0
    for i in na.junctions:
        full = st.D[i]
        st.D[i] = st.DF[i] + st.E[i]
        st.DF[i] = full
    return it, relerr, code, worst


@nb.njit(cache=True)
def hydsolve_members(na, st, wk, m, iters, relerr, code, worst):
    """:func:`hydsolve` for members ``m`` of the member-major State ``st``, one after the
    other on the work set ``wk``; outputs (K,) iters, relerr, code, worst."""
    for k in m:
        iters[k], relerr[k], code[k], worst[k] = hydsolve(na, member(st, k), wk)


_DIGEST = []


def key_cache_on_sources(ns: dict, modname: str) -> None:
    """Key numba's on-disk cache of the kernels defined in module ``modname`` (namespace
    ``ns``) on the source of every module of the solver (numba keys a cached function on
    its own file only, so an edit of a callee would otherwise leave a stale kernel).
    numba's cache class is private API: if it changes, the default cache stays."""
    import hashlib
    from pathlib import Path

    try:
        from numba.core.caching import FunctionCache

        if not _DIGEST:
            here = Path(__file__).parent
            src = b"".join((here / f"{m}.py").read_bytes() for m in
                           ("compile", "linalg", "pdd", "coeffs", "gga", "stepper"))
            _DIGEST.append(hashlib.sha256(src).hexdigest())
        digest = _DIGEST[0]

        class _SourceCache(FunctionCache):
            def _index_key(self, sig, codegen):
                return super()._index_key(sig, codegen) + (digest,)

        for f in list(ns.values()):
            if isinstance(f, nb.core.registry.CPUDispatcher) and f.__module__ == modname:
                f._cache = _SourceCache(f.py_func)
    except Exception:  # pragma: no cover
        pass


def _key_all():
    from . import coeffs, linalg, pdd
    for mod in (coeffs, linalg, pdd):
        key_cache_on_sources(vars(mod), mod.__name__)
    key_cache_on_sources(globals(), __name__)


_key_all()
