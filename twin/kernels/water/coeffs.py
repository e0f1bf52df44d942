"""Head-loss coefficients and matrix assembly of the GGA (EPANET 2.2's hydcoeffs), numba.

For each link: P = 1 / head-loss gradient and Y = head loss / gradient at the current flow
(pipes: Hazen–Williams, Darcy–Weisbach with Swamee–Jain, Dunlop's transition polynomial and
Hagen–Poiseuille below Re 2000, Chezy–Manning; minor losses; pumps: power and piecewise
linear curves, constant power; valves). Units ft, cfs. The kernels see one member: its
state rows (1-D views of the member-major (K, ·) arrays) and a work set of its own.
"""

from __future__ import annotations

from collections import namedtuple

import numba as nb
import numpy as np

from .compile import (
    CBIG,
    CSMALL,
    DW,
    LT_FCV,
    LT_GPV,
    LT_PBV,
    LT_PIPE,
    LT_PRV,
    LT_PSV,
    LT_PUMP,
    LT_TCV,
    MISSING,
    PT_CONST_HP,
    PT_CUSTOM,
    PT_NOCURVE,
    RQTOL,
    ST_ACTIVE,
    ST_CLOSED,
    TINY,
)
from .pdd import demand_headloss, pressure_range

#: network arrays handed to the kernels (see sim.py for how they are built)
NetArrays = namedtuple("NetArrays", [
    "n1", "n2", "ltype", "isj", "row", "el", "diam", "R", "Km", "Kc", "pump_of", "ptype",
    "pH0", "pR", "pN", "pHmax", "pcurve", "gpv_curve", "cx", "cy", "cn", "tank_of", "tHmin",
    "tHmax", "toverflow", "offpos", "diagpos", "junctions", "valves", "row2node",
    "pc_link", "pc_node", "pc_type", "pc_grade", "pc_status", "pc_setting", "fprm", "iprm",
    "colptr", "rowind", "rptr", "rcol", "rpos", "mptr", "rmap"])
#: state, member-major: heads H (K, n), flows Q (K, L), status S (K, L) int8, settings
#: KS (K, L), emitter flows E, node demands D, demand flows DF (K, n), emitter coefficients
#: Ke (K, n), lock (K, L) bool (closed by the user); the kernels get one member's rows
State = namedtuple("State", ["H", "Q", "S", "KS", "E", "D", "DF", "Ke", "lock"])
#: one member's work arrays: lval (nnz,) matrix / factor, F (nj,) right-hand side / heads,
#: P, Y (L,) link coefficients, X (n,) nodal flow excess
Work = namedtuple("Work", ["lval", "F", "P", "Y", "X"])


@nb.njit(cache=True)
def member(st, k):
    """The State of member k's rows of the member-major State ``st``."""
    return State(st.H[k], st.Q[k], st.S[k], st.KS[k], st.E[k], st.D[k], st.DF[k], st.Ke[k],
                 st.lock[k])


def new_work(nnz: int, nj: int, n: int, L: int) -> Work:
    """A zeroed work set of one member."""
    return Work(np.zeros(nnz), np.zeros(nj), np.zeros(L), np.zeros(L), np.zeros(n))

# fprm / iprm indices
F_HEXP, F_QEXP, F_VISC, F_HACC, F_DAMP, F_HERR, F_QCHG, F_PMIN, F_PREQ, F_PEXP = range(10)
I_FORM, I_MAXIT, I_EXTRA, I_CHECKF, I_MAXCHK, I_PDA = range(6)

A1, A2 = 1000.0 * np.pi, 500.0 * np.pi
A8 = 4.61841319859066668690e+00
A9 = -8.68588963806503655300e-01
AB = 3.28895476345399058690e-03
AC = -5.14214965799093883760e-03


@nb.njit(cache=True, inline="always")
def friction_factor(q, e, s):
    """Darcy–Weisbach friction factor and d f/d q at |flow| q (cfs), relative roughness e,
    viscosity × diameter s: Swamee–Jain for Re >= 4000, Dunlop's cubic in between."""
    w = q / s
    if w >= A1:
        y1 = A8 / w ** 0.9
        y2 = e / 3.7 + y1
        y3 = A9 * np.log(y2)
        f = 1.0 / (y3 * y3)
        return f, 1.8 * f * y1 * A9 / y2 / y3 / q
    y2 = e / 3.7 + AB
    y3 = A9 * np.log(y2)
    fa = 1.0 / (y3 * y3)
    fb = (2.0 + AC / (y2 * y3)) * fa
    r = w / A2
    x1 = 7.0 * fa - fb
    x2 = 0.128 - 17.0 * fa + 2.5 * fb
    x3 = -0.128 + 13.0 * fa - (fb + fb)
    x4 = 0.032 - 3.0 * fa + 0.5 * fb
    f = x1 + r * (x2 + r * (x3 + r * x4))
    return f, (x2 + r * (2.0 * x3 + r * 3.0 * x4)) / s / A2


@nb.njit(cache=True, inline="always")
def valve_py(flow, status, km):
    """(P, Y) of an open / closed valve with minor-loss coefficient km."""
    if status <= ST_CLOSED:
        return 1.0 / CBIG, flow
    if km > 0.0:
        hgrad = 2.0 * km * np.abs(flow)
        if hgrad < RQTOL:
            hgrad = RQTOL
            hloss = flow * hgrad
        else:
            hloss = flow * hgrad / 2.0
        return 1.0 / hgrad, hloss / hgrad
    return 1.0 / CSMALL, flow


@nb.njit(cache=True, inline="always")
def curve_coeff(cx, cy, cn, c, q):
    """Intercept h0 and slope r of the segment of curve c bracketing q."""
    n = cn[c]
    k2 = 0
    while k2 < n and cx[c, k2] < q:
        k2 += 1
    if k2 == 0:
        k2 += 1
    elif k2 == n:
        k2 -= 1
    k1 = k2 - 1
    r = (cy[c, k2] - cy[c, k1]) / (cx[c, k2] - cx[c, k1])
    return cy[c, k1] - r * cx[c, k1], r


@nb.njit(cache=True)
def pipe_py(flow, status, r, ml, kc, diam, formula, hexp, visc):
    """(P, Y) of a pipe (scalars only: no array bookkeeping in the hot loop)."""
    if status <= ST_CLOSED:
        return 1.0 / CBIG, flow
    q = np.abs(flow)
    if formula == DW:
        s = visc * diam
        if q <= A2 * s:
            r = 16.0 * np.pi * s * r
            hloss = flow * (r + ml * q)
            hgrad = r + 2.0 * ml * q
        else:
            f, dfdq = friction_factor(q, kc / diam, s)
            r1 = f * r + ml
            hloss = r1 * q * flow
            hgrad = 2.0 * r1 * q + dfdq * r * q * q
        return 1.0 / hgrad, hloss / hgrad
    hgrad = hexp * r * q ** (hexp - 1.0)
    if hgrad < RQTOL:
        hgrad = RQTOL
        hloss = hgrad * q
    else:
        hloss = hgrad * q / hexp
    if ml > 0.0:
        hloss += ml * q * q
        hgrad += 2.0 * ml * q
    if flow < 0.0:
        hloss = -hloss
    return 1.0 / hgrad, hloss / hgrad


@nb.njit(cache=True)
def pump_py(flow, status, setting, pt, pH0, pR, pN, c, cx, cy, cn):
    """(P, Y) of a pump of type pt (PT_*) with curve c (custom)."""
    if status <= ST_CLOSED or setting == 0.0:
        return 1.0 / CBIG, flow
    q = np.abs(flow)
    if pt == PT_NOCURVE:
        return 1.0 / CSMALL, flow
    if pt == PT_CUSTOM:
        h0, r = curve_coeff(cx, cy, cn, c, q / setting)
        hgrad = -r * setting
        hloss = -h0 * setting * setting + hgrad * flow
        return 1.0 / hgrad, hloss / hgrad
    h0 = setting * setting * pH0
    n = pN
    if np.abs(n - 1.0) < TINY:
        n = 1.0
    r = pR * setting ** (2.0 - n)
    if pt == PT_CONST_HP:
        hgrad = -r / q / q
        if hgrad > CBIG:
            hgrad = CBIG
            hloss = -hgrad * flow
        elif hgrad < RQTOL:
            hgrad = RQTOL
            hloss = -hgrad * flow
        else:
            hloss = r / flow
    elif n != 1.0:
        hgrad = n * r * q ** (n - 1.0)
        if hgrad < RQTOL:
            hgrad = RQTOL
            hloss = h0 + hgrad * flow
        else:
            hloss = h0 + hgrad * flow / n
    else:
        hgrad = r
        hloss = h0 + hgrad * flow
    return 1.0 / hgrad, hloss / hgrad


@nb.njit(cache=True)
def valve_link_py(t, flow, status, setting, yold, km, diam, gc, cx, cy, cn):
    """(P, Y) of a valve of type t; P = 0 for PRV/PSV/FCV with a setting (their
    coefficients are assembled in matrix_coeffs)."""
    if t == LT_PBV:
        if setting == MISSING or setting == 0.0:
            return valve_py(flow, status, km)
        if km * flow * flow > setting:
            return valve_py(flow, status, km)
        return CBIG, setting * CBIG
    if t == LT_TCV:
        if setting != MISSING:
            d2 = diam * diam
            km = 0.02517 * setting / (d2 * d2)
        return valve_py(flow, status, km)
    if t == LT_GPV:
        if status == ST_CLOSED:
            return valve_py(flow, status, km)
        q = max(np.abs(flow), TINY)
        h0, r = curve_coeff(cx, cy, cn, gc, q)
        r = max(r, TINY)
        y = h0 / r + q
        return 1.0 / r, -y if flow < 0.0 else y
    if setting == MISSING:
        return valve_py(flow, status, km)
    return 0.0, yold


@nb.njit(cache=True, inline="always")
def emitter_headloss(ke, q, qexp):
    """(hloss, hgrad) of an emitter with coefficient ke at flow q."""
    ke = max(CSMALL, ke)
    hgrad = qexp * ke * np.abs(q) ** (qexp - 1.0)
    if hgrad < RQTOL:
        return RQTOL * q, RQTOL
    return hgrad * q / qexp, hgrad


@nb.njit(cache=True)
def headloss_coeffs(na, st, wk):
    """P, Y of every link of one member (EPANET's headlosscoeffs)."""
    ltype, R, Km, Kc, diam = na.ltype, na.R, na.Km, na.Kc, na.diam
    pump_of, ptype, pH0, pR, pN, pcurve = na.pump_of, na.ptype, na.pH0, na.pR, na.pN, \
        na.pcurve
    gpv, cx, cy, cn = na.gpv_curve, na.cx, na.cy, na.cn
    Q, S, KS, P, Y = st.Q, st.S, st.KS, wk.P, wk.Y
    form, hexp, visc = na.iprm[I_FORM], na.fprm[F_HEXP], na.fprm[F_VISC]
    for lk in range(len(ltype)):
        t = ltype[lk]
        if t <= LT_PIPE:
            p, y = pipe_py(Q[lk], S[lk], R[lk], Km[lk], Kc[lk], diam[lk], form, hexp,
                           visc)
        elif t == LT_PUMP:
            i = pump_of[lk]
            p, y = pump_py(Q[lk], S[lk], KS[lk], ptype[i], pH0[i], pR[i], pN[i],
                           pcurve[i], cx, cy, cn)
        else:
            p, y = valve_link_py(t, Q[lk], S[lk], KS[lk], Y[lk], Km[lk],
                                 diam[lk], gpv[lk], cx, cy, cn)
        P[lk] = p
        Y[lk] = y


@nb.njit(cache=True, inline="always")
def _add_offdiag(na, wk, lk, i, j, p):
    if na.offpos[lk] >= 0:
        wk.lval[na.offpos[lk]] -= p
    if i >= 0:
        wk.lval[na.diagpos[i]] += p
    if j >= 0:
        wk.lval[na.diagpos[j]] += p


@nb.njit(cache=True)
def matrix_coeffs(na, st, wk):
    """Assemble one member's matrix (into wk.lval), right-hand side wk.F and nodal
    flow excess wk.X (EPANET's matrixcoeffs)."""
    wk.lval[:] = 0.0
    wk.F[:] = 0.0
    wk.X[:] = 0.0
    row, H, F, X = na.row, st.H, wk.F, wk.X
    for lk in range(len(na.n1)):
        p = wk.P[lk]
        if p == 0.0:
            continue
        a, b = na.n1[lk], na.n2[lk]
        q, y = st.Q[lk], wk.Y[lk]
        X[a] -= q
        X[b] += q
        if na.offpos[lk] >= 0:
            wk.lval[na.offpos[lk]] -= p
        ra, rb = row[a], row[b]
        if ra >= 0:
            wk.lval[na.diagpos[ra]] += p
            F[ra] += y
        elif rb >= 0:
            F[rb] += p * H[a]
        if rb >= 0:
            wk.lval[na.diagpos[rb]] += p
            F[rb] -= y
        elif ra >= 0:
            F[ra] += p * H[b]
    qexp = na.fprm[F_QEXP]
    for i in na.junctions:
        if st.Ke[i] == 0.0:
            continue
        hloss, hgrad = emitter_headloss(st.Ke[i], st.E[i], qexp)
        r = row[i]
        wk.lval[na.diagpos[r]] += 1.0 / hgrad
        F[r] += (hloss + na.el[i]) / hgrad
        X[i] -= st.E[i]
    if na.iprm[I_PDA]:
        pmin = na.fprm[F_PMIN]
        dp = pressure_range(pmin, na.fprm[F_PREQ])
        n = 1.0 / na.fprm[F_PEXP]
        for i in na.junctions:
            if st.D[i] <= 0.0:
                continue
            hloss, hgrad = demand_headloss(st.DF[i], st.D[i], dp, n)
            if hgrad > 0.0:
                r = row[i]
                wk.lval[na.diagpos[r]] += 1.0 / hgrad
                F[r] += (hloss + na.el[i] + pmin) / hgrad
    for i in na.junctions:
        X[i] -= st.DF[i]
        F[row[i]] += X[i]
    for lk in na.valves:
        setting = st.KS[lk]
        if setting == MISSING:
            continue
        t = na.ltype[lk]
        if t != LT_PRV and t != LT_PSV and t != LT_FCV:
            continue
        a, b = na.n1[lk], na.n2[lk]
        i, j = row[a], row[b]
        q = st.Q[lk]
        if st.S[lk] == ST_ACTIVE:
            if t == LT_PRV:
                wk.P[lk] = 0.0
                wk.Y[lk] = q + X[b]
                if j >= 0:
                    F[j] += (na.el[b] + setting) * CBIG
                    wk.lval[na.diagpos[j]] += CBIG
                if X[b] < 0.0 and i >= 0:
                    F[i] += X[b]
                continue
            if t == LT_PSV:
                wk.P[lk] = 0.0
                wk.Y[lk] = q - X[a]
                if i >= 0:
                    F[i] += (na.el[a] + setting) * CBIG
                    wk.lval[na.diagpos[i]] += CBIG
                if X[a] > 0.0 and j >= 0:
                    F[j] += X[a]
                continue
            if t == LT_FCV:
                X[a] -= setting
                X[b] += setting
                wk.Y[lk] = q - setting
                if i >= 0:
                    F[i] -= setting
                if j >= 0:
                    F[j] += setting
                wk.P[lk] = 1.0 / CBIG
                _add_offdiag(na, wk, lk, i, j, 1.0 / CBIG)
                continue
        p, y = valve_py(q, st.S[lk], na.Km[lk])
        wk.P[lk] = p
        wk.Y[lk] = y
        _add_offdiag(na, wk, lk, i, j, p)
        if i >= 0:
            F[i] += y - q
        if j >= 0:
            F[j] -= y - q
