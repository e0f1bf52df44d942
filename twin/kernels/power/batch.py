"""Batched power flow: K scenarios (masks of out-of-service branches / buses / gens, load
factors) solved in ONE pass over their block-diagonal system; islands without a slack are
de-energized (as pandapower: NaN voltages, their loads not served).

:class:`PowerFlow` compiles a grid once and solves any batch of members; the runtime kernel
drives it step by step. Members that keep the base case's bus set go through the numba path
(:mod:`.fast`: one symbolic factorisation, a parallel loop over members); others (a closed
switch outaged changes the fused buses) through SuperLU on the block-diagonal Jacobian."""

from __future__ import annotations

import numpy as np

from . import nrfast
from .acpf import MAX_ITER, TOL, newton, raise_unconverged
from .compile import EXT_GRID, SGEN, compile_grid
from .dcpf import dc_angles
from .errors import PowerFlowError
from .fast import FastPattern
from .members import fused_inputs, solve_members
from .results import dc_injections, results
from .system import System, build_system


class PowerFlow:
    """A grid compiled once; :meth:`solve` runs K members together.

    The first AC solve of the base case (no outages, no load factors) is kept and
    warm-starts later members (``warm_start=False``: each solve starts from set points and
    DC angles)."""

    def __init__(self, grid, *, name: str | None = None, tol: float = TOL,
                 max_iter: int = MAX_ITER, warm_start: bool = True, fast: bool = True):
        self.grid = grid
        self.c = c = compile_grid(grid, name)
        self.tol, self.max_iter, self.warm_start = tol, max_iter, warm_start
        self._v_base = None  # (n_node,) complex base-case voltage at each node
        if not np.any(c.gen_in & (c.gen_kind == EXT_GRID) & c.node_in[c.gen_bus]):
            raise PowerFlowError("no slack bus: the grid has no in-service ext_grid",
                                 grid=c.name)
        self.fast = FastPattern(c) if fast else None

    @property
    def n_bus(self) -> int:
        return self.c.n_node

    def system(self, branch_out=None, bus_out=None, gen_out=None, load_scale=None,
               with_y: bool = True) -> System:
        """Return the block-diagonal :class:`System` of the members."""
        return build_system(self.c, branch_out, bus_out, gen_out, load_scale, with_y)

    def _start(self, s: System, init: str, fast: bool) -> np.ndarray:
        if init == "warm":
            slot = np.arange(s.k * self.c.n_node) % self.c.n_node
            vb = np.empty(s.n_bus, complex)
            vb[s.labels[::-1]] = self._v_base[slot[::-1]]
            vb = np.where(np.isfinite(vb), vb, 1.0)
            va = np.where(s.ref, s.vaset, np.angle(vb))
        elif init in ("dc", "dc_mean"):
            va = np.nan_to_num(self._dc(s, fast)[0])
        else:
            va = np.where(s.ref & s.energized, s.vaset, 0.0)
            vb = np.ones(s.n_bus)
        vm = np.where(s.pq, np.abs(vb) if init == "warm" else 1.0, s.vset)
        if init == "dc_mean":  # pandapower's "auto": the mean voltage set point of each member
            gk, gi = np.nonzero(s.gen_on & (self.c.gen_kind != SGEN)[None, :])
            cnt = np.bincount(gk, minlength=s.k)
            mean = np.bincount(gk, self.c.gen_vm[gi], s.k) / np.maximum(cnt, 1)
            mean[cnt == 0] = 1.0
            vm = np.where(s.pq, mean[s.bus_member], s.vset)
        return vm * np.exp(1j * va)

    def _dc(self, s: System, fast: bool):
        """DC angles (N,) rad (NaN where de-energized) and ok (K,)."""
        if fast:
            pbusinj, gs = dc_injections(self.c, s)
            va, ok = self.fast.dc(s, s.sbus.real - pbusinj - gs)
            return va.ravel(), ok
        if s.y is None:
            s = self.system(*self._last, with_y=True)
        pbusinj, gs = dc_injections(self.c, s)
        va, _ = dc_angles(self.c, s, gs)
        return va, np.ones(s.k, bool)

    def _bus_names(self, s: System) -> np.ndarray:
        slot = np.arange(s.k * self.c.n_node)
        node = np.empty(s.n_bus, np.int64)
        node[s.labels[::-1]] = (slot % self.c.n_node)[::-1]
        return self.c.node_ids[node]

    def solve(self, branch_out=None, bus_out=None, load_scale=None, method: str = "ac", *,
              gen_out=None, init: str = "auto", errors: str = "nan") -> dict:
        """Solve K members. ``branch_out`` (K, n_link), ``bus_out`` (K, n_node), ``gen_out``
        (K, n_gen) bool; ``load_scale`` (K, n_load) float or None; ``method`` "ac" | "dc";
        ``init`` "auto" (warm start from the base case when known, else "dc_mean"), "dc" (DC
        angles, PQ magnitudes 1), "dc_mean" (DC angles, PQ magnitudes at the mean voltage set
        point of the ext grids and gens: pandapower's "auto" start), "flat"; ``errors``
        "nan" (a member that does not converge gets NaN results and
        converged False) or "raise" (:class:`PowerFlowError` with the worst mismatch).

        Returns (K, ...) arrays: ``vm`` (K, n_node) p.u., ``va`` degrees (NaN where
        de-energized), ``p``/``q`` net injection MW / Mvar of each node's bus: what its elements
        and shunts put into the branches (generator convention, the negative of
        pandapower's res_bus; nodes fused by a closed switch share their bus's value), ``energized``
        (K, n_node) bool; ``p_from``/``q_from``/``p_to``/``q_to`` (K, n_link) MW / Mvar,
        ``i_from``/``i_to`` p.u. current (0 out of service; NaN for switches and at
        de-energized buses, as pandapower); ``loading``
        (K, n_link) percent (NaN without a rating); ``load_served`` (K, n_load) 0/1,
        ``load_p`` (K, n_load) MW served; ``converged`` (K,) bool; ``iterations`` (K,)."""
        if method not in ("ac", "dc"):
            raise ValueError(f"method must be 'ac' or 'dc', got {method!r}")
        if init == "auto":
            init = "warm" if (self.warm_start and self._v_base is not None) else "dc_mean"
        base = branch_out is None and bus_out is None and gen_out is None and load_scale is None
        inputs = None
        if self.fast is not None:
            inputs = fused_inputs(self.fast, branch_out, bus_out, gen_out, load_scale)
        if inputs is not None:  # one numba pass over the members, straight to the results
            out = solve_members(self.fast, inputs, init, method == "dc", self._v_base,
                                self.tol, self.max_iter)
            if method == "dc" or errors != "raise" or out["converged"].all():
                if method == "ac" and base and out["converged"][0] and self._v_base is None:
                    self._v_base = out["v_node"][0]
                return out
        return self._solve_system(branch_out, bus_out, gen_out, load_scale, method, init,
                                  errors)

    def _solve_system(self, branch_out, bus_out, gen_out, load_scale, method, init, errors):
        """:meth:`solve` through the block-diagonal :class:`System` (members that change the
        bus set; the worst mismatch of a member that does not converge)."""
        self._last = (branch_out, bus_out, gen_out, load_scale)
        s = self.system(branch_out, bus_out, gen_out, load_scale, with_y=self.fast is None)
        fast = self.fast is not None and self.fast.applies(s)
        if not fast and s.y is None:
            s = self.system(branch_out, bus_out, gen_out, load_scale, with_y=True)
        c = self.c
        if method == "dc":
            va, ok = self._dc(s, fast)
            return results(c, s, s.vset * np.exp(1j * va), ok, np.zeros(s.k, np.int64), dc=True)
        v0 = self._start(s, init, fast)
        if fast:
            v, st, iters, worst, mis = self.fast.newton(s, v0, self.tol, self.max_iter)
            conv = st == nrfast.OK
        else:
            v, conv, iters, worst, mis = newton(s.y, s.sbus, v0, s.pv, s.pq, s.bus_start,
                                                self.tol, self.max_iter)
        if not conv.all() and errors == "raise":
            raise_unconverged(s, mis, worst, iters, conv, c.base_mva, self._bus_names(s), c.name)
        out = results(c, s, v, conv, iters)
        base = branch_out is None and bus_out is None and gen_out is None and load_scale is None
        if base and conv[0] and self._v_base is None:
            self._v_base = out["v_node"][0]
        return out
