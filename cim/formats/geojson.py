"""GeoJSON reader (RFC 7946: WGS84 lon/lat, or the CRS of a legacy ``crs`` member).

What each feature becomes, by geometry and properties:

- Polygon/MultiPolygon with ``natural=water`` or a ``water`` property -> a water body;
  with ``landuse`` or ``zone`` -> a land-use zone; with ``height``, ``building:levels``,
  ``levels``, ``storeys`` or ``building`` -> a LoD1 building (``height`` = top above ground,
  ``min_height`` = bottom, or levels × 3 m; ``base_height`` = ground elevation);
- Point with ``kind`` -> a site (``name``, ``capacity``; other properties kept);
- LineString/MultiLineString with ``highway`` -> street segments (OSM-style tags, see
  :func:`cim.formats.osm.road_fields`); nodes from ``start_node``/``end_node`` or the rounded
  end coordinates; geodesic lengths for lon/lat.

Ids: the feature's ``id``, else ``properties.id``, else ``<file name>#<index>``.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np

from ..crs import WGS84, resolve_crs, swap_xy
from ..errors import (
    CIMError,
    FormatError,
    GeometryError,
    LoadReport,
    Problems,
    SchemaError,
)
from ..geometry import check_ring, check_simple_polygon
from ..model import CityModel
from ..roads import RoadNetworkBuilder, polyline_length
from ._common import (
    AreaRows,
    BuildingRows,
    SiteRows,
    extrusion,
    geodesic_length,
    parse_number,
    use_from_tags,
)
from .osm import road_fields
from .source import Source

_BUILDING_KEYS = ("height", "building:levels", "levels", "storeys", "building")
_SITE_SKIP = ("id", "kind", "name", "capacity")


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` looks like GeoJSON (and not CityJSON)."""
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return h.startswith(b"{") and b'"CityJSON"' not in head and (
        b'"FeatureCollection"' in head or b'"Feature"' in head)


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return the buildings, sites, areas and streets of a GeoJSON file (module docstring)."""
    path = source.path
    try:
        doc = json.loads(source.read_bytes())
    except json.JSONDecodeError as e:
        raise FormatError(f"malformed JSON: {e.msg}", path=path, line=e.lineno) from None
    except UnicodeDecodeError as e:
        raise FormatError(f"not UTF-8 text: {e}", path=path) from None
    except RecursionError:
        raise FormatError("malformed JSON: nested too deeply", path=path) from None
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        raise FormatError("not a GeoJSON FeatureCollection or Feature", path=path)
    features = doc.get("features") if doc["type"] == "FeatureCollection" else [doc]
    if not isinstance(features, list):
        raise FormatError("'features' is not a list", path=path)
    report = LoadReport(files=[str(path)])
    problems = Problems(path, lenient, report)
    try:
        crs = _crs(doc.get("crs"), path)
    except CIMError as e:
        problems.handle(e)
        crs = None
        report.notes.append(f"{path}: reference system not understood: file coordinates")
    geographic = crs is not None and crs.is_geographic
    first = _first_position(features)
    if first is not None and swap_xy(crs, first[0], first[1], declared=False):
        features = [_swapped(f) for f in features]
        report.notes.append(f"{path}: positions latitude/northing first (outside the CRS's "
                            "area of use as x/y): swapped")
    reader = _Features(source.name, geographic, crs)
    for k, feat in enumerate(features):
        fid = _feature_id(feat, source.name, k)
        try:
            reader.add(feat, fid)
        except CIMError as e:
            problems.handle(e, obj_id=fid)
    if reader.ignored:
        report.notes.append(f"{path}: features not read: {dict(reader.ignored)}")
    return CityModel(buildings=reader.buildings.build(), roads=reader.roads.build(),
                     water_bodies=reader.water.build(), land_use=reader.land_use.build(),
                     sites=reader.sites.build(), crs=crs,
                     metadata={"source_format": "GeoJSON"}, report=report)


def _crs(member, path):
    if member is None:
        return WGS84
    props = member.get("properties", {}) if isinstance(member, dict) else {}
    ref = props.get("name") or (f"EPSG:{props['code']}" if "code" in props else None)
    if ref is None:
        raise SchemaError(f"legacy 'crs' member {member!r} names no reference system", path=path)
    return resolve_crs(ref, path=path)


def _feature_id(feat, name: str, k: int) -> str:
    if isinstance(feat, dict):
        fid = feat.get("id")
        if fid is None and isinstance(feat.get("properties"), dict):
            fid = feat["properties"].get("id")
        if fid is not None:
            return str(fid)
    return f"{name}#{k}"


class _Features:
    def __init__(self, name: str, geographic: bool, crs=None):
        self.geographic = geographic
        self.buildings, self.water, self.land_use = BuildingRows(crs), AreaRows(), AreaRows()
        self.sites = SiteRows()
        self.roads = RoadNetworkBuilder(geodesic_length if geographic else polyline_length)
        self.ignored: Counter = Counter()

    def add(self, feat, fid: str) -> None:
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            raise SchemaError("not a GeoJSON Feature")
        props = feat.get("properties") or {}
        geom = feat.get("geometry")
        if not isinstance(props, dict):
            raise SchemaError("'properties' is not an object")
        if geom is None:
            self.ignored["no geometry"] += 1
            return
        if not isinstance(geom, dict) or "type" not in geom:
            raise SchemaError("'geometry' is not a GeoJSON geometry")
        gtype, coords = geom["type"], geom.get("coordinates")
        if not isinstance(gtype, str):
            raise SchemaError(f"geometry type {gtype!r} is not a string")
        if gtype in ("Polygon", "MultiPolygon", "LineString", "MultiLineString", "Point") \
                and not isinstance(coords, list):
            raise GeometryError(f"{gtype} coordinates are not a list")
        if gtype in ("Polygon", "MultiPolygon"):
            polys = [_polygon(p) for p in (coords if gtype == "MultiPolygon" else [coords])]
            if not polys:
                raise GeometryError("empty MultiPolygon")
            self._area(fid, props, polys)
        elif gtype == "Point" and props.get("kind"):
            self._site(fid, props, coords)
        elif gtype in ("LineString", "MultiLineString") and props.get("highway"):
            lines = coords if gtype == "MultiLineString" else [coords]
            for k, line in enumerate(lines):
                self._road(fid if len(lines) == 1 else f"{fid}-{k}", props, _positions(line))
        else:
            self.ignored[gtype] += 1

    def _area(self, fid, props, polys) -> None:
        name = props.get("name", "")
        attrs = {k: v for k, v in props.items() if k != "id"}
        if props.get("natural") == "water" or "water" in props:
            kind = props.get("water") if isinstance(props.get("water"), str) else "water"
            self.water.add(fid, kind, name, polys, attrs)
        elif "landuse" in props or "zone" in props:
            self.land_use.add(fid, str(props.get("landuse") or props.get("zone")), name, polys,
                              attrs)
        elif any(k in props for k in _BUILDING_KEYS):
            self._building(fid, props, polys)
        else:
            self.ignored["Polygon without building/landuse/water properties"] += 1

    def _building(self, fid, props, polys) -> None:
        for p in polys:
            check_simple_polygon(p)
        levels = next((props[k] for k in ("building:levels", "levels", "storeys")
                       if props.get(k) is not None), None)
        base, roof, storeys, source = extrusion(
            height=parse_number(props.get("height"), "height"),
            levels=parse_number(levels, "levels"),
            min_height=parse_number(props.get("min_height"), "min_height"),
            base_height=parse_number(props.get("base_height"), "base_height", minimum=None))
        fa = parse_number(props.get("floor_area"), "floor_area")
        attrs = {k: v for k, v in props.items() if k != "id"}
        attrs["height_source"] = source
        self.buildings.add(
            fid, [[r[:, :2] for r in p] for p in polys], base, roof, storeys=storeys,
            use=use_from_tags(props.get("use"), props.get("building:use"),
                              props.get("building")),
            floor_area_m2=fa,
            residents=parse_number(props.get("residents", props.get("population")),
                                   "residents") or 0.0,
            jobs=parse_number(props.get("jobs", props.get("employees")), "jobs") or 0.0,
            lod=1, attributes=attrs)

    def _site(self, fid, props, coords) -> None:
        xyz = _positions([coords])[0]
        cap = parse_number(props.get("capacity"), "capacity")
        attrs = {k: v for k, v in props.items() if k not in _SITE_SKIP}
        self.sites.add(fid, str(props["kind"]), props.get("name", ""), xyz,
                       math.nan if cap is None else cap, attrs)

    def _road(self, rid, props, xy) -> None:
        if len(xy) < 2:
            raise GeometryError("a LineString needs at least 2 positions")
        f = road_fields(props)
        start, end = props.get("start_node"), props.get("end_node")
        start = str(start) if start is not None else self._node_key(xy[0])
        end = str(end) if end is not None else self._node_key(xy[-1])
        if f.pop("reverse"):  # oneway=-1: traffic runs against the drawing direction
            xy, start, end = xy[::-1], end, start
        self.roads.add_segment(rid, start, end, xy[:, :2], **f)

    def _node_key(self, p) -> str:
        nd = 7 if self.geographic else 2  # ~1 cm either way
        return f"{p[0]:.{nd}f},{p[1]:.{nd}f}"


def _positions(coords) -> np.ndarray:
    """Return (n, 2|3) float64 positions; GeometryError for anything not finite numbers."""
    try:
        a = np.asarray(coords, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise GeometryError("coordinates are not arrays of numbers") from None
    if a.ndim != 2 or a.shape[1] < 2:
        raise GeometryError(f"coordinates have shape {a.shape}, expected positions "
                            "[x, y(, z)]")
    if not np.isfinite(a).all():
        raise GeometryError("coordinates contain NaN or infinite values")
    return a[:, :3]


def _polygon(rings) -> list[np.ndarray]:
    """Return a GeoJSON polygon's rings (open, x/y/z) after the RFC 7946 checks."""
    if not isinstance(rings, list) or not rings:
        raise GeometryError("polygon has no rings")
    out = []
    for r in rings:
        a = _positions(r)
        if a.shape[1] == 2:
            a = np.column_stack([a, np.zeros(len(a))])
        out.append(check_ring(a, closed_required=True))
    return out


def _first_position(features):
    """Return the first (x, y) of the first geometry with one, or None."""
    for feat in features[:50]:
        c = feat.get("geometry") if isinstance(feat, dict) else None
        c = c.get("coordinates") if isinstance(c, dict) else None
        for _ in range(6):
            if not isinstance(c, list) or not c:
                break
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c[:2]) \
                    and len(c) >= 2:
                try:
                    return float(c[0]), float(c[1])
                except OverflowError:
                    return None
            c = c[0]
    return None


def _swapped(feat):
    """Return ``feat`` with every position's first two numbers swapped."""
    def swap(c, depth=0):
        if isinstance(c, list) and len(c) >= 2 and all(isinstance(v, (int, float))
                                                       for v in c[:2]):
            return [c[1], c[0], *c[2:]]
        return [swap(x, depth + 1) for x in c] if isinstance(c, list) and depth < 8 else c
    if not isinstance(feat, dict) or not isinstance(feat.get("geometry"), dict):
        return feat
    g = dict(feat["geometry"])
    if "coordinates" in g:
        g["coordinates"] = swap(g["coordinates"])
    return {**feat, "geometry": g}
