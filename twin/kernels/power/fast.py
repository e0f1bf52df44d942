"""The fast path: members that share the base case's bus set (no closed switch outaged) are
solved by the numba kernels of :mod:`.nrfast` / :mod:`.members` on the base Ybus pattern,
with one symbolic factorisation reused by all members and iterations."""

from __future__ import annotations

import numba as nb
import numpy as np

from . import nrfast
from .compile import Compiled, fuse, member_masks
from .sparselu import symbolic
from .system import System


@nb.njit(cache=True)
def _pattern(nbus, fb, tb, adj_ptr, adj_bus, adj_link, first):
    """The Ybus pattern of buses ``nbus`` with every diagonal and the links ``fb``/``tb``
    (M,) (``adj_*``: the bus adjacency over them, ``first`` (n_link,) -> 0..M-1): (yr, yc)
    (nnz,) row by row (diagonal first), ``lpos`` (M, 4) the positions of (f, f), (f, t),
    (t, f), (t, t) and ``dpos`` (nbus,) those of the diagonal."""
    nnz_max = nbus + len(adj_bus)
    yr = np.empty(nnz_max, np.int64)
    yc = np.empty(nnz_max, np.int64)
    dpos = np.empty(nbus, np.int64)
    lpos = np.empty((len(fb), 4), np.int64)
    where = np.full(nbus, -1, np.int64)
    q = 0
    for b in range(nbus):
        dpos[b] = q
        where[b] = q
        yr[q], yc[q] = b, b
        q += 1
        for p in range(adj_ptr[b], adj_ptr[b + 1]):
            u = adj_bus[p]
            if where[u] < dpos[b]:  # not yet in this row
                where[u] = q
                yr[q], yc[q] = b, u
                q += 1
            e = first[adj_link[p]]
            if fb[e] == b:
                lpos[e, 0] = dpos[b]
                lpos[e, 1] = where[tb[e]]
            if tb[e] == b:
                lpos[e, 2] = where[fb[e]]
                lpos[e, 3] = dpos[b]
    return yr[:q].copy(), yc[:q].copy(), lpos, dpos


@nb.njit(cache=True)
def _factor_positions(yc, dpos, lpos, order, iperm, cp, ri):
    """:func:`.sparselu.positions` of the pattern of :func:`_pattern` (rows contiguous,
    diagonal first; ``lpos`` pairs each off-diagonal entry with its mirror), column by
    column of L: (v, w) -> U[k, j] and (w, v) -> L[j, k] for the bus v of column k and each
    later neighbour w (j = iperm[w] > k)."""
    n, nnz, nl = len(dpos), len(yc), len(ri)
    mirror = np.empty(nnz, np.int64)
    for e in range(lpos.shape[0]):
        mirror[lpos[e, 1]] = lpos[e, 2]
        mirror[lpos[e, 2]] = lpos[e, 1]
    where = np.empty(n, np.int64)
    out = np.empty(nnz, np.int64)
    for k in range(n):
        v = order[k]
        for p in range(cp[k], cp[k + 1]):
            where[ri[p]] = p
        out[dpos[v]] = k
        end = dpos[v + 1] if v + 1 < n else nnz
        for e in range(dpos[v] + 1, end):
            j = iperm[yc[e]]
            if j > k:
                out[e] = n + nl + where[j]
                out[mirror[e]] = n + where[j]
    return out


@nb.njit(cache=True)
def _link_adjacency(nbus, f, t, ll):
    """For each bus b, its neighbours ``adj_bus[ptr[b]:ptr[b + 1]]`` over the links ``ll``
    (ends ``f``/``t``) and those links ``adj_link``."""
    cnt = np.zeros(nbus + 1, np.int64)
    for e in range(len(f)):
        cnt[f[e] + 1] += 1
        cnt[t[e] + 1] += 1
    ptr = np.cumsum(cnt)
    fill = ptr[:-1].copy()
    adj_bus = np.empty(ptr[nbus], np.int64)
    adj_link = np.empty(ptr[nbus], np.int64)
    for e in range(len(f)):
        for a, b in ((f[e], t[e]), (t[e], f[e])):
            adj_bus[fill[a]] = b
            adj_link[fill[a]] = ll[e]
            fill[a] += 1
    return ptr, adj_bus, adj_link


@nb.njit(cache=True)
def contrib(it, q, nl, yff, yft, ytf, ytt, b_dc, ysh):
    """The Ybus (complex) and B' (float) contributions of removable item ``it`` (a link
    when < ``nl``, else the node shunt it - nl) at its q-th pattern position: a link's
    (f, f), (f, t), (t, f), (t, t); a shunt's diagonal (q = 0)."""
    if it >= nl:
        return ysh[it - nl], 0.0
    b = b_dc[it]
    if q == 0:
        return yff[it], b
    if q == 1:
        return yft[it], -b
    if q == 2:
        return ytf[it], -b
    return ytt[it], b


@nb.njit(cache=True)
def _values(ll, lpos, yff, yft, ytf, ytt, b_dc, nn, ndpos, ysh, nnz):
    """The removable items (links ``ll`` at pattern positions ``lpos`` (len(ll), 4), then
    the node shunts ``nn`` at the diagonal positions ``ndpos`` (n_node,)): ``cpos``
    (n_link + n_node, 4) (-1: none), and the base values ``ybase`` / ``bbase`` (nnz,)
    complex (the sums of their :func:`contrib`, item by item)."""
    nl, n = len(yff), len(ysh)
    cpos = np.full((nl + n, 4), -1, np.int64)
    for a in range(len(ll)):
        cpos[ll[a]] = lpos[a]
    for i in nn:
        cpos[nl + i, 0] = ndpos[i]
    ybase = np.zeros(nnz, np.complex128)
    bbase = np.zeros(nnz, np.complex128)
    for e in range(nl):  # (the sums of contrib, item by item)
        if cpos[e, 0] >= 0:
            b = b_dc[e]
            ybase[cpos[e, 0]] += yff[e]
            ybase[cpos[e, 1]] += yft[e]
            ybase[cpos[e, 2]] += ytf[e]
            ybase[cpos[e, 3]] += ytt[e]
            bbase[cpos[e, 0]] += b
            bbase[cpos[e, 1]] += -b
            bbase[cpos[e, 2]] += -b
            bbase[cpos[e, 3]] += b
    for i in range(n):
        if cpos[nl + i, 0] >= 0:
            ybase[cpos[nl + i, 0]] += ysh[i]
    return cpos, ybase, bbase


@nb.njit(cache=True)
def _contributions(cpos, yff, yft, ytf, ytt, b_dc, ysh):
    """``cval`` / ``cdc`` (n_link + n_node, 4) complex: :func:`contrib` at every position of
    ``cpos`` (0 where none)."""
    nl = len(yff)
    cval = np.zeros(cpos.shape, np.complex128)
    cdc = np.zeros(cpos.shape, np.complex128)
    for it in range(cpos.shape[0]):
        for q in range(4):
            if cpos[it, q] >= 0:
                y, b = contrib(it, q, nl, yff, yft, ytf, ytt, b_dc, ysh)
                cval[it, q] = y
                cdc[it, q] = b
    return cval, cdc


class FastPattern:
    """The base case's Ybus pattern (``yr``, ``yc``), its values (``ybase``, and ``bbase``
    for B'), the removable items (links, then node shunts: ``cpos`` (n_link + n_node, 4)
    pattern positions, their admittance contributions from :meth:`contributions`), the symbolic
    factorisation and the factor positions ``fpos``; ``labels`` (n_node,) the base bus of each
    node, ``fb``/``tb`` (n_link,) the base buses of the link ends, ``adj_ptr``/``adj_bus``/
    ``adj_link`` the bus adjacency over the base case's in-service non-switch links."""

    def __init__(self, c: Compiled):
        node_on, link_on, _ = member_masks(c)
        labels, bus_start = fuse(c, link_on)
        self.c, self.nb, self.labels = c, int(bus_start[-1]), labels
        nbus, nl = self.nb, c.n_link
        self.base_on = np.concatenate([link_on[0] & ~c.switch, node_on[0]])
        self.fb, self.tb = labels[c.f], labels[c.t]
        ll = np.flatnonzero(self.base_on[:nl])
        f, t = self.fb[ll], self.tb[ll]
        self.adj_ptr, self.adj_bus, self.adj_link = _link_adjacency(nbus, f, t, ll)
        first = np.zeros(nl, np.int64)
        first[ll] = np.arange(len(ll))
        self.yr, self.yc, lpos, dpos = _pattern(nbus, f, t, self.adj_ptr, self.adj_bus,
                                                self.adj_link, first)
        self.cpos, self.ybase, self.bbase = _values(
            ll, lpos, c.yff, c.yft, c.ytf, c.ytt, c.b_dc, np.flatnonzero(self.base_on[nl:]),
            dpos[labels], c.ysh, len(self.yr))
        cpos = self.cpos
        # the pattern's adjacency: each row's entries after its diagonal
        adj = (np.append(dpos, len(self.yr)) - np.arange(nbus + 1), self.yc[self.yr != self.yc])
        self.sym = symbolic(self.yr, self.yc, nbus, adjacency=adj)
        sy = self.sym
        self.fpos = _factor_positions(self.yc, dpos, lpos, sy.perm, sy.iperm, sy.cp, sy.ri)
        self.pat = (self.yr, self.yc, self.ybase, self.bbase, self.fpos, cpos, nbus,
                    sy.cp, sy.ri, sy.rp, sy.rk, sy.rpos, sy.iperm, sy.tg, sy.n_f, self.adj_ptr,
                    self.adj_bus, self.adj_link)
        self.grid_arrays = (labels, c.node_in, c.f, c.t, self.fb, self.tb, c.link_in, c.switch,
                            self.base_on, c.yff, c.yft, c.ytf, c.ytt, c.b_dc, c.shift,
                            c.rate_pu, c.ysh)
        self.gen_arrays = (c.gen_bus, c.gen_kind, c.gen_p, c.gen_q, c.gen_vm, c.gen_va,
                           c.gen_in)
        self.load_arrays = (c.load_bus, c.load_p, c.load_q, c.load_in)
        #: the switches closed in the base case: a member that opens one leaves the fast path
        self.closed_switches = np.flatnonzero(link_on[0] & c.switch)

    def contributions(self):
        """(cval, cdc) (n_link + n_node, 4) complex: the Ybus and B' contributions of the
        removable items at ``cpos`` (built on first use: the fused member kernel computes
        them on the fly)."""
        if getattr(self, "_contrib", None) is None:
            c = self.c
            self._contrib = _contributions(self.cpos, c.yff, c.yft, c.ytf, c.ytt, c.b_dc, c.ysh)
        return self._contrib

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
        cval = self.contributions()[1 if dc else 0]
        return (self.yr, self.yc, self.bbase if dc else self.ybase, self.fpos, ptr, idx,
                self.cpos, cval, self.nb, sy.cp, sy.ri, sy.rp, sy.rk, sy.rpos, sy.iperm, sy.tg)

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
