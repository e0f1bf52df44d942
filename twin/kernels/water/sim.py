"""WaterSim: the step-wise batched hydraulic simulation the runtime drives.

K members share one network and one symbolic factorization; each has its own clock, link
statuses/settings, flows, tank volumes, demand multipliers, emitters (bursts) and closures.
State is stored member-major (``_st``, (K, ·)): the fused kernels of :mod:`.stepper` run one
member's whole extended period at a time on its contiguous rows (members split over
``threads``); ``st`` holds (·, K) views of the same memory for the vectorized reference path
(:mod:`.eps`, taken with rules) and the snapshots. Results are SI: heads/pressures m,
flows/demands m³/s, velocities m/s, power W.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import eps, stepper
from .coeffs import NetArrays, State, new_work
from .compile import (
    CFS,
    FT,
    LT_FCV,
    LT_PBV,
    LT_PRV,
    LT_PSV,
    LT_PUMP,
    MISSING,
    QZERO,
    ST_ACTIVE,
    ST_CLOSED,
    compile_network,
    emitter_ke,
)
from .errors import HydraulicsError
from .gga import hydsolve_members
from .linalg import symbolic
from .rules import Rules

_STATE_ARRAYS = ("H", "Q", "S", "KS", "E", "D", "DF", "Ke", "lock")


def _members(sel, K):
    if sel is None:
        return np.arange(K)
    if isinstance(sel, slice):
        return np.arange(K)[sel]
    return np.atleast_1d(np.asarray(sel, np.int64))


class WaterSim:
    """Batched EPANET-equivalent extended-period simulation of ``network`` (a cim
    WaterNetwork) for ``members`` scenarios. ``pdd``: None (the network's demand model) or
    dict(minimum_pressure=m, required_pressure=m, exponent=) for Wagner PDD. ``threads``:
    members are split over this many threads (None: one per CPU); members are independent,
    so the numbers do not depend on it."""

    def __init__(self, network, members: int = 1, pdd: dict | None = None,
                 threads: int | None = 1):
        self.net = network
        self.threads = max(1, int(threads or os.cpu_count() or 1))
        c = self.c = compile_network(network)
        if pdd is not None:
            c.pda = True
            c.pmin = float(pdd.get("minimum_pressure", 0.0)) / FT
            c.preq = float(pdd.get("required_pressure", 0.1)) / FT
            c.pexp = float(pdd.get("exponent", 0.5))
        self.K = int(members)
        n, L = c.n_nodes, c.n_links
        nj = len(c.junctions)
        jrow = np.full(n, -1, np.int64)
        jrow[c.junctions] = np.arange(nj)
        jj = c.isj[c.n1] & c.isj[c.n2] & (c.n1 != c.n2)
        sym = self.sym = symbolic(nj, jrow[c.n1[jj]], jrow[c.n2[jj]])
        row = np.full(n, -1, np.int64)
        row[c.junctions] = sym.iperm[np.arange(nj)]
        offpos = np.full(L, -1, np.int64)
        offpos[jj] = sym.position(jrow[c.n1[jj]], jrow[c.n2[jj]])
        ct = c.ctrl
        pc = np.flatnonzero((ct["node"] >= 0) & c.isj[np.maximum(ct["node"], 0)])
        valves = np.flatnonzero(c.ltype >= LT_PRV)
        self.na = NetArrays(
            c.n1, c.n2, c.ltype, c.isj, row, c.el, c.diam, c.R, c.Km, c.Kc, c.pump_of,
            c.ptype, c.pH0, c.pR, c.pN, c.pHmax, c.pcurve, c.gpv_curve, c.cx, c.cy, c.cn,
            c.tank_of, c.tHmin, c.tHmax, c.toverflow, offpos, sym.colptr[:-1].copy(),
            c.junctions, valves, c.junctions[sym.perm],
            ct["link"][pc], ct["node"][pc], ct["type"][pc], ct["grade"][pc],
            ct["status"][pc].astype(np.int8), ct["setting"][pc],
            np.array([c.hexp, c.qexp, c.viscos, c.hacc, c.damplimit, c.headerror,
                      c.flowchange, c.pmin, c.preq, c.pexp]),
            np.array([c.formula, c.maxiter, c.extraiter, c.checkfreq, c.maxcheck,
                      int(c.pda)], np.int64),
            sym.colptr, sym.rowind, sym.rptr, sym.rcol, sym.rpos, sym.mptr, sym.rmap)
        self._worksize = (sym.nnz, nj, n, L)
        self.wk = new_work(*self._worksize)
        sfac = np.ones(L)
        sfac[np.isin(c.ltype, [LT_PRV, LT_PSV, LT_PBV])] = FT
        sfac[c.ltype == LT_FCV] = CFS
        self.ea = stepper.EpsArrays(
            c.tank_nodes, c.tHmin, c.tHmax, c.tA, c.tVmin, c.tVmax, c.tvcurve, c.res_nodes,
            c.res_pattern, c.pat, c.pat_len, c.dem_node, c.dem_base, c.dem_pat, c.pump_links,
            c.pump_pattern, c.pQ0, ct["link"], ct["type"], ct["node"], ct["grade"],
            ct["time"], ct["status"].astype(np.int8), ct["setting"], sfac,
            np.array([c.dmult, c.spgrav, np.clip(c.epump, 1.0, 100.0) / 100.0]))
        self._acc, self._reset = np.zeros(n), np.zeros(len(ct["link"]), bool)
        self.rules = Rules(network, c) if len(network.rules) else None
        #: the fused per-member kernels (:mod:`.stepper`); False: the vectorized reference
        #: path (:mod:`.eps`, :mod:`.rules`), always taken with rules
        self.fused = self.rules is None
        self._init_state()

    # ---- state ---------------------------------------------------------------------------
    def _init_state(self):
        c, K = self.c, self.K
        n, L = c.n_nodes, c.n_links
        h0 = c.el.copy()
        h0[c.tank_nodes] = c.tH0
        q0 = np.pi * c.diam ** 2 / 4.0
        pl = c.pump_links
        q0[pl] = c.setting0[pl] * c.pQ0
        q0 = np.where(c.status0 <= ST_CLOSED, QZERO, q0)
        rep = lambda v, t=float: np.repeat(np.asarray(v, t)[None, :], K, axis=0)  # noqa: E731
        Ke = rep(c.Ke)
        # member-major storage (K, ·) for the kernels (self._st, a member's rows contiguous);
        # self.st holds the (·, K) views the vectorized code and the snapshots index
        self._st = State(rep(h0), rep(q0), rep(c.status0, np.int8), rep(c.setting0),
                         np.where(Ke > 0, 1.0, 0.0), np.zeros((K, n)), np.zeros((K, n)), Ke,
                         np.zeros((K, L), bool))
        self.st = State(*(a.T for a in self._st))
        self._V = rep(c.tV0)
        self._mult = np.ones((K, n))
        self.V, self.mult = self._V.T, self._mult.T
        self.htime = np.zeros(K, np.int64)
        self.rtime = np.full(K, c.rstep, np.int64)
        self.saved_s = np.zeros((L, K), np.int8)
        self.saved_k = np.zeros((L, K))
        self.pump_off = np.zeros((L, K), bool)
        self.closed = np.zeros((L, K), bool)
        self.solved = False
        self.iterations = np.zeros(K, np.int64)
        self.relerr = np.zeros(K)
        self._clk = stepper.Clock(self.htime, self.rtime, self._V, self._mult,
                                  self.iterations, self.relerr)

    def get_state(self) -> dict:
        """Return copies of every state array (restorable bit-identically)."""
        d = {f"st_{a}": getattr(self.st, a).copy() for a in _STATE_ARRAYS}
        for a in ("V", "mult", "htime", "rtime", "saved_s", "saved_k", "pump_off", "closed",
                  "iterations", "relerr"):
            d[a] = getattr(self, a).copy()
        d["solved"] = np.array(self.solved)
        return d

    def set_state(self, state: dict) -> None:
        """Restore a :meth:`get_state` dict."""
        for a in _STATE_ARRAYS:
            getattr(self.st, a)[...] = state[f"st_{a}"]
        for a in ("V", "mult", "htime", "rtime", "saved_s", "saved_k", "pump_off", "closed",
                  "iterations", "relerr"):
            getattr(self, a)[...] = state[a]
        self.solved = bool(state["solved"])

    # ---- scenario inputs -----------------------------------------------------------------
    def _update_lock(self, links, m):
        st = self.st
        new = self.closed[links][:, m] | self.pump_off[links][:, m]
        for a, lk in enumerate(links):
            was = st.lock[lk, m]
            on, off = m[new[a] & ~was], m[~new[a] & was]
            self.saved_s[lk, on], self.saved_k[lk, on] = st.S[lk, on], st.KS[lk, on]
            st.S[lk, on] = ST_CLOSED
            st.S[lk, off], st.KS[lk, off] = self.saved_s[lk, off], self.saved_k[lk, off]
            st.lock[lk, m] = new[a]

    def set_link_closed(self, members, links, closed: bool = True) -> None:
        """Close (or release) ``links`` (dense indices) on ``members``; a closure overrides
        controls and rules until released (the link then returns to its prior state)."""
        m, links = _members(members, self.K), np.atleast_1d(np.asarray(links, np.int64))
        self.closed[np.ix_(links, m)] = bool(closed)
        self._update_lock(links, m)

    def set_pump_available(self, members, pumps, available: bool = True) -> None:
        """De-energize (available=False) or restore ``pumps`` (link indices) on members."""
        m, links = _members(members, self.K), np.atleast_1d(np.asarray(pumps, np.int64))
        if np.any(self.c.ltype[links] != LT_PUMP):
            raise ValueError("set_pump_available: not a pump link")
        self.pump_off[np.ix_(links, m)] = not available
        self._update_lock(links, m)

    def set_emitter(self, members, nodes, coeff) -> None:
        """Set the emitter coefficient (m³/s per m^e; a burst) of junctions ``nodes``."""
        m, nodes = _members(members, self.K), np.atleast_1d(np.asarray(nodes, np.int64))
        if not np.all(self.c.isj[nodes]):
            raise ValueError("set_emitter: emitters go on junctions")
        e = float(self.net.options.get("emitter_exponent", 0.5))
        ke = emitter_ke(np.broadcast_to(np.asarray(coeff, float), (len(nodes),)), e)
        for a, i in enumerate(nodes):
            self.st.Ke[i, m] = ke[a]
            if ke[a] == 0.0:
                self.st.E[i, m] = 0.0
            else:   # a new emitter starts at 1 cfs, as EPANET's inithyd starts one from file
                self.st.E[i, m] = np.where(self.st.E[i, m] == 0.0, 1.0, self.st.E[i, m])

    def set_demand_multiplier(self, members, nodes, factor) -> None:
        """Scale the demands of ``nodes`` (None: all junctions) on members by ``factor``."""
        m = _members(members, self.K)
        nodes = np.arange(self.c.n_nodes) if nodes is None else \
            np.atleast_1d(np.asarray(nodes, np.int64))
        self.mult[np.ix_(nodes, m)] = factor

    # ---- stepping ------------------------------------------------------------------------
    def _prm(self):
        c = self.c
        return np.array([c.pstart, c.pstep, c.hstep, c.rstep, c.tstart], np.int64)

    def _runhyd(self, m):
        """Vectorized reference path (networks with rules): one step of members m."""
        eps.demands(self, m)
        eps.controls(self, m)
        st = self.st
        lk = np.flatnonzero(st.lock[:, m].any(axis=1))
        for k in lk:
            st.S[k, m[st.lock[k, m]]] = ST_CLOSED
        K = self.K
        iters, rel = np.zeros(K, np.int64), np.zeros(K)
        code, worst = np.zeros(K, np.int64), np.zeros(K, np.int64)
        hydsolve_members(self.na, self._st, self.wk, m, iters, rel, code, worst)
        self.iterations[m], self.relerr[m] = iters[m], rel[m]
        self._check(m, code, worst, iters, rel)

    def _check(self, m, code, worst, iters, rel):
        c = self.c
        for k in m[code[m] != 0]:
            t = int(self.htime[k])
            tag = f"member {k}, " if self.K > 1 else ""
            if code[k] == 2:
                raise HydraulicsError(
                    f"ill-conditioned hydraulic system at t={t} s ({tag}node "
                    f"{self.net.node_ids[worst[k]]}): a part of the network is cut off from "
                    "every tank and reservoir or a valve setting is inconsistent",
                    time_s=t, member=int(k))
            w = worst[k]
            what = (f"link {self.net.link_ids[w]}" if w >= 0
                    else f"node {self.net.node_ids[-w - 1]}")
            msg = (f"hydraulics did not converge at t={t} s ({tag}{iters[k] - 1} trials, "
                   f"relative flow change {rel[k]:.3g} > accuracy {c.hacc:g}; largest last "
                   f"flow change at {what})")
            if c.extraiter == -1:
                raise HydraulicsError(msg, time_s=t, member=int(k))
            warnings.warn(msg, RuntimeWarning, stacklevel=4)

    def _kernel(self, fn, m, *args, ws=None):
        """Call a :mod:`.stepper` kernel on members m (with the work set ``ws``), raising /
        warning on a failed solve and calling again from there."""
        info = np.zeros(3, np.int64)
        wk, acc, reset = ws if ws is not None else (self.wk, self._acc, self._reset)
        while True:
            r = fn(self.na, self.ea, self._st, self._clk, wk, acc, reset, self._prm(), m,
                   *args, info)
            a = r[0] if isinstance(r, tuple) else r
            if a < 0:
                return r
            k = m[a]
            code, worst, iters = (np.zeros(self.K, np.int64) for _ in range(3))
            code[k], worst[k], iters[k] = info
            self._check(m[a:a + 1], code, worst, iters, self.relerr)
            m = m[a + 1:] if fn is stepper.solve_now else m[a:]
            if isinstance(r, tuple):
                args = args[:-1] + (r[1],)

    def _threaded(self, fn, m, *args):
        """:meth:`_kernel` over members m split across ``self.threads`` threads (members
        interleaved for balance, each thread with its own work set)."""
        nt = min(self.threads, len(m))
        if nt <= 1:
            return self._kernel(fn, m, *args)
        with ThreadPoolExecutor(nt) as ex:
            fut = [ex.submit(self._kernel, fn, m[i::nt], *args,
                             ws=(new_work(*self._worksize), np.zeros_like(self._acc),
                                 np.zeros_like(self._reset))) for i in range(nt)]
            for f in fut:
                f.result()

    def _solve_all(self):
        if not self.solved:
            allm = np.arange(self.K)
            if self.fused and self.rules is None:
                self._threaded(stepper.solve_now, allm)
            else:
                self._runhyd(allm)
            self.solved = True

    def run_until(self, t_s: float) -> None:
        """Advance every member to ``t_s`` s (EPANET's intermediate steps included); the
        state then holds the solution at ``t_s``."""
        target = int(round(t_s))
        self._solve_all()
        allm = np.arange(self.K)
        if self.fused and self.rules is None:
            self._threaded(stepper.advance, allm[self.htime < target], target)
            return
        while True:
            m = allm[self.htime < target]
            if len(m) == 0:
                return
            step = eps.timestep(self, m, target)
            self.htime[m] += step
            self.rtime[m] = np.where(self.htime[m] >= self.rtime[m],
                                     self.rtime[m] + self.c.rstep, self.rtime[m])
            self._runhyd(m)

    def record(self, times) -> dict:
        """Run every member through ``times`` (s, ascending) and return the snapshot arrays
        stacked member-major: (K, T, n) etc. (keys as :meth:`snapshot`, less ``time``).
        Without rules each member runs all times in one kernel call, its state in cache."""
        times = np.asarray(np.round(times), np.int64)
        c, K, T = self.c, self.K, len(times)
        npump = len(c.pump_links)
        f8 = lambda w: np.empty((K, T, w))  # noqa: E731
        out = stepper.Outputs(f8(c.n_nodes), f8(c.n_nodes), f8(c.n_nodes), f8(c.n_nodes),
                              f8(c.n_links), f8(c.n_links), np.empty((K, T, c.n_links), np.int8),
                              f8(c.n_links), f8(npump))
        self._solve_all()
        if self.fused and self.rules is None:
            self._threaded(stepper.record, np.arange(K), times, out, 0)
        else:
            for ti, t in enumerate(times):
                self.run_until(t)
                snap = self.snapshot()
                for name, a in zip(out._fields, out, strict=True):
                    a[:, ti] = snap[name]
        return out._asdict()

    def set_report_step(self, step_s: float) -> None:
        """Use ``step_s`` as the report step (a cut of the hydraulic step, as EPANET's)."""
        self.c.rstep = int(round(step_s))
        self.rtime[:] = (self.htime // self.c.rstep + 1) * self.c.rstep

    # ---- results -------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Current solution, SI, member-major: head, pressure, demand (delivered),
        demand_required (K, n_nodes); flow, velocity, status (0 closed, 1 open, 2 active),
        setting (K, n_links); tank_level (K, n_tanks) m; pump_power (K, n_pumps) W;
        emitter_flow (K, n_nodes) m³/s out of emitters (leaks, bursts, open hydrants); time
        (K,) s."""
        c, st = self.c, self.st
        head = st.H * FT
        dem = st.D * CFS
        req = np.where(c.isj[:, None], st.DF, st.D) * CFS
        vel = np.abs(st.Q) / (np.pi * c.diam[:, None] ** 2 / 4.0) * FT
        vel[c.ltype == LT_PUMP] = 0.0
        status = np.where(st.S <= ST_CLOSED, 0, np.where(st.S == ST_ACTIVE, 2, 1))
        f = np.ones(c.n_links)
        f[np.isin(c.ltype, [LT_PRV, LT_PSV, LT_PBV])] = FT
        f[c.ltype == LT_FCV] = CFS
        setting = np.where(st.KS == MISSING, np.nan, st.KS * f[:, None])
        pl = c.pump_links
        dh = np.abs(st.H[c.n1[pl]] - st.H[c.n2[pl]])
        e = np.clip(c.epump, 1.0, 100.0) / 100.0
        kw = dh * np.maximum(np.abs(st.Q[pl]), 0.0) * c.spgrav / 8.814 / e * 0.7457
        kw = np.where(st.S[pl] <= ST_CLOSED, 0.0, kw)
        return {"head": head.T.copy(), "pressure": ((st.H - c.el[:, None]) * FT).T.copy(),
                "demand": dem.T.copy(), "demand_required": req.T.copy(),
                "flow": (st.Q * CFS).T.copy(), "velocity": vel.T.copy(),
                "status": status.T.astype(np.int8), "setting": setting.T.copy(),
                "tank_level": ((st.H[c.tank_nodes] - c.el[c.tank_nodes, None]) * FT).T.copy(),
                "pump_power": (kw * 1000.0).T.copy(),
                "emitter_flow": (st.E * CFS).T.copy(), "time": self.htime.astype(float)}
