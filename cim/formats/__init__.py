"""File formats: one module per format, each exposing ``sniff(head, name) -> bool`` and
``read(source, *, lenient) -> CityModel`` (and, where it writes, ``write(city, path)``), all
registered in :data:`FORMATS`, which :func:`cim.load` dispatches on: content first (``sniff``
on the first decompressed bytes), then the file name's extension."""

from __future__ import annotations

from importlib import import_module

from ..errors import FormatError
from .source import HEAD_BYTES, Source

__all__ = ["FORMATS", "HEAD_BYTES", "Source", "module", "detect"]

#: format name -> (module, file-name endings); order matters for sniffing.
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cityjsonseq": ("cim.formats.cityjsonseq", (".city.jsonl", ".jsonl")),
    "cityjson": ("cim.formats.cityjson", (".city.json", ".cityjson")),
    "geojson": ("cim.formats.geojson", (".geojson",)),
    "sumo_net": ("cim.formats.sumo_net", (".net.xml", ".add.xml")),
    "citygml": ("cim.formats.citygml", (".gml", ".citygml", ".xml")),
    "osm": ("cim.formats.osm", (".osm",)),
    "esri_ascii": ("cim.formats.esri_ascii", (".asc",)),
    "swmm": ("cim.formats.swmm_inp", (".inp",)),  # before epanet: sniffs SWMM-only marks
    "epanet": ("cim.formats.epanet_inp", (".inp",)),
    "matpower": ("cim.formats.matpower", (".m",)),
    "pandapower_json": ("cim.formats.pandapower_json", (".json",)),
}


def module(fmt: str):
    """Return the reader module of format ``fmt``."""
    return import_module(FORMATS[fmt][0])


def detect(source: Source) -> str:
    """Return the format name of ``source``: by content, else by extension; FormatError if
    neither tells."""
    for fmt in FORMATS:
        try:
            mod = module(fmt)
        except ImportError:
            continue
        if mod.sniff(source.head, source.name):
            return fmt
    for fmt, (_, endings) in FORMATS.items():
        if source.name.endswith(endings):
            return fmt
    raise FormatError("unknown file format (expected CityJSON, CityJSONSeq, CityGML, GeoJSON, "
                      "OSM XML, a SUMO .net.xml, an ESRI ASCII grid, an EPANET or SWMM .inp, a MATPOWER "
                      "case .m or a "
                      "pandapower JSON network)", path=source.path)
