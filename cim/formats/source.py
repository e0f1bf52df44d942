"""An input file as the readers see it: path, first bytes for sniffing, gzip undone."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from ..errors import FormatError

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
