"""The fast path: members that share the base case's bus set (no closed switch outaged) are
solved by the numba kernels of :mod:`.nrfast` on the base Ybus pattern, with one symbolic
factorisation reused by all members and iterations."""

from __future__ import annotations

import numpy as np

from . import nrfast
from .compile import Compiled
from .sparselu import positions, symbolic
from .system import System, build_system


class FastPattern:
    """The base case's Ybus pattern (``yr``, ``yc``), its values (``ybase``, and ``bbase``
    for B'), the removable items (links, then node shunts: ``cpos`` (n_link + n_node, 4)
    pattern positions, ``cval``/``cval_dc`` their admittance contributions), the symbolic
    factorisation and the factor positions ``fpos``."""

    def __init__(self, c: Compiled):
        s0 = build_system(c)
        self.c, self.s0 = c, s0
        self.nb = s0.n_bus
        self.labels = s0.labels
        y = s0.y.tocsr()
        y.sum_duplicates()
        y.sort_indices()
        coo = y.tocoo()
        self.yr, self.yc = coo.row.astype(np.int64), coo.col.astype(np.int64)
        self.ybase = coo.data.astype(np.complex128)
        nb, n = self.nb, c.n_node
        key = self.yr * nb + self.yc  # sorted (csr order)

        def where(r, cc):
            return np.searchsorted(key, r * nb + cc)

        nl = c.n_link
        self.base_on = np.concatenate([s0.link_on[0] & ~c.switch, s0.node_on[0]])
        cpos = np.full((nl + n, 4), -1, np.int64)
        cval = np.zeros((nl + n, 4), np.complex128)
        cdc = np.zeros((nl + n, 4), np.complex128)
        ll = np.flatnonzero(self.base_on[:nl])
        f, t = self.labels[c.f[ll]], self.labels[c.t[ll]]
        cpos[ll] = np.stack([where(f, f), where(f, t), where(t, f), where(t, t)], 1)
        cval[ll] = np.stack([c.yff[ll], c.yft[ll], c.ytf[ll], c.ytt[ll]], 1)
        b = c.b_dc[ll]
        cdc[ll] = np.stack([b, -b, -b, b], 1)
        nn = np.flatnonzero(self.base_on[nl:])
        d = self.labels[nn]
        cpos[nl + nn, 0] = where(d, d)
        cval[nl + nn, 0] = c.ysh[nn]
        self.cpos, self.cval, self.cdc = cpos, cval, cdc
        bb = np.zeros(len(key), np.complex128)
        np.add.at(bb, cpos[ll].ravel(), cdc[ll].ravel())
        self.bbase = bb
        self.sym = symbolic(self.yr, self.yc, nb)
        self.fpos = positions(self.sym, self.yr, self.yc)

    def applies(self, s: System) -> bool:
        """True when every member of ``s`` has the base bus set (same fusion)."""
        if s.n_bus != s.k * self.nb:
            return False
        lab = s.labels.reshape(s.k, -1) - (np.arange(s.k) * self.nb)[:, None]
        return bool(np.array_equal(lab, np.broadcast_to(self.labels, lab.shape)))

    def _removed(self, s: System):
        c = self.c
        on = np.concatenate([s.link_on & ~c.switch[None, :], s.node_on], axis=1)
        off = self.base_on[None, :] & ~on
        kk, ii = np.nonzero(off)
        ptr = np.searchsorted(kk, np.arange(s.k + 1)).astype(np.int64)
        return ptr, ii.astype(np.int64)

    def _args(self, s: System, dc: bool = False):
        ptr, idx = self._removed(s)
        sy = self.sym
        return (self.yr, self.yc, self.bbase if dc else self.ybase, self.fpos, ptr, idx,
                self.cpos, self.cdc if dc else self.cval, self.nb, sy.cp, sy.ri, sy.rp, sy.rk,
                sy.rpos, sy.iperm)

    def dc(self, s: System, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """DC angles (K, nb) rad (NaN where de-energized) for net injections ``p`` (N,) p.u.
        (phase-shift and shunt terms included by the caller); ok (K,)."""
        k = s.k
        fa = (s.pv | s.pq).reshape(k, self.nb).astype(float)
        va0 = np.where(s.ref, s.vaset, 0.0).reshape(k, self.nb)
        va, ok = nrfast.dc_members(*self._args(s, dc=True), np.ascontiguousarray(
            p.reshape(k, self.nb)), va0, fa, self.sym.n_f)
        return np.where(s.energized.reshape(k, self.nb), va, np.nan), ok

    def newton(self, s: System, v0: np.ndarray, tol: float, max_iter: int):
        """Newton-Raphson of all members from ``v0`` (N,) complex. Returns (v (N,), status
        (K,), iterations (K,), worst (K,) global bus, mismatch (N,))."""
        k, nb = s.k, self.nb
        fa = (s.pv | s.pq).reshape(k, nb).astype(float)
        fm = s.pq.reshape(k, nb).astype(float)
        v, st, it, worst, mis = nrfast.newton_members(
            *self._args(s), np.ascontiguousarray(s.sbus.reshape(k, nb)),
            np.ascontiguousarray(v0.reshape(k, nb)), fa, fm, float(tol), int(max_iter),
            self.sym.n_f)
        return v.ravel(), st, it, worst + np.arange(k) * nb, mis.ravel()
