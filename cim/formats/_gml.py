"""GML geometry for the CityGML reader: rings and polygons from ``gml:posList`` /
``gml:pos`` / ``gml:coordinates``, and the footprint, heights and floor area of a building
from its surfaces."""

from __future__ import annotations

import math

import numpy as np
import shapely

from ..errors import GeometryError
from ..geometry import SURFACE_CODE, check_ring
from ._common import floor_area, polygon_area
from ._xml import local_name

GROUND = SURFACE_CODE["GroundSurface"]
_FLAT_TOL_M = 0.01


def srs_dimension(el, default: int) -> int:
    """Return the element's ``srsDimension`` (inherited ``default`` when absent)."""
    try:
        return int(el.get("srsDimension", default))
    except ValueError:
        raise GeometryError(f"srsDimension {el.get('srsDimension')!r} is not an integer",
                            line=el.sourceline) from None


def parse_polygon(el, dim: int) -> list[np.ndarray]:
    """Return the checked rings (open (n, 3) arrays, exterior first) of a gml:Polygon,
    Triangle, PolygonPatch or Rectangle; GeometryError (with the line) when bad."""
    exterior, holes = None, []
    for b in el:
        name = local_name(b.tag)
        if name not in ("exterior", "interior", "outerBoundaryIs", "innerBoundaryIs"):
            continue
        ring = next((r for r in b if local_name(r.tag)), None)
        if ring is None or local_name(ring.tag) != "LinearRing":
            raise GeometryError(f"polygon boundary must be a gml:LinearRing, found "
                                f"{local_name(ring.tag) if ring is not None else 'nothing'}",
                                line=b.sourceline)
        try:
            r = check_ring(_coords(ring, srs_dimension(ring, dim)),
                           closed_required=True)
        except GeometryError as e:
            raise e.located(line=ring.sourceline) from None
        if name in ("exterior", "outerBoundaryIs"):
            exterior = r
        else:
            holes.append(r)
    if exterior is None:
        raise GeometryError("polygon has no exterior ring", line=el.sourceline)
    return [exterior] + holes

def _coords(ring, dim: int) -> np.ndarray:
    rows = []
    for c in ring:
        name = local_name(c.tag)
        text = (c.text or "").split()
        try:
            if name == "posList":
                d = srs_dimension(c, dim)
                vals = np.array(text, float)
                if d < 2 or len(vals) % d:
                    raise GeometryError(f"posList has {len(vals)} numbers, not a multiple "
                                        f"of srsDimension {d}", line=c.sourceline)
                rows.extend(vals.reshape(-1, d))
            elif name == "pos":
                rows.append(np.array(text, float))
            elif name == "coordinates":
                cs, ts = c.get("cs", ","), c.get("ts", " ")
                for tup in (c.text or "").strip().split(ts if ts.strip() else None):
                    rows.append(np.array(tup.split(cs), float))
        except ValueError:
            raise GeometryError(f"non-numeric coordinate in gml:{name}",
                                line=c.sourceline) from None
    if not rows or len({len(r) for r in rows}) != 1 or len(rows[0]) < 2:
        raise GeometryError("ring has no coordinates or mixed dimensions",
                            line=ring.sourceline)
    xyz = np.array(rows, float)
    if xyz.shape[1] == 2:
        xyz = np.column_stack([xyz, np.zeros(len(xyz))])
    return xyz[:, :3]


def building_piece(polys, lod, attrs, pid, line, area_tol: float = 1e-9) -> dict:
    """Return footprint, heights, surfaces and floor area (in squared CRS units) of one
    Building/BuildingPart; ``area_tol``: the smallest footprint area, in squared CRS units."""
    z = np.concatenate([r[:, 2] for rings, _ in polys for r in rings])
    base, roof = float(z.min()), float(z.max())
    mh = attrs.get("measuredHeight")
    if mh is not None and roof - base < _FLAT_TOL_M:
        roof = base + mh  # LoD0 footprint only: the height comes from the attribute
    footprint = _footprint(polys, base, area_tol)
    if not footprint:
        raise GeometryError("no footprint can be derived (no ground surface, no horizontal "
                            "face, zero projected area)", obj_id=pid, line=line)
    storeys = attrs.get("storeysAboveGround", -1)
    return dict(footprint=footprint, base=base, roof=roof, lod=lod, storeys=storeys,
                surfaces=polys if lod and lod >= 1 else [],
                floor_area=floor_area(footprint, roof - base, storeys))


def _footprint(polys, base: float, area_tol: float) -> list[list[np.ndarray]]:
    """Return the footprint polygons (x/y rings): ground surfaces, else the lowest horizontal
    faces, else the 2D union of all faces' projections."""
    ground = [rings for rings, s in polys if s == GROUND]
    if not ground:
        ground = [rings for rings, _ in polys
                  if np.ptp(rings[0][:, 2]) < _FLAT_TOL_M
                  and rings[0][:, 2].min() - base < _FLAT_TOL_M]
    fp = [[r[:, :2] for r in rings] for rings in ground]
    fp = [p for p in fp if polygon_area(p) > area_tol]
    if fp:
        return fp
    shapes = [shapely.Polygon(rings[0][:, :2], [h[:, :2] for h in rings[1:]])
              for rings, _ in polys]
    shapes = [s.buffer(0) if not s.is_valid else s for s in shapes]
    union = shapely.union_all([s for s in shapes if s.area > area_tol])
    out = []
    for g in getattr(union, "geoms", [union]):
        if g.geom_type == "Polygon" and g.area > area_tol:
            out.append([np.asarray(g.exterior.coords)[:-1]]
                       + [np.asarray(h.coords)[:-1] for h in g.interiors])
    return out


def use_from_function(attrs: dict) -> str | None:
    """Return the use class from a building's function/usage (words or the AdV/SIG3D
    numeric codes: 1xxx residential, 2020 office, 21xx industrial, 2xxx commercial,
    302x education, 3xxx public); None when neither says."""
    for key in ("function", "usage"):
        v = str(attrs.get(key, "")).strip().lower()
        if not v:
            continue
        if v.isdigit():
            if v.startswith("1"):
                return "residential"
            if v.startswith("2020"):
                return "office"
            if v.startswith("21"):
                return "industrial"
            if v.startswith("2"):
                return "commercial"
            if v.startswith("302"):
                return "education"
            if v.startswith("3"):
                return "public"
            return "other"
        for words, use in (("resid dwell hous habitation apartment", "residential"),
                           ("office", "office"), ("commerc retail shop trade", "commercial"),
                           ("industr factory", "industrial"),
                           ("school educat univers", "education"),
                           ("hospital health clinic", "health"),
                           ("public government administr", "public")):
            if any(w in v for w in words.split()):
                return use
        return "other"
    return None


def nonnegative(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f if math.isfinite(f) and f >= 0 else 0.0
