"""OSM XML reader (``.osm``): streets, signals, buildings, water and land use, in EPSG:4326.

Streamed with lxml ``iterparse`` (entity-safe, see :mod:`cim.formats._xml`). Ways tagged
``highway`` become street segments split at true intersections (nodes shared by several
highway ways, a way's own repeated nodes) and at ``highway=traffic_signals`` nodes, with
geodesic lengths; closed ways tagged ``building`` become LoD1 buildings; ``natural=water`` /
``water=*`` / ``waterway=riverbank`` water bodies; ``landuse=*`` land-use zones. Relations are
not read (noted in the report).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ..crs import WGS84
from ..errors import CIMError, GeometryError, LoadReport, MissingReferenceError, Problems
from ..geometry import check_ring, check_simple_polygon
from ..model import CityModel, RoadNetwork
from ..roads import RoadNetworkBuilder
from ._common import (
    AreaRows,
    BuildingRows,
    extrusion,
    geodesic_length,
    parse_number,
    use_from_tags,
)
from ._xml import free, iterparse
from .source import Source

_ONEWAY_YES = ("yes", "1", "true")
_ONEWAY_REVERSE = ("-1", "reverse")
_ONEWAY_NO = ("no", "0", "false")
_SPEED_WORDS = ("none", "signals", "walk", "variable", "unknown", "implicit")
_MPH = 1.609344
#: highway values that are not streets for motor traffic
_NOT_STREETS = {"footway", "path", "cycleway", "steps", "pedestrian", "bridleway", "corridor",
                "elevator", "platform", "proposed", "construction", "raceway", "bus_stop",
                "traffic_signals", "crossing", "street_lamp", "abandoned", "razed"}


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` looks like an OSM XML document."""
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return h.startswith(b"<") and b"<osm" in head[:4096]


def maxspeed_kmh(value) -> float | None:
    """Return an OSM ``maxspeed`` in km/h ("50", "30 mph", "50;30"); None for zone values
    ("CN:urban", "DE:rural") and words ("none", "signals"), which mean the class default.
    Raises ValueRangeError for anything else."""
    if value is None:
        return None
    s = str(value).strip().lower().split(";")[0].strip()
    if ":" in s or s in _SPEED_WORDS:
        return None
    factor = 1.0
    if s.endswith("mph"):
        s, factor = s[:-3].strip(), _MPH
    elif s.endswith("km/h") or s.endswith("kmh"):
        s = s.rsplit("k", 1)[0].strip()
    v = parse_number(s, "maxspeed", minimum=1e-9)
    return v * factor


def road_fields(tags: dict) -> dict:
    """Return the :meth:`RoadNetworkBuilder.add_segment` keywords of a highway's tags, plus
    ``reverse`` (True for ``oneway=-1``: the segment runs against the way's direction).
    Raises ValueRangeError for bad numbers (``lanes=-2``, ``maxspeed=fast``)."""
    cls = str(tags.get("highway", "unclassified"))
    ow = str(tags.get("oneway", "")).strip().lower()
    implied = cls in ("motorway", "motorway_link") or tags.get("junction") in (
        "roundabout", "circular")
    reverse = ow in _ONEWAY_REVERSE
    oneway = ow in _ONEWAY_YES or reverse or (implied and ow not in _ONEWAY_NO)
    lanes = parse_number(tags.get("lanes"), "lanes", minimum=1)
    lf = parse_number(tags.get("lanes:forward"), "lanes:forward", minimum=1)
    lb = parse_number(tags.get("lanes:backward"), "lanes:backward", minimum=1)
    if reverse:
        lf, lb = lb, lf
    if oneway:
        lanes_forward, lanes_backward = (lf or lanes), 0
    elif lf is not None or lb is not None:
        rest = None if lanes is None else lanes - (lf or 0) - (lb or 0)
        lanes_forward = lf if lf is not None else max(1, rest or 1)
        lanes_backward = lb if lb is not None else max(1, rest or 1)
    elif lanes is not None:
        lanes_forward, lanes_backward = max(1, math.ceil(lanes / 2)), max(1, int(lanes // 2))
    else:
        lanes_forward = lanes_backward = None
    return dict(
        oneway=oneway, reverse=reverse, cls=cls,
        lanes_forward=None if lanes_forward is None else int(lanes_forward),
        lanes_backward=None if lanes_backward is None else int(lanes_backward),
        maxspeed_kmh=maxspeed_kmh(tags.get("maxspeed")),
        name=tags.get("name") or tags.get("name:en") or tags.get("ref") or "",
        tunnel=str(tags.get("tunnel", "no")).lower() not in ("no", "false", "0"),
        bridge=str(tags.get("bridge", "no")).lower() not in ("no", "false", "0"),
        width_m=parse_number(tags.get("width"), "width", minimum=1e-9))


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return the streets, buildings, water bodies and land use of an OSM XML file."""
    report = LoadReport(files=[str(source.path)])
    problems = Problems(source.path, lenient, report)
    nodes: dict[str, tuple[float, float]] = {}
    signals: set[str] = set()
    highways: list[tuple[str, list[str], dict, int]] = []
    buildings, water, land_use = BuildingRows(WGS84), AreaRows(), AreaRows()
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
                if any(t.get("k") == "highway" and t.get("v") == "traffic_signals"
                       for t in el.iter("tag")):
                    signals.add(nid)
            free(el)
        elif tag == "way":
            wid = f"way/{el.get('id')}"
            refs = [nd.get("ref") for nd in el.iter("nd")]
            tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
            line = el.sourceline
            free(el)
            try:
                missing = next((r for r in refs if r not in nodes), None)
                if missing is not None:
                    raise MissingReferenceError(f"way refers to node {missing}, which is not "
                                                "in the file")
                kind = _way_kind(tags)
                if kind == "highway":
                    road_fields(tags)  # check the numbers now, where the line is known
                    highways.append((wid, refs, tags, line))
                    if tags.get("name:en"):
                        name_en[wid] = tags["name:en"]
                elif kind is None:
                    ignored["ways without a kept tag"] += 1
                else:
                    _area_way(kind, wid, refs, tags, nodes, buildings, water, land_use)
            except CIMError as e:
                problems.handle(e, obj_id=wid, line=line)
        elif tag == "relation":
            ignored["relations"] += 1
            free(el)
    roads = _roads(highways, nodes, signals, problems)
    if ignored:
        report.notes.append(f"{source.path}: not read: {dict(ignored)}")
    meta = {"source_format": "OSM XML"}
    if name_en:
        meta["road_name_en"] = name_en  # {way id: name:en}; link_source holds the way id
    return CityModel(buildings=buildings.build(), roads=roads, water_bodies=water.build(),
                     land_use=land_use.build(), crs=WGS84, metadata=meta, report=report)


def _way_kind(tags: dict) -> str | None:
    if "highway" in tags and tags["highway"] not in _NOT_STREETS and tags.get("area") != "yes":
        return "highway"
    if tags.get("building", "no") != "no" or tags.get("building:part", "no") != "no":
        return "building"
    if (tags.get("natural") == "water" or "water" in tags or tags.get("waterway") == "riverbank"
            or tags.get("landuse") in ("reservoir", "basin")):
        return "water"
    if "landuse" in tags:
        return "landuse"
    return None


def _area_way(kind, wid, refs, tags, nodes, buildings, water, land_use) -> None:
    if len(refs) < 4 or refs[0] != refs[-1]:
        raise GeometryError(f"{kind} way is not a closed ring (first node must repeat as last)")
    ring = check_ring(np.array([nodes[r] for r in refs]), closed_required=True)
    if kind == "building":
        check_simple_polygon([ring])
        base, roof, storeys, source = extrusion(
            height=parse_number(tags.get("height"), "height"),
            levels=parse_number(tags.get("building:levels"), "building:levels"),
            min_height=parse_number(tags.get("min_height"), "min_height"))
        attrs = {k: v for k, v in tags.items() if k not in ("building:levels", "height")}
        attrs["height_source"] = source
        buildings.add(wid, [[ring]], base, roof, storeys=storeys, lod=1,
                      use=use_from_tags(tags.get("building:use"), tags.get("building"),
                                        tags.get("amenity")),
                      attributes=attrs)
    elif kind == "water":
        water.add(wid, tags.get("water") or tags.get("natural") or "water",
                  tags.get("name", ""), [[ring]], dict(tags))
    else:
        land_use.add(wid, tags["landuse"], tags.get("name", ""), [[ring]], dict(tags))


def _roads(highways, nodes, signals, problems) -> RoadNetwork:
    """Return the RoadNetwork of the highway ways, split at intersections and signals."""
    use = Counter(r for _, refs, _, _ in highways for r in set(refs))
    builder = RoadNetworkBuilder(length_fn=geodesic_length)
    for wid, refs, tags, line in highways:
        try:
            f = road_fields(tags)
            reverse = f.pop("reverse")
            if len(refs) < 2:
                raise GeometryError("highway way has fewer than 2 nodes")
            own = Counter(refs)
            cuts = [0] + [k for k in range(1, len(refs) - 1)
                          if use[refs[k]] > 1 or own[refs[k]] > 1 or refs[k] in signals
                          ] + [len(refs) - 1]
            for k, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
                seg = refs[a:b + 1]
                if reverse:
                    seg = seg[::-1]
                xy = np.array([nodes[r] for r in seg])
                rid = wid if len(cuts) == 2 else f"{wid}-{k}"
                builder.add_segment(rid, seg[0], seg[-1], xy, **f)
        except CIMError as e:
            problems.handle(e, obj_id=wid, line=line)
    for nid in signals:
        if nid in builder.node_index:
            builder.set_signal(nid)
    return builder.build()
