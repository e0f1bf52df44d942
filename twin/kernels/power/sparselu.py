"""A sparse LU of 2x2-block matrices with a structurally symmetric pattern, in numba: the
ordering and symbolic factorisation are done once per pattern and reused by every numeric
factorisation (every Newton iteration of every member).

Buses are the block rows/columns. ``Symbolic`` holds the fill-reducing order (minimum
degree on A + A', from SuperLU's ``MMD_AT_PLUS_A``), the elimination pattern of L by columns
(``cp``, ``ri``) and by rows (``rp``, ``rk``, ``rpos``). The factor storage ``F`` (nF, 4)
holds the inverted diagonal blocks (N), then L's blocks (nnzL), then U's blocks (nnzL,
U[k, j] at the position of L[j, k]); each block row-major (a00, a01, a10, a11).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla


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

    @property
    def nnz_l(self) -> int:
        return len(self.ri)

    @property
    def n_f(self) -> int:
        return self.n + 2 * len(self.ri)


def min_degree_order(rows: np.ndarray, cols: np.ndarray, n: int) -> np.ndarray:
    """Return a fill-reducing order (new → old) of the symmetric pattern ``rows``/``cols``:
    SuperLU's multiple minimum degree on A + A' (only its column order is used)."""
    if n <= 2:
        return np.arange(n)
    a = sp.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    a = abs(a) + abs(a.T)
    a = a + sp.identity(n, format="csc") * (a.sum(axis=1).A1.max() + 1.0)
    lu = sla.splu(a.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})
    return np.asarray(lu.perm_c, np.int64).argsort()


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
    mark = np.full(n, -1, np.int64)
    cnt = np.zeros(n + 1, np.int64)
    for i in range(n):
        mark[i] = i
        for p in range(lp[i], lp[i + 1]):
            r = li[p]
            while r != -1 and mark[r] != i:
                mark[r] = i
                cnt[i + 1] += 1
                r = parent[r]
    rp = np.cumsum(cnt)
    rk = np.empty(rp[n], np.int64)
    mark[:] = -1
    for i in range(n):
        mark[i] = i
        q = rp[i]
        for p in range(lp[i], lp[i + 1]):
            r = li[p]
            while r != -1 and mark[r] != i:
                mark[r] = i
                rk[q] = r
                q += 1
                r = parent[r]
        rk[rp[i]:rp[i + 1]] = np.sort(rk[rp[i]:rp[i + 1]])
    # columns of L (rows ascending) and the position of each (i, k) there
    ccnt = np.zeros(n + 1, np.int64)
    for p in range(rp[n]):
        ccnt[rk[p] + 1] += 1
    cp = np.cumsum(ccnt)
    fill = cp[:-1].copy()
    ri = np.empty(rp[n], np.int64)
    rpos = np.empty(rp[n], np.int64)
    for i in range(n):
        for p in range(rp[i], rp[i + 1]):
            k = rk[p]
            ri[fill[k]] = i
            rpos[p] = fill[k]
            fill[k] += 1
    return cp, ri, rp, rk, rpos


def symbolic(rows: np.ndarray, cols: np.ndarray, n: int, order=None) -> Symbolic:
    """Return the :class:`Symbolic` factorisation of the pattern ``rows``/``cols`` (old bus
    numbers; made symmetric)."""
    perm = min_degree_order(rows, cols, n) if order is None else np.asarray(order, np.int64)
    iperm = np.empty(n, np.int64)
    iperm[perm] = np.arange(n)
    r, c = iperm[rows], iperm[cols]
    lo = np.maximum(r, c)
    hi = np.minimum(r, c)
    keep = lo != hi
    a = sp.csr_matrix((np.ones(keep.sum()), (lo[keep], hi[keep])), shape=(n, n))
    a.sum_duplicates()
    a.sort_indices()
    cp, ri, rp, rk, rpos = _symbolic(n, a.indptr.astype(np.int64), a.indices.astype(np.int64))
    return Symbolic(n, perm, iperm, cp, ri, rp, rk, rpos)


def positions(s: Symbolic, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Return the position in ``F`` of each entry (rows[e], cols[e]) (old bus numbers)."""
    i, j = s.iperm[rows], s.iperm[cols]
    out = i.copy()  # diagonal
    lo = i > j
    up = i < j
    # (i, j) lower: L[i, j] in column j; upper: U[i, j] at the position of L[j, i]
    for mask, col, row, off in ((lo, j, i, s.n), (up, i, j, s.n + s.nnz_l)):
        cc, rr = col[mask], row[mask]
        # search rr among ri[cp[cc]:cp[cc+1]] (ascending) — vectorized over entries
        key = cc * s.n + rr
        colof = np.repeat(np.arange(s.n), np.diff(s.cp))
        allkey = colof * s.n + s.ri
        pos = np.searchsorted(allkey, key)
        if np.any(allkey[np.minimum(pos, len(allkey) - 1)] != key):
            raise AssertionError("entry outside the symbolic pattern")
        out[mask] = off + pos
    return out


@nb.njit(cache=True, inline="always")
def _mulsub(f, t, a, b):
    """f[t] -= a @ b (2x2 blocks, row-major in length-4 rows)."""
    a0, a1, a2, a3 = a[0], a[1], a[2], a[3]
    b0, b1, b2, b3 = b[0], b[1], b[2], b[3]
    f[t, 0] -= a0 * b0 + a1 * b2
    f[t, 1] -= a0 * b1 + a1 * b3
    f[t, 2] -= a2 * b0 + a3 * b2
    f[t, 3] -= a2 * b1 + a3 * b3


@nb.njit(cache=True)
def factor(f, n, cp, ri, rp, rk, rpos, pos):
    """Factorise F (nF, 4) in place (up-looking, no pivoting across blocks); ``pos`` (n,)
    int64 work. Returns False when a diagonal block is singular."""
    nl = len(ri)
    tmp = np.empty(4)
    for i in range(n):
        for p in range(rp[i], rp[i + 1]):
            pos[rk[p]] = n + rpos[p]
        pos[i] = i
        for q in range(cp[i], cp[i + 1]):
            pos[ri[q]] = n + nl + q
        for p in range(rp[i], rp[i + 1]):
            k = rk[p]
            lp = n + rpos[p]
            d = f[k]
            a0, a1, a2, a3 = f[lp, 0], f[lp, 1], f[lp, 2], f[lp, 3]
            tmp[0] = a0 * d[0] + a1 * d[2]
            tmp[1] = a0 * d[1] + a1 * d[3]
            tmp[2] = a2 * d[0] + a3 * d[2]
            tmp[3] = a2 * d[1] + a3 * d[3]
            f[lp, 0], f[lp, 1], f[lp, 2], f[lp, 3] = tmp[0], tmp[1], tmp[2], tmp[3]
            for q in range(cp[k], cp[k + 1]):
                _mulsub(f, pos[ri[q]], tmp, f[n + nl + q])
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
