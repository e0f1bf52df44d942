"""SUMO network reader (``.net.xml``) and SUMO additional files (``.add.xml`` with programs).

A net laid out as SUMO writes it is read by the fast path :mod:`._sumo_fast` (libxml2 check,
then the tags in bulk with numpy and regular expressions), which gives the same model; any
other file, and every file with an error, is read by the general reader below, streamed with
lxml ``iterparse`` (entity-safe, see :mod:`cim.formats._xml`). Read:

- ``location``: ``netOffset`` and ``projParameter``. Coordinates become SUMO's original
  projected coordinates (net coordinates − ``netOffset``) in the CRS of ``projParameter``
  (a PROJ string); ``projParameter="!"`` (no projection) gives a model without CRS. The
  element's attributes are kept in ``city.metadata["sumo_location"]``.
- ``edge`` (normal edges; ``internal``, ``crossing`` and ``walkingarea`` ones are skipped,
  as by sumolib): one road link each (id = edge id, ``link_source`` the same), its lanes into
  :class:`~cim.model.roads.RoadLanes` (``allow``/``disallow`` → vehicle-class mask, speed,
  length, width (default 3.2 m), shape). Link columns: ``link_lanes`` = all lanes,
  ``link_length`` / ``link_free_speed`` of lane 0 (as sumolib), ``link_width`` the sum of lane
  widths, ``link_name`` the ``name``, ``link_class`` from ``type`` (``highway.primary`` →
  primary, else "unclassified"), capacity from the class (:mod:`cim.roads`). Geometry: the
  edge ``shape``, else the mean of its lane shapes (or its middle lane's).
- ``junction`` (not ``internal``): road nodes with ``node_type``.
- ``connection`` (from a normal edge to a normal edge) →
  :class:`~cim.model.roads.RoadConnections`.
- ``tlLogic``, ``WAUT``, ``wautJunction`` → signal plans (:mod:`._sumo_tls`).

An additional file (root ``<additional>`` or ``<add>``) read on its own gives an empty
model that carries its programs and WAUTs; :func:`cim.load` merges it into the SUMO network
loaded with it (:func:`merge_additional`). Other additional elements (detectors, stops…) are
counted in the report.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyproj

from ..errors import (
    CIMError,
    CRSError,
    FormatError,
    LoadReport,
    MissingReferenceError,
    Problems,
    SchemaError,
)
from ..model import CityModel, RoadNetwork
from ..model.roads import ALL_VCLASSES, RoadConnections, RoadLanes, vclass_mask
from ..model.tables import _obj
from ..roads import class_defaults
from . import _sumo_fast
from . import _sumo_tls as tls
from ._xml import free, iterparse
from .source import Source

LANE_WIDTH_M = 3.2  # SUMO's default lane width
_SKIP_EDGES = ("internal", "crossing", "walkingarea")


def sniff(head: bytes, name: str) -> bool:
    """True for a SUMO network (``<net version=…``) or additional file with programs."""
    h = head[:8192]
    return b"<net " in h and b"version=" in h or _is_additional(h)


def _is_additional(h: bytes) -> bool:
    return (b"<additional" in h or b"<add>" in h or b"<add " in h) and (
        b"<tlLogic" in h or b"<WAUT" in h)


def _shape(s, path, line, what):
    try:
        xy = np.array([[float(v) for v in p.split(",")[:2]] for p in s.split()], float)
    except ValueError:
        raise SchemaError(f"{what}: shape {s[:60]!r} is not 'x,y x,y …'", path=path,
                          line=line) from None
    if xy.ndim != 2 or xy.shape[1] != 2 or not np.isfinite(xy).all():
        raise SchemaError(f"{what}: shape {s[:60]!r} is not 'x,y x,y …'", path=path, line=line)
    return xy


def _allow(el, path, what):
    allow, disallow = el.get("allow"), el.get("disallow")
    try:
        if allow is not None:
            return vclass_mask(allow.split())
        if disallow is not None:
            return ALL_VCLASSES & ~vclass_mask(disallow.split())
    except KeyError as e:
        raise SchemaError(f"{what}: unknown vehicle class {e.args[0]!r}", path=path,
                          line=el.sourceline) from None
    return ALL_VCLASSES


def _edge(el, path):
    eid = el.get("id")
    what = f"edge {eid!r}"
    for a in ("from", "to"):
        if not el.get(a):
            raise SchemaError(f"{what} has no '{a}'", path=path, line=el.sourceline)
    lanes = []
    for ln in el.iter("lane"):
        lw = f"lane {ln.get('id')!r}"
        lanes.append({"id": ln.get("id", ""),
                      "index": int(tls._num(ln, "index", path, lw, minimum=0)),
                      "speed": tls._num(ln, "speed", path, lw, minimum=0.0),
                      "length": tls._num(ln, "length", path, lw, minimum=0.0),
                      "width": tls._num(ln, "width", path, lw, default=LANE_WIDTH_M,
                                        minimum=0.0),
                      "allow": _allow(ln, path, lw),
                      "shape": _shape(ln.get("shape", ""), path, ln.sourceline, lw)})
    if not lanes:
        raise SchemaError(f"{what} has no lanes", path=path, line=el.sourceline)
    lanes.sort(key=lambda d: d["index"])
    if [d["index"] for d in lanes] != list(range(len(lanes))):
        raise SchemaError(f"{what}: lane indices are not 0..{len(lanes) - 1}", path=path,
                          line=el.sourceline)
    if el.get("shape"):
        geom = _shape(el.get("shape"), path, el.sourceline, what)
    else:
        shapes = [d["shape"] for d in lanes]
        geom = (np.mean(shapes, axis=0) if len({len(s) for s in shapes}) == 1
                else shapes[len(shapes) // 2])
    typ = el.get("type", "")
    cls = typ.split(".", 1)[1] if typ.startswith("highway.") else "unclassified"
    return {"id": eid, "from": el.get("from"), "to": el.get("to"), "name": el.get("name", ""),
            "type": typ, "cls": cls, "priority": el.get("priority"), "lanes": lanes,
            "geom": geom, "line": el.sourceline}


def _location(el, path):
    try:
        off = [float(v) for v in el.get("netOffset", "0,0").split(",")]
    except ValueError:
        raise SchemaError(f"location: netOffset {el.get('netOffset')!r} is not 'x,y'",
                          path=path, line=el.sourceline) from None
    proj = el.get("projParameter", "!")
    crs = None
    if proj and proj != "!":
        try:
            crs = pyproj.CRS(proj)
        except pyproj.exceptions.CRSError as e:
            raise CRSError(f"location: projParameter {proj!r} is not a valid projection: {e}",
                           path=path, line=el.sourceline) from None
    return np.array(off[:2], float), crs, dict(el.attrib)


class _Roots:
    """State of a read: the root children other than edges, junctions and connections."""

    def __init__(self, path):
        self.path = path
        self.programs, self.wauts, self.waut_j = [], {}, []
        self.offset, self.crs, self.loc = np.zeros(2), None, None
        self.other: Counter = Counter()

    def take(self, el) -> None:
        """Read one root child (location, tlLogic, WAUT, wautJunction; others counted)."""
        tag, path = el.tag, self.path
        if tag == "location":
            self.offset, self.crs, self.loc = _location(el, path)
        elif tag == "tlLogic":
            self.programs.append(tls.parse_program(el, path))
        elif tag == "WAUT":
            w = tls.parse_waut(el, path)
            self.wauts[w["id"]] = w
        elif tag == "wautJunction":
            self.waut_j.append((el.get("wautID"), el.get("junctionID"), el.get("procedure"),
                                el.get("synchron"), el.sourceline))
        elif isinstance(tag, str):
            self.other[tag] += 1


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return the road network (or, for an additional file, the programs) of a SUMO file."""
    path = source.path
    report = LoadReport(files=[str(path)])
    st = _Roots(path)
    roads = _sumo_fast.read_net(source, st.take, lambda: st.offset)
    root = "net"
    if roads is None:
        st = _Roots(path)
        roads, root = _read_general(source, st, Problems(path, lenient, report))
    if st.other:
        report.notes.append(f"{path}: not read: {dict(st.other)}")
    if root != "net":
        meta = {"source_format": "SUMO additional",
                "sumo_additional": {"file": str(path), "programs": st.programs,
                                    "wauts": st.wauts, "waut_junctions": st.waut_j}}
        return CityModel(metadata=meta, report=report)
    tls.apply_programs(roads, st.programs, path)
    tls.attach_wauts(roads, st.wauts, st.waut_j, path)
    meta = {"source_format": "SUMO net", "sumo_location": st.loc or {},
            "sumo_wauts": st.wauts}
    return CityModel(roads=roads, crs=st.crs, metadata=meta, report=report)


def _read_general(source: Source, st: _Roots, problems: Problems):
    """The general reader (lxml iterparse): (RoadNetwork or None, root tag)."""
    path = source.path
    edges, junctions, conns = [], {}, []
    root = None
    for ev, el in iterparse(source, events=("start", "end")):
        if root is None:
            root = el.tag
            if root not in ("net", "additional", "add"):
                raise FormatError(f"root element {root!r} is neither a SUMO <net> nor "
                                  "<additional>", path=path, line=el.sourceline)
            continue
        if ev != "end" or el.getparent() is None or el.getparent().getparent() is not None:
            continue  # only the children of the root, when complete
        tag = el.tag
        try:
            if tag == "edge":
                if el.get("function", "normal") not in _SKIP_EDGES:
                    edges.append(_edge(el, path))
            elif tag == "junction":
                if el.get("type") != "internal":
                    jid = el.get("id")
                    xy = (tls._num(el, "x", path, f"junction {jid!r}"),
                          tls._num(el, "y", path, f"junction {jid!r}"))
                    junctions[jid] = (xy, el.get("type", ""))
            elif tag == "connection":
                conns.append((dict(el.attrib), el.sourceline))
            else:
                st.take(el)
        except CIMError as e:
            problems.handle(e, obj_id=el.get("id"), line=el.sourceline)
        free(el)
    if root is None:
        raise FormatError("empty SUMO file", path=path)
    if root != "net":
        return None, root
    return _network(edges, junctions, conns, st.offset, path, problems), root


def _network(edges, junctions, conns, offset, path, problems) -> RoadNetwork:
    """Assemble the RoadNetwork (coordinates shifted by −``offset``)."""
    kept = []
    for e in edges:
        missing = next((e[a] for a in ("from", "to") if e[a] not in junctions), None)
        if missing is not None:
            problems.handle(MissingReferenceError(
                f"edge refers to junction {missing!r}, which is not in the file"),
                obj_id=e["id"], line=e["line"])
            continue
        kept.append(e)
    node_ids = list(junctions)
    nidx = {k: i for i, k in enumerate(node_ids)}
    nxy = np.array([junctions[k][0] for k in node_ids], float).reshape(-1, 2) - offset
    lidx = {e["id"]: k for k, e in enumerate(kept)}
    lanes = [(k, d) for k, e in enumerate(kept) for d in e["lanes"]]
    lane_len = [len(d["shape"]) for _, d in lanes]
    lane_tab = RoadLanes(
        np.array([k for k, _ in lanes], np.int64),
        np.array([d["index"] for _, d in lanes], np.int16),
        _obj([d["id"] for _, d in lanes]),
        np.array([d["speed"] for _, d in lanes], float),
        np.array([d["length"] for _, d in lanes], float),
        np.array([d["width"] for _, d in lanes], float),
        np.array([d["allow"] for _, d in lanes], np.int64),
        np.concatenate([[0], np.cumsum(lane_len, dtype=np.int64)]).astype(np.int64),
        (np.concatenate([d["shape"] for _, d in lanes]) - offset if lanes
         else np.zeros((0, 2))))
    n_lanes = np.array([len(e["lanes"]) for e in kept], np.int16)
    cap = np.array([class_defaults(e["cls"])[2] for e in kept], float) * n_lanes
    geoms = [e["geom"] - offset for e in kept]
    glen = [len(g) for g in geoms]
    types = _obj([junctions[k][1] for k in node_ids])
    roads = RoadNetwork(
        node_ids=_obj(node_ids), node_xy=nxy,
        node_signal=np.array([t.startswith("traffic_light") for t in types], bool),
        node_signal_plan=_obj([None] * len(node_ids)), node_type=types,
        link_ids=_obj([e["id"] for e in kept]),
        link_from=np.array([nidx[e["from"]] for e in kept], np.int64),
        link_to=np.array([nidx[e["to"]] for e in kept], np.int64),
        link_length=np.array([e["lanes"][0]["length"] for e in kept], float),
        link_lanes=n_lanes,
        link_free_speed=np.array([e["lanes"][0]["speed"] for e in kept], float),
        link_capacity=cap, link_name=_obj([e["name"] for e in kept]),
        link_class=_obj([e["cls"] for e in kept]),
        link_width=np.array([sum(d["width"] for d in e["lanes"]) for e in kept], float),
        link_tunnel=np.zeros(len(kept), bool), link_bridge=np.zeros(len(kept), bool),
        link_source=_obj([e["id"] for e in kept]),
        geometry_offsets=np.concatenate([[0], np.cumsum(glen, dtype=np.int64)]).astype(
            np.int64),
        geometry_xy=np.concatenate(geoms) if geoms else np.zeros((0, 2)),
        lanes=lane_tab)
    roads.connections = _connections(conns, lidx, n_lanes, path, problems)
    return roads


def _connections(conns, lidx, n_lanes, path, problems) -> RoadConnections:
    rows = []
    skipped = 0
    for a, line in conns:
        f, t = a.get("from", ""), a.get("to", "")
        if f.startswith(":") or t.startswith(":"):
            skipped += 1
            continue
        try:
            for end in (f, t):
                if end not in lidx:
                    raise MissingReferenceError(f"connection {f!r} -> {t!r} refers to edge "
                                                f"{end!r}, which is not in the file")
            fl, tl_ = int(a.get("fromLane", -1)), int(a.get("toLane", -1))
            if not (0 <= fl < n_lanes[lidx[f]] and 0 <= tl_ < n_lanes[lidx[t]]):
                raise SchemaError(f"connection {f!r} -> {t!r}: lane {fl} -> {tl_} is not a "
                                  "lane of its edges")
            rows.append((lidx[f], lidx[t], fl, tl_, a.get("dir", ""), a.get("state", ""),
                         a.get("tl", ""), int(a.get("linkIndex", -1)) if a.get("tl") else -1,
                         a.get("via", "")))
        except ValueError:
            problems.handle(SchemaError("connection: fromLane/toLane/linkIndex is not an "
                                        "integer"), line=line)
        except CIMError as e:
            problems.handle(e, line=line)
    cols = list(zip(*rows)) if rows else [[]] * 9
    return RoadConnections(
        np.array(cols[0], np.int64), np.array(cols[1], np.int64), np.array(cols[2], np.int16),
        np.array(cols[3], np.int16), *(_obj(list(c)) for c in cols[4:7]),
        np.array(cols[7], np.int32), _obj(list(cols[8])))


def merge_additional(models: list[CityModel]) -> list[CityModel]:
    """Apply the programs and WAUTs of SUMO additional files to the SUMO network loaded
    with them (the last one before the additional file, else the first after it) and drop
    the additional files' empty models. MissingReferenceError when no SUMO network is
    loaded, or a program names a traffic light that network does not have."""
    nets = [k for k, m in enumerate(models) if m.metadata.get("source_format") == "SUMO net"]
    out = []
    for k, m in enumerate(models):
        add = m.metadata.get("sumo_additional")
        if add is None:
            out.append(m)
            continue
        before = [j for j in nets if j < k]
        target = before[-1] if before else next((j for j in nets if j > k), None)
        if target is None:
            raise MissingReferenceError("a SUMO additional file needs its SUMO network "
                                        "(.net.xml) in the same cim.load call",
                                        path=add["file"])
        net = models[target]
        tls.apply_programs(net.roads, add["programs"], add["file"])
        wauts = net.metadata.setdefault("sumo_wauts", {})
        wauts.update(add["wauts"])
        tls.attach_wauts(net.roads, wauts, add["waut_junctions"], add["file"])
        net.report.merge(m.report)
    return out
