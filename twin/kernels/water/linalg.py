"""Sparse symmetric positive-definite solves for the GGA head equations, batched.

:func:`symbolic` runs once per network: a minimum-degree ordering of the junction graph, the
elimination tree and the column structure of the Cholesky factor L (CSC, diagonal first in
each column, rows ascending), the position in L of every junction–junction link's entry and
the row structure used by the left-looking numeric factorization.

:func:`factor` / :func:`solve` are numba kernels on one member's values (``lval`` (nnz,),
right-hand side (n,)); the batched solver calls them member after member on a work set that
stays in cache (a member's whole extended-period run, see :mod:`.stepper`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numba as nb
import numpy as np


@dataclass
class Symbolic:
    """Structure of L for an n×n matrix (rows in elimination order): ``perm`` (n,) original
    row of each position, ``iperm`` (n,) position of each original row; ``colptr`` (n+1,),
    ``rowind`` (nnz,) of L (diagonal first); ``rptr``/``rcol``/``rpos``: for each row j the
    columns c < j with L[j, c] != 0 and the position of that entry in column c; ``mptr``
    (len(rcol) + 1,), ``rmap``: for the t-th of those, the positions in column j of the
    rows of column c from that entry down (the targets of column c's update of column j)."""

    n: int
    perm: np.ndarray
    iperm: np.ndarray
    colptr: np.ndarray
    rowind: np.ndarray
    rptr: np.ndarray
    rcol: np.ndarray
    rpos: np.ndarray
    mptr: np.ndarray
    rmap: np.ndarray

    @property
    def nnz(self) -> int:
        return len(self.rowind)

    def position(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Return the position in L of entries (i, j) given as original rows (i != j)."""
        pi, pj = self.iperm[i], self.iperm[j]
        r, c = np.maximum(pi, pj), np.minimum(pi, pj)
        # (column, row) keys of L's entries ascend (columns in order, rows ascending within)
        col = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.colptr))
        return np.searchsorted(col * self.n + self.rowind, c * self.n + r)


def min_degree(n: int, adj: list[set]) -> np.ndarray:
    """Return a minimum-degree elimination order of the graph ``adj`` (n,) as (n,) int64."""
    adj = [set(a) for a in adj]
    heap = [(len(adj[v]), v) for v in range(n)]
    heapq.heapify(heap)
    done = np.zeros(n, bool)
    order = []
    while heap:
        dg, v = heapq.heappop(heap)
        if done[v] or dg != len(adj[v]):
            continue
        done[v] = True
        order.append(v)
        nb_ = adj[v]
        for u in nb_:
            au = adj[u]
            au.discard(v)
            au |= nb_
            au.discard(u)
        for u in nb_:
            heapq.heappush(heap, (len(adj[u]), u))
        adj[v] = set()
    return np.asarray(order, np.int64)


def symbolic(n: int, ei: np.ndarray, ej: np.ndarray) -> Symbolic:
    """Return the symbolic factorization of the n×n pattern with off-diagonal edges
    (ei[t], ej[t]) (original rows; duplicates and either orientation allowed)."""
    adj = [set() for _ in range(n)]
    for a, b in zip(ei.tolist(), ej.tolist(), strict=True):
        if a != b:
            adj[a].add(b)
            adj[b].add(a)
    perm = min_degree(n, adj)
    iperm = np.empty(n, np.int64)
    iperm[perm] = np.arange(n)
    # lower pattern of the permuted matrix by column, then L's columns via the etree
    low = [[] for _ in range(n)]
    for a in range(n):
        pa = iperm[a]
        for b in adj[a]:
            pb = iperm[b]
            if pb > pa:
                low[pa].append(pb)
    cols = [None] * n
    children = [[] for _ in range(n)]
    for j in range(n):
        s = set(low[j])
        for c in children[j]:
            s.update(r for r in cols[c] if r > j)
        rows = sorted(s)
        cols[j] = rows
        if rows:
            children[rows[0]].append(j)
    colptr = np.zeros(n + 1, np.int64)
    colptr[1:] = np.cumsum([len(c) + 1 for c in cols])
    rowind = np.empty(colptr[-1], np.int64)
    rlists = [[] for _ in range(n)]
    for j in range(n):
        a = colptr[j]
        rowind[a] = j
        rowind[a + 1:colptr[j + 1]] = cols[j]
        for t, r in enumerate(cols[j]):
            rlists[r].append((j, a + 1 + t))
    rptr = np.zeros(n + 1, np.int64)
    rptr[1:] = np.cumsum([len(r) for r in rlists])
    rcol = np.array([c for r in rlists for c, _ in r], np.int64)
    rpos = np.array([p for r in rlists for _, p in r], np.int64)
    mptr = np.zeros(len(rcol) + 1, np.int64)
    mptr[1:] = np.cumsum(colptr[rcol + 1] - rpos)
    rmap = np.empty(mptr[-1], np.int64)
    _relative_map(colptr, rowind, rptr, rcol, rpos, rmap, np.empty(n, np.int64))
    return Symbolic(n, perm, iperm, colptr, rowind, rptr, rcol, rpos, mptr, rmap)


@nb.njit(cache=True)
def _relative_map(colptr, rowind, rptr, rcol, rpos, rmap, pos):
    """Fill ``rmap`` (see :class:`Symbolic`); ``pos`` (n,) work."""
    q = 0
    for j in range(len(colptr) - 1):
        for p in range(colptr[j], colptr[j + 1]):
            pos[rowind[p]] = p
        for t in range(rptr[j], rptr[j + 1]):
            for p in range(rpos[t], colptr[rcol[t] + 1]):
                rmap[q] = pos[rowind[p]]
                q += 1


@nb.njit(cache=True)
def factor(colptr, rptr, rcol, rpos, mptr, rmap, lval):
    """In-place left-looking Cholesky: ``lval`` (nnz,) holds the lower triangle of A
    (positions of L, zero fill) and is overwritten with L; each column's updates go straight
    to their positions (``rmap``). Return the first column whose pivot is <= 0 (taken as 1),
    else -1."""
    n = len(colptr) - 1
    err = -1
    for j in range(n):
        for t in range(rptr[j], rptr[j + 1]):
            c = rcol[t]
            p0 = rpos[t]
            ljc = lval[p0]
            q = mptr[t]
            for p in range(p0, colptr[c + 1]):
                lval[rmap[q]] -= lval[p] * ljc
                q += 1
        p0 = colptr[j]
        d = lval[p0]
        if d <= 0.0:
            if err < 0:
                err = j
            d = 1.0
        d = np.sqrt(d)
        lval[p0] = d
        for p in range(p0 + 1, colptr[j + 1]):
            lval[p] = lval[p] / d
    return err


@nb.njit(cache=True)
def solve(colptr, rowind, lval, b):
    """Solve L L^T x = b in place; b (n,) in elimination order."""
    n = len(colptr) - 1
    for j in range(n):
        p0 = colptr[j]
        bj = b[j] / lval[p0]
        b[j] = bj
        for p in range(p0 + 1, colptr[j + 1]):
            b[rowind[p]] -= lval[p] * bj
    for j in range(n - 1, -1, -1):
        p0 = colptr[j]
        bj = b[j]
        for p in range(p0 + 1, colptr[j + 1]):
            bj -= lval[p] * b[rowind[p]]
        b[j] = bj / lval[p0]
