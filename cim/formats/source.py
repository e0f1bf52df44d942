"""An input file as the readers see it: path, first bytes for sniffing, gzip / bzip2 undone;
and the matching writer helper (a ``.gz`` or ``.bz2`` name is compressed)."""

from __future__ import annotations

import bz2
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from ..errors import FormatError

HEAD_BYTES = 65536
#: compression suffix -> magic bytes of the compressed stream
COMPRESSIONS = {".gz": b"\x1f\x8b", ".bz2": b"BZh"}


def strip_compression(name: str) -> str:
    """Return the file name ``name`` without a trailing ``.gz`` / ``.bz2`` (any case)."""
    low = name.lower()
    for suffix in COMPRESSIONS:
        if low.endswith(suffix):
            return name[: -len(suffix)]
    return name


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path``: gzipped (mtime 0) for a ``.gz`` name, bzip2 for ``.bz2``,
    plain otherwise, so that identical data gives identical files. Returns ``path``."""
    low = path.name.lower()
    if low.endswith(".gz"):
        with open(path, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh,
                                                     mtime=0) as gz:
            gz.write(data)
    elif low.endswith(".bz2"):
        path.write_bytes(bz2.compress(data))
    else:
        path.write_bytes(data)
    return path


def _opener(compression: str | None):
    return {"gz": gzip.open, "bz2": bz2.open}.get(compression, open)


@dataclass
class Source:
    """An input file: ``path`` (as given), transparently gunzipped / bunzipped (by content,
    not by name); ``head`` = first decompressed bytes; ``compression`` "gz", "bz2" or None."""

    path: Path
    head: bytes
    compression: str | None

    @classmethod
    def open_path(cls, path) -> Source:
        p = Path(path)
        if not p.exists():
            raise FormatError("file not found", path=p)
        if p.is_dir():
            raise FormatError("is a directory, expected a file", path=p)
        try:
            with open(p, "rb") as f:
                magic = f.read(3)
            compression = next((s[1:] for s, m in COMPRESSIONS.items()
                                if magic.startswith(m)), None)
            with _opener(compression)(p, "rb") as f:
                head = f.read(HEAD_BYTES)
        except (OSError, EOFError, ValueError) as e:
            raise FormatError(f"cannot read: {e}", path=p) from None
        return cls(p, head, compression)

    @property
    def compressed(self) -> bool:
        return self.compression is not None

    @property
    def name(self) -> str:
        """File name without a trailing .gz / .bz2, lower case (for extension matching)."""
        return strip_compression(self.path.name.lower())

    def open(self) -> io.BufferedIOBase:
        """Return a binary stream of the (decompressed) content."""
        return _opener(self.compression)(self.path, "rb")

    def read_bytes(self) -> bytes:
        try:
            with self.open() as f:
                return f.read()
        except (OSError, EOFError, ValueError) as e:
            raise FormatError(f"cannot read: {e}", path=self.path) from None

    def read_text(self) -> str:
        """Return the (decompressed) content as text: UTF-8, else Latin-1 (old text formats
        — EPANET, SWMM — are often written in a local 8-bit code page)."""
        data = self.read_bytes()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
