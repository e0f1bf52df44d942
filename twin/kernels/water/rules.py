"""Rule-based controls as EPANET 2.2 evaluates them (rules.c), vectorized over members.

Rules are checked at every rule step inside a hydraulic step (tank levels advanced in
between); premises are joined left to right (an AND/IF after a false result ends the rule
false, an OR can only turn it true); a rule's THEN (or ELSE) actions go onto an action
list where a link already listed keeps its action unless the new rule has a strictly higher
priority; the hydraulic step ends at the first rule step where an action changes a link.
Premise values compare in SI with EPANET's tolerance 0.001 (1e-6 for flows and demands).
"""

from __future__ import annotations

import numpy as np

from .compile import (
    CFS,
    FT,
    LT_FCV,
    LT_PBV,
    LT_PIPE,
    LT_PRV,
    LT_PSV,
    MISSING,
    ST_ACTIVE,
    ST_CLOSED,
    setting_to_internal,
)
from .eps import DAY, set_link_setting, set_link_status, tank_levels

_REL = {"=": "=", "is": "=", "<>": "<>", "not": "<>", "<": "<", "below": "<", ">": ">",
        "above": ">", "<=": "<=", ">=": ">="}


class Rules:
    """The rules of a network, prepared for evaluation: ``rules`` (list of Rule)."""

    def __init__(self, net, c):
        self.rules = list(net.rules)
        self.c = c
        self.links = sorted({int(a.index) for r in self.rules for a in r.then + r.otherwise})
        self.actions = []          # (link, status str or None, internal setting or None)
        self.rule_then, self.rule_else = [], []
        for r in self.rules:
            self.rule_then.append([self._action(a) for a in r.then])
            self.rule_else.append([self._action(a) for a in r.otherwise])

    def _action(self, a):
        lk = int(a.index)
        t = self.c.ltype[lk]
        status, setting = None, None
        if str(a.attribute).lower() == "status" or isinstance(a.value, str):
            status = str(a.value).lower()
        else:
            x = float(a.value)
            if t <= LT_PIPE:
                status = "closed" if x == 0.0 else "open"
            else:
                setting = setting_to_internal(t, x)
        self.actions.append((lk, status, setting))
        return len(self.actions) - 1

    # ---- premises ----------------------------------------------------------------------
    def _value(self, sim, m, p):
        c, st = self.c, sim.st
        a, i = str(p.attribute).lower(), int(p.index)
        if a == "demand":
            if str(p.object).lower() == "system":
                d = st.DF[c.junctions][:, m]
                return np.where(d > 0, d, 0).sum(axis=0) * CFS, 1e-6
            return st.D[i, m] * CFS, 1e-6
        if a in ("head", "grade"):
            return st.H[i, m] * FT, 1e-3
        if a in ("pressure", "level"):
            return (st.H[i, m] - c.el[i]) * FT, 1e-3
        if a == "flow":
            return np.abs(st.Q[i, m]) * CFS, 1e-6
        if a == "setting":
            x = st.KS[i, m]
            f = {LT_PRV: FT, LT_PSV: FT, LT_PBV: FT, LT_FCV: CFS}.get(int(c.ltype[i]), 1.0)
            return np.where(x == MISSING, np.nan, x * f), 1e-3
        if a in ("filltime", "draintime"):
            ti = c.tank_of[i] if i >= 0 else -1
            if ti < 0:
                return np.full(len(m), np.nan), 1e-3
            q = st.D[i, m]
            with np.errstate(all="ignore"):
                if a == "filltime":
                    x = np.where(q > 1e-6, (c.tVmax[ti] - sim.V[ti, m]) / q, np.nan)
                else:
                    x = np.where(q < -1e-6, (c.tVmin[ti] - sim.V[ti, m]) / q, np.nan)
            return x, 1e-3
        return np.full(len(m), np.nan), 1e-3

    def _check(self, sim, m, dt, p):
        rel = _REL[str(p.relation).lower()]
        a = str(p.attribute).lower()
        if a in ("time", "clocktime"):
            t2 = sim.htime[m]
            t1 = t2 - dt + 1
            if a == "clocktime":
                t1, t2 = (t1 + self.c.tstart) % DAY, (t2 + self.c.tstart) % DAY
            x = float(p.value)
            if rel in ("=", "<>"):
                inside = np.where(t2 < t1, (x >= t1) | (x <= t2), (x >= t1) & (x <= t2))
                return inside if rel == "=" else ~inside
            return {"<": t2 < x, "<=": t2 <= x, ">": t2 > x, ">=": t2 >= x}[rel]
        if isinstance(p.value, str):
            s = sim.st.S[int(p.index), m]
            cls = np.where(s <= ST_CLOSED, "closed", np.where(s == ST_ACTIVE, "active", "open"))
            eq = cls == str(p.value).lower()
            return eq if rel == "=" else (~eq if rel == "<>" else np.zeros(len(m), bool))
        x, tol = self._value(sim, m, p)
        v = float(p.value)
        with np.errstate(invalid="ignore"):
            out = {"=": np.abs(x - v) <= tol, "<>": np.abs(x - v) >= tol, "<": x <= v + tol,
                   "<=": x <= v - tol, ">": x >= v - tol, ">=": x >= v + tol}[rel]
        return out & ~np.isnan(x)

    def evaluate(self, sim, m, dt, r):
        """(len(m),) bool: premises of rule r hold."""
        res = np.ones(len(m), bool)
        dead = np.zeros(len(m), bool)
        for p in self.rules[r].premises:
            if str(p.logic).lower() == "or":
                res = res | self._check(sim, m, dt, p)
            else:
                dead |= ~res
                res = self._check(sim, m, dt, p)
        return res & ~dead

    # ---- actions -----------------------------------------------------------------------
    def check(self, sim, m, dt):
        """Evaluate all rules for members m over the last ``dt`` s and act; return (len(m),)
        bool: some link changed."""
        chosen = {lk: np.full(len(m), -1) for lk in self.links}
        prio = {lk: np.full(len(m), -np.inf) for lk in self.links}
        for r, rule in enumerate(self.rules):
            ok = self.evaluate(sim, m, dt, r)
            for mask, acts in ((ok, self.rule_then[r]), (~ok, self.rule_else[r])):
                for ai in acts:
                    lk = self.actions[ai][0]
                    sel = mask & ((chosen[lk] < 0) | (rule.priority > prio[lk]))
                    chosen[lk] = np.where(sel, ai, chosen[lk])
                    prio[lk] = np.where(sel, rule.priority, prio[lk])
        fired = np.zeros(len(m), bool)
        st = sim.st
        for lk in self.links:
            for ai in np.unique(chosen[lk][chosen[lk] >= 0]):
                sel = (chosen[lk] == ai) & ~st.lock[lk, m]
                _, status, setting = self.actions[ai]
                s = st.S[lk, m]
                op = sel & (status == "open") & (s <= ST_CLOSED)
                cl = sel & (status == "closed") & (s > ST_CLOSED)
                set_link_status(sim, lk, m[op], True)
                set_link_status(sim, lk, m[cl], False)
                ch = op | cl
                if setting is not None:
                    sx = sel & ~ch & (np.abs(setting - st.KS[lk, m]) > 1e-3)
                    set_link_setting(sim, lk, m[sx], setting)
                    ch |= sx
                fired |= ch
        return fired

    def rule_timestep(self, sim, m, tstep):
        """EPANET's ruletimestep: advance tanks rule step by rule step until a rule acts or
        the step ends; return the (possibly shortened) steps."""
        c = self.c
        tnow = sim.htime[m].copy()
        tmax = tnow + tstep
        rs = c.rulestep
        dt = np.minimum(rs, tstep)
        dt1 = np.minimum(rs - tnow % rs, tstep)
        dt1 = np.where(dt1 == 0, dt, dt1)
        live = np.ones(len(m), bool)
        while live.any():
            mm = m[live]
            sim.htime[mm] += dt1[live]
            tank_levels(sim, mm, dt1[live].astype(float))
            fired = self.check(sim, mm, dt1[live])
            idx = np.flatnonzero(live)
            live[idx[fired]] = False
            dt = np.where(live, np.minimum(dt, tmax - sim.htime[m]), dt)
            dt1 = dt.copy()
            live &= dt > 0
        out = sim.htime[m] - tnow
        sim.htime[m] = tnow
        return out
