"""File formats: one module per format, each exposing ``sniff(head, name) -> bool`` and
``read(source, *, lenient) -> CityModel`` (and, where it writes, ``write(city, path)``), all
registered in :data:`FORMATS`, which :func:`cim.load` dispatches on: content first (``sniff``
on the first decompressed bytes), then the file name's extension."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from ..errors import FormatError

#: format name -> (module, file-name endings); order matters for sniffing.
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cityjsonseq": ("cim.formats.cityjsonseq", (".city.jsonl", ".jsonl")),
    "cityjson": ("cim.formats.cityjson", (".city.json", ".cityjson")),
    "geojson": ("cim.formats.geojson", (".geojson",)),
    "citygml": ("cim.formats.citygml", (".gml", ".citygml", ".xml")),
    "osm": ("cim.formats.osm", (".osm",)),
    "esri_ascii": ("cim.formats.esri_ascii", (".asc",)),
}

HEAD_BYTES = 65536


@dataclass
class Source:
    """An input file: ``path`` (as given), transparently gunzipped; ``head`` = first bytes."""

    path: Path
    head: bytes
    compressed: bool

    @classmethod
    def open_path(cls, path) -> Source:
        p = Path(path)
        if not p.exists():
            raise FormatError("file not found", path=p)
        if p.is_dir():
            raise FormatError("is a directory, expected a file", path=p)
        with open(p, "rb") as f:
            magic = f.read(2)
        compressed = magic == b"\x1f\x8b"
        try:
            with (gzip.open(p, "rb") if compressed else open(p, "rb")) as f:
                head = f.read(HEAD_BYTES)
        except (OSError, EOFError) as e:
            raise FormatError(f"cannot read: {e}", path=p) from None
        return cls(p, head, compressed)

    @property
    def name(self) -> str:
        """File name without a trailing .gz, lower case (for extension matching)."""
        n = self.path.name.lower()
        return n[:-3] if n.endswith(".gz") else n

    def open(self) -> io.BufferedIOBase:
        """Return a binary stream of the (decompressed) content."""
        return gzip.open(self.path, "rb") if self.compressed else open(self.path, "rb")

    def read_bytes(self) -> bytes:
        try:
            with self.open() as f:
                return f.read()
        except (OSError, EOFError) as e:
            raise FormatError(f"cannot read: {e}", path=self.path) from None


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
                      "OSM XML or an ESRI ASCII grid)", path=source.path)
