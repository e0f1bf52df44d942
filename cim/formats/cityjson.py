"""CityJSON 1.0/1.1/2.0 (``.city.json``): reader and writer.

Reading: the whole document is parsed once (:func:`json.loads`), the transform is applied to
the whole vertex array at once, and the objects' boundaries are flattened into index buffers
that :mod:`._cjbuild` turns into the model's tables with numpy (see :mod:`._cjcollect`); the
root members are read by :mod:`._cjheader`, shared with the CityJSONSeq reader.

Writing: a valid CityJSON 2.0 file — quantized, deduplicated vertices (scale 1 mm, or 1e-9°
for geographic CRSs), buildings as LoD1 Solids extruded from their footprint (or their LoD2
surfaces with semantics), the road network per the convention of :mod:`cim.roads`, water
bodies, land use, sites (``GenericCityObject`` + ``site_kind``) and other objects; identical
models give identical bytes (gzip with mtime 0 for ``.gz`` names). The writer lives in
:mod:`._cjwrite`; only the road network of the model's networks is written so far.
"""

from __future__ import annotations

import re

from ..errors import LoadReport, SchemaError
from ..model import CityModel
from ._cjbuild import build_tables
from ._cjcollect import Collector
from ._cjheader import (
    EXTRA_KEY,
    NO_CRS_NOTE,
    ROOT_MEMBERS,
    VERSIONS,
    check_header,
    crs_of,
    east_first,
    is_sequence,
    metadata_of,
    parse_json,
    templates_of,
    transform_of,
    vertices_of,
)
from ._cjutil import no_gc
from ._cjwrite import write

__all__ = ["sniff", "read", "read_document", "write", "parse_json", "check_header",
           "transform_of", "vertices_of", "crs_of", "metadata_of", "templates_of",
           "EXTRA_KEY", "ROOT_MEMBERS", "VERSIONS", "NO_CRS_NOTE"]

_TYPE_CITYJSON = re.compile(rb'"type"\s*:\s*"CityJSON"')


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` looks like a CityJSON document (a JSON object with
    ``"type": "CityJSON"`` or a ``CityObjects`` member near its start)."""
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not h.startswith(b"{") or is_sequence(head, name):
        return False
    return bool(_TYPE_CITYJSON.search(h)) or b'"CityObjects"' in h


def read(source, *, lenient: bool = False) -> CityModel:
    """Return the CityModel of a CityJSON file (``source``: a :class:`cim.formats.Source`)."""
    with no_gc():
        doc = parse_json(source.read_bytes(), source.path)
        return read_document(doc, source.path, lenient=lenient)


def read_document(doc, path, *, lenient: bool = False) -> CityModel:
    """Return the CityModel of a parsed CityJSON document."""
    report = LoadReport(files=[str(path)])
    check_header(doc, path)
    objects = doc.get("CityObjects")
    if not isinstance(objects, dict):
        raise SchemaError("the document has no CityObjects object", path=path)
    crs = crs_of(doc, path, report)
    transform = transform_of(doc, path)
    c = Collector(path, lenient, report)
    c.crs = crs
    block = c.add_block(vertices_of(doc.get("vertices"), transform, path))
    templates = templates_of(doc, c, path, transform)
    east_first(c, crs, [block] + ([templates[1]] if templates else []), report)
    c.add_objects(objects, block, templates)
    return CityModel(**build_tables(c), crs=crs, metadata=metadata_of(doc), report=report)
