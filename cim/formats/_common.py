"""Row collectors shared by the readers: buildings, areas and sites are gathered one object at
a time here and packed into the struct-of-arrays tables of :mod:`cim.model` at the end."""

from __future__ import annotations

import math

import numpy as np
import pyproj

from ..crs import area_factor
from ..errors import ValueRangeError
from ..geometry import PolygonSetBuilder
from ..model import Areas, Attributes, Buildings, Sites, _obj

#: Storey height (m) used to estimate storeys from a height, or a height from storeys.
STOREY_HEIGHT_M = 3.0


def ring_signed_area(ring: np.ndarray) -> float:
    """Return the shoelace area (m², CCW positive) of an open (n, >=2) ring."""
    x = ring[:, 0] - ring[0, 0]
    y = ring[:, 1] - ring[0, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def oriented_footprint(rings: list[np.ndarray]) -> list[np.ndarray]:
    """Return x/y rings of one polygon with the exterior CCW and the holes CW."""
    out = []
    for k, r in enumerate(rings):
        r = np.asarray(r, float)[:, :2]
        a = ring_signed_area(r)
        if (k == 0 and a < 0) or (k > 0 and a > 0):
            r = r[::-1]
        out.append(r)
    return out


def polygon_area(rings: list[np.ndarray]) -> float:
    """Return the planimetric area (m²) of a polygon: exterior minus holes."""
    a = abs(ring_signed_area(rings[0]))
    return a - sum(abs(ring_signed_area(h)) for h in rings[1:])


def estimate_storeys(height: float) -> int:
    """Return storeys estimated from a height (m): height / 3 m, at least 1."""
    if not math.isfinite(height) or height <= 0:
        return 1
    return max(1, int(round(height / STOREY_HEIGHT_M)))


def floor_area(footprint: list[list[np.ndarray]], height: float, storeys: int) -> float:
    """Return the gross floor area estimate (m²): footprint area × storeys (storeys from the
    height when unknown, i.e. ``storeys < 0``)."""
    area = sum(polygon_area(p) for p in footprint)
    n = storeys if storeys >= 0 else estimate_storeys(height)
    return area * max(n, 1)


class BuildingRows:
    """Collects buildings one by one; :meth:`build` returns a :class:`cim.model.Buildings`."""

    def __init__(self, crs=None):
        self.crs = crs  # estimated floor areas in m² (footprints in degrees too)
        self.ids: list[str] = []
        self.footprint = PolygonSetBuilder(2)
        self.surfaces = PolygonSetBuilder(3)
        self.cols: dict[str, list] = {k: [] for k in (
            "base", "roof", "storeys", "use", "floor_area", "residents", "jobs", "lod",
            "parts")}
        self.attributes: list[dict] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, obj_id: str, footprint: list[list[np.ndarray]], base: float, roof: float, *,
            storeys: int = -1, use: str = "other", floor_area_m2: float | None = None,
            residents: float = 0.0, jobs: float = 0.0, lod: float = 1.0,
            surfaces: list[tuple[list[np.ndarray], int]] | None = None,
            attributes: dict | None = None, parts=None) -> None:
        """Add one building: ``footprint`` a list of polygons (lists of x/y rings, exterior
        first), heights in m, ``surfaces`` a list of (3D rings, surface code)."""
        if floor_area_m2 is None:
            floor_area_m2 = floor_area(footprint, roof - base, storeys)
            if self.crs is not None and footprint:
                lat = float(footprint[0][0][0, 1]) if self.crs.is_geographic else None
                floor_area_m2 *= float(area_factor(self.crs, lat))
        self.ids.append(obj_id)
        self.footprint.add_object([oriented_footprint(p) for p in footprint])
        surfaces = surfaces or []
        self.surfaces.add_object([r for r, _ in surfaces], [s for _, s in surfaces])
        c = self.cols
        c["base"].append(float(base))
        c["roof"].append(float(roof))
        c["storeys"].append(int(storeys))
        c["use"].append(use or "other")
        c["floor_area"].append(float(floor_area_m2))
        c["residents"].append(float(residents))
        c["jobs"].append(float(jobs))
        c["lod"].append(float(lod))
        c["parts"].append(None if not parts else tuple(parts))
        self.attributes.append(attributes or {})

    def build(self) -> Buildings:
        c = self.cols
        return Buildings(
            ids=_obj(self.ids), footprint=self.footprint.build(),
            base_height=np.asarray(c["base"], float), roof_height=np.asarray(c["roof"], float),
            storeys=np.asarray(c["storeys"], np.int32), use=_obj(c["use"]),
            floor_area=np.asarray(c["floor_area"], float),
            residents=np.asarray(c["residents"], float), jobs=np.asarray(c["jobs"], float),
            lod=np.asarray(c["lod"], np.float32), surfaces=self.surfaces.build(),
            attributes=Attributes.from_dicts(self.attributes), parts=_obj(c["parts"]))


class AreaRows:
    """Collects areal objects (water bodies, land-use zones) for an :class:`Areas` table."""

    def __init__(self):
        self.ids: list[str] = []
        self.kind: list[str] = []
        self.name: list[str] = []
        self.polygons = PolygonSetBuilder(3)
        self.attributes: list[dict] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, obj_id: str, kind: str, name: str, polygons: list[list[np.ndarray]],
            attributes: dict | None = None) -> None:
        """Add one area; ``polygons`` lists of rings (x/y or x/y/z; z = 0 when absent)."""
        self.ids.append(obj_id)
        self.kind.append(kind)
        self.name.append(name or "")
        self.polygons.add_object(polygons)
        self.attributes.append(attributes or {})

    def build(self) -> Areas:
        return Areas(_obj(self.ids), _obj(self.kind), _obj(self.name), self.polygons.build(),
                     Attributes.from_dicts(self.attributes))


class SiteRows:
    """Collects point sites for a :class:`Sites` table."""

    def __init__(self):
        self.ids: list[str] = []
        self.kind: list[str] = []
        self.name: list[str] = []
        self.xyz: list[tuple[float, float, float]] = []
        self.capacity: list[float] = []
        self.attributes: list[dict] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, obj_id: str, kind: str, name: str, xyz, capacity: float = math.nan,
            attributes: dict | None = None) -> None:
        x, y, *z = (float(v) for v in xyz)
        self.ids.append(obj_id)
        self.kind.append(kind)
        self.name.append(name or "")
        self.xyz.append((x, y, z[0] if z else 0.0))
        self.capacity.append(float(capacity))
        self.attributes.append(attributes or {})

    def build(self) -> Sites:
        return Sites(_obj(self.ids), _obj(self.kind), _obj(self.name),
                     np.asarray(self.xyz, float).reshape(-1, 3),
                     np.asarray(self.capacity, float), Attributes.from_dicts(self.attributes))


# ---- tag parsing shared by the GeoJSON and OSM readers ---------------------------------

_LENGTH_UNITS = {"": 1.0, "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
                 "km": 1000.0, "ft": 0.3048, "feet": 0.3048, "'": 0.3048}
_USE_WORDS = (
    ("residential", "residential house apartments detached semidetached_house terrace "
                    "dormitory bungalow dwelling housing"),
    ("office", "office"),
    ("commercial", "commercial retail shop supermarket mall hotel kiosk"),
    ("industrial", "industrial warehouse factory manufacture"),
    ("education", "school university college kindergarten education"),
    ("health", "hospital clinic health"),
    ("public", "public civic government townhall fire_station police train_station "
               "transportation"),
)


def parse_number(value, what: str, *, minimum: float | None = 0.0) -> float | None:
    """Return ``value`` as a float (None when absent). Strings may carry a length unit
    ("12 m", "40 ft"). Raises ValueRangeError when it is not a finite number or below
    ``minimum``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueRangeError(f"{what} = {value!r} is not a number")
    if isinstance(value, (int, float)):
        v = float(value)
    else:
        s = str(value).strip().lower().replace(",", ".")
        num = s.rstrip("abcdefghijklmnopqrstuvwxyz' ")
        unit = s[len(num):].strip()
        try:
            v = float(num) * _LENGTH_UNITS[unit]
        except (ValueError, KeyError):
            raise ValueRangeError(f"{what} = {value!r} is not a number") from None
    if not math.isfinite(v) or (minimum is not None and v < minimum):
        raise ValueRangeError(f"{what} = {value!r} is not valid"
                              + ("" if minimum is None else f" (must be >= {minimum:g})"))
    return v


def use_from_tags(*values) -> str:
    """Return the use class named by the first tag value that says one (OSM ``building``
    values, ``building:use``, plain words), else "other"."""
    for v in values:
        if not isinstance(v, str) or v.lower() in ("", "yes", "no"):
            continue
        v = v.lower()
        for use, words in _USE_WORDS:
            if any(w in v for w in words.split()):
                return use
        return "other"
    return "other"


def extrusion(height=None, levels=None, min_height=None, base_height=None):
    """Return (base m, roof m, storeys, height_source) of a LoD1 building from OSM-style
    tags: ``height`` the top above ground (``min_height`` the bottom), or ``levels`` × 3 m;
    ``base_height`` an elevation added to both. One 3 m storey when nothing is given."""
    offset = base_height or 0.0
    bottom = min_height or 0.0
    storeys = -1 if levels is None else int(round(levels))
    if height is not None:
        top, source = height, "height"
    elif levels is not None:
        top, source = bottom + levels * STOREY_HEIGHT_M, "levels"
    else:
        top, source = bottom + STOREY_HEIGHT_M, "default"
    if top < bottom:
        raise ValueRangeError(f"height {top:g} m is below min_height {bottom:g} m")
    return offset + bottom, offset + top, storeys, source


def geodesic_length(xy: np.ndarray) -> float:
    """Return the WGS84 geodesic length (m) of an (n, 2) lon/lat polyline."""
    return float(_GEOD.line_length(xy[:, 0], xy[:, 1]))


_GEOD = pyproj.Geod(ellps="WGS84")
