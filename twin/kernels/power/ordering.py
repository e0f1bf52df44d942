"""The fill-reducing order and the symbolic factorisation of :mod:`.sparselu` in ONE pass:
minimum degree on the explicit elimination graph, which at each elimination holds the
eliminated bus's later neighbours, i.e. the pattern of its column of L. Recording them gives
L's column pattern directly (no elimination tree, no row climbs).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def _eliminate(n, ptr, idx):
    """Minimum degree (new -> old ``order`` (n,)) on the elimination graph of the symmetric
    adjacency ``ptr``/``idx`` (no diagonal, no duplicates): eliminate a bus of least degree
    (degree buckets, LIFO ties), join its neighbours pairwise. Also returns ``cp`` (n + 1,)
    and ``li`` (cp[n],) int32: the neighbours (old numbers) of the bus eliminated at step k,
    ``li[cp[k]:cp[k + 1]]``."""
    cap = np.empty(n, np.int64)
    start = np.empty(n, np.int64)
    ln = np.empty(n, np.int64)
    total = 0
    for v in range(n):
        ln[v] = ptr[v + 1] - ptr[v]
        cap[v] = 2 * ln[v] + 4
        start[v] = total
        total += cap[v]
    pool = np.empty(2 * total + 16, np.int32)
    for v in range(n):
        for p in range(ln[v]):
            pool[start[v] + p] = idx[ptr[v] + p]
    top = total
    head = np.full(n + 1, -1, np.int64)
    nxt = np.full(n, -1, np.int64)
    prv = np.full(n, -1, np.int64)
    for v in range(n - 1, -1, -1):
        d = ln[v]
        nxt[v] = head[d]
        if head[d] >= 0:
            prv[head[d]] = v
        head[d] = v
    mark = np.full(n, -1, np.int64)
    stamp = 0
    order = np.empty(n, np.int64)
    nbr = np.empty(n, np.int64)
    cp = np.zeros(n + 1, np.int64)
    li = np.empty(2 * len(idx) + 16, np.int32)
    q = 0
    mind = 0
    for step in range(n):
        while head[mind] < 0:
            mind += 1
        v = head[mind]
        head[mind] = nxt[v]
        if nxt[v] >= 0:
            prv[nxt[v]] = -1
        order[step] = v
        nv = ln[v]
        if q + nv > len(li):
            grown = np.empty(2 * (q + nv), np.int32)
            grown[:q] = li[:q]
            li = grown
        for a in range(nv):
            w = pool[start[v] + a]
            nbr[a] = w
            li[q + a] = w
        q += nv
        cp[step + 1] = q
        for a in range(nv):
            u = nbr[a]
            old = ln[u]
            stamp += 1
            mark[u] = stamp
            s0 = start[u]
            e = s0 + ln[u]
            p = s0
            while p < e:  # v leaves u's list (swap with the last), the rest is marked
                w = pool[p]
                if w == v:
                    e -= 1
                    pool[p] = pool[e]
                else:
                    mark[w] = stamp
                    p += 1
            ln[u] = e - s0
            if ln[u] + nv > cap[u]:  # move the list to the end of the pool, long enough
                c2 = max(2 * cap[u], ln[u] + nv)
                need = top + c2
                if need > len(pool):
                    grown = np.empty(2 * need, np.int32)
                    grown[:top] = pool[:top]
                    pool = grown
                pool[top:top + ln[u]] = pool[start[u]:start[u] + ln[u]]
                start[u] = top
                cap[u] = c2
                top += c2
            s0 = start[u]
            e = ln[u]
            for b in range(nv):  # join u to v's other neighbours (branch-free)
                w = nbr[b]
                pool[s0 + e] = w
                e += mark[w] != stamp
                mark[w] = stamp
            ln[u] = e
            # move u from bucket old to ln[u]
            if prv[u] >= 0:
                nxt[prv[u]] = nxt[u]
            else:
                head[old] = nxt[u]
            if nxt[u] >= 0:
                prv[nxt[u]] = prv[u]
            d = ln[u]
            prv[u] = -1
            nxt[u] = head[d]
            if head[d] >= 0:
                prv[head[d]] = u
            head[d] = u
            if d < mind:
                mind = d
    return order, cp, li[:q]


@nb.njit(cache=True)
def _columns(n, order, cp, li):
    """From :func:`_eliminate`: ``iperm`` (old -> new), L's columns ``ri`` (new numbers,
    ascending in each column) and its rows (``rp``, ``rk``, ``rpos``: row i's columns
    ascending and the positions of those entries in ``ri``)."""
    iperm = np.empty(n, np.int64)
    for k in range(n):
        iperm[order[k]] = k
    q = cp[n]
    ri = np.empty(q, np.int64)
    rcnt = np.zeros(n + 1, np.int64)
    for k in range(n):
        lo, hi = cp[k], cp[k + 1]
        for p in range(lo, hi):  # insertion sort of the short column
            x = iperm[li[p]]
            j = p - 1
            while j >= lo and ri[j] > x:
                ri[j + 1] = ri[j]
                j -= 1
            ri[j + 1] = x
            rcnt[x + 1] += 1
    rp = np.cumsum(rcnt)
    rk = np.empty(q, np.int64)
    rpos = np.empty(q, np.int64)
    fill = rp[:-1].copy()
    for k in range(n):
        for p in range(cp[k], cp[k + 1]):
            i = ri[p]
            rk[fill[i]] = k
            rpos[fill[i]] = p
            fill[i] += 1
    return iperm, ri, rp, rk, rpos


def order_and_pattern(ptr: np.ndarray, idx: np.ndarray, n: int):
    """Minimum-degree order and L's pattern of the symmetric adjacency ``ptr``/``idx``.
    Returns (perm (n,) new -> old, iperm, cp, ri, rp, rk, rpos) (see :mod:`.sparselu`)."""
    order, cp, li = _eliminate(n, ptr, idx)
    iperm, ri, rp, rk, rpos = _columns(n, order, cp, li)
    return order, iperm, cp, ri, rp, rk, rpos
