"""Next-hop tables of one route-table version, made incrementally (see :mod:`.routing`).

A member's table depends only on its link costs and open flags. :func:`build_version` fills
the tables of a new version and reuses what it can from tables already made (``bases``: the
versions in the state, the members done before): a member with the same costs and open flags
as a base copies its rows; one whose inputs differ from a base's on a few links (a closure, a
reopening) copies the rows of the destinations those links cannot affect and solves only the
others (:func:`affected_rows`); anything else is solved in full. The result is bit-identical to
solving every row (:mod:`._route_solve`).
"""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path

import numba
import numpy as np

from ._route_solve import TIE_S, bucket_width, copy_rows, csr, distances_from, solve_rows

# a near base is used while its changed links and their upstream links (one search each) are
# fewer than this share of the rows to solve; otherwise the rows are solved in full
_NEAR_SHARE = 0.25


class TurnGraph:
    """The turn graph (one node per link, one edge per allowed turn) in the CSR forms the
    searches use; weights come per member from link costs and open flags (:meth:`weights`)."""

    def __init__(self, turn_from, turn_to, turn_penalty, turn_rank, pad_turn, n_links):
        self.n_links = int(n_links)
        self.turn_from = np.asarray(turn_from, np.int64)
        self.turn_to = np.asarray(turn_to, np.int64)
        self.penalty = np.asarray(turn_penalty, np.float64)
        n_turns = self.turn_from.size
        rank = np.asarray(turn_rank, np.int64)
        pad = np.asarray(pad_turn, np.int64)
        # transposed graph: link -> the links turning into it
        self.in_ptr, self.in_turn = csr(self.turn_to, self.n_links, np.arange(n_turns))
        self.in_from = self.turn_from[self.in_turn]
        # turns of each link in turn order (next-hop choice and its tie-break)
        valid = pad >= 0
        self.out_turn = pad[valid]
        self.out_ptr = np.concatenate([[0], np.cumsum(valid.sum(1))]).astype(np.int64)
        self.out_to = self.turn_to[self.out_turn]
        self.out_rank = rank[self.out_turn]
        # forward graph: link -> the links it turns into
        self.fwd_ptr, self.fwd_turn = csr(self.turn_from, self.n_links, np.arange(n_turns))
        self.fwd_to = self.turn_to[self.fwd_turn]

    def weights(self, cost, is_open):
        """Cost of each turn (s): cost of the link entered + turn penalty; inf if it is closed."""
        t = self.turn_to
        return np.where(np.asarray(is_open, dtype=bool)[t], cost[t] + self.penalty, np.inf)

    def solve(self, w, dest_links, rows, out, want_dist=False):
        """Solve destination rows ``rows`` of one member's table ``out`` (n_dest, n_links)
        int32 for turn weights ``w``; return the cost-to-go (len(rows), n_links) if wanted."""
        rows = np.asarray(rows, np.int64)
        dist = np.empty((rows.size if want_dist else 0, self.n_links))
        if rows.size:
            delta, n_buckets = bucket_width(w)
            solve_rows(rows, dest_links, self.in_ptr, self.in_from, w[self.in_turn],
                       self.out_ptr, self.out_to, w[self.out_turn], self.out_rank, delta,
                       n_buckets, 8 * numba.get_num_threads(), out, dist, want_dist)
        return dist


def affected_rows(g, inputs_a, inputs_b, changed, dest_links, rows):
    """Return a mask over ``rows``: False where the next-hop row of the destination is the
    same for inputs ``a`` and ``b`` (``(cost, is_open)`` of one member, equal outside the
    links ``changed``); True where it may differ.

    Let G0 be the turn graph with the changed links closed. A row is the same in G0 and in a
    graph that opens changed links if every turn into an opened link ``x`` from a link ``l``
    costs more, through ``x``, than ``l``'s cost-to-go in G0 plus the tie margin: then no
    cost-to-go changes (the equations the search solves still hold, and their solution is
    unique) and no such turn becomes a candidate. The costs-to-go come from forward searches
    from the changed links and their upstream links (one search each instead of one per
    destination); they add in another order than the backward search, so the test keeps a
    margin far above their rounding differences (it only ever solves more rows).
    """
    (cost_a, open_a), (cost_b, open_b) = inputs_a, inputs_b
    open0 = (np.asarray(open_a) != 0) & (np.asarray(open_b) != 0)
    open0[changed] = False
    w0 = g.weights(cost_a, open0)
    into = [g.in_turn[g.in_ptr[x]:g.in_ptr[x + 1]] for x in changed]
    sources = np.unique(np.concatenate([np.asarray(changed, np.int64)]
                                       + [g.turn_from[t] for t in into]))
    far = np.empty((sources.size, g.n_links))
    distances_from(sources, g.fwd_ptr, g.fwd_to, w0[g.fwd_turn], far)
    at = {int(s): i for i, s in enumerate(sources)}
    dl = np.asarray(dest_links, np.int64)[rows]
    hit = np.zeros(rows.size, bool)
    for x, turns in zip(changed, into):
        via = far[at[int(x)], dl]           # cost-to-go of x in G0, per destination
        for t in turns:
            lnk = int(g.turn_from[t])
            own = far[at[lnk], dl]          # cost-to-go of lnk in G0
            lim = own + TIE_S + 1e-7 * (1.0 + own)
            for cost, is_open in ((cost_a, open_a), (cost_b, open_b)):
                if not is_open[x]:
                    continue                # closed there: as in G0
                val = (cost[x] + g.penalty[t]) + via
                hit |= (val < np.inf) & ~(val > lim) & (dl != lnk)
    return hit


def _key(cost, is_open):
    return cost.tobytes() + np.asarray(is_open, dtype=bool).tobytes()


def build_version(g, dest_links, cost, is_open, rows, out, bases=()):
    """Fill ``out`` (n_members, n_dest, n_links) int32 with the next-hop tables for
    ``cost``/``is_open`` (n_members, n_links): rows ``rows`` solved, the others -1.

    ``bases``: ``(member, cost, is_open, table)`` of tables made before from those inputs,
    valid for all of ``rows``. A member copies the rows of a base (or of a member done
    before) with the same inputs; otherwise the base of the same member whose inputs differ
    on the fewest links serves as the start if they are few. Returns the number of rows
    solved.
    """
    dest_links = np.asarray(dest_links, np.int64)
    rows = np.asarray(rows, np.int64)
    rest = np.ones(dest_links.size, bool)
    rest[rows] = False
    out[:, rest] = -1
    same = {}
    for _, c, o, table in bases:
        same.setdefault(_key(c, o), table)
    solved = 0
    for b in range(cost.shape[0]):
        c, o = cost[b], is_open[b]
        key = _key(c, o)
        if key in same:
            copy_rows(same[key], out[b], rows)
            continue
        near, changed = None, None
        for m, bc, bo, table in bases:
            if m != b or bc.shape != c.shape:
                continue
            ch = np.flatnonzero((bc != c) | (bo != o))
            if near is None or ch.size < changed.size:
                near, changed = (bc, bo, table), ch
        if near is not None and _near(g, changed, rows.size):
            hit = affected_rows(g, near[:2], (c, o), changed, dest_links, rows)
            copy_rows(near[2], out[b], rows[~hit])
            g.solve(g.weights(c, o), dest_links, rows[hit], out[b])
            solved += int(hit.sum())
        else:
            g.solve(g.weights(c, o), dest_links, rows, out[b])
            solved += rows.size
        same.setdefault(key, out[b])
    return solved


def _near(g, changed, n_rows):
    """True if checking which rows ``changed`` links affect costs well under solving all."""
    if changed.size == 0 or n_rows == 0:
        return False
    n_search = changed.size + int((g.in_ptr[changed + 1] - g.in_ptr[changed]).sum())
    return n_search <= _NEAR_SHARE * n_rows


class TableCache:
    """Next-hop tables on disk, keyed by everything they are made from (``folder``: where;
    :meth:`key`: SHA-256 of the turn graph, costs, open flags, destinations, rows and the
    source of the modules that solve them), so that a run on an unchanged network and demand
    maps its first tables (~250 MB on a district) instead of solving them (~1 s).
    Files are raw int32, written to a temporary name and renamed (a file of the wrong size
    is ignored), and mapped copy-on-write when read; the most recently used stay, at most
    ``KEEP`` of them and ``MAX_BYTES`` together (the newest always)."""

    KEEP = 6
    MAX_BYTES = 1 << 30

    def __init__(self, folder):
        self.folder = Path(folder)

    @staticmethod
    def key(g, dest_links, cost, is_open, rows) -> str:
        h = hashlib.sha256()
        for m in (_route_solve_module(), __file__):
            h.update(Path(m).read_bytes())
        for a in (g.in_ptr, g.in_from, g.in_turn, g.out_ptr, g.out_to, g.out_turn, g.out_rank,
                  g.turn_to, g.penalty, dest_links, cost, np.asarray(is_open, bool), rows):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"routes-{key}.i32"

    def open(self, key: str, shape):
        """Return the entry ``key`` as an int32 array of ``shape`` (None if there is none):
        a private copy-on-write mapping of the file, so only the rows read are loaded."""
        p = self._path(key)
        nbytes = 4 * int(np.prod(shape))
        try:
            if nbytes == 0 or p.stat().st_size != nbytes:
                return None
            with open(p, "rb") as f:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
            os.utime(p)
        except (OSError, ValueError):
            return None
        return np.frombuffer(mm, np.int32).reshape(shape)

    def write(self, key: str, table) -> None:
        """Store ``table`` under ``key`` (errors ignored: the cache only saves time)."""
        p = self._path(key)
        tmp = p.with_name(f"{p.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(memoryview(np.ascontiguousarray(table).reshape(-1)).cast("B"))
            os.replace(tmp, p)
            kept = 0
            for i, q in enumerate(sorted(self.folder.glob("routes-*.i32"),
                                         key=lambda q: q.stat().st_mtime, reverse=True)):
                kept += q.stat().st_size
                if i and (i >= self.KEEP or kept > self.MAX_BYTES):
                    q.unlink(missing_ok=True)
        except OSError:
            tmp.unlink(missing_ok=True)


def _route_solve_module() -> str:
    from . import _route_solve

    return _route_solve.__file__
