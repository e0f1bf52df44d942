"""The extended-period loop of EPANET 2.2 (hydraul.c) in numba, one member at a time.

A member's whole run to a target time — demands and patterns, simple controls, closures,
the GGA solve (:func:`.gga.hydsolve`), the next step (pattern period, report time, target,
tank fill/drain, control times) and the tank levels — runs in one kernel call on its own
state rows, so members that drift onto different step times cost no Python steps, and its
state stays in cache. The arithmetic is that of the vectorized reference in :mod:`.eps`
(used for networks with rules), so either path gives the same numbers. Units ft, cfs, s.

Kernels return the position in ``m`` of a member whose solve failed (-1 when none), with
``info`` = (code, worst, trials) and ``clk.relerr``, so that the caller raises or warns and
calls again from there.
"""

from __future__ import annotations

from collections import namedtuple

import numba as nb
import numpy as np

from .coeffs import member
from .compile import (
    CFS,
    CT_HI,
    CT_LOW,
    CT_TIMER,
    CT_TOD,
    FT,
    LT_FCV,
    LT_PIPE,
    LT_PUMP,
    MISSING,
    PT_CONST_HP,
    QZERO,
    ST_ACTIVE,
    ST_CLOSED,
    ST_OPEN,
)
from .gga import hydsolve, key_cache_on_sources

DAY = 86400
#: network arrays of the EPS (see sim.py); ``sfac`` (L,) SI factor of a setting, ``fprm``
#: (dmult, spgrav, pump efficiency fraction)
EpsArrays = namedtuple("EpsArrays", [
    "tank_nodes", "tHmin", "tHmax", "tA", "tVmin", "tVmax", "tvcurve", "res_nodes",
    "res_pattern", "pat", "pat_len", "dem_node", "dem_base", "dem_pat", "pump_links",
    "pump_pattern", "pQ0", "c_link", "c_type", "c_node", "c_grade", "c_time", "c_status",
    "c_setting", "sfac", "fprm"])
#: clocks and EPS state, member-major: htime, rtime (K,) int s, V (K, nt) ft³ tank volumes,
#: mult (K, n) demand multipliers, iters (K,) trials and relerr (K,) of the last solve
Clock = namedtuple("Clock", ["htime", "rtime", "V", "mult", "iters", "relerr"])
#: outputs (K, T, ·), SI: head, pressure, demand, demand_required (node), flow, velocity,
#: status int8, setting (link), pump_power (pump)
Outputs = namedtuple("Outputs", [
    "head", "pressure", "demand", "demand_required", "flow", "velocity", "status",
    "setting", "pump_power"])
# prm (int64) indices: pattern start, pattern step, hydraulic step, report step, clock start
P_PSTART, P_PSTEP, P_HSTEP, P_RSTEP, P_TSTART = range(5)


@nb.njit(cache=True, inline="always")
def _round(x):
    """EPANET's ROUND: half away from zero."""
    if x >= 0.0:
        return np.int64(np.floor(x + 0.5))
    return np.int64(np.ceil(x - 0.5))


@nb.njit(cache=True)
def tank_volume(na, ea, ti, h):
    """Volume (ft³) of tank ti at head h (ft)."""
    cv = ea.tvcurve[ti]
    if cv < 0:
        return ea.tVmin[ti] + (h - ea.tHmin[ti]) * ea.tA[ti]
    n = na.cn[cv]
    return np.interp(h - na.el[ea.tank_nodes[ti]], na.cx[cv, :n], na.cy[cv, :n])


@nb.njit(cache=True)
def tank_grade(na, ea, ti, v):
    """Head (ft) of tank ti at volume v (ft³)."""
    cv = ea.tvcurve[ti]
    if cv < 0:
        return ea.tHmin[ti] + (v - ea.tVmin[ti]) / ea.tA[ti]
    n = na.cn[cv]
    return na.el[ea.tank_nodes[ti]] + np.interp(v, na.cy[cv, :n], na.cx[cv, :n])


@nb.njit(cache=True, inline="always")
def _reset_pump_flow(na, ea, st, lk):
    p = na.pump_of[lk]
    if p >= 0 and na.ptype[p] == PT_CONST_HP:
        st.Q[lk] = ea.pQ0[p]


@nb.njit(cache=True)
def _set_link_setting(na, ea, st, lk, value):
    """EPANET's setlinksetting."""
    t = na.ltype[lk]
    s = st.S[lk]
    if t == LT_PUMP:
        if value > 0.0 and s <= ST_CLOSED:
            _reset_pump_flow(na, ea, st, lk)
            s = ST_OPEN
        if value == 0.0 and s > ST_CLOSED:
            s = ST_CLOSED
    elif t == LT_FCV:
        s = ST_ACTIVE
    elif st.KS[lk] == MISSING and s <= ST_CLOSED:
        s = ST_OPEN
    st.S[lk] = s
    st.KS[lk] = value


@nb.njit(cache=True)
def _demands(na, ea, st, mult, htime, prm, acc):
    """Junction demands, reservoir heads and pump speeds at time ``htime``."""
    p = (htime + prm[P_PSTART]) // prm[P_PSTEP]
    dmult = ea.fprm[0]
    acc[:] = 0.0
    for c in range(len(ea.dem_node)):
        j = ea.dem_pat[c]
        acc[ea.dem_node[c]] += ea.dem_base[c] * ea.pat[j, p % ea.pat_len[j]] * dmult
    for i in na.junctions:
        d = acc[i] * mult[i]
        st.D[i] = d
        st.DF[i] = d
    for r in range(len(ea.res_nodes)):
        j = ea.res_pattern[r]
        if j > 0:
            i = ea.res_nodes[r]
            st.H[i] = na.el[i] * ea.pat[j, p % ea.pat_len[j]]
    for i in range(len(ea.pump_pattern)):
        j = ea.pump_pattern[i]
        if j > 0:
            lk = ea.pump_links[i]
            if not st.lock[lk]:
                _set_link_setting(na, ea, st, lk, ea.pat[j, p % ea.pat_len[j]])


@nb.njit(cache=True, inline="always")
def _ctrl_tank(na, i, ea):
    nd = ea.c_node[i]
    if nd < 0 or na.isj[nd]:
        return -1
    return na.tank_of[nd]


@nb.njit(cache=True)
def _controls(na, ea, st, V, htime, prm, reset):
    """Simple controls on tank levels, times and clock times (EPANET's controls()): all
    conditions first, then the firing controls applied in order."""
    for i in range(len(ea.c_link)):
        r = False
        typ = ea.c_type[i]
        ti = _ctrl_tank(na, i, ea)
        if ti >= 0:
            nd = ea.c_node[i]
            v1 = tank_volume(na, ea, ti, st.H[nd])
            v2 = tank_volume(na, ea, ti, ea.c_grade[i])
            vplus = np.abs(st.D[nd])
            if typ == CT_LOW:
                r = v1 <= v2 + vplus
            elif typ == CT_HI:
                r = v1 >= v2 - vplus
        if typ == CT_TIMER and htime == ea.c_time[i]:
            r = True
        if typ == CT_TOD and (htime + prm[P_TSTART]) % DAY == ea.c_time[i]:
            r = True
        reset[i] = r and not st.lock[ea.c_link[i]]
    for i in range(len(ea.c_link)):
        if not reset[i]:
            continue
        lk = ea.c_link[i]
        s1 = ST_CLOSED if st.S[lk] <= ST_CLOSED else ST_OPEN
        s2 = ea.c_status[i]
        k1 = st.KS[lk]
        k2 = ea.c_setting[i] if na.ltype[lk] > LT_PIPE else k1
        if na.ltype[lk] == LT_PUMP and s2 == ST_OPEN and s1 == ST_CLOSED:
            _reset_pump_flow(na, ea, st, lk)
        if s1 != s2 or k1 != k2:
            st.S[lk] = s2
            st.KS[lk] = k2


@nb.njit(cache=True)
def _timestep(na, ea, st, V, htime, rtime, prm, target):
    """EPANET's timestep() (also cut at ``target``); advances the tank levels and returns
    the step (s)."""
    ht = htime
    tstep = prm[P_HSTEP]
    pstep = prm[P_PSTEP]
    t = ((ht + prm[P_PSTART]) // pstep + 1) * pstep - ht
    if 0 < t < tstep:
        tstep = t
    t = rtime - ht
    if 0 < t < tstep:
        tstep = t
    t = target - ht
    if 0 < t < tstep:
        tstep = t
    for ti in range(len(ea.tank_nodes)):           # tanks filling / draining
        nd = ea.tank_nodes[ti]
        h, q = st.H[nd], st.D[nd]
        if q > 0.0 and h < ea.tHmax[ti]:
            v = ea.tVmax[ti] - V[ti]
        elif q < 0.0 and h > ea.tHmin[ti]:
            v = ea.tVmin[ti] - V[ti]
        else:
            continue
        if np.abs(q) > QZERO:
            t = _round(v / q)
            if 0 < t < tstep:
                tstep = t
    for i in range(len(ea.c_link)):                # controls
        typ = ea.c_type[i]
        t = 0
        ti = _ctrl_tank(na, i, ea)
        if ti >= 0:
            nd = ea.c_node[i]
            h, q, g = st.H[nd], st.D[nd], ea.c_grade[i]
            if np.abs(q) > QZERO and ((h < g and typ == CT_HI and q > 0.0)
                                      or (h > g and typ == CT_LOW and q < 0.0)):
                t = _round((tank_volume(na, ea, ti, g) - V[ti]) / q)
        tt = ea.c_time[i]
        if typ == CT_TIMER:
            t = tt - ht if tt > ht else 0
        elif typ == CT_TOD:
            t1 = (ht + prm[P_TSTART]) % DAY
            t = tt - t1 if tt >= t1 else DAY - t1 + tt
        lk = ea.c_link[i]
        acts = (na.ltype[lk] > LT_PIPE and st.KS[lk] != ea.c_setting[i]) or \
            st.S[lk] != ea.c_status[i]
        if acts and 0 < t < tstep:
            tstep = t
    dt = float(tstep)
    for ti in range(len(ea.tank_nodes)):           # tank levels
        nd = ea.tank_nodes[ti]
        q = st.D[nd]
        v = V[ti] + q * dt
        if v + q >= ea.tVmax[ti]:
            v = ea.tVmax[ti]
        elif v - q <= ea.tVmin[ti]:
            v = ea.tVmin[ti]
        V[ti] = v
        st.H[nd] = tank_grade(na, ea, ti, v)
    return tstep


@nb.njit(cache=True)
def _runhyd(na, ea, st, clk, wk, acc, reset, prm, k):
    """Demands, controls, closures and the solve of member k at its time; return (code,
    worst, trials)."""
    _demands(na, ea, st, clk.mult[k], clk.htime[k], prm, acc)
    _controls(na, ea, st, clk.V[k], clk.htime[k], prm, reset)
    for lk in range(len(st.lock)):
        if st.lock[lk]:
            st.S[lk] = ST_CLOSED
    it, rel, code, worst = hydsolve(na, st, wk)
    clk.iters[k] = it
    clk.relerr[k] = rel
    return code, worst, it


@nb.njit(cache=True)
def _advance(na, ea, st, clk, wk, acc, reset, prm, k, target, info):
    """Run member k to ``target`` s; return False (and fill ``info``) when a solve fails."""
    while clk.htime[k] < target:
        step = _timestep(na, ea, st, clk.V[k], clk.htime[k], clk.rtime[k], prm, target)
        clk.htime[k] += step
        if clk.htime[k] >= clk.rtime[k]:
            clk.rtime[k] += prm[P_RSTEP]
        code, worst, it = _runhyd(na, ea, st, clk, wk, acc, reset, prm, k)
        if code != 0:
            info[0], info[1], info[2] = code, worst, it
            return False
    return True


@nb.njit(cache=True, nogil=True)
def solve_now(na, ea, stm, clk, wk, acc, reset, prm, m, info):
    """Solve members ``m`` at their current times; return the failing position or -1."""
    for a in range(len(m)):
        k = m[a]
        code, worst, it = _runhyd(na, ea, member(stm, k), clk, wk, acc, reset, prm, k)
        if code != 0:
            info[0], info[1], info[2] = code, worst, it
            return a
    return -1


@nb.njit(cache=True, nogil=True)
def advance(na, ea, stm, clk, wk, acc, reset, prm, m, target, info):
    """Run members ``m`` to ``target`` s, each on its own steps; return the failing
    position or -1."""
    for a in range(len(m)):
        k = m[a]
        if not _advance(na, ea, member(stm, k), clk, wk, acc, reset, prm, k, target, info):
            return a
    return -1


@nb.njit(cache=True)
def _write(na, ea, st, out, k, ti):
    """Member k's solution, SI, into ``out[.][k, ti]`` (as WaterSim.snapshot)."""
    for i in range(len(st.H)):
        h = st.H[i]
        out.head[k, ti, i] = h * FT
        out.pressure[k, ti, i] = (h - na.el[i]) * FT
        out.demand[k, ti, i] = st.D[i] * CFS
        out.demand_required[k, ti, i] = (st.DF[i] if na.isj[i] else st.D[i]) * CFS
    for lk in range(len(st.Q)):
        q = st.Q[lk]
        out.flow[k, ti, lk] = q * CFS
        d = na.diam[lk]
        out.velocity[k, ti, lk] = 0.0 if na.ltype[lk] == LT_PUMP else \
            np.abs(q) / (np.pi * d ** 2 / 4.0) * FT
        s = st.S[lk]
        out.status[k, ti, lk] = 0 if s <= ST_CLOSED else (2 if s == ST_ACTIVE else 1)
        x = st.KS[lk]
        out.setting[k, ti, lk] = np.nan if x == MISSING else x * ea.sfac[lk]
    for p in range(len(ea.pump_links)):
        lk = ea.pump_links[p]
        kw = 0.0
        if st.S[lk] > ST_CLOSED:
            dh = np.abs(st.H[na.n1[lk]] - st.H[na.n2[lk]])
            kw = dh * max(np.abs(st.Q[lk]), 0.0) * ea.fprm[1] / 8.814 / ea.fprm[2] * 0.7457
        out.pump_power[k, ti, p] = kw * 1000.0


@nb.njit(cache=True, nogil=True)
def record(na, ea, stm, clk, wk, acc, reset, prm, m, times, out, t0, info):
    """Run each member of ``m`` through ``times`` (s, ascending), writing its solution at
    each into ``out`` (the first member from time index ``t0``). Return (position, time
    index) of a failed solve, or (-1, -1)."""
    for a in range(len(m)):
        k = m[a]
        st = member(stm, k)
        for ti in range(t0 if a == 0 else 0, len(times)):
            if not _advance(na, ea, st, clk, wk, acc, reset, prm, k, times[ti], info):
                return a, ti
            _write(na, ea, st, out, k, ti)
    return -1, -1


key_cache_on_sources(globals(), __name__)
