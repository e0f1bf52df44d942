"""Typed errors of the city information model and the load report.

Every error names the file, the object id (where there is one), the line or byte offset (where
the format has one) and what is wrong, so that ``str(err)`` is one readable line.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class CIMError(Exception):
    """Base class of every error raised while reading, checking or writing city models.

    Attributes: ``path`` (file), ``obj_id`` (city object id or None), ``line`` (1-based line or
    None), ``offset`` (byte/char offset or None), ``reason`` (what is wrong).
    """

    kind = "error"

    def __init__(self, reason: str, *, path=None, obj_id=None, line=None, offset=None):
        self.reason = str(reason)
        self.path = None if path is None else str(path)
        self.obj_id = obj_id
        self.line = line
        self.offset = offset
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        elif self.offset is not None:
            where += f" (offset {self.offset})"
        if self.obj_id is not None:
            where += f" [{self.obj_id}]"
        return f"{where}: {self.kind}: {self.reason}"

    def located(self, *, path=None, obj_id=None, line=None):
        """Return a copy of this error with missing location fields filled in."""
        return type(self)(
            self.reason,
            path=self.path or path,
            obj_id=self.obj_id if self.obj_id is not None else obj_id,
            line=self.line if self.line is not None else line,
            offset=self.offset,
        )


class FormatError(CIMError):
    """The file is not what it claims to be: malformed JSON/XML, unknown format, wrong version."""

    kind = "malformed file"


class SchemaError(CIMError):
    """The file parses but an object breaks the format's rules (missing type, wrong members)."""

    kind = "invalid object"


class GeometryError(CIMError):
    """Bad geometry: vertex index out of range, unclosed or self-intersecting ring, NaN."""

    kind = "invalid geometry"


class ValueRangeError(CIMError):
    """An attribute has an absurd value: negative height, negative lanes, NaN."""

    kind = "invalid value"


class ReferenceError_(CIMError):
    """A referenced object (parent, child, template, node, feature root) does not exist."""

    kind = "missing reference"


class CRSError(CIMError):
    """A coordinate reference system that cannot be resolved or transformed."""

    kind = "unknown CRS"


# Public alias with a readable name; the trailing underscore avoids shadowing the builtin.
MissingReferenceError = ReferenceError_


@dataclass
class LoadReport:
    """What a load did: files read, objects kept, and (lenient mode) what was skipped and why.

    ``skipped`` is a list of the errors that were skipped; ``notes`` are informational lines
    (e.g. "no reference system: loaded in file coordinates").
    """

    files: list[str] = field(default_factory=list)
    skipped: list[CIMError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def skipped_by_kind(self) -> dict[str, int]:
        """Return {error kind: number skipped}."""
        out: dict[str, int] = {}
        for e in self.skipped:
            out[e.kind] = out.get(e.kind, 0) + 1
        return out

    def merge(self, other: LoadReport) -> None:
        self.files += other.files
        self.skipped += other.skipped
        self.notes += other.notes
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v

    def __str__(self) -> str:
        lines = [f"files: {', '.join(self.files) or '-'}"]
        lines += [f"{k}: {v}" for k, v in sorted(self.counts.items())]
        lines += [f"note: {n}" for n in self.notes]
        if self.skipped:
            lines.append(f"skipped {self.n_skipped}: {self.skipped_by_kind()}")
            lines += [f"  {e}" for e in self.skipped[:20]]
        return "\n".join(lines)


class Problems:
    """Collects errors during a read: raises at once (strict) or records them (lenient)."""

    def __init__(self, path, lenient: bool, report: LoadReport):
        self.path = str(path)
        self.lenient = lenient
        self.report = report

    def handle(self, err: CIMError, obj_id=None, line=None) -> None:
        """Raise ``err`` (strict) or record it as skipped (lenient)."""
        err = err.located(path=self.path, obj_id=obj_id, line=line)
        if not self.lenient:
            raise err
        self.report.skipped.append(err)
