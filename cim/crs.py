"""Reference systems: resolve the names files use (EPSG codes, OGC URLs/URNs, WKT) with pyproj."""

from __future__ import annotations

import math
import re

import numpy as np
import pyproj

from .errors import CRSError

_OGC_URL = re.compile(r"opengis\.net/def/crs/(\w+)/[^/]*/(\w+)", re.I)
_URN = re.compile(r"urn:ogc:def:crs:(\w+):[^:]*:(\w+)", re.I)


def resolve_crs(ref, *, path=None) -> pyproj.CRS:
    """Return the pyproj.CRS named by ``ref``: a pyproj.CRS, an int EPSG code, "EPSG:4549",
    an OGC URL (``https://www.opengis.net/def/crs/EPSG/0/4549``), an OGC URN
    (``urn:ogc:def:crs:EPSG::4549``), an AdV name (``urn:adv:crs:DE_DHDN_3GK4*DE_DHHN92_NH``,
    see :data:`ADV_CODES`), a CityGML srsName or WKT. Raises CRSError otherwise."""
    if isinstance(ref, pyproj.CRS):
        return ref
    if isinstance(ref, int):
        ref = f"EPSG:{ref}"
    if not isinstance(ref, str) or not ref.strip():
        raise CRSError(f"reference system {ref!r} is not a name", path=path)
    s = ref.strip()
    m = _OGC_URL.search(s) or _URN.search(s)
    if m:
        auth, code = m.group(1).upper(), m.group(2)
        s = "OGC:CRS84" if (auth == "OGC" and code.upper() == "CRS84") else f"{auth}:{code}"
    elif s.upper().startswith("EPSG::"):
        s = "EPSG:" + s[6:]
    elif s.lower().startswith("urn:adv:crs:"):
        s = _adv(s) or s
    try:
        return pyproj.CRS.from_user_input(s)
    except pyproj.exceptions.CRSError as e:
        raise CRSError(f"reference system {ref!r} cannot be resolved ({e})", path=path) from None


def crs_url(crs: pyproj.CRS) -> str:
    """Return the OGC URL CityJSON uses for ``crs`` (EPSG code required)."""
    code = crs.to_epsg()
    if code is None:
        raise CRSError(f"reference system {crs.name!r} has no EPSG code; CityJSON needs one")
    return f"https://www.opengis.net/def/crs/EPSG/0/{code}"


WGS84 = pyproj.CRS("EPSG:4326")


# ---- AdV (German state surveying) names ---------------------------------------------------
#: AdV CRS names (``urn:adv:crs:<horizontal>[*<vertical>]``) -> EPSG codes. The Gauss-Krüger
#: zones map to the (E-N) variants: AdV data is written easting first.
ADV_CODES = {
    "DE_DHDN_3GK2": 5676, "DE_DHDN_3GK3": 5677, "DE_DHDN_3GK4": 5678, "DE_DHDN_3GK5": 5679,
    "ETRS89_UTM31": 25831, "ETRS89_UTM32": 25832, "ETRS89_UTM33": 25833,
    "DE_DHHN92_NH": 5783, "DE_DHN92_NH": 5783, "DE_DHHN2016_NH": 7837, "DE_DHHN12_NH": 7699,
    "DE_DHHN2016": 7837, "DE_DHHN92": 5783,
}
_ADV = re.compile(r"^urn:adv:crs:([\w*]+)$", re.I)


def _adv(s: str) -> str | None:
    """Return "EPSG:h(+v)" for an AdV CRS name, None when ``s`` is not one we know."""
    m = _ADV.match(s)
    if not m:
        return None
    parts = [ADV_CODES.get(p.upper()) for p in m.group(1).split("*")]
    if not parts or len(parts) > 2 or None in parts:
        return None
    return "+".join(f"EPSG:{c}" if k == 0 else str(c) for k, c in enumerate(parts))


# ---- axis order and units ------------------------------------------------------------------
_R_EARTH_M = 6371008.8
_M_PER_DEG = _R_EARTH_M * math.pi / 180.0


def _horizontal(crs: pyproj.CRS) -> pyproj.CRS:
    return crs.sub_crs_list[0] if crs.is_compound and crs.sub_crs_list else crs


def north_first(crs: pyproj.CRS | None) -> bool:
    """Return True when the CRS's first axis points north/south (latitude or northing first,
    e.g. EPSG:4326, EPSG:6697, EPSG:4549)."""
    if crs is None:
        return False
    axes = _horizontal(crs).axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def _plausible(crs: pyproj.CRS, x: float, y: float) -> bool:
    """Return True when (x = easting/longitude, y = northing/latitude) lies in (near) the
    CRS's area of use."""
    h = _horizontal(crs)
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    try:
        if h.is_geographic:
            lon, lat = x, y
        else:
            tr = pyproj.Transformer.from_crs(h, h.geodetic_crs, always_xy=True)
            lon, lat = tr.transform(x, y, errcheck=True)
    except Exception:  # noqa: BLE001 - pyproj raises several types for out-of-domain points
        return False
    if not (math.isfinite(lon) and math.isfinite(lat) and abs(lat) <= 90 and abs(lon) <= 360):
        return False
    aou = h.area_of_use
    if aou is None:
        return True
    w, s, e, n = aou.bounds
    lon = (lon - w) % 360.0 + w if e - w < 360 else lon
    return w - 2.0 <= lon <= max(e, w) + 2.0 and s - 2.0 <= lat <= n + 2.0


def swap_xy(crs: pyproj.CRS | None, x: float, y: float, *, declared: bool) -> bool:
    """Return True when coordinates read as (first, second) = (``x``, ``y``) must be swapped
    to the model's east-first order.

    ``declared``: the format writes coordinates in the CRS's own axis order (GML); then a
    latitude-first geographic CRS swaps unless the data plainly is longitude-first. Otherwise
    (CityJSON, GeoJSON: x/y order by definition), or for a northing-first projected CRS (data
    is written easting first in practice), the coordinates are swapped only when they fall
    outside the CRS's area of use as they are and inside it swapped. ``x``, ``y``: a sample
    point (e.g. the median vertex)."""
    if crs is None or not north_first(crs):
        return False
    as_is, swapped = _plausible(crs, x, y), _plausible(crs, y, x)
    if declared and _horizontal(crs).is_geographic:
        return swapped or not as_is
    return swapped and not as_is


def area_factor(crs: pyproj.CRS | None, lat=None):
    """Return m² per squared CRS unit (horizontal): the unit factors squared for a projected
    CRS, (R·π/180)²·cos(lat) for degrees at latitude ``lat`` (the equator's when None; array
    in, array out), 1 without a CRS."""
    if crs is None:
        return 1.0
    h = _horizontal(crs)
    axes = h.axis_info[:2]
    f = [a.unit_conversion_factor for a in axes] if len(axes) == 2 else [1.0, 1.0]
    if h.is_geographic:
        deg = [fi / (math.pi / 180.0) for fi in f]  # 1.0 for degrees
        c = 1.0 if lat is None else np.cos(np.radians(np.clip(lat, -90.0, 90.0)))
        return (_M_PER_DEG ** 2) * deg[0] * deg[1] * c
    return f[0] * f[1]


def metre_area_tol(crs: pyproj.CRS | None, tol_m2: float) -> float:
    """Return the area tolerance ``tol_m2`` (m²) in squared CRS units (the equator's scale for
    degrees: the smallest, safest tolerance)."""
    return tol_m2 / area_factor(crs)
