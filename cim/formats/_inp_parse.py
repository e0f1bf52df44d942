"""Low-level EPANET .inp parsing: lines into sections, tokens, numbers and times.

Every line keeps its 1-based number so that errors name it. Tokens are split on white space;
a ``"quoted token"`` may hold blanks; ``;`` starts a comment (kept: [DEMANDS] names its
categories in it, [CURVES] its curve type).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import FormatError
from .source import strip_compression

#: sections whose data become the model
DATA_SECTIONS = ("TITLE", "JUNCTIONS", "RESERVOIRS", "TANKS", "PIPES", "PUMPS", "VALVES",
                 "DEMANDS", "PATTERNS", "CURVES", "EMITTERS", "STATUS", "CONTROLS", "RULES",
                 "OPTIONS", "TIMES", "COORDINATES", "VERTICES")
#: sections kept verbatim (not simulated here) and written back as they were
VERBATIM_SECTIONS = ("ENERGY", "QUALITY", "REACTIONS", "SOURCES", "MIXING", "REPORT", "TAGS",
                     "LABELS", "BACKDROP")
SECTIONS = DATA_SECTIONS + VERBATIM_SECTIONS + ("END",)

_TOKEN = re.compile(r'"[^"]*"|[^\s"]+')


@dataclass
class Line:
    """One non-blank line of a section: ``no`` 1-based line number, ``tokens`` (comment
    removed), ``comment`` (text after ``;``, stripped, or ""), ``raw`` (the line)."""

    no: int
    tokens: list
    comment: str
    raw: str

    def need(self, n: int, form: str, obj_id=None) -> None:
        """FormatError unless the line has at least ``n`` fields (``form`` says which)."""
        if len(self.tokens) < n:
            raise FormatError(f"too few fields ({len(self.tokens)}); expected {form}",
                              line=self.no, obj_id=obj_id)

    def num(self, k: int, what: str, obj_id=None) -> float:
        """Return field ``k`` as a float; FormatError naming ``what`` when it is not one."""
        return number(self.tokens[k], what, line=self.no, obj_id=obj_id)


def number(token: str, what: str, *, line=None, obj_id=None) -> float:
    """Return ``token`` as a finite float, else FormatError."""
    try:
        v = float(token)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise FormatError(f"{what} {token!r} is not a number", line=line, obj_id=obj_id)
    return v


def split_line(text: str) -> tuple[list[str], str]:
    """Return (tokens, comment) of one line."""
    body, sep, comment = text.partition(";")
    toks = [t[1:-1] if t.startswith('"') else t for t in _TOKEN.findall(body)]
    return toks, comment.strip() if sep else ""


def split_sections(text: str, problems) -> tuple[dict, list]:
    """Return ({section name: [Line]}, [(section name, header line number)]) of a file.

    Lines before the first header go nowhere; a repeated section (two [REACTIONS]) is
    joined. An unknown section is a FormatError naming it and its line (lenient: skipped
    whole)."""
    sections: dict[str, list[Line]] = {}
    order: list = []
    current = None
    for no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s:
            continue
        if s.startswith("["):
            name = s[1:].split("]", 1)[0].strip().upper()
            if name not in SECTIONS:
                problems.handle(FormatError(f"unknown section [{name}]", line=no,
                                            obj_id=name))
                current = None
                continue
            if name == "END":
                break
            current = name
            sections.setdefault(name, [])
            order.append((name, no))
            continue
        if current is None:
            continue
        toks, comment = split_line(raw)
        sections[current].append(Line(no, toks, comment, raw.rstrip("\r\n")))
    return sections, order


def keyword(token: str, prefix: str) -> bool:
    """EPANET's ``match``: True when ``token`` starts with ``prefix``, ignoring case."""
    return token.upper().startswith(prefix.upper())


def hours(token: str, unit: str = "") -> float | None:
    """Return the hours of a time written as EPANET's ``hour()`` reads it, or None.

    ``token`` is decimal hours or ``H:MM`` / ``H:MM:SS``; ``unit`` (may be "") is SEC, MIN,
    HOURS, DAYS (decimal times only) or AM / PM (12 AM is midnight, 12 PM noon)."""
    parts = token.split(":")
    if len(parts) > 3:
        return None
    try:
        y = [float(p) for p in parts]
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in y):
        return None
    u = unit.upper()
    if len(y) == 1 and u:
        for prefix, f in (("SEC", 1 / 3600), ("MIN", 1 / 60), ("HOU", 1.0), ("DAY", 24.0)):
            if u.startswith(prefix):
                return y[0] * f
    h = y[0] + (y[1] / 60.0 if len(y) > 1 else 0.0) + (y[2] / 3600.0 if len(y) > 2 else 0.0)
    if not u:
        return h
    if u.startswith("AM") or u.startswith("PM"):
        if h >= 13.0:
            return None
        if u.startswith("AM"):
            return h - 12.0 if h >= 12.0 else h
        return h if h >= 12.0 else h + 12.0
    return None


def seconds(tokens: list[str], what: str, *, line=None, obj_id=None) -> float:
    """Return the time in s written by the last one or two of ``tokens`` (EPANET's
    [TIMES] rule: the last token alone, else the last two as value and unit)."""
    if not tokens:
        raise FormatError(f"{what}: missing time", line=line, obj_id=obj_id)
    h = hours(tokens[-1])
    if h is None and len(tokens) >= 2:
        h = hours(tokens[-2], tokens[-1])
    if h is None or h < 0:
        shown = tokens[-2:] if tokens[-1].isalpha() else tokens[-1:]
        raise FormatError(f"{what}: bad time {' '.join(shown)!r} (expected hours, "
                          "H:MM[:SS], a value with SEC/MIN/HOURS/DAYS, or a clock time with "
                          "AM/PM)", line=line, obj_id=obj_id)
    return round(3600.0 * h, 6)


def format_time(s: float) -> str:
    """Return ``s`` seconds as EPANET's H:MM:SS (fractions of a second as decimal hours)."""
    if abs(s - round(s)) > 1e-9:
        return repr(s / 3600.0)
    s = int(round(s))
    return f"{s // 3600}:{(s % 3600) // 60:02d}:{s % 60:02d}"


def valves_sidecar_path(path) -> Path:
    """Return ``<stem>.valves.csv`` next to the .inp ``path`` (``x.inp`` / ``x.inp.gz`` / ``x.inp.bz2``)."""
    p = Path(path)
    name = strip_compression(p.name)
    if name.lower().endswith(".inp"):
        name = name[:-4]
    return p.with_name(name + ".valves.csv")
