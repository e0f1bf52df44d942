"""A sparse LU of 2x2-block matrices with a structurally symmetric pattern, in numba: the
ordering and symbolic factorisation are done once per pattern and reused by every numeric
factorisation (every Newton iteration of every member).

Buses are the block rows/columns. ``Symbolic`` holds the fill-reducing order (minimum
degree on A + A'), the elimination pattern of L by columns
(``cp``, ``ri``) and by rows (``rp``, ``rk``, ``rpos``). The factor storage ``F`` (nF, 4)
holds the inverted diagonal blocks (N), then L's blocks (nnzL), then U's blocks (nnzL,
U[k, j] at the position of L[j, k]); each block row-major (a00, a01, a10, a11).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from .ordering import _eliminate, order_and_pattern


@dataclass
class Symbolic:
    """See the module docstring; ``perm`` (N,) new → old, ``iperm`` old → new."""

    n: int
    perm: np.ndarray
    iperm: np.ndarray
    cp: np.ndarray
    ri: np.ndarray
    rp: np.ndarray
    rk: np.ndarray
    rpos: np.ndarray
    tg: np.ndarray = None

    @property
    def nnz_l(self) -> int:
        return len(self.ri)

    @property
    def n_f(self) -> int:
        return self.n + 2 * len(self.ri)


@nb.njit(cache=True)
def isort(a, lo, hi):
    """Sort a[lo:hi] in place (insertion sort: the short rows of a sparse pattern)."""
    for i in range(lo + 1, hi):
        x = a[i]
        j = i - 1
        while j >= lo and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x


@nb.njit(cache=True)
def _adjacency(rows, cols, n):
    """Symmetric adjacency (ptr (n + 1,), idx) of a pattern, without the diagonal and
    duplicates."""
    cnt = np.zeros(n + 1, np.int64)
    for e in range(len(rows)):
        if rows[e] != cols[e]:
            cnt[rows[e] + 1] += 1
            cnt[cols[e] + 1] += 1
    ptr = np.cumsum(cnt)
    idx = np.empty(ptr[n], np.int64)
    fill = ptr[:-1].copy()
    for e in range(len(rows)):
        r, c = rows[e], cols[e]
        if r != c:
            idx[fill[r]] = c
            fill[r] += 1
            idx[fill[c]] = r
            fill[c] += 1
    # drop duplicates (in place, per row)
    mark = np.full(n, -1, np.int64)
    out = np.zeros(n + 1, np.int64)
    q = 0
    for i in range(n):
        for p in range(ptr[i], ptr[i + 1]):
            j = idx[p]
            if mark[j] != i:
                mark[j] = i
                idx[q] = j
                q += 1
        out[i + 1] = q
    return out, idx[:q].copy()


def min_degree_order(rows: np.ndarray, cols: np.ndarray, n: int) -> np.ndarray:
    """Return a fill-reducing order (new → old) of the symmetric pattern ``rows``/``cols``:
    minimum degree on the elimination graph of A + A'."""
    if n <= 2:
        return np.arange(n)
    ptr, idx = _adjacency(np.asarray(rows, np.int64), np.asarray(cols, np.int64), n)
    return _eliminate(n, ptr, idx)[0]


@nb.njit(cache=True)
def _symbolic(n, lp, li):
    """Elimination tree and the row patterns of L (rows sorted), for the strictly lower
    pattern of row i: li[lp[i]:lp[i + 1]] (columns < i, new order)."""
    parent = np.full(n, -1, np.int64)
    anc = np.full(n, -1, np.int64)
    for i in range(n):
        for p in range(lp[i], lp[i + 1]):
            r = li[p]
            while r != -1 and r < i:
                nxt = anc[r]
                anc[r] = i
                if nxt == -1:
                    parent[r] = i
                r = nxt
    # the row patterns (unsorted) in one pass of climbs up the tree, into a growing buffer
    mark = np.full(n, -1, np.int64)
    tmp = np.empty(len(li) + n + 16, np.int64)
    tp = np.zeros(n + 1, np.int64)
    q = 0
    for i in range(n):
        mark[i] = i
        for p in range(lp[i], lp[i + 1]):
            r = li[p]
            while r != -1 and mark[r] != i:
                mark[r] = i
                if q == len(tmp):
                    grown = np.empty(2 * len(tmp), np.int64)
                    grown[:q] = tmp[:q]
                    tmp = grown
                tmp[q] = r
                q += 1
                r = parent[r]
        tp[i + 1] = q
    # columns of L (rows ascending: i runs up), then the rows as their transpose (sorted)
    ccnt = np.zeros(n + 1, np.int64)
    for p in range(q):
        ccnt[tmp[p] + 1] += 1
    cp = np.cumsum(ccnt)
    fill = cp[:-1].copy()
    ri = np.empty(q, np.int64)
    for i in range(n):
        for p in range(tp[i], tp[i + 1]):
            k = tmp[p]
            ri[fill[k]] = i
            fill[k] += 1
    rp = tp
    rk = np.empty(q, np.int64)
    rpos = np.empty(q, np.int64)
    fill = rp[:-1].copy()
    for k in range(n):
        for p in range(cp[k], cp[k + 1]):
            i = ri[p]
            rk[fill[i]] = k
            rpos[fill[i]] = p
            fill[i] += 1
    return cp, ri, rp, rk, rpos


@nb.njit(cache=True)
def _lower(rows, cols, iperm, n):
    """The strictly lower pattern in the new order, by rows (ptr (n + 1,), columns)."""
    cnt = np.zeros(n + 1, np.int64)
    for e in range(len(rows)):
        r, c = iperm[rows[e]], iperm[cols[e]]
        if r != c:
            cnt[max(r, c) + 1] += 1
    ptr = np.cumsum(cnt)
    li = np.empty(ptr[n], np.int64)
    fill = ptr[:-1].copy()
    for e in range(len(rows)):
        r, c = iperm[rows[e]], iperm[cols[e]]
        if r != c:
            lo = max(r, c)
            li[fill[lo]] = min(r, c)
            fill[lo] += 1
    return ptr, li


def symbolic(rows: np.ndarray, cols: np.ndarray, n: int, order=None,
             adjacency=None) -> Symbolic:
    """Return the :class:`Symbolic` factorisation of the pattern ``rows``/``cols`` (old bus
    numbers; made symmetric); ``adjacency``: its (ptr (n + 1,), idx) without the diagonal
    and duplicates, when known."""
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    if order is None and n > 2:  # order and L's pattern in one pass
        adj = _adjacency(rows, cols, n) if adjacency is None else adjacency
        perm, iperm, cp, ri, rp, rk, rpos = order_and_pattern(*adj, n)
        return Symbolic(n, perm, iperm, cp, ri, rp, rk, rpos, update_map(n, cp, ri, rp, rk, rpos))
    perm = min_degree_order(rows, cols, n) if order is None else np.asarray(order, np.int64)
    iperm = np.empty(n, np.int64)
    iperm[perm] = np.arange(n)
    lp, li = _lower(rows, cols, iperm, n)
    cp, ri, rp, rk, rpos = _symbolic(n, lp, li)
    return Symbolic(n, perm, iperm, cp, ri, rp, rk, rpos, update_map(n, cp, ri, rp, rk, rpos))


@nb.njit(cache=True)
def _find(a, lo, hi, x):
    """Index of x in the ascending a[lo:hi] (binary search), -1 when absent."""
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(a) and a[lo] == x else -1


@nb.njit(cache=True)
def _positions(n, iperm, cp, ri, rows, cols):
    nl = len(ri)
    out = np.empty(len(rows), np.int64)
    for e in range(len(rows)):
        i, j = iperm[rows[e]], iperm[cols[e]]
        if i == j:
            out[e] = i
            continue
        # (i, j) lower: L[i, j] in column j; upper: U[i, j] at the position of L[j, i]
        col, row, off = (j, i, n) if i > j else (i, j, n + nl)
        q = _find(ri, cp[col], cp[col + 1], row)
        if q < 0 or q >= cp[col + 1]:
            return out, False
        out[e] = off + q
    return out, True


def positions(s: Symbolic, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Return the position in ``F`` of each entry (rows[e], cols[e]) (old bus numbers)."""
    out, ok = _positions(s.n, s.iperm, s.cp, s.ri, np.asarray(rows, np.int64),
                         np.asarray(cols, np.int64))
    if not ok:
        raise AssertionError("entry outside the symbolic pattern")
    return out


@nb.njit(cache=True)
def update_map(n, cp, ri, rp, rk, rpos):
    """The target in ``F`` of every update of :func:`factor`, in its order (int32): row i
    less L[i, k] U[k, j] for each k of row i and each j of U's row k."""
    nl = len(ri)
    pos = np.empty(n, np.int64)
    total = 0
    for i in range(n):
        for p in range(rp[i], rp[i + 1]):
            total += cp[rk[p] + 1] - cp[rk[p]]
    tg = np.empty(total, np.int32)
    t = 0
    for i in range(n):
        for p in range(rp[i], rp[i + 1]):
            pos[rk[p]] = n + rpos[p]
        pos[i] = i
        for q in range(cp[i], cp[i + 1]):
            pos[ri[q]] = n + nl + q
        for p in range(rp[i], rp[i + 1]):
            k = rk[p]
            for q in range(cp[k], cp[k + 1]):
                tg[t] = pos[ri[q]]
                t += 1
    return tg


@nb.njit(cache=True)
def factor(f, n, cp, ri, rp, rk, rpos, tg):
    """Factorise F (nF, 4) in place (up-looking, no pivoting across blocks); ``tg`` the
    update targets (:func:`update_map`). Returns False when a diagonal block is singular."""
    nl = len(ri)
    t = 0
    for i in range(n):
        for p in range(rp[i], rp[i + 1]):
            k = rk[p]
            lp = n + rpos[p]
            a0, a1, a2, a3 = f[lp, 0], f[lp, 1], f[lp, 2], f[lp, 3]
            k0, k1, k2, k3 = f[k, 0], f[k, 1], f[k, 2], f[k, 3]
            t0 = a0 * k0 + a1 * k2
            t1 = a0 * k1 + a1 * k3
            t2 = a2 * k0 + a3 * k2
            t3 = a2 * k1 + a3 * k3
            f[lp, 0], f[lp, 1], f[lp, 2], f[lp, 3] = t0, t1, t2, t3
            for q in range(cp[k], cp[k + 1]):  # row i -= L[i, k] U[k, :]
                u = n + nl + q
                b0, b1, b2, b3 = f[u, 0], f[u, 1], f[u, 2], f[u, 3]
                g = tg[t]
                t += 1
                f[g, 0] -= t0 * b0 + t1 * b2
                f[g, 1] -= t0 * b1 + t1 * b3
                f[g, 2] -= t2 * b0 + t3 * b2
                f[g, 3] -= t2 * b1 + t3 * b3
        d0, d1, d2, d3 = f[i, 0], f[i, 1], f[i, 2], f[i, 3]
        det = d0 * d3 - d1 * d2
        scale = abs(d0) + abs(d1) + abs(d2) + abs(d3)
        if not (abs(det) > 1e-14 * scale * scale) or not np.isfinite(det):
            return False
        f[i, 0], f[i, 1], f[i, 2], f[i, 3] = d3 / det, -d1 / det, -d2 / det, d0 / det
    return True


@nb.njit(cache=True)
def solve(f, n, cp, ri, rp, rk, rpos, b):
    """Solve in place: ``b`` (n, 2) right-hand side in the NEW order → the solution."""
    nl = len(ri)
    for i in range(n):
        s0, s1 = b[i, 0], b[i, 1]
        for p in range(rp[i], rp[i + 1]):
            k = rk[p]
            lp = n + rpos[p]
            s0 -= f[lp, 0] * b[k, 0] + f[lp, 1] * b[k, 1]
            s1 -= f[lp, 2] * b[k, 0] + f[lp, 3] * b[k, 1]
        b[i, 0], b[i, 1] = s0, s1
    for i in range(n - 1, -1, -1):
        s0, s1 = b[i, 0], b[i, 1]
        for q in range(cp[i], cp[i + 1]):
            j = ri[q]
            u = n + nl + q
            s0 -= f[u, 0] * b[j, 0] + f[u, 1] * b[j, 1]
            s1 -= f[u, 2] * b[j, 0] + f[u, 3] * b[j, 1]
        b[i, 0] = f[i, 0] * s0 + f[i, 1] * s1
        b[i, 1] = f[i, 2] * s0 + f[i, 3] * s1


@nb.njit(cache=True)
def factor1(f, n, cp, ri, rp, rk, rpos, tg):
    """:func:`factor` of a matrix whose blocks are diag(a, 1) on the diagonal and
    diag(a, 0) elsewhere (the DC power flow): the scalars ``f`` (nF,) a, same positions and
    the same numbers as the block version. Returns False when a pivot is singular."""
    nl = len(ri)
    t = 0
    for i in range(n):
        for p in range(rp[i], rp[i + 1]):
            k = rk[p]
            lp = n + rpos[p]
            t0 = f[lp] * f[k]
            f[lp] = t0
            for q in range(cp[k], cp[k + 1]):
                f[tg[t]] -= t0 * f[n + nl + q]
                t += 1
        d0 = f[i]
        scale = abs(d0) + 1.0
        if not (abs(d0) > 1e-14 * scale * scale) or not np.isfinite(d0):
            return False
        f[i] = 1.0 / d0
    return True


@nb.njit(cache=True)
def solve1(f, n, cp, ri, rp, rk, rpos, b):
    """:func:`solve` for the scalars of :func:`factor1`: ``b`` (n,) in the NEW order."""
    nl = len(ri)
    for i in range(n):
        s0 = b[i]
        for p in range(rp[i], rp[i + 1]):
            s0 -= f[n + rpos[p]] * b[rk[p]]
        b[i] = s0
    for i in range(n - 1, -1, -1):
        s0 = b[i]
        for q in range(cp[i], cp[i + 1]):
            s0 -= f[n + nl + q] * b[ri[q]]
        b[i] = f[i] * s0
