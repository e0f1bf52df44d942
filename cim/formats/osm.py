"""OSM XML reader (``.osm``, ``.osm.gz``, ``.osm.bz2``): streets with lanes, vehicle classes,
turn restrictions and signals; walkways; buildings, water and land use; in EPSG:4326.

Streamed with lxml ``iterparse`` (entity-safe, see :mod:`cim.formats._xml`).

- **Streets**: car-road ``highway`` ways (:func:`._osm_tags.is_car_road`: ``track``,
  ``path``, ``bridleway``, ``cycleway``, ``footway``, ``steps``… never; ``service`` only
  without ``access=no/private``), split at junctions, with geodesic lengths, lanes per
  direction (``lanes``, ``lanes:forward`` / ``:backward``, ``turn:lanes``), a lane table
  whose vehicle-class masks come from ``access``, ``psv``, ``bus``, ``busway`` and the bus
  lane tags (``highway=busway`` and ``access=no`` + ``psv=yes`` roads are bus-only), and
  lane-to-lane connections where turn restrictions (relations ``type=restriction``,
  ``restriction=no_*/only_*``, ``restriction:<vehicle>``, ``except``,
  ``restriction:conditional``), ``turn:lanes`` or lanes closed to cars say more than
  geometry (:mod:`._osm_net`). ``highway=traffic_signals`` nodes mapped on the approaches of
  a junction signal that junction. Every restriction read is listed in
  ``city.metadata["osm_restrictions"]`` (dicts with ``applied`` and, for conditional ones,
  ``condition``; a conditional restriction is applied as if always in force).
- **Walkways** (``city.walkways``): footways, paths, steps, pedestrian streets and the
  sidewalks mapped on roads (:mod:`._osm_walk`).
- **Buildings**: closed ways and ``type=multipolygon`` relations tagged ``building`` (rings
  assembled from several ways, holes); LoD1 from ``height`` / ``building:levels`` × 3 m
  (``building:levels=0`` or ``height=0`` mean unknown: the default height).
- **Water** (``natural=water``, ``water=*``, ``waterway=riverbank``) and **land use**
  (``landuse=*``), from closed ways and multipolygons.

A relation that refers to ways or nodes not in the file is skipped with a note in the load
report (extracts cut relations at their edge); other relations are counted as not read.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ..crs import WGS84
from ..errors import CIMError, GeometryError, LoadReport, MissingReferenceError, Problems
from ..geometry import check_ring, check_simple_polygon
from ..model import CityModel
from . import _osm_net, _osm_rel, _osm_walk
from ._common import AreaRows, BuildingRows, extrusion, parse_number, use_from_tags
from ._osm_tags import foot_width, is_car_road, maxspeed_kmh, road_fields
from ._xml import free, iterparse
from .source import Source

__all__ = ["maxspeed_kmh", "read", "road_fields", "sniff"]


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` looks like an OSM XML document."""
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return h.startswith(b"<") and b"<osm" in head[:4096]


def _signal_direction(tags: dict) -> str:
    d = str(tags.get("traffic_signals:direction") or tags.get("direction") or "").lower()
    return d if d in ("forward", "backward") else ""


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return the streets, walkways, buildings, water bodies and land use of an OSM XML
    file."""
    report = LoadReport(files=[str(source.path)])
    problems = Problems(source.path, lenient, report)
    nodes: dict[str, tuple[float, float]] = {}
    signals: dict[str, str] = {}
    way_refs: dict[str, list[str]] = {}
    highways: list[tuple[str, list[str], dict, int]] = []
    footways: list[tuple] = []
    relations: list[tuple] = []
    areas = {"building": BuildingRows(WGS84), "water": AreaRows(), "landuse": AreaRows()}
    ignored: Counter = Counter()
    name_en: dict[str, str] = {}
    for _event, el in iterparse(source, events=("end",)):
        tag = el.tag
        if tag == "node":
            nid = el.get("id")
            try:
                nodes[nid] = (float(el.get("lon")), float(el.get("lat")))
                if not all(map(math.isfinite, nodes[nid])):
                    raise ValueError
            except (TypeError, ValueError):
                problems.handle(GeometryError("node has no valid lon/lat"), obj_id=f"node/{nid}",
                                line=el.sourceline)
                nodes.pop(nid, None)
            else:
                tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                if tags.get("highway") == "traffic_signals":
                    signals[nid] = _signal_direction(tags)
            free(el)
        elif tag == "way":
            wid = f"way/{el.get('id')}"
            refs = [nd.get("ref") for nd in el.iter("nd")]
            tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
            line = el.sourceline
            free(el)
            way_refs[wid[4:]] = refs
            try:
                missing = next((r for r in refs if r not in nodes), None)
                if missing is not None:
                    raise MissingReferenceError(f"way refers to node {missing}, which is not "
                                                "in the file")
                kind = _way_kind(tags)
                fw = None if kind == "highway" else foot_width(tags)  # roads: sidewalks
                if fw is not None:
                    footways.append((wid, refs, tags, line, fw))
                if kind == "highway":
                    road_fields(tags)  # check the numbers now, where the line is known
                    highways.append((wid, refs, tags, line))
                    if tags.get("name:en"):
                        name_en[wid] = tags["name:en"]
                elif kind is None:
                    if fw is None:
                        ignored["ways without a kept tag"] += 1
                else:
                    rings = [np.array([nodes[r] for r in refs])] if len(refs) else []
                    _area(kind, wid, _closed(kind, refs, rings), tags, areas)
            except CIMError as e:
                problems.handle(e, obj_id=wid, line=line)
        elif tag == "relation":
            relations.append((el.get("id"), _osm_rel.members(el),
                              {t.get("k"): t.get("v") for t in el.iter("tag")}, el.sourceline))
            free(el)
    restrictions = _relations(relations, way_refs, nodes, areas, problems, report, ignored)
    roads, notes = _osm_net.build(highways, nodes, signals, restrictions, problems)
    report.notes += [f"{source.path}: {n}" for n in notes]
    walk = _osm_walk.build(footways, highways, nodes, problems)
    if ignored:
        report.notes.append(f"{source.path}: not read: {dict(ignored)}")
    meta = {"source_format": "OSM XML"}
    if name_en:
        meta["road_name_en"] = name_en  # {way id: name:en}; link_source holds the way id
    if restrictions:
        meta["osm_restrictions"] = [
            {**{k: v for k, v in r.items() if k != "problem"}, "applied": r["problem"] is None,
             "reason": r["problem"] or ""} for r in restrictions]
    return CityModel(buildings=areas["building"].build(), roads=roads,
                     water_bodies=areas["water"].build(), land_use=areas["landuse"].build(),
                     walkways=walk, crs=WGS84, metadata=meta, report=report)


def _relations(relations, way_refs, nodes, areas, problems, report, ignored) -> list[dict]:
    """Read the multipolygon areas into ``areas``; return the turn restrictions."""
    restrictions, cut = [], []
    for rid, mem, tags, line in relations:
        oid = f"relation/{rid}"
        typ = tags.get("type", "")
        kind = _way_kind(tags) if typ == "multipolygon" else None
        if typ.startswith("restriction"):
            r = _osm_rel.restriction(oid, mem, tags, line)
        elif kind in areas:
            r = None
        else:
            ignored["relations"] += 1
            continue
        miss = _osm_rel.missing_member(mem, way_refs, nodes)
        if miss is not None:
            cut.append(f"{oid} (refers to {miss}, which is not in the file)")
            continue
        if r is not None:
            restrictions.append(r)
            continue
        try:
            bad = next((ref for t, ref, _ in mem if t == "way" and any(
                n not in nodes for n in way_refs[ref])), None)
            if bad is not None:
                raise MissingReferenceError(f"way {bad} refers to nodes not in the file")
            polys = _osm_rel.multipolygon(mem, way_refs, nodes)
            _area(kind, oid, polys, tags, areas)
        except CIMError as e:
            problems.handle(e, obj_id=oid, line=line)
    if cut:
        report.notes.append(f"skipped {len(cut)} relations with members outside the file: "
                            + "; ".join(cut[:5]) + (" …" if len(cut) > 5 else ""))
    return restrictions


def _way_kind(tags: dict) -> str | None:
    if is_car_road(tags):
        return "highway"
    if tags.get("building", "no") != "no" or tags.get("building:part", "no") != "no":
        return "building"
    if (tags.get("natural") == "water" or "water" in tags or tags.get("waterway") == "riverbank"
            or tags.get("landuse") in ("reservoir", "basin")):
        return "water"
    if "landuse" in tags:
        return "landuse"
    return None


def _closed(kind, refs, rings) -> list[list[np.ndarray]]:
    if len(refs) < 4 or refs[0] != refs[-1]:
        raise GeometryError(f"{kind} way is not a closed ring (first node must repeat as last)")
    return [[rings[0]]]


def _area(kind, oid, polys, tags, areas) -> None:
    """Add a building / water body / land-use zone of polygons ``polys`` (lists of lon/lat
    rings, exterior first)."""
    polys = [[check_ring(r, closed_required=True) for r in p] for p in polys]
    if kind == "building":
        for p in polys:
            check_simple_polygon(p)
        levels = parse_number(tags.get("building:levels"), "building:levels")
        height = parse_number(tags.get("height"), "height")
        base, roof, storeys, source = extrusion(
            height=height or None,  # 0 m means unknown, as does building:levels=0
            levels=levels or None,
            min_height=parse_number(tags.get("min_height"), "min_height"))
        attrs = {k: v for k, v in tags.items() if k not in ("building:levels", "height")}
        attrs["height_source"] = source
        areas["building"].add(oid, polys, base, roof, storeys=storeys, lod=1,
                              use=use_from_tags(tags.get("building:use"), tags.get("building"),
                                                tags.get("amenity")),
                              attributes=attrs)
    elif kind == "water":
        areas["water"].add(oid, tags.get("water") or tags.get("natural") or "water",
                           tags.get("name", ""), polys, dict(tags))
    else:
        areas["landuse"].add(oid, tags["landuse"], tags.get("name", ""), polys, dict(tags))
