"""Fast path of the SUMO network reader for clean, SUMO-written ``.net.xml`` files.

:func:`read_net` returns the same :class:`~cim.model.RoadNetwork` as the general (lxml
``iterparse``) reader of :mod:`cim.formats.sumo_net`, or None whenever the file is not one it
handles exactly — the caller then runs the general reader, which also produces every error
(file, line, element) and the lenient-mode report. It never raises a CIMError itself.

How: the whole document is first checked by libxml2 (a parse with a no-op target, entity-safe
as :mod:`._xml`: no entity expansion, no DTD, no network; a DOCTYPE sends the file to the
general reader, which refuses declared entities). The element structure then comes from the
positions of ``<`` and ``>`` (numpy): the file is taken only when, inside the root element,
there are no comments, CDATA, processing instructions, apostrophes, tabs,
carriage returns, default namespaces, tags spread over lines, or ``=`` / ``>`` inside
attribute values — so that every ``<`` opens a tag, every ``>`` closes one and an attribute
``name="value"`` is found by a regular expression in any attribute order. Attributes are
extracted per element kind in bulk; lane shapes are converted in one call. Root children
other than ``edge`` / ``junction`` / ``connection`` (``location``, ``tlLogic``, ``WAUT``…) are
cut out, at their original line numbers, into a small document parsed by lxml and handed to
the general reader's ``take`` (one element at a time).
"""

from __future__ import annotations

import re

import numpy as np
from lxml import etree

from ..model import RoadNetwork
from ..model.roads import ALL_VCLASSES, RoadConnections, RoadLanes, vclass_mask
from ..model.tables import _obj
from ..roads import class_defaults
from ._sumo_shapes import Fallback, bulk_shapes, lane_rows

LANE_WIDTH_M = 3.2
_SKIP_EDGES = ("internal", "crossing", "walkingarea")
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?\s*(<\?xml\s[^>]*\?>)?(?:\s+|<!--.*?-->|<\?.*?\?>)*"
                     rb"(?=<net[\s/>])", re.S)
_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([^\"']*)")
_UNSAFE = (b"'", b"\t", b"\r", b"xmlns=")
_REF = re.compile(r"&(#[xX][0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_PATTERNS: dict[str, re.Pattern] = {}
_PARSER_KW = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class _Null:
    """lxml parser target that builds nothing (well-formedness check only)."""

    def close(self):
        return None


def _unref(m: re.Match) -> str:
    r = m.group(1)
    if r[0] == "#":
        return chr(int(r[2:], 16) if r[1] in "xX" else int(r[1:]))
    return _PREDEFINED[r]


def _decode(vals: list[bytes]) -> list[str]:
    """Attribute values as str, the XML references (predefined entities and character
    references, the only ones a document without DTD may hold) replaced."""
    if not vals:
        return []
    joined = b"\n".join(vals)
    out = joined.decode("utf-8").split("\n")
    if b"&" in joined:
        out = [_REF.sub(_unref, v) if "&" in v else v for v in out]
    return out


class _Attrs:
    """Attributes of n tags (each ``b'<name a="v" …>'``, no newline), fetched by name."""

    def __init__(self, tags: list[bytes]):
        self.n = len(tags)
        self.text = b"\n".join(tags)
        if self.text.count(b"=") * 2 != self.text.count(b'"'):
            raise Fallback  # an '=' inside a value: names could be matched inside values
        lens = np.fromiter(map(len, tags), np.int64, count=self.n) + 1
        self.starts = np.cumsum(lens) - lens

    def get(self, name: str, default=None) -> list:
        """Return the value of attribute ``name`` of each tag (``default`` where absent)."""
        pat = _PATTERNS.get(name)
        if pat is None:
            # a tag is one line without tabs: the space before a name is a literal " "
            pat = _PATTERNS[name] = re.compile(b" " + name.encode() + rb'\s*=\s*"([^"]*)"')
        vals = pat.findall(self.text)
        if len(vals) == self.n:  # no tag repeats an attribute: one value per tag, in order
            return _decode(vals)
        out = [default] * self.n
        if vals:
            own = np.searchsorted(self.starts, [m.start() for m in pat.finditer(self.text)],
                                  "right") - 1
            for k, v in zip(own.tolist(), _decode(vals)):
                out[k] = v
        return out

    def required(self, name: str) -> list[str]:
        vals = self.get(name)
        if None in vals:
            raise Fallback
        return vals


def _floats(vals, minimum=None) -> np.ndarray:
    """float() of each string (as the general reader), finite and >= minimum, else Fallback."""
    try:
        x = np.fromiter(map(float, vals), float, count=len(vals))
    except (TypeError, ValueError):
        raise Fallback from None
    if not np.isfinite(x).all() or (minimum is not None and (x < minimum).any()):
        raise Fallback
    return x


def _ints(vals) -> np.ndarray:
    try:
        return np.array(list(map(int, vals)), np.int64)
    except (TypeError, ValueError):
        raise Fallback from None


class _Doc:
    """Tag structure of the root element ``span`` (bytes) of a checked document."""

    def __init__(self, span: bytes, line0: int):
        a = np.frombuffer(span, np.uint8)
        lt, gt = np.flatnonzero(a == 60), np.flatnonzero(a == 62)
        if (len(lt) != len(gt) or not len(lt) or not (lt < gt).all()
                or not (gt[:-1] < lt[1:]).all()):
            raise Fallback
        nl = np.flatnonzero(a == 10)
        self.line = np.searchsorted(nl, lt) + line0  # line of each tag
        if (np.searchsorted(nl, gt) + line0 != self.line).any():
            raise Fallback  # a tag over several lines
        if np.isin(a[lt + 1], (33, 63)).any():
            raise Fallback  # <! (comment, CDATA) or <? inside the root element
        close, selfc = a[lt + 1] == 47, a[gt - 1] == 47
        delta = np.where(close, -1, np.where(selfc, 0, 1))
        self.depth = np.cumsum(delta) - delta  # depth of each start tag (root 0)
        self.span, self.lt, self.gt, self.close = span, lt, gt, close
        w = 12
        pad = np.concatenate([a, np.zeros(w + 1, np.uint8)])
        self.win = pad[lt[:, None] + 1 + np.arange(w)]
        self.children = np.flatnonzero(~close & (self.depth == 1))

    def named(self, name: str) -> np.ndarray:
        """Bool per tag: a start tag of element ``name``."""
        k = len(name)
        m = (self.win[:, :k] == np.frombuffer(name.encode(), np.uint8)).all(axis=1)
        return m & np.isin(self.win[:, k], (32, 47, 62))

    def tags(self, idx) -> list[bytes]:
        s = self.span
        return [s[i:j] for i, j in zip(self.lt[idx].tolist(), (self.gt[idx] + 1).tolist())]

    def others_doc(self, idx) -> bytes:
        """A document of the root start tag and root children ``idx`` (tag indices) at
        their original lines."""
        s, lt, gt = self.span, self.lt, self.gt
        nxt = np.append(self.children, len(lt) - 1)
        ends = nxt[np.searchsorted(nxt, idx, "right")] - 1  # last tag of each child
        line = int(self.line[0])
        parts = [b"\n" * (line - 1), s[: gt[0] + 1]]
        line += parts[-1].count(b"\n")
        for i, j in zip(idx.tolist(), ends.tolist()):
            parts.append(b"\n" * (int(self.line[i]) - line))
            parts.append(s[lt[i]: gt[j] + 1])
            line = int(self.line[i]) + parts[-1].count(b"\n")
        parts.append(b"</net>")
        return b"".join(parts)


def _open(source):
    """Return (Doc, line offset) of a SUMO net eligible for the fast path, or None."""
    try:
        data = source.read_bytes()
    except Exception:  # noqa: BLE001 — the general reader reports it
        return None
    m = _PROLOG.match(data)
    if m is None or b"<!DOCTYPE" in data:
        return None
    if m.group(1):
        enc = _ENCODING.search(m.group(1))
        if enc and enc.group(1).lower() not in (b"utf-8", b"utf8"):
            return None
    end = data.rfind(b"</net")
    if end < 0 or data[end:].rstrip()[-1:] != b">" or b"<" in data[end + 1:]:
        return None
    span = data[m.end(): end + data[end:].index(b">") + 1]
    if any(bad in span for bad in _UNSAFE):
        return None
    try:
        etree.fromstring(data, etree.XMLParser(target=_Null(), **_PARSER_KW))
    except etree.XMLSyntaxError:
        return None
    return _Doc(span, data.count(b"\n", 0, m.end()) + 1)


def read_net(source, take, offset_of):
    """Return the RoadNetwork of the SUMO net ``source`` or None (use the general reader).

    ``take(el)`` reads one other root child (lxml element: location, tlLogic…) into the
    caller's state; ``offset_of()`` then gives the ``netOffset`` (2,) to subtract."""
    try:
        doc = _open(source)
        if doc is None:
            return None
        return _read(doc, take, offset_of)
    except Fallback:
        return None
    except Exception:  # noqa: BLE001 — any error: the general reader decides and reports
        return None


def _read(doc: _Doc, take, offset_of) -> RoadNetwork:
    is_edge, is_lane = doc.named("edge"), doc.named("lane")
    is_junc, is_conn = doc.named("junction"), doc.named("connection")
    d1 = doc.depth == 1
    if ((is_edge | is_junc | is_conn) & ~d1).any() or (is_lane & (doc.depth < 2)).any():
        raise Fallback
    ch = doc.children
    others = ch[~(is_edge | is_junc | is_conn)[ch]]
    if len(others):
        root = etree.fromstring(doc.others_doc(others), etree.XMLParser(
            remove_comments=True, remove_pis=True, **_PARSER_KW))
        for el in root:
            take(el)
    offset = offset_of()
    # edges
    ei = np.flatnonzero(is_edge)
    ea = _Attrs(doc.tags(ei))
    func = ea.get("function", "normal")
    keep = np.array([f not in _SKIP_EDGES for f in func], bool)
    ei = ei[keep]
    if not len(ei):
        raise Fallback
    ea = _Attrs(doc.tags(ei))
    ids, frm, to = ea.get("id"), ea.get("from"), ea.get("to")
    if None in ids or not all(frm) or not all(to):
        raise Fallback
    # lanes of the normal edges (el.iter("lane"): at any depth inside the edge)
    li = np.flatnonzero(is_lane)
    owner = ch[np.searchsorted(ch, li, "right") - 1]
    if not is_edge[owner].all():
        raise Fallback
    ordinal = np.full(len(doc.lt), -1, np.int64)
    ordinal[ei] = np.arange(len(ei))
    lane_edge = ordinal[owner]
    li, lane_edge = li[lane_edge >= 0], lane_edge[lane_edge >= 0]
    la = _Attrs(doc.tags(li))
    n_lanes = np.bincount(lane_edge, minlength=len(ei))
    if (n_lanes == 0).any():
        raise Fallback
    first = np.cumsum(n_lanes) - n_lanes
    pos = np.arange(len(li)) - first[lane_edge]
    index = _floats(la.required("index"), 0.0)
    if (np.floor(index) != pos).any():
        raise Fallback  # lanes not listed in index order: the general reader sorts them
    speed = _floats(la.required("speed"), 0.0)
    length = _floats(la.required("length"), 0.0)
    width = _floats([LANE_WIDTH_M if w is None else w for w in la.get("width")], 0.0)
    allow = _allow(la.get("allow"), la.get("disallow"))
    lane_xy, lane_off = bulk_shapes(la.get("shape", ""))
    geom, goff = _geometry(ea.get("shape", ""), lane_xy, lane_off, n_lanes, first)
    # junctions
    ja = _Attrs(doc.tags(np.flatnonzero(is_junc)))
    jtype = ja.get("type")
    jkeep = [t != "internal" for t in jtype]
    jids = [j for j, k in zip(ja.get("id"), jkeep) if k]
    nidx = {k: i for i, k in enumerate(jids)}
    if None in nidx or len(nidx) != len(jids) or len(set(ids)) != len(ids):
        raise Fallback
    jx = _floats([v for v, k in zip(ja.required("x"), jkeep) if k])
    jy = _floats([v for v, k in zip(ja.required("y"), jkeep) if k])
    try:
        lfrom = np.array([nidx[f] for f in frm], np.int64)
        lto = np.array([nidx[t] for t in to], np.int64)
    except KeyError:
        raise Fallback from None
    types = _obj(["" if t is None else t for t, k in zip(jtype, jkeep) if k])
    typ = ["" if t is None else t for t in ea.get("type")]
    cls = [t.split(".", 1)[1] if t.startswith("highway.") else "unclassified" for t in typ]
    cap_of = {c: class_defaults(c)[2] for c in set(cls)}
    n16 = n_lanes.astype(np.int16)
    lane_tab = RoadLanes(
        lane_edge.astype(np.int64), pos.astype(np.int16), _obj(la.get("id", "")), speed,
        length, width, allow, lane_off, lane_xy - offset)
    roads = RoadNetwork(
        node_ids=_obj(jids), node_xy=np.stack([jx, jy], axis=1).reshape(-1, 2) - offset,
        node_signal=np.array([t.startswith("traffic_light") for t in types], bool),
        node_signal_plan=_obj([None] * len(jids)), node_type=types,
        link_ids=_obj(ids), link_from=lfrom, link_to=lto,
        link_length=length[first], link_lanes=n16, link_free_speed=speed[first],
        link_capacity=np.array([cap_of[c] for c in cls], float) * n16,
        link_name=_obj(ea.get("name", "")), link_class=_obj(cls),
        link_width=np.bincount(lane_edge, weights=width, minlength=len(ei)),
        link_tunnel=np.zeros(len(ei), bool), link_bridge=np.zeros(len(ei), bool),
        link_source=_obj(ids), geometry_offsets=goff, geometry_xy=geom - offset,
        lanes=lane_tab)
    roads.connections = _connections(doc, is_conn, {e: k for k, e in enumerate(ids)}, n_lanes)
    return roads


def _allow(allow: list, disallow: list) -> np.ndarray:
    masks: dict = {}
    out = []
    for a, d in zip(allow, disallow):
        key = (a, None) if a is not None else (None, d)
        m = masks.get(key)
        if m is None:
            try:
                m = (vclass_mask(a.split()) if a is not None else
                     ALL_VCLASSES & ~vclass_mask(d.split()) if d is not None else ALL_VCLASSES)
            except KeyError:
                raise Fallback from None
            masks[key] = m
        out.append(m)
    return np.array(out, np.int64)


def _geometry(eshape, lane_xy, lane_off, n_lanes, first):
    """Edge geometry: its shape, else the mean of its lane shapes when they have equal
    vertex counts, else its middle lane's shape (as the general reader)."""
    own = np.array([bool(s) for s in eshape], bool)
    exy, eoff = bulk_shapes([s for s in eshape if s])
    lc = np.diff(lane_off)
    last = first + n_lanes - 1
    same = np.maximum.reduceat(lc, first) == np.minimum.reduceat(lc, first)
    mid = first + n_lanes // 2
    glen = np.where(same, lc[first], lc[mid])
    glen[own] = np.diff(eoff)
    goff = np.concatenate([[0], np.cumsum(glen)]).astype(np.int64)
    geom = np.zeros((int(goff[-1]), 2))
    e_own = np.flatnonzero(own)
    if len(e_own):
        geom[lane_rows(goff, e_own)] = exy
    e_mid = np.flatnonzero(~own & ~same)
    if len(e_mid):
        geom[lane_rows(goff, e_mid)] = lane_xy[lane_rows(lane_off, mid[e_mid])]
    e_mean = np.flatnonzero(~own & same)
    if len(e_mean):
        lanes = np.concatenate([np.arange(f, g + 1) for f, g in zip(first[e_mean],
                                                                    last[e_mean])])
        edge_of = np.repeat(e_mean, n_lanes[e_mean])
        dst = lane_rows(goff, edge_of)
        np.add.at(geom, dst, lane_xy[lane_rows(lane_off, lanes)])
        rows = lane_rows(goff, e_mean)
        geom[rows] /= np.repeat(n_lanes[e_mean], glen[e_mean])[:, None]
    return geom, goff


def _connections(doc, is_conn, lidx, n_lanes) -> RoadConnections:
    ca = _Attrs(doc.tags(np.flatnonzero(is_conn)))
    f, t = ca.required("from"), ca.required("to")
    keep = np.array([not (a.startswith(":") or b.startswith(":")) for a, b in zip(f, t)], bool)
    ca = _Attrs(doc.tags(np.flatnonzero(is_conn)[keep]))
    try:
        fl = np.array([lidx[a] for a, k in zip(f, keep) if k], np.int64)
        tl_ = np.array([lidx[b] for b, k in zip(t, keep) if k], np.int64)
    except KeyError:
        raise Fallback from None
    fln, tln = _ints(ca.required("fromLane")), _ints(ca.required("toLane"))
    if ((fln < 0) | (fln >= n_lanes[fl]) | (tln < 0) | (tln >= n_lanes[tl_])).any():
        raise Fallback
    tl = ca.get("tl", "")
    li = ca.get("linkIndex", "-1")
    idx = _ints([v if s else -1 for v, s in zip(li, tl)])
    return RoadConnections(fl, tl_, fln.astype(np.int16), tln.astype(np.int16),
                           _obj(ca.get("dir", "")), _obj(ca.get("state", "")), _obj(tl),
                           idx.astype(np.int32), _obj(ca.get("via", "")))
