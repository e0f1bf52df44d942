"""The GGA Newton iteration with EPANET 2.2's status logic (hydsolver.c / hydstatus.c),
batched over members: every member runs exactly its own iteration sequence (own trial count,
status checks, relaxation), while the members still iterating share one pass over the
sparse factorization (:mod:`.linalg`). Units ft, cfs.

:func:`hydsolve` returns per member: trials, relative error, a code (0 converged,
1 not converged within the trials, 2 ill-conditioned) and the worst element (link with the
largest last flow change, or -(node + 1) for an emitter/demand, or the singular node).
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
def _newflows(na, st, wk, k, relax):
    """Update flows of member k from the new heads; return (relerr, worst, max change)."""
    H, Q, D = st.H, st.Q, st.D
    for i in range(len(na.isj)):
        if not na.isj[i]:
            D[i, k] = 0.0
    qsum = 0.0
    dqsum = 0.0
    dqmax = 0.0
    worst = 0
    for lk in range(len(na.n1)):
        a, b = na.n1[lk], na.n2[lk]
        dq = wk.Y[lk, k] - wk.P[lk, k] * (H[a, k] - H[b, k])
        dq *= relax
        if na.ltype[lk] == LT_PUMP:
            if na.ptype[na.pump_of[lk]] == PT_CONST_HP and dq > Q[lk, k]:
                dq = Q[lk, k] / 2.0
        Q[lk, k] -= dq
        qsum += np.abs(Q[lk, k])
        dqsum += np.abs(dq)
        if np.abs(dq) > dqmax:
            dqmax = np.abs(dq)
            worst = lk
        if st.S[lk, k] > ST_CLOSED:
            if not na.isj[a]:
                D[a, k] -= Q[lk, k]
            if not na.isj[b]:
                D[b, k] += Q[lk, k]
    qexp = na.fprm[F_QEXP]
    for i in na.junctions:
        if st.Ke[i, k] == 0.0:
            continue
        hloss, hgrad = emitter_headloss(st.Ke[i, k], st.E[i, k], qexp)
        dq = (hloss - (H[i, k] - na.el[i])) / hgrad * relax
        st.E[i, k] -= dq
        qsum += np.abs(st.E[i, k])
        dqsum += np.abs(dq)
        if np.abs(dq) > dqmax:
            dqmax = np.abs(dq)
            worst = -(i + 1)
    if na.iprm[I_PDA]:
        pmin = na.fprm[F_PMIN]
        dp = pressure_range(pmin, na.fprm[F_PREQ])
        n = 1.0 / na.fprm[F_PEXP]
        for i in na.junctions:
            if D[i, k] <= 0.0:
                continue
            hloss, hgrad = demand_headloss(st.DF[i, k], D[i, k], dp, n)
            dq = (hloss - (H[i, k] - na.el[i] - pmin)) / hgrad * relax
            if np.abs(dq) > 0.4 * D[i, k]:
                dq = 0.4 * D[i, k] * (-1.0 if dq < 0.0 else 1.0)
            st.DF[i, k] -= dq
            qsum += np.abs(st.DF[i, k])
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
def _valvestatus(na, st, k):
    """PRV/PSV status updates of member k; True if any changed."""
    change = False
    H = st.H
    for lk in na.valves:
        t = na.ltype[lk]
        if (t != LT_PRV and t != LT_PSV) or st.KS[lk, k] == MISSING or st.lock[lk, k]:
            continue
        a, b = na.n1[lk], na.n2[lk]
        s = st.S[lk, k]
        q = st.Q[lk, k]
        h1, h2 = H[a, k], H[b, k]
        hml = na.Km[lk] * q * q
        new = s
        if t == LT_PRV:
            hset = na.el[b] + st.KS[lk, k]
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
            hset = na.el[a] + st.KS[lk, k]
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
            st.S[lk, k] = new
            change = True
    return change


@nb.njit(cache=True, inline="always")
def _tankstatus(na, st, k, lk):
    if st.S[lk, k] <= ST_CLOSED:
        return
    a, b = na.n1[lk], na.n2[lk]
    q = st.Q[lk, k]
    if na.isj[a]:
        if na.isj[b]:
            return
        a, b = b, a
        q = -q
    ti = na.tank_of[a]
    if ti < 0:
        return
    h = st.H[a, k] - st.H[b, k]
    pump = na.ltype[lk] == LT_PUMP
    if st.H[a, k] >= na.tHmax[ti] - HTOL and not na.toverflow[ti]:
        if pump:
            if na.n2[lk] == a:
                st.S[lk, k] = ST_TEMPCLOSED
        elif _cvstatus(ST_OPEN, h, q) == ST_CLOSED:
            st.S[lk, k] = ST_TEMPCLOSED
    if st.H[a, k] <= na.tHmin[ti] + HTOL:
        if pump:
            if na.n1[lk] == a:
                st.S[lk, k] = ST_TEMPCLOSED
        elif _cvstatus(ST_CLOSED, h, q) == ST_OPEN:
            st.S[lk, k] = ST_TEMPCLOSED


@nb.njit(cache=True)
def _linkstatus(na, st, k):
    """Status checks of CVs, pumps, FCVs and links to tanks of member k."""
    change = False
    H = st.H
    for lk in range(len(na.n1)):
        if st.lock[lk, k]:
            continue
        a, b = na.n1[lk], na.n2[lk]
        dh = H[a, k] - H[b, k]
        s0 = st.S[lk, k]
        if s0 == ST_XHEAD or s0 == ST_TEMPCLOSED:
            st.S[lk, k] = ST_OPEN
        t = na.ltype[lk]
        if t == LT_CV:
            st.S[lk, k] = _cvstatus(st.S[lk, k], dh, st.Q[lk, k])
        if t == LT_PUMP and st.S[lk, k] >= ST_OPEN and st.KS[lk, k] > 0.0:
            p = na.pump_of[lk]
            hmax = 1e10 if na.ptype[p] == PT_CONST_HP else \
                st.KS[lk, k] * st.KS[lk, k] * na.pHmax[p]
            if -dh > hmax + HTOL:
                st.S[lk, k] = ST_XHEAD
            else:
                st.S[lk, k] = ST_OPEN
        if t == LT_FCV and st.KS[lk, k] != MISSING:
            ns = s0
            if dh < -HTOL or st.Q[lk, k] < -QTOL:
                ns = ST_XFCV
            elif s0 == ST_XFCV and st.Q[lk, k] >= st.KS[lk, k]:
                ns = ST_ACTIVE
            st.S[lk, k] = ns
        if not na.isj[a] or not na.isj[b]:
            _tankstatus(na, st, k, lk)
        if st.S[lk, k] != s0:
            change = True
    return change


@nb.njit(cache=True)
def _pswitch(na, st, k):
    """Junction-pressure simple controls of member k; True if any acted."""
    any_ = False
    for c in range(len(na.pc_link)):
        lk = na.pc_link[c]
        if st.lock[lk, k]:
            continue
        n = na.pc_node[c]
        h = st.H[n, k]
        reset = (na.pc_type[c] == CT_LOW and h <= na.pc_grade[c] + HTOL) or \
                (na.pc_type[c] == CT_HI and h >= na.pc_grade[c] - HTOL)
        if not reset:
            continue
        t = na.ltype[lk]
        s = st.S[lk, k]
        change = False
        if t == LT_PIPE and s != na.pc_status[c]:
            change = True
        if t == LT_PUMP and st.KS[lk, k] != na.pc_setting[c]:
            change = True
        if t >= LT_PRV:
            if st.KS[lk, k] != na.pc_setting[c]:
                change = True
            elif st.KS[lk, k] == MISSING and s != na.pc_status[c]:
                change = True
        if change:
            st.S[lk, k] = na.pc_status[c]
            if t > LT_PIPE:
                st.KS[lk, k] = na.pc_setting[c]
            any_ = True
    return any_


@nb.njit(cache=True)
def _badvalve(na, st, k, node):
    """Fix an active PRV/PSV/FCV at ``node`` (EPANET's badvalve); True if one was fixed."""
    for lk in na.valves:
        if na.n1[lk] == node or na.n2[lk] == node:
            t = na.ltype[lk]
            if (t == LT_PRV or t == LT_PSV or t == LT_FCV) and st.S[lk, k] == ST_ACTIVE:
                st.S[lk, k] = ST_XFCV if t == LT_FCV else ST_XPRESSURE
                return True
            return False
    return False


@nb.njit(cache=True)
def _headerror(na, st, wk, k):
    headloss_coeffs(na, st, wk, k)
    emax = 0.0
    for lk in range(len(na.n1)):
        if st.S[lk, k] <= ST_CLOSED or wk.P[lk, k] == 0.0:
            continue
        dh = st.H[na.n1[lk], k] - st.H[na.n2[lk], k]
        e = np.abs(dh - wk.Y[lk, k] / wk.P[lk, k])
        emax = max(emax, e)
    return emax


@nb.njit(cache=True)
def hydsolve(na, st, wk, act0, iters, relerr, code, worst):
    """Solve the members ``act0`` (EPANET's hydsolve, each member on its own trial path).
    Outputs (K,): iters, relerr, code (0 ok, 1 not converged, 2 ill-conditioned), worst."""
    K = st.H.shape[1]
    fp, ip = na.fprm, na.iprm
    maxtrials = ip[I_MAXIT] + (ip[I_EXTRA] if ip[I_EXTRA] > 0 else 0)
    it = np.ones(K, np.int64)
    nextcheck = np.full(K, ip[I_CHECKF], np.int64)
    relax = np.ones(K)
    done = np.ones(K, np.bool_)
    for k in act0:
        done[k] = False
        code[k] = 1
        worst[k] = 0
        relerr[k] = 0.0
    err = np.full(K, -1, np.int64)
    while True:
        na_ = 0
        for k in act0:
            if not done[k] and it[k] > maxtrials:
                done[k] = True
            if not done[k]:
                na_ += 1
        if na_ == 0:
            break
        act = np.empty(na_, np.int64)
        m = 0
        for k in act0:
            if not done[k]:
                act[m] = k
                m += 1
        for k in act:
            headloss_coeffs(na, st, wk, k)
            matrix_coeffs(na, st, wk, k)
            err[k] = -1
        factor(na.colptr, na.rowind, na.rptr, na.rcol, na.rpos, wk.lval, act, wk.w, err)
        solve(na.colptr, na.rowind, wk.lval, act, wk.F)
        for k in act:
            if err[k] >= 0:
                node = na.row2node[err[k]]
                if _badvalve(na, st, k, node):
                    continue
                code[k] = 2
                worst[k] = node
                done[k] = True
                continue
            for i in na.junctions:
                st.H[i, k] = wk.F[na.row[i], k]
            rel, wst, dqmax = _newflows(na, st, wk, k, relax[k])
            relerr[k] = rel
            worst[k] = wst
            relax[k] = 1.0
            vchange = False
            if fp[F_DAMP] > 0.0:
                if rel <= fp[F_DAMP]:
                    relax[k] = 0.6
                    vchange = _valvestatus(na, st, k)
            else:
                vchange = _valvestatus(na, st, k)
            conv = rel <= fp[F_HACC]
            if conv and (fp[F_HERR] > 0.0 or fp[F_QCHG] > 0.0):
                if fp[F_HERR] > 0.0 and _headerror(na, st, wk, k) > fp[F_HERR]:
                    conv = False
                if fp[F_QCHG] > 0.0 and dqmax > fp[F_QCHG]:
                    conv = False
            if conv and ip[I_PDA]:
                conv = pda_converged(na.junctions, st.H, na.el, st.D, st.DF, k, fp[F_PMIN],
                                     fp[F_PREQ], fp[F_PEXP])
            if conv:
                code[k] = 0
                if it[k] > ip[I_MAXIT]:
                    done[k] = True
                    continue
                c1 = _linkstatus(na, st, k)
                c2 = _pswitch(na, st, k)
                if not (vchange or c1 or c2):
                    done[k] = True
                    continue
                code[k] = 1
                nextcheck[k] = it[k] + ip[I_CHECKF]
            elif it[k] <= ip[I_MAXCHK] and it[k] == nextcheck[k]:
                _linkstatus(na, st, k)
                nextcheck[k] += ip[I_CHECKF]
            it[k] += 1
    for k in act0:
        iters[k] = it[k]
        if code[k] == 1 and relerr[k] <= fp[F_HACC]:
            code[k] = 0
        for i in na.junctions:
            full = st.D[i, k]
            st.D[i, k] = st.DF[i, k] + st.E[i, k]
            st.DF[i, k] = full


def _key_cache_on_sources():
    """Key numba's on-disk cache of this module's and coeffs' kernels on the source of every
    module they compile in (numba keys a cached function on its own file only, so an edit of
    a callee would otherwise leave a stale kernel). numba's cache class is private API: if
    it changes, the default cache stays."""
    import hashlib
    from pathlib import Path

    from . import coeffs, compile, linalg, pdd
    try:
        from numba.core.caching import FunctionCache

        mods = (coeffs, compile, linalg, pdd)
        digest = hashlib.sha256(Path(__file__).read_bytes() + b"".join(
            Path(m.__file__).read_bytes() for m in mods)).hexdigest()

        class _SourceCache(FunctionCache):
            def _index_key(self, sig, codegen):
                return super()._index_key(sig, codegen) + (digest,)

        for mod in (coeffs, globals()):
            ns = vars(mod) if not isinstance(mod, dict) else mod
            for f in list(ns.values()):
                if isinstance(f, nb.core.registry.CPUDispatcher) and \
                        f.__module__ in (__name__, coeffs.__name__):
                    f._cache = _SourceCache(f.py_func)
    except Exception:  # pragma: no cover
        pass


_key_cache_on_sources()
