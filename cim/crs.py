"""Reference systems: resolve the names files use (EPSG codes, OGC URLs/URNs, WKT) with pyproj."""

from __future__ import annotations

import re

import pyproj

from .errors import CRSError

_OGC_URL = re.compile(r"opengis\.net/def/crs/(\w+)/[^/]*/(\w+)", re.I)
_URN = re.compile(r"urn:ogc:def:crs:(\w+):[^:]*:(\w+)", re.I)


def resolve_crs(ref, *, path=None) -> pyproj.CRS:
    """Return the pyproj.CRS named by ``ref``: a pyproj.CRS, an int EPSG code, "EPSG:4549",
    an OGC URL (``https://www.opengis.net/def/crs/EPSG/0/4549``), an OGC URN
    (``urn:ogc:def:crs:EPSG::4549``), a CityGML srsName or WKT. Raises CRSError otherwise."""
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
