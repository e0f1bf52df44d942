"""Compiled shortest paths behind the traffic kernel's route tables (see :mod:`.routing`).

Graphs are in CSR form: the edges of node ``u`` are ``ptr[u]..ptr[u + 1]``, edge ``j`` leads to
``nbr[j]`` at cost ``wt[j] > 0`` (``inf``: closed). The distances are the unique solution of
``dist[src] = 0``, ``dist[v] = min over edges v -> u of (dist[u] + w)`` in floating point:
with positive weights any method that adds the same numbers until these equations hold finds
the same one, whatever the order it scans nodes in, so the tables are bit-identical to those
of the first implementation (a binary-heap Dijkstra). :func:`bucket_search` scans nodes from
buckets of width ``delta`` (a label-correcting search: a node whose distance drops is scanned
again), which on road networks scans each node about once and costs half as much as
:func:`dijkstra` (indexed 4-ary heap), its fall-back.
"""

import numpy as np
from numba import njit, prange

# next links whose cost is within this of the best one (s) count as equally short
TIE_S = 1e-3


def csr(keys, n, *cols):
    """Group edges by ``keys`` (stable): return ``ptr`` (n + 1,) and each of ``cols`` in
    that order."""
    order = np.argsort(keys, kind="stable")
    ptr = np.searchsorted(np.asarray(keys)[order], np.arange(n + 1)).astype(np.int64)
    return (ptr,) + tuple(np.ascontiguousarray(np.asarray(c)[order]) for c in cols)


@njit(cache=True)
def dijkstra(src, ptr, nbr, wt, dist, heap_key, heap_node, pos):
    """Fill ``dist`` with the cost of the cheapest path from ``src`` to every node (inf where
    there is none). ``heap_key``, ``heap_node``, ``pos``: work arrays of n_nodes entries."""
    dijkstra_until(src, ptr, nbr, wt, dist, heap_key, heap_node, pos, pos, 0, 0)


@njit(cache=True)
def dijkstra_until(src, ptr, nbr, wt, dist, heap_key, heap_node, pos, mark, stamp, n_need):
    """:func:`dijkstra`, stopping once the ``n_need`` nodes with ``mark == stamp`` are
    settled (``n_need <= 0``: never); then only their ``dist`` (and that of the nodes settled
    before) is final."""
    dist[:] = np.inf
    pos[:] = -1
    dist[src] = 0.0
    heap_key[0] = 0.0
    heap_node[0] = src
    pos[src] = 0
    n = 1
    while n > 0:
        d = heap_key[0]
        u = heap_node[0]
        pos[u] = -2  # settled
        if n_need > 0 and mark[u] == stamp:
            n_need -= 1
            if n_need == 0:
                return
        # pop: move the last entry to the root and sift it down
        n -= 1
        if n > 0:
            key = heap_key[n]
            node = heap_node[n]
            i = 0
            while True:
                c = 4 * i + 1
                if c >= n:
                    break
                m = c
                mk = heap_key[c]
                e = c + 4 if c + 4 < n else n
                for q in range(c + 1, e):
                    if heap_key[q] < mk:
                        mk = heap_key[q]
                        m = q
                if mk < key:
                    heap_key[i] = mk
                    heap_node[i] = heap_node[m]
                    pos[heap_node[m]] = i
                    i = m
                else:
                    break
            heap_key[i] = key
            heap_node[i] = node
            pos[node] = i
        for j in range(ptr[u], ptr[u + 1]):
            nd = d + wt[j]
            v = nbr[j]
            if nd < dist[v]:
                dist[v] = nd
                i = pos[v]
                if i < 0:  # not in the heap: append
                    i = n
                    n += 1
                # sift up (decrease key)
                while i > 0:
                    p = (i - 1) >> 2
                    if heap_key[p] <= nd:
                        break
                    heap_key[i] = heap_key[p]
                    heap_node[i] = heap_node[p]
                    pos[heap_node[p]] = i
                    i = p
                heap_key[i] = nd
                heap_node[i] = v
                pos[v] = i


@njit(cache=True)
def bucket_search(src, ptr, nbr, wt, delta, dist, head, e_node, e_key, e_next):
    """Fill ``dist`` like :func:`dijkstra`, scanning nodes bucket by bucket (``head``: one
    list per bucket, circular, more buckets than the largest finite weight / ``delta`` + 1;
    ``e_*``: the entry pool). Returns False if the pool ran out (``dist`` is then invalid)."""
    return bucket_until(src, ptr, nbr, wt, delta, dist, head, e_node, e_key, e_next, head, 0,
                        0)


@njit(cache=True)
def bucket_until(src, ptr, nbr, wt, delta, dist, head, e_node, e_key, e_next, mark, stamp,
                 n_need):
    """:func:`bucket_search`, stopping once the ``n_need`` nodes with ``mark == stamp`` are
    final (``n_need <= 0``: never): when all have a label and the buckets below the largest
    of those labels are done (their ``dist`` is then that of :func:`dijkstra`; the other
    nodes' is not final). Returns False if the pool ran out."""
    nb = head.shape[0]
    inv = 1.0 / delta
    dist[:] = np.inf
    head[:] = -1
    dist[src] = 0.0
    e_node[0] = src
    e_key[0] = 0.0
    e_next[0] = -1
    head[0] = 0
    n_ent = 1
    live = 1
    k = 0
    n_lab = 1 if n_need > 0 and mark[src] == stamp else 0
    bound = 0.0
    while live > 0:
        if n_need > 0 and n_lab == n_need and bound < k * delta:
            return True
        b = k % nb
        while head[b] >= 0:
            e = head[b]
            head[b] = e_next[e]
            live -= 1
            u = e_node[e]
            d = e_key[e]
            if d > dist[u]:
                continue  # superseded by a later entry
            for j in range(ptr[u], ptr[u + 1]):
                nd = d + wt[j]
                v = nbr[j]
                if nd < dist[v]:
                    if n_need > 0 and dist[v] == np.inf and mark[v] == stamp:
                        n_lab += 1
                        if nd > bound:
                            bound = nd
                    dist[v] = nd
                    if n_ent == e_node.shape[0]:
                        return False
                    kb = int(nd * inv)
                    if kb < k:
                        kb = k
                    bb = kb % nb
                    e_node[n_ent] = v
                    e_key[n_ent] = nd
                    e_next[n_ent] = head[bb]
                    head[bb] = n_ent
                    n_ent += 1
                    live += 1
        k += 1
    return True


def bucket_width(w):
    """Bucket width and number of buckets for turn weights ``w``."""
    fin = w[np.isfinite(w)]
    if fin.size == 0:
        return 1.0, 2
    top = float(fin.max())
    delta = max(float(np.median(fin)) / 8.0, top / 65536.0, 1e-9)
    return delta, int(top / delta) + 2


@njit(cache=True)
def _next_hops(dist, out_ptr, out_to, out_w, out_rank, row, val):
    """Next link from every link towards the destination whose cost-to-go is ``dist``: the
    allowed turn minimising turn cost + cost-to-go; turns within ``TIE_S`` of the best are
    equally short and the lowest rank among them wins (first in turn order on equal rank).
    ``val``: work array of at least the largest number of turns of a link."""
    imax = np.iinfo(np.int64).max
    for lnk in range(out_ptr.shape[0] - 1):
        j0 = out_ptr[lnk]
        n = out_ptr[lnk + 1] - j0
        best = np.inf
        for k in range(n):
            x = out_w[j0 + k] + dist[out_to[j0 + k]]
            val[k] = x
            if x < best:
                best = x
        nxt = -1
        if best < np.inf:
            lim = best + TIE_S
            rank = imax
            for k in range(n):
                if val[k] <= lim and out_rank[j0 + k] < rank:
                    rank = out_rank[j0 + k]
                    nxt = out_to[j0 + k]
        row[lnk] = nxt


@njit(cache=True, parallel=True)
def solve_rows(rows, dest_links, in_ptr, in_from, in_w, out_ptr, out_to, out_w, out_rank,
               delta, n_buckets, n_chunks, out_next, out_dist, want_dist):
    """Fill ``out_next[r]`` (and ``out_dist[i]`` if wanted) for destination rows ``rows``,
    destinations in parallel (chunks of rows, each with its own work arrays).

    ``in_*``: the transposed turn graph (edges link -> links that turn into it, weight of the
    turn); ``out_*``: the turns of each link in turn order (target, weight, tie-break rank);
    ``delta``, ``n_buckets``: see :func:`bucket_width`; ``n_chunks``: a few per thread.
    """
    n_links = in_ptr.shape[0] - 1
    k_max = 1
    for lnk in range(n_links):
        k_max = max(k_max, out_ptr[lnk + 1] - out_ptr[lnk])
    n_rows = rows.shape[0]
    n_chunks = max(1, min(n_rows, n_chunks))
    for c in prange(n_chunks):
        val = np.empty(k_max)
        dist = np.empty(n_links)
        head = np.empty(n_buckets, np.int64)
        cap = 2 * n_links + 64
        e_node = np.empty(cap, np.int64)
        e_key = np.empty(cap)
        e_next = np.empty(cap, np.int64)
        heap_key = np.empty(0)
        heap_node = np.empty(0, np.int64)
        pos = np.empty(0, np.int64)
        for i in range(c * n_rows // n_chunks, (c + 1) * n_rows // n_chunks):
            r = rows[i]
            if not bucket_search(dest_links[r], in_ptr, in_from, in_w, delta, dist, head,
                                 e_node, e_key, e_next):
                if heap_key.shape[0] == 0:
                    heap_key = np.empty(n_links)
                    heap_node = np.empty(n_links, np.int64)
                    pos = np.empty(n_links, np.int64)
                dijkstra(dest_links[r], in_ptr, in_from, in_w, dist, heap_key, heap_node, pos)
            _next_hops(dist, out_ptr, out_to, out_w, out_rank, out_next[r], val)
            out_next[r, dest_links[r]] = -1
            if want_dist:
                out_dist[i, :] = dist


@njit(cache=True, parallel=True)
def distances_from(sources, ptr, nbr, wt, out):
    """``out[i]``: cost from node ``sources[i]`` to every node, sources in parallel."""
    n = ptr.shape[0] - 1
    for i in prange(sources.shape[0]):
        heap_key = np.empty(n)
        heap_node = np.empty(n, np.int64)
        pos = np.empty(n, np.int64)
        dijkstra(sources[i], ptr, nbr, wt, out[i], heap_key, heap_node, pos)


@njit(cache=True, parallel=True)
def copy_rows(src, dst, rows):
    """``dst[r] = src[r]`` for r in ``rows`` (2-D arrays)."""
    for i in prange(rows.shape[0]):
        r = rows[i]
        dst[r, :] = src[r, :]


@njit(cache=True, parallel=True)
def distances_needed(sources, ptr, nbr, wt, delta, n_buckets, need_ptr, need, out):
    """``out[j]``: cost from ``sources[i]`` to node ``need[j]`` for ``j`` in
    ``need_ptr[i]..need_ptr[i + 1]`` (inf when unreachable); each search
    (:func:`bucket_until`, :func:`dijkstra_until` if its pool runs out) stops once its
    needed nodes are final; sources in parallel. ``delta``, ``n_buckets``:
    :func:`bucket_width` of ``wt``."""
    n = ptr.shape[0] - 1
    n_src = sources.shape[0]
    n_chunks = max(1, min(n_src, 64))
    for c in prange(n_chunks):
        heap_key = np.empty(n)
        heap_node = np.empty(n, np.int64)
        pos = np.empty(n, np.int64)
        dist = np.empty(n)
        mark = np.zeros(n, np.int64)
        head = np.empty(n_buckets, np.int64)
        cap = 2 * n + 64
        e_node = np.empty(cap, np.int64)
        e_key = np.empty(cap)
        e_next = np.empty(cap, np.int64)
        for i in range(c * n_src // n_chunks, (c + 1) * n_src // n_chunks):
            k = 0
            for j in range(need_ptr[i], need_ptr[i + 1]):
                if mark[need[j]] != i + 1:
                    mark[need[j]] = i + 1
                    k += 1
            if k > 0 and not bucket_until(sources[i], ptr, nbr, wt, delta, dist, head,
                                          e_node, e_key, e_next, mark, i + 1, k):
                dijkstra_until(sources[i], ptr, nbr, wt, dist, heap_key, heap_node, pos,
                               mark, i + 1, k)
            for j in range(need_ptr[i], need_ptr[i + 1]):
                out[j] = dist[need[j]]
