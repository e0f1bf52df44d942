"""Compiled kernels of :class:`agents._sumo_routes_links.RouteLinks`: edge ids → link indices
through a byte-exact hash table, and the connection check of consecutive edges, in one pass
over all route strings of a file (UTF-8 bytes, strings separated by NUL, which XML text cannot
hold; edges separated by one space)."""

from __future__ import annotations

import numba as nb
import numpy as np

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@nb.njit(cache=True, inline="always")
def _hash(buf, i, j):
    h = _FNV_OFFSET
    for k in range(i, j):
        h = (h ^ np.uint64(buf[k])) * _FNV_PRIME
    return h


@nb.njit(cache=True, inline="always")
def _same(buf, i, j, ids, a, b):
    if j - i != b - a:
        return False
    for k in range(j - i):
        if buf[i + k] != ids[a + k]:
            return False
    return True


@nb.njit(cache=True, inline="always")
def _find(buf, i, j, h, ids, beg, end, table):
    """Return the slot of token buf[i:j] (hash ``h``) in ``table``: its link, or -1 where
    the token is not there."""
    mask = np.uint64(len(table) - 1)
    s = h & mask
    while True:
        k = table[s]
        if k < 0 or _same(buf, i, j, ids, beg[k], end[k]):
            return s
        s = (s + np.uint64(1)) & mask


@nb.njit(cache=True)
def build_table(ids, beg, end):
    """Return the open-addressing table (int64, size a power of 2 ≥ 2 n) of the ``n`` link ids
    ``ids[beg[k]:end[k]]`` (UTF-8); for a repeated id the last link wins."""
    n = len(beg)
    size = 2
    while size < 2 * n:
        size *= 2
    table = np.full(size, -1, np.int64)
    for k in range(n):
        i, j = beg[k], end[k]
        table[_find(ids, i, j, _hash(ids, i, j), ids, beg, end, table)] = k
    return table


@nb.njit(cache=True)
def scan(buf, n_str, ids, beg, end, table, ptr, succ, link_from, link_to, use_conn):
    """Map the ``n_str`` NUL-separated route strings of ``buf``.

    Returns ``flat`` (int64 link per edge, −1 where unknown), ``start`` ((n_str + 1,) int64:
    string k's edges are flat[start[k]:start[k + 1]]) and ``bad`` ((n_str,) bool: an empty
    edge (no edges, or spaces not single), an unknown edge, or two consecutive edges not
    joined — by a connection when ``use_conn`` (link a's successors: ``succ[ptr[a]:ptr[a +
    1]]``), else by a shared node: ``link_to[a] == link_from[b]``).
    """
    flat = np.empty(len(buf) + 1, np.int64)
    start = np.zeros(n_str + 1, np.int64)
    bad = np.zeros(n_str, np.bool_)
    m = 0
    s = 0
    t0 = 0
    prev = -1
    h = _FNV_OFFSET
    n = len(buf)
    for i in range(n + 1):
        c = buf[i] if i < n else 0
        if c > 32 or (c != 32 and c != 0):      # a byte of an edge id
            h = (h ^ np.uint64(c)) * _FNV_PRIME
            continue
        if i == t0:
            bad[s] = True
            k = -1
        else:
            k = table[_find(buf, t0, i, h, ids, beg, end, table)]
            if k < 0:
                bad[s] = True
            elif prev >= 0:
                if use_conn:
                    joined = False
                    for q in range(ptr[prev], ptr[prev + 1]):
                        if succ[q] == k:
                            joined = True
                            break
                    if not joined:
                        bad[s] = True
                elif link_to[prev] != link_from[k]:
                    bad[s] = True
        flat[m] = k
        m += 1
        prev = k
        h = _FNV_OFFSET
        t0 = i + 1
        if c == 0:
            s += 1
            start[s] = m
            prev = -1
    return flat[:m].copy(), start, bad
