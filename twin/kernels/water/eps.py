"""Extended-period simulation as EPANET 2.2 runs it (hydraul.c), vectorized over members.

Each member keeps its own clock (``sim.htime`` (K,) int s) and takes exactly the steps it
would take alone: the hydraulic step cut at the next pattern period, report time, tank
fill/drain, simple-control time and (with rules) the rule step at which a rule fires; the
caller's target time is one more cut. Demands follow patterns from ``pattern_start`` times
the demand multiplier; reservoir heads and pump speeds follow their patterns; simple
controls act at the start of each period (tank levels, times, clock times) and junction
pressure controls inside the solver; links into full / out of empty tanks are closed by the
solver's status checks. Units ft, cfs, s.
"""

from __future__ import annotations

import numpy as np

from .compile import (
    CT_HI,
    CT_LOW,
    CT_TIMER,
    CT_TOD,
    LT_FCV,
    LT_GPV,
    LT_PIPE,
    LT_PUMP,
    MISSING,
    PT_CONST_HP,
    QZERO,
    ST_CLOSED,
    ST_OPEN,
)

DAY = 86400


def _round(x):
    """EPANET's ROUND: half away from zero, to int64."""
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5)).astype(np.int64)


def tank_volume(c, ti: int, h):
    """Volume (ft³) of tank ``ti`` at head(s) ``h`` (ft)."""
    cv = c.tvcurve[ti]
    if cv < 0:
        return c.tVmin[ti] + (np.asarray(h, float) - c.tHmin[ti]) * c.tA[ti]
    n = c.cn[cv]
    return np.interp(np.asarray(h, float) - c.el[c.tank_nodes[ti]], c.cx[cv, :n],
                     c.cy[cv, :n])


def tank_grade(c, V):
    """Heads (ft) of all tanks at volumes V (nt, k)."""
    h = c.tHmin[:, None] + (V - c.tVmin[:, None]) / c.tA[:, None]
    for j in np.flatnonzero(c.tvcurve >= 0):
        cv = c.tvcurve[j]
        n = c.cn[cv]
        h[j] = c.el[c.tank_nodes[j]] + np.interp(V[j], c.cy[cv, :n], c.cx[cv, :n])
    return h


def reset_pump_flow(sim, lk, m):
    """Reset a constant-power pump's flow to its initial value (EPANET resetpumpflow)."""
    c = sim.c
    p = c.pump_of[lk]
    if p >= 0 and c.ptype[p] == PT_CONST_HP and len(m):
        sim.st.Q[lk, m] = c.pQ0[p]


def set_link_setting(sim, lk, m, value):
    """EPANET's setlinksetting for link lk on members m (value scalar or (len(m),))."""
    if len(m) == 0:
        return
    c, st = sim.c, sim.st
    t = c.ltype[lk]
    value = np.broadcast_to(np.asarray(value, float), (len(m),))
    S, KS = st.S[lk, m], st.KS[lk, m]
    if t == LT_PUMP:
        opn = (value > 0) & (S <= ST_CLOSED)
        reset_pump_flow(sim, lk, m[opn])
        S = np.where(opn, ST_OPEN, S)
        S = np.where((value == 0) & (S > ST_CLOSED), ST_CLOSED, S)
    elif t == LT_FCV:
        S = np.full_like(S, 4)
    else:
        S = np.where((KS == MISSING) & (S <= ST_CLOSED), ST_OPEN, S)
    st.S[lk, m], st.KS[lk, m] = S, value


def set_link_status(sim, lk, m, opn: bool):
    """EPANET's setlinkstatus (open / close) for link lk on members m."""
    if len(m) == 0:
        return
    c, st = sim.c, sim.st
    t = c.ltype[lk]
    if opn:
        if t == LT_PUMP:
            st.KS[lk, m] = 1.0
            reset_pump_flow(sim, lk, m[st.S[lk, m] == ST_CLOSED])
        st.S[lk, m] = ST_OPEN
    else:
        if t == LT_PUMP:
            st.KS[lk, m] = 0.0
        st.S[lk, m] = ST_CLOSED
    if t > LT_PUMP and t != LT_GPV:
        st.KS[lk, m] = MISSING


def demands(sim, m):
    """Junction demands, reservoir heads and pump speeds at the members' times."""
    c, st = sim.c, sim.st
    p = (sim.htime[m] + c.pstart) // c.pstep
    D = np.zeros((c.n_nodes, len(m)))
    if len(c.dem_node):
        f = c.pat[c.dem_pat[:, None], p[None, :] % c.pat_len[c.dem_pat][:, None]]
        dj = c.dem_base[:, None] * f * c.dmult
        np.add.at(D, c.dem_node, dj)
    D[c.junctions] *= sim.mult[c.junctions][:, m]
    D[~c.isj] = st.D[~c.isj][:, m]
    st.D[:, m] = D
    st.DF[c.junctions[:, None], m[None, :]] = D[c.junctions]
    for r, j in zip(c.res_nodes, c.res_pattern, strict=True):
        if j > 0:
            st.H[r, m] = c.el[r] * c.pat[j, p % c.pat_len[j]]
    for i, j in enumerate(c.pump_pattern):
        if j > 0:
            lk = c.pump_links[i]
            mm = m[~st.lock[lk, m]]
            pp = (sim.htime[mm] + c.pstart) // c.pstep
            set_link_setting(sim, lk, mm, c.pat[j, pp % c.pat_len[j]])


def _tank_volumes(c, ti, h):
    """Volumes (ft³) of tanks ``ti`` (n,) at heads ``h`` (n, k)."""
    v = c.tVmin[ti][:, None] + (h - c.tHmin[ti][:, None]) * c.tA[ti][:, None]
    for r in np.flatnonzero(c.tvcurve[ti] >= 0):
        v[r] = tank_volume(c, ti[r], h[r])
    return v


def _ctrl_tanks(sim, m):
    """Rows of the tank-level controls, their tank indices, heads and inflows (n, k)."""
    c, ct = sim.c, sim.c.ctrl
    n = ct["node"]
    rows = np.flatnonzero((n >= 0) & ~c.isj[np.maximum(n, 0)]
                          & (c.tank_of[np.maximum(n, 0)] >= 0))
    nodes = n[rows]
    return rows, c.tank_of[nodes], sim.st.H[nodes][:, m], sim.st.D[nodes][:, m]


def controls(sim, m):
    """Simple controls on tank levels, times and clock times (EPANET's controls()): all
    conditions at once, then the firing controls applied in order."""
    c, st = sim.c, sim.st
    ct = c.ctrl
    nc = len(ct["link"])
    if nc == 0:
        return
    typ = ct["type"][:, None]
    reset = np.zeros((nc, len(m)), bool)
    rows, ti, h, q = _ctrl_tanks(sim, m)
    if len(rows):
        v1 = _tank_volumes(c, ti, h)
        g = ct["grade"][rows][:, None]
        v2 = _tank_volumes(c, ti, np.broadcast_to(g, h.shape).copy())
        vplus = np.abs(q)
        reset[rows] = np.where(typ[rows] == CT_LOW, v1 <= v2 + vplus,
                               np.where(typ[rows] == CT_HI, v1 >= v2 - vplus, False))
    ht = sim.htime[m][None, :]
    reset |= (typ == CT_TIMER) & (ht == ct["time"][:, None])
    reset |= (typ == CT_TOD) & ((ht + c.tstart) % DAY == ct["time"][:, None])
    reset &= ~st.lock[ct["link"]][:, m]
    for i in np.flatnonzero(reset.any(axis=1)):
        lk = ct["link"][i]
        mm = m[reset[i]]
        s1 = np.where(st.S[lk, mm] <= ST_CLOSED, ST_CLOSED, ST_OPEN)
        s2 = ct["status"][i]
        k1 = st.KS[lk, mm]
        k2 = np.full_like(k1, ct["setting"][i]) if c.ltype[lk] > LT_PIPE else k1
        if c.ltype[lk] == LT_PUMP and s2 == ST_OPEN:
            reset_pump_flow(sim, lk, mm[s1 == ST_CLOSED])
        ch = (s1 != s2) | (k1 != k2)
        st.S[lk, mm[ch]] = s2
        st.KS[lk, mm[ch]] = k2[ch]


def tank_levels(sim, m, dt):
    """Advance tank volumes and heads of members m by dt (s, (len(m),))."""
    c, st = sim.c, sim.st
    if len(c.tank_nodes) == 0 or len(m) == 0:
        return
    q = st.D[c.tank_nodes][:, m]
    V = sim.V[:, m] + q * dt[None, :]
    vmax, vmin = c.tVmax[:, None], c.tVmin[:, None]
    V = np.where(V + q >= vmax, vmax, np.where(V - q <= vmin, vmin, V))
    sim.V[:, m] = V
    st.H[c.tank_nodes[:, None], m[None, :]] = tank_grade(c, V)


def _tank_timestep(sim, m, tstep):
    c, st = sim.c, sim.st
    if len(c.tank_nodes) == 0:
        return tstep
    h = st.H[c.tank_nodes][:, m]
    q = st.D[c.tank_nodes][:, m]
    V = sim.V[:, m]
    v = np.where((q > 0) & (h < c.tHmax[:, None]), c.tVmax[:, None] - V,
                 np.where((q < 0) & (h > c.tHmin[:, None]), c.tVmin[:, None] - V, np.nan))
    ok = (np.abs(q) > QZERO) & ~np.isnan(v)
    with np.errstate(all="ignore"):
        t = _round(np.where(ok, v / np.where(ok, q, 1.0), 0.0))
    t = np.where(ok & (t > 0), t, np.iinfo(np.int64).max)
    return np.minimum(tstep, t.min(axis=0))


def _control_timestep(sim, m, tstep):
    c, st = sim.c, sim.st
    ct = c.ctrl
    nc = len(ct["link"])
    if nc == 0:
        return tstep
    typ = ct["type"][:, None]
    ht = sim.htime[m][None, :]
    t = np.zeros((nc, len(m)), np.int64)
    rows, ti, h, q = _ctrl_tanks(sim, m)
    if len(rows):
        g = ct["grade"][rows][:, None]
        tr = typ[rows]
        go = (np.abs(q) > QZERO) & (((h < g) & (tr == CT_HI) & (q > 0))
                                    | ((h > g) & (tr == CT_LOW) & (q < 0)))
        v = _tank_volumes(c, ti, np.broadcast_to(g, h.shape).copy()) - sim.V[ti][:, m]
        with np.errstate(all="ignore"):
            t[rows] = np.where(go, _round(v / np.where(go, q, 1.0)), 0)
    tt = ct["time"][:, None]
    t = np.where(typ == CT_TIMER, np.where(tt > ht, tt - ht, 0), t)
    t1 = (ht + c.tstart) % DAY
    t = np.where(typ == CT_TOD, np.where(tt >= t1, tt - t1, DAY - t1 + tt), t)
    lk = ct["link"]
    acts = ((c.ltype[lk] > LT_PIPE)[:, None] & (st.KS[lk][:, m] != ct["setting"][:, None])) \
        | (st.S[lk][:, m] != ct["status"][:, None])
    ok = (t > 0) & acts
    tmin = np.where(ok, t, np.iinfo(np.int64).max).min(axis=0)
    return np.minimum(tstep, tmin)


def timestep(sim, m, target):
    """EPANET's timestep() for members m (also cut at ``target`` s); updates tank levels
    (through the rule steps when there are rules) and returns the steps (len(m),)."""
    c = sim.c
    ht = sim.htime[m]
    tstep = np.full(len(m), c.hstep, np.int64)
    t = ((ht + c.pstart) // c.pstep + 1) * c.pstep - ht
    tstep = np.where((t > 0) & (t < tstep), t, tstep)
    t = sim.rtime[m] - ht
    tstep = np.where((t > 0) & (t < tstep), t, tstep)
    t = target - ht
    tstep = np.where((t > 0) & (t < tstep), t, tstep)
    tstep = _tank_timestep(sim, m, tstep)
    tstep = _control_timestep(sim, m, tstep)
    if sim.rules is not None and len(sim.rules.rules):
        return sim.rules.rule_timestep(sim, m, tstep)
    tank_levels(sim, m, tstep)
    return tstep
