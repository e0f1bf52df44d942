"""AC power flow: Newton-Raphson in polar form with a sparse Jacobian, over the block-diagonal
system of K members (K = 1 for one grid). Members that converge drop out of the iteration."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from .errors import PowerFlowError

#: pandapower's default tolerance (on the mismatch in p.u., "tolerance_mva" 1e-8)
TOL = 1e-8
MAX_ITER = 10


class _Jacobian:
    """The fixed sparsity pattern of J = [[dP/dVa, dP/dVm], [dQ/dVa, dQ/dVm]] for a set of
    unknowns (angles at ``pvpq``, magnitudes at ``pq``), from Ybus's pattern; ``values`` fills
    it for a voltage."""

    def __init__(self, y: sp.coo_matrix, diag: np.ndarray, pvpq: np.ndarray, pq: np.ndarray):
        n = y.shape[0]
        self.pvpq, self.pq = pvpq, pq
        npv, npq = len(pvpq), len(pq)
        self.size = npv + npq
        pa = np.full(n, -1, np.int64)
        pa[pvpq] = np.arange(npv)
        pm = np.full(n, -1, np.int64)
        pm[pq] = npv + np.arange(npq)
        r, c = y.row, y.col
        blocks = []  # (entry indices, J rows, J cols, part)
        for rows, cols, part in ((pa, pa, 0), (pa, pm, 1), (pm, pa, 2), (pm, pm, 3)):
            e = np.flatnonzero((rows[r] >= 0) & (cols[c] >= 0))
            blocks.append((e, rows[r[e]], cols[c[e]], part))
        self.entries = [b[0] for b in blocks]
        jr = np.concatenate([b[1] for b in blocks])
        jc = np.concatenate([b[2] for b in blocks])
        self.order = np.lexsort((jr, jc))  # CSC order
        self.indices = jr[self.order].astype(np.int32)
        self.indptr = np.searchsorted(jc[self.order], np.arange(self.size + 1)).astype(np.int32)
        self.y, self.diag = y, diag

    def values(self, v: np.ndarray, ibus: np.ndarray) -> sp.csc_matrix:
        """Return J at voltage ``v`` (N,) complex, with ``ibus`` = Y v."""
        y, r, c = self.y, self.y.row, self.y.col
        vm = np.abs(v)
        vn = v / vm
        dva = 1j * v[r] * np.conj(-y.data * v[c])
        dvm = v[r] * np.conj(y.data * vn[c])
        d = self.diag
        dva[d] += 1j * v[r[d]] * np.conj(ibus[r[d]])
        dvm[d] += np.conj(ibus[r[d]]) * vn[r[d]]
        e0, e1, e2, e3 = self.entries
        vals = np.concatenate([dva[e0].real, dvm[e1].real, dva[e2].imag, dvm[e3].imag])
        return sp.csc_matrix((vals[self.order], self.indices, self.indptr),
                             shape=(self.size, self.size))


def mismatch(y, v, sbus):
    """Return (mis (N,) complex = V conj(Y V) - Sbus, Ibus (N,))."""
    ibus = y @ v
    return v * np.conj(ibus) - sbus, ibus


def _bus_error(mis, pvpq_m, pq_m):
    return np.maximum(np.abs(mis.real) * pvpq_m, np.abs(mis.imag) * pq_m)


def newton(y: sp.csr_matrix, sbus: np.ndarray, v0: np.ndarray, pv: np.ndarray, pq: np.ndarray,
           bus_start: np.ndarray, tol: float = TOL, max_iter: int = MAX_ITER):
    """Solve the power flow of K members by Newton-Raphson.

    ``y`` (N, N), ``sbus`` (N,) complex, ``v0`` (N,) complex start, ``pv``/``pq`` (N,) bool;
    ``bus_start`` (K + 1,). Returns (v (N,) complex, converged (K,) bool, iterations (K,)
    int, worst (K,) int64 bus with the largest remaining mismatch, mis (N,) complex)."""
    k = len(bus_start) - 1
    ycoo = y.tocoo()
    diag = np.flatnonzero(ycoo.row == ycoo.col)
    v = v0.astype(complex).copy()
    pvpq_m = (pv | pq)
    nb = len(v)
    member = np.repeat(np.arange(k), np.diff(bus_start))
    active = np.ones(k, bool)
    converged = np.zeros(k, bool)
    iters = np.zeros(k, np.int64)
    jac, key = None, None
    starts = np.minimum(bus_start[:-1], max(nb - 1, 0))
    empty = np.diff(bus_start) == 0
    for it in range(max_iter + 1):
        mis, ibus = mismatch(y, v, sbus)
        err = _bus_error(mis, pvpq_m, pq)
        with np.errstate(invalid="ignore"):
            merr = np.maximum.reduceat(err, starts) if nb else np.zeros(k)
        merr[empty] = 0.0
        bad = ~np.isfinite(merr)
        newly = active & (merr < tol)
        converged |= newly
        active &= ~newly & ~bad
        if not active.any() or it == max_iter:
            break
        iters[active] += 1
        act_bus = active[member]
        sel = (np.flatnonzero(pvpq_m & act_bus), np.flatnonzero(pq & act_bus))
        if key is None or not np.array_equal(key, active):
            jac, key = _Jacobian(ycoo, diag, *sel), active.copy()
        j = jac.values(v, ibus)
        f = np.concatenate([mis.real[jac.pvpq], mis.imag[jac.pq]])
        try:
            dx = sla.splu(j, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.1).solve(-f)
        except RuntimeError:
            dx = np.full(len(f), np.nan)
        va = np.angle(v)
        vm = np.abs(v)
        npv = len(jac.pvpq)
        va[jac.pvpq] += dx[:npv]
        vm[jac.pq] += dx[npv:]
        v = vm * np.exp(1j * va)
    with np.errstate(invalid="ignore"):
        worst_err = np.where(np.isfinite(err), err, np.inf)
    worst = np.zeros(k, np.int64)
    if nb:
        order = np.lexsort((-worst_err, member))
        worst = order[np.minimum(bus_start[:-1], nb - 1)]
    return v, converged, iters, worst, mis


def raise_unconverged(sys, mis, worst, iters, converged, base_mva, bus_names, grid):
    """Raise :class:`PowerFlowError` for the first member that did not converge, with its
    worst bus mismatch (MW / Mvar)."""
    m = int(np.flatnonzero(~converged)[0])
    b = int(worst[m])
    dp, dq = float(mis[b].real * base_mva), float(mis[b].imag * base_mva)
    name = bus_names[b] if bus_names is not None else str(b)
    raise PowerFlowError(
        f"Newton-Raphson did not converge after {int(iters[m])} iterations: worst mismatch "
        f"{dp:.4g} MW / {dq:.4g} Mvar at bus {name}", grid=grid, bus=name, mismatch_mw=dp,
        mismatch_mvar=dq, iterations=int(iters[m]), member=m if sys.k > 1 else None)
