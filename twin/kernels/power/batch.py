"""Batched power flow: K scenarios (masks of out-of-service branches / buses / gens, load
factors) solved in ONE pass over their block-diagonal system; islands without a slack are
de-energized (pandapower: NaN voltages, their loads not served).

:class:`PowerFlow` compiles a grid once and solves any batch of members; the runtime kernel
drives it step by step."""

from __future__ import annotations

import numpy as np

from .acpf import MAX_ITER, TOL, mismatch, newton, raise_unconverged
from .compile import compile_grid
from .dcpf import dc_angles
from .errors import PowerFlowError
from .system import System, build_system


def _bus_shunt_g(c, s: System) -> np.ndarray:
    kn, nn = np.nonzero(s.node_on)
    return np.bincount(s.labels[kn * c.n_node + nn], c.ysh[nn].real, s.n_bus)


class PowerFlow:
    """A grid compiled once; :meth:`solve` runs K members together.

    ``PowerFlow(grid)``; ``solve(branch_out, bus_out, load_scale, method)`` returns a dict of
    arrays (see :meth:`solve`). The first AC solve of the base case is kept and warm-starts
    later members (``warm_start=False`` starts each solve from set points and DC angles)."""

    def __init__(self, grid, *, name: str | None = None, tol: float = TOL,
                 max_iter: int = MAX_ITER, warm_start: bool = True):
        self.grid = grid
        self.c = compile_grid(grid, name)
        self.tol, self.max_iter, self.warm_start = tol, max_iter, warm_start
        self._v_base = None  # (n_node,) complex base-case voltage at each node
        if not np.any(self.c.gen_in & (self.c.gen_kind == 0) & self.c.node_in[self.c.gen_bus]):
            raise PowerFlowError("no slack bus: the grid has no in-service ext_grid",
                                 grid=self.c.name)

    # ---- the system and its start -------------------------------------------------------
    def system(self, branch_out=None, bus_out=None, gen_out=None, load_scale=None) -> System:
        """Return the block-diagonal :class:`System` of the members."""
        return build_system(self.c, branch_out, bus_out, gen_out, load_scale)

    def _start(self, s: System, init: str):
        v0 = np.ones(s.n_bus, complex)
        if init == "warm" and self._v_base is not None:
            slot = np.arange(s.k * self.c.n_node) % self.c.n_node
            vb = np.empty(s.n_bus, complex)
            vb[s.labels[::-1]] = self._v_base[slot[::-1]]
            v0 = np.where(np.isfinite(vb), vb, 1.0)
            va = np.angle(v0)
            vm = np.where(s.pq, np.abs(v0), s.vset)
            va = np.where(s.ref, s.vaset, va)
            return vm * np.exp(1j * va)
        if init == "dc":
            va, _ = dc_angles(self.c, s, _bus_shunt_g(self.c, s))
            va = np.nan_to_num(va)
        else:
            va = np.where(s.ref, s.vaset, 0.0)
            va = np.where(s.energized, va, 0.0)
        return np.where(s.pq, 1.0, s.vset) * np.exp(1j * va)

    def _bus_names(self, s: System) -> np.ndarray:
        slot = np.arange(s.k * self.c.n_node)
        node = np.empty(s.n_bus, np.int64)
        node[s.labels[::-1]] = (slot % self.c.n_node)[::-1]
        return self.c.node_ids[node]

    # ---- solving ------------------------------------------------------------------------
    def solve(self, branch_out=None, bus_out=None, load_scale=None, method: str = "ac", *,
              gen_out=None, init: str = "auto", errors: str = "nan") -> dict:
        """Solve K members. ``branch_out`` (K, n_link), ``bus_out`` (K, n_node), ``gen_out``
        (K, n_gen) bool; ``load_scale`` (K, n_load) float or None; ``method`` "ac" | "dc";
        ``init`` "auto" (warm start from the base case when known, else DC angles), "dc",
        "flat"; ``errors`` "nan" (a member that does not converge gets NaN results and
        converged False) or "raise" (:class:`PowerFlowError` with the worst mismatch).

        Returns (K, ...) arrays: ``vm`` (K, n_node) p.u., ``va`` degrees, ``p``/``q`` net
        injection of each node's (fused) bus MW / Mvar, generator convention; ``energized``
        (K, n_node) bool; ``p_from``/``q_from``/``p_to``/``q_to`` (K, n_link) MW / Mvar;
        ``i_from``/``i_to`` p.u. current; ``loading`` (K, n_link) percent (NaN: no rating,
        switch or out of service... 0 when out of service); ``load_served`` (K, n_load)
        0/1; ``converged`` (K,) bool; ``iterations`` (K,) int."""
        s = self.system(branch_out, bus_out, gen_out, load_scale)
        c = self.c
        if method == "dc":
            va, pf = dc_angles(c, s, _bus_shunt_g(c, s))
            v = np.where(s.energized, np.exp(1j * va), np.nan)
            conv = np.ones(s.k, bool)
            iters = np.zeros(s.k, np.int64)
            return self._results(s, v, conv, iters, dc_pf=pf)
        if method != "ac":
            raise ValueError(f"method must be 'ac' or 'dc', got {method!r}")
        if init == "auto":
            init = "warm" if (self.warm_start and self._v_base is not None) else "dc"
        v0 = self._start(s, init)
        v, conv, iters, worst, mis = newton(s.y, s.sbus, v0, s.pv, s.pq, s.bus_start,
                                            self.tol, self.max_iter)
        if not conv.all() and errors == "raise":
            raise_unconverged(s, mis, worst, iters, conv, c.base_mva, self._bus_names(s), c.name)
        bad = ~conv[s.bus_member]
        v = np.where(s.energized & ~bad, v, np.nan)
        out = self._results(s, v, conv, iters)
        if self._v_base is None and s.k >= 1 and conv[0] and branch_out is None \
                and bus_out is None and gen_out is None and load_scale is None:
            self._v_base = out["_v_node"][0]
        return out

    def _results(self, s: System, v, conv, iters, dc_pf=None) -> dict:
        c, k, n = self.c, s.k, self.c.n_node
        base = c.base_mva
        vnode = v[s.labels].reshape(k, n)
        vm = np.abs(vnode)
        va = np.rad2deg(np.angle(vnode))
        vm = np.where(np.isfinite(vnode), vm, np.nan)
        ok = conv[s.bus_member]
        if dc_pf is None:
            mis, _ = mismatch(s.y, np.nan_to_num(v), 0.0)
            sb = np.where(s.energized & ok, mis, np.nan)
        else:
            vr = np.nan_to_num(np.angle(v))
            from .dcpf import dc_matrices
            bbus, _, _, pbusinj = dc_matrices(c, s)
            sb = np.where(s.energized, bbus @ vr + pbusinj + _bus_shunt_g(c, s), np.nan)
        snode = sb[s.labels].reshape(k, n) * base
        shape = (k, c.n_link)
        pf, qf, pt, qt, i_f, i_t = (np.zeros(shape) for _ in range(6))
        fb = s.labels[s.lk * n + c.f[s.ll]]
        tb = s.labels[s.lk * n + c.t[s.ll]]
        if dc_pf is None:
            vz = np.nan_to_num(v)
            cf, ct = s.yf @ vz, s.yt @ vz
            sf, st = vz[fb] * np.conj(cf), vz[tb] * np.conj(ct)
            af, at = np.abs(cf), np.abs(ct)
        else:
            sf, st = dc_pf.astype(complex), -dc_pf.astype(complex)
            af, at = np.abs(dc_pf), np.abs(dc_pf)
        live = s.energized[fb] & ok[fb]
        sf, st = np.where(live, sf, 0.0), np.where(live, st, 0.0)
        af, at = np.where(live, af, 0.0), np.where(live, at, 0.0)
        pf[s.lk, s.ll], qf[s.lk, s.ll] = sf.real * base, sf.imag * base
        pt[s.lk, s.ll], qt[s.lk, s.ll] = st.real * base, st.imag * base
        i_f[s.lk, s.ll], i_t[s.lk, s.ll] = af, at
        # a member that did not converge has no flows
        nc = ~conv
        for a in (pf, qf, pt, qt, i_f, i_t):
            a[nc] = np.nan
        sw = c.switch[None, :] & s.link_on
        for a in (pf, qf, pt, qt, i_f, i_t):
            a[sw] = np.nan
        with np.errstate(invalid="ignore"):
            loading = np.maximum(i_f, i_t) / c.rate_pu[None, :] * 100.0
        energized = s.energized[s.labels].reshape(k, n)
        served = s.load_on & energized[:, c.load_bus]
        return {"vm": vm, "va": va, "p": snode.real, "q": snode.imag, "energized": energized,
                "p_from": pf, "q_from": qf, "p_to": pt, "q_to": qt, "i_from": i_f, "i_to": i_t,
                "loading": loading, "load_served": served.astype(float),
                "load_p": np.where(served, c.load_p[None, :] * s.load_scale, 0.0) * base,
                "converged": conv, "iterations": iters, "_v_node": vnode}
