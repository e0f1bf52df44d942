"""cim — what the city is: the typed city information model and its readers/writers.

Public API::

    city = cim.load("a.city.json", "roads.osm", lenient=False, crs=None)
    city = cim.load_district("lihu")          # or "liangxi"; cim.districts() lists them
    cim.write_cityjson(city, "out.city.json")
"""

from __future__ import annotations

from pathlib import Path

from .crs import resolve_crs
from .districts import districts, load_district
from .errors import (
    CIMError,
    CRSError,
    FormatError,
    GeometryError,
    LoadReport,
    MissingReferenceError,
    SchemaError,
    ValueRangeError,
)
from .formats import Source, detect, module
from .geometry import PolygonSet
from .model import (
    LOCAL_CRS,
    Areas,
    Attributes,
    Buildings,
    CityModel,
    CityObjects,
    RoadNetwork,
    Sites,
    Terrain,
)

__all__ = [
    "load", "load_district", "districts", "write_cityjson", "detect_format",
    "CityModel", "Buildings", "RoadNetwork", "Areas", "Sites", "CityObjects", "Terrain",
    "Attributes", "PolygonSet", "LoadReport", "LOCAL_CRS",
    "CIMError", "FormatError", "SchemaError", "GeometryError", "ValueRangeError",
    "MissingReferenceError", "CRSError",
]


def detect_format(path) -> str:
    """Return the format name of the file at ``path`` (content first, then extension)."""
    return detect(Source.open_path(path))


def load(*paths, lenient: bool = False, crs=None) -> CityModel:
    """Return one CityModel read from ``paths`` (any mix of supported formats, .gz allowed).

    lenient : bool
        False (default): the first bad object raises a CIMError naming file, object and
        problem. True: bad objects are skipped and listed in ``city.report``.
    crs : str | int | pyproj.CRS | None
        Transform the result to this CRS (e.g. "EPSG:4549"); None keeps the first file's.
    """
    if not paths:
        raise CIMError("cim.load needs at least one file")
    models = []
    for p in paths:
        src = Source.open_path(p)
        fmt = detect(src)
        m = module(fmt).read(src, lenient=lenient)
        m.report.files = [str(p)] if not m.report.files else m.report.files
        m.metadata.setdefault("formats", [])
        m.metadata["formats"] = list(m.metadata["formats"]) + [fmt]
        models.append(m)
    city = CityModel.merge(models)
    if crs is not None:
        city = city.to_crs(resolve_crs(crs))
    city.report.counts.update({k: v for k, v in city.summary().items()
                               if isinstance(v, int)})
    return city


def write_cityjson(city: CityModel, path, *, version: str = "2.0") -> Path:
    """Write ``city`` as a CityJSON 2.0 file (``.gz`` name → gzip) and return its path."""
    return module("cityjson").write(city, Path(path), version=version)
