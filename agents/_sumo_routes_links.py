"""The parsing half of :mod:`agents.sumo_routes`: the file's top-level elements
(:func:`collect`, with lines; :func:`collect_fast`, without building a tree nor lines, for a
clean file) and SUMO edge-id strings → checked link-index routes (:class:`RouteLinks`).

:meth:`RouteLinks.prepare` maps every distinct route string of a file at once: in one
compiled pass (:mod:`agents._sumo_routes_jit`: a byte-exact hash table of the link ids, each
consecutive edge pair looked up among the first edge's successors), or, where numba is not
loaded yet and the file is small (see :data:`COMPILED`), by numpy over all edges (one dict
lookup per edge, one binary search per pair in the sorted connection keys). Both find the same
routes good. :meth:`RouteLinks.route` then answers from that table, and reads a string on its
own only where it was found bad, to raise the detailed error. The per-network tables are kept
for the last network read against (while it is the same object with the same arrays).
"""

from __future__ import annotations

import functools
import re
import sys
import weakref
from itertools import chain

import numpy as np
from lxml import etree

from cim.errors import CIMError
from cim.formats import Source
from cim.formats._xml import free, iterparse

from .errors import DemandError

_READ = frozenset(("vType", "route", "vehicle", "trip", "flow"))
_DISTS = {"vTypeDistribution": "vType", "routeDistribution": "route"}
_SPACE = re.compile(r"\s")   # what str.split() splits at
_ASCII_SPACE = b" \t\n\v\f\r\x1c\x1d\x1e\x1f"   # the ASCII characters among them

#: map routes by the compiled pass (True), by numpy (False), or (None) by the compiled pass
#: where numba is already loaded in the process or the routes are long: its first use in a
#: process costs ~0.3 s (1 s with numba's import), more than numpy takes for ~10⁵ edges
COMPILED: bool | None = None
_COMPILED_MIN_CHARS = 1 << 22


def collect(path):
    """Return the top-level elements of the file as (tag, attrs, line, child route edges or
    None; for a distribution: [(member attrs, line)]), and {other tag: count}."""
    items, other = [], {}
    try:
        for _, el in iterparse(Source.open_path(path), events=("end",)):
            parent = el.getparent()
            if parent is None:
                if el.tag != "routes":
                    raise DemandError(f"root element {el.tag!r} is not a SUMO <routes>",
                                      path=path, line=el.sourceline)
                continue
            if parent.getparent() is not None:
                continue
            tag = el.tag
            if tag in _READ:
                child = None
                if len(el):          # first <route> below it, in document order
                    for r in el.iterdescendants("route"):
                        child = r.get("edges")
                        break
                items.append((tag, dict(el.items()), el.sourceline, child))
            elif tag in _DISTS:
                kids = [(dict(k.items()), k.sourceline) for k in el.iter(_DISTS[tag])]
                items.append((tag, dict(el.items()), el.sourceline, kids))
            elif isinstance(tag, str):
                other[tag] = other.get(tag, 0) + 1
            free(el)
    except CIMError as e:
        raise DemandError(e.reason, path=path, line=e.line) from None
    return items, other


class _Doctype(Exception):
    """A DOCTYPE: left to :func:`collect` (which refuses entity declarations)."""


class _Target:
    """lxml parser target: the top-level elements as :func:`collect` returns them, without
    building a tree (and without lines: ``None``)."""

    def __init__(self):
        self.items, self.other, self.depth, self.cur, self.root = [], {}, 0, None, None

    def doctype(self, *args):
        raise _Doctype

    def start(self, tag, attrib):
        d = self.depth = self.depth + 1
        if d == 2:
            self.cur = None
            if tag in _READ:
                self.cur = [tag, attrib, None, None]
                self.items.append(self.cur)
            elif tag in _DISTS:
                self.cur = [tag, attrib, None, []]
                self.items.append(self.cur)
            elif isinstance(tag, str):
                self.other[tag] = self.other.get(tag, 0) + 1
        elif d > 2:
            c = self.cur
            if c is None:
                return
            if c[0] in _DISTS:
                if tag == _DISTS[c[0]]:
                    c[3].append((attrib, None))
            elif tag == "route" and c[3] is None:
                c[3] = attrib.get("edges")
        else:
            self.root = tag

    def end(self, tag):
        self.depth -= 1

    def close(self):
        return self


def collect_fast(path):
    """Return what :func:`collect` returns (lists for tuples), with every line ``None``, read
    without building a tree; or None where only :func:`collect` can say what is wrong (no
    file, malformed XML, anything the parser logged, a DOCTYPE, a root other than
    ``<routes>``)."""
    target = _Target()
    parser = etree.XMLParser(target=target, resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    try:
        with Source.open_path(path).open() as stream:
            while chunk := stream.read(1 << 20):
                parser.feed(chunk)
        parser.close()
    except (_Doctype, etree.XMLSyntaxError, CIMError, OSError, EOFError):
        return None
    if target.root != "routes" or len(parser.feed_error_log):
        return None    # (a target parser only logs what iterparse raises: undefined prefixes)
    return target.items, target.other


def route_strings(items) -> list:
    """Return the edge-id strings the elements name (route children, named routes,
    distribution members, from/to), in no particular order."""
    out = [c for t, _, _, c in items if c is not None and t in _READ]
    out += [a.get("edges", "") for t, a, _, _ in items if t == "route"]
    out += [k.get("edges", "") for t, _, _, c in items if t == "routeDistribution"
            for k, _ in c]
    out += [x for t, a, _, _ in items if "from" in a and t in _READ and a["from"] and a.get("to")
            for x in (a["from"], a["to"])]
    return out


class _Index(dict):
    """{edge id: link index}; -1 for an unknown id (not stored)."""

    def __missing__(self, key):
        return -1


class _Tables:
    """Per-network lookups: edge id → link index (:attr:`index`, a dict, and the compiled
    kernels' byte table ``table``: None where an id is empty or holds whitespace or NUL),
    sorted connection keys ``pairs`` (from·L + to)."""

    def __init__(self, roads):
        self.parts = _parts(roads)
        self.ref = weakref.ref(roads)
        self.names = roads.link_ids.tolist()   # (str where the ids are; see table, index)
        c = getattr(roads, "connections", None)
        self.L = max(roads.n_links, 1)
        self.pairs = None if c is None else np.sort(c.from_link * self.L + c.to_link)
        self.link_from = np.asarray(roads.link_from, np.int64)
        self.link_to = np.asarray(roads.link_to, np.int64)
        if self.pairs is None:
            self.ptr, self.succ = np.zeros(self.L + 1, np.int64), np.zeros(0, np.int64)
        else:   # link a's successors: succ[ptr[a]:ptr[a + 1]]
            self.ptr = np.searchsorted(self.pairs, np.arange(self.L + 1) * self.L)
            self.succ = self.pairs % self.L

    @functools.cached_property
    def table(self):
        """The compiled kernels' hash table of the ids (``ids``, ``beg``, ``end`` their UTF-8
        bytes); None where an id is empty or holds whitespace or NUL."""
        try:
            text = "\0".join(self.names)
        except TypeError:
            text = "\0".join(map(str, self.names))
        raw = text.encode("utf-8", "surrogatepass")
        if (not raw or raw.count(b"\0") != len(self.names) - 1
                or b"\0\0" in raw or raw.startswith(b"\0") or raw.endswith(b"\0")
                or (len(raw.translate(None, _ASCII_SPACE)) != len(raw) if text.isascii()
                    else _SPACE.search(text))):
            return None                      # an id empty, or holding whitespace or NUL
        from . import _sumo_routes_jit as jit
        self.ids = np.frombuffer(raw, np.uint8)
        nul = np.flatnonzero(self.ids == 0)     # id k: ids[beg[k]:end[k]]
        self.beg = np.concatenate([[0], nul + 1])
        self.end = np.concatenate([nul, [len(self.ids)]])
        return jit.build_table(self.ids, self.beg, self.end)

    @functools.cached_property
    def index(self) -> dict:
        """{edge id: link index}; the last link of a repeated id."""
        return _Index(zip(map(str, self.names), range(len(self.names))))


def _parts(roads):
    c = getattr(roads, "connections", None)
    return (roads.link_ids, roads.link_from, roads.link_to, c,
            None if c is None else c.from_link, None if c is None else c.to_link)


_LAST: list = [None]   # the tables of the last network read against


def _tables(roads) -> _Tables:
    """Return the lookups of ``roads``, reused while it is the same object with the same
    arrays (one network kept, held weakly)."""
    t = _LAST[0]
    if t is not None and t.ref() is roads and all(
            x is y for x, y in zip(t.parts, _parts(roads), strict=True)):
        return t
    t = _LAST[0] = _Tables(roads)
    return t


class RouteLinks:
    """Edge-id strings → read-only int64 link-index arrays, consecutive edges checked to be
    joined by a connection of the network (or, without a connection table, a shared node)."""

    def __init__(self, roads, path):
        self.roads, self.path = roads, path
        self.t = t = _tables(roads)
        self.pairs, self.L = t.pairs, t.L
        self.cache: dict[str, np.ndarray] = {}

    def prepare(self, strings) -> None:
        """Map and check all distinct ``strings`` at once; the good routes are cached, the
        bad ones are left for :meth:`route` to find and report."""
        todo = [s for s in dict.fromkeys(strings) if s not in self.cache]
        if not todo:
            return
        text = "\0".join(todo)
        use = COMPILED if COMPILED is not None else (
            "numba" in sys.modules or len(text) >= _COMPILED_MIN_CHARS)
        if use and text.count("\0") == len(todo) - 1 and self.t.table is not None:
            flat, start, bad = self._scan(text, len(todo))   # (XML text holds no NUL)
        else:
            flat, start, bad = self._split(todo)
        flat.setflags(write=False)           # each route is a read-only view
        cache = self.cache
        for s, i, j, b in zip(todo, start[:-1].tolist(), start[1:].tolist(), bad.tolist()):
            if not b:
                cache[s] = flat[i:j]

    def _scan(self, text, n):
        """(flat, start, bad) of the NUL-joined strings, by the compiled pass."""
        from . import _sumo_routes_jit as jit
        t = self.t
        table = t.table                      # (sets t.ids, t.beg, t.end)
        buf = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)
        return jit.scan(buf, n, t.ids, t.beg, t.end, table, t.ptr, t.succ, t.link_from,
                        t.link_to, t.pairs is not None)

    def _split(self, todo):
        """(flat, start, bad) of the strings, by numpy over all their edges: string k's
        links are flat[start[k]:start[k + 1]]; bad where empty, unknown or not joined."""
        t = self.t
        parts = [s.split() for s in todo]
        n = np.fromiter(map(len, parts), np.int64, len(parts))
        start = np.zeros(len(todo) + 1, np.int64)
        np.cumsum(n, out=start[1:])
        flat = np.fromiter(map(t.index.__getitem__, chain.from_iterable(parts)), np.int64,
                           int(start[-1]))
        seg = np.repeat(np.arange(len(todo)), n)
        bad = n == 0
        bad[seg[flat < 0]] = True
        if len(flat) > 1:
            a, b = flat[:-1], flat[1:]
            if t.pairs is None:
                ok = t.link_to[a] == t.link_from[b]
            elif len(t.pairs):
                key = a * t.L + b
                ok = t.pairs[np.minimum(np.searchsorted(t.pairs, key), len(t.pairs) - 1)] == key
            else:
                ok = np.zeros(len(a), bool)
            bad[seg[:-1][(seg[:-1] == seg[1:]) & ~ok]] = True
        return flat, start, bad

    def route(self, edges: str, what, line) -> np.ndarray:
        """Return the link indices of ``edges``; raise DemandError (naming ``what`` and
        ``line``) for an empty route, an unknown edge or two unconnected edges."""
        hit = self.cache.get(edges)
        if hit is not None:          # flows and repeated vehicles share their route strings
            return hit
        out = self._route(edges, what, line)
        out.setflags(write=False)    # shared by every trip on this route
        self.cache[edges] = out
        return out

    def _route(self, edges: str, what, line) -> np.ndarray:
        ids = edges.split()
        if not ids:
            raise DemandError(f"{what}: the route has no edges", path=self.path, line=line)
        out = np.empty(len(ids), np.int64)
        for k, e in enumerate(ids):
            i = self.t.index[e]
            if i < 0:
                raise DemandError(f"{what}: route edge {e!r} is not a road link of the city",
                                  path=self.path, line=line, value=e)
            out[k] = i
        a, b = out[:-1], out[1:]
        if self.pairs is not None:     # sorted (np.unique): one binary search per pair
            key = a * self.L + b
            at = np.minimum(np.searchsorted(self.pairs, key), max(len(self.pairs) - 1, 0))
            ok = (self.pairs[at] == key) if len(self.pairs) else np.zeros(len(key), bool)
        else:
            ok = self.roads.link_to[a] == self.roads.link_from[b]
        if not ok.all():
            k = int(np.flatnonzero(~ok)[0])
            raise DemandError(f"{what}: route edges {ids[k]!r} and {ids[k + 1]!r} are not "
                              "connected", path=self.path, line=line, value=edges)
        return out
