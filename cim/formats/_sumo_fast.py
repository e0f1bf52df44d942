"""Fast path of the SUMO network reader for clean, SUMO-written ``.net.xml`` files.

:func:`read_net` returns the same :class:`~cim.model.RoadNetwork` as the general (lxml
``iterparse``) reader of :mod:`cim.formats.sumo_net`, or None whenever the file is not one it
handles exactly — the caller then runs the general reader, which also produces every error
(file, line, element) and the lenient-mode report. It never raises a CIMError itself.

How: :func:`._sumo_doc.open_doc` checks the document with libxml2 (entity-safe) and
finds its tags with numpy, provided it is laid out as SUMO writes it; attributes are then
read by name in bulk per element kind (any attribute order), lane shapes converted in one
call, edge geometry and the link and connection columns built with numpy. Root children
other than ``edge`` / ``junction`` / ``connection`` (``location``, ``tlLogic``, ``WAUT``…) are
cut out, at their original lines, into a small document parsed by lxml and handed to the
general reader's ``take`` one element at a time.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np
from lxml import etree

from ..model import RoadNetwork
from ..model.roads import ALL_VCLASSES, RoadConnections, RoadLanes, vclass_mask
from ..model.tables import _obj
from ..roads import class_defaults
from ._sumo_doc import PARSER_KW, Doc, open_doc
from ._sumo_shapes import Fallback, bulk_shapes, lane_rows

LANE_WIDTH_M = 3.2
_SKIP_EDGES = ("internal", "crossing", "walkingarea")
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


def read_net(source, take, offset_of):
    """Return the RoadNetwork of the SUMO net ``source`` or None (use the general reader).

    ``take(el)`` reads one other root child (lxml element: location, tlLogic…) into the
    caller's state; ``offset_of()`` then gives the ``netOffset`` (2,) to subtract."""
    try:
        doc = open_doc(source)
        if doc is None:
            return None
        return _read(doc, take, offset_of)
    except Fallback:
        return None
    except Exception:  # noqa: BLE001 — any error: the general reader decides and reports
        return None


def _read(doc: Doc, take, offset_of) -> RoadNetwork:
    is_edge, is_lane = doc.named("edge"), doc.named("lane")
    is_junc, is_conn = doc.named("junction"), doc.named("connection")
    d1 = doc.depth == 1
    if ((is_edge | is_junc | is_conn) & ~d1).any() or (is_lane & (doc.depth < 2)).any():
        raise Fallback
    ch = doc.children
    others = ch[~(is_edge | is_junc | is_conn)[ch]]
    if len(others):
        root = etree.fromstring(doc.others_doc(others), etree.XMLParser(
            remove_comments=True, remove_pis=True, **PARSER_KW))
        for el in root:
            take(el)
    offset = offset_of()
    # edges
    ei = np.flatnonzero(is_edge)
    ei = ei[~doc.ends_with(ei, b' function="internal"')]  # as SUMO writes them: cheap
    func = doc.attrs(ei).get("function", "normal")
    ei = ei[np.array([f not in _SKIP_EDGES for f in func], bool)]
    if not len(ei):
        raise Fallback
    ea = doc.attrs(ei)
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
    la = doc.attrs(li)
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
    ja = doc.attrs(np.flatnonzero(is_junc))
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
    cls_of = {t: t[8:] if t.startswith("highway.") else "unclassified" for t in set(typ)}
    cls = [cls_of[t] for t in typ]
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
    """Vehicle-class masks of the lanes (``allow`` first, else all but ``disallow``)."""
    keys = list(zip(allow, disallow))
    masks = {}
    for a, d in set(keys):
        try:
            masks[a, d] = (vclass_mask(a.split()) if a is not None else
                           ALL_VCLASSES & ~vclass_mask(d.split()) if d is not None
                           else ALL_VCLASSES)
        except KeyError:
            raise Fallback from None
    return np.fromiter(map(masks.__getitem__, keys), np.int64, count=len(keys))


def _geometry(eshape, lane_xy, lane_off, n_lanes, first):
    """Edge geometry: its shape, else the mean of its lane shapes when they have equal
    vertex counts, else its middle lane's shape (as the general reader)."""
    own = np.array([bool(s) for s in eshape], bool)
    exy, eoff = bulk_shapes([s for s in eshape if s])
    lc = np.diff(lane_off)
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
        for r in range(int(n_lanes[e_mean].max())):  # lane 0, 1, … summed in that order
            e = e_mean[n_lanes[e_mean] > r]
            geom[lane_rows(goff, e)] += lane_xy[lane_rows(lane_off, first[e] + r)]
        rows = lane_rows(goff, e_mean)
        geom[rows] /= np.repeat(n_lanes[e_mean], glen[e_mean])[:, None]
    return geom, goff


def _connections(doc, is_conn, lidx, n_lanes) -> RoadConnections:
    """The connections between normal edges (those from or to a ':' internal lane skipped,
    those written as SUMO does first, by their first bytes)."""
    ci = np.flatnonzero(is_conn)
    ci = ci[~doc.starts_with(ci, b'connection from=":')]
    ca = doc.attrs(ci)
    f, t = ca.required("from"), ca.required("to")
    if any(map(str.startswith, f, repeat(":"))) or any(map(str.startswith, t, repeat(":"))):
        keep = [not (a.startswith(":") or b.startswith(":")) for a, b in zip(f, t)]
        ca = doc.attrs(ci[np.array(keep, bool)])
        f, t = ca.required("from"), ca.required("to")
    try:
        fl = np.array([lidx[a] for a in f], np.int64)
        tl_ = np.array([lidx[b] for b in t], np.int64)
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
