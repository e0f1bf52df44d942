"""Low-level SWMM 5 .inp parsing: sections, tokens, unit systems and times.

Lines keep their 1-based number so that errors name it; ``;`` starts a comment, ``"…"``
quotes a token (as SWMM 5 reads them). Unit systems (SWMM 5 user manual, Table D-2): the flow
units CFS, GPM, MGD are US customary (lengths ft, areas acres, ponded/storage areas ft²); CMS,
LPS, MLD are SI (m, hectares, m²). The model keeps SI only.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import FormatError
from ._inp_parse import Line, split_line
from .source import strip_compression

#: every SWMM 5.2 section
SECTIONS = (
    "TITLE", "OPTIONS", "REPORT", "FILES", "RAINGAGES", "HYDROGRAPHS", "EVAPORATION",
    "TEMPERATURE", "ADJUSTMENTS", "SUBCATCHMENTS", "SUBAREAS", "INFILTRATION", "LID_CONTROLS",
    "LID_USAGE", "AQUIFERS", "GROUNDWATER", "GWF", "SNOWPACKS", "JUNCTIONS", "OUTFALLS",
    "DIVIDERS", "STORAGE", "CONDUITS", "PUMPS", "ORIFICES", "WEIRS", "OUTLETS", "XSECTIONS",
    "TRANSECTS", "STREETS", "INLETS", "INLET_USAGE", "LOSSES", "CONTROLS", "POLLUTANTS",
    "LANDUSES", "COVERAGES", "LOADINGS", "BUILDUP", "WASHOFF", "TREATMENT", "INFLOWS", "DWF",
    "RDII", "PATTERNS", "TIMESERIES", "CURVES", "MAP", "COORDINATES", "VERTICES", "POLYGONS",
    "SYMBOLS", "LABELS", "BACKDROP", "TAGS", "PROFILES", "EVENTS")
#: sections that become model columns (the rest, and INFLOWS/TIMESERIES, are kept verbatim)
MODELLED = ("TITLE", "OPTIONS", "JUNCTIONS", "OUTFALLS", "DIVIDERS", "STORAGE", "CONDUITS",
            "PUMPS", "ORIFICES", "WEIRS", "OUTLETS", "XSECTIONS", "LOSSES", "COORDINATES",
            "VERTICES", "SUBCATCHMENTS", "SUBAREAS", "POLYGONS")

FT = 0.3048
#: flow unit code -> m³/s per unit
FLOW_FACTORS = {"CFS": FT ** 3, "GPM": 0.003785411784 / 60.0,
                "MGD": 1e6 * 0.003785411784 / 86400.0, "CMS": 1.0, "LPS": 1e-3,
                "MLD": 1e3 / 86400.0}
US_UNITS = ("CFS", "GPM", "MGD")


class Units:
    """Factors from the unit system of flow code ``code`` to SI: ``x_SI = x_file * f``."""

    def __init__(self, code: str):
        self.code = code.upper()
        us = self.code in US_UNITS
        self.flow = FLOW_FACTORS[self.code]
        self.length = FT if us else 1.0
        self.area = FT * FT if us else 1.0                   # ponded / storage areas
        self.land = 4046.8564224 if us else 1e4              # subcatchment area: acres / ha
        self.us = us


def split_sections(text: str, problems) -> tuple[dict, list]:
    """Return ({section: [Line]}, [section names in file order]). An unknown section is a
    FormatError naming it and its line (lenient: skipped whole)."""
    sections: dict[str, list[Line]] = {}
    order: list[str] = []
    current = None
    for no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s:
            continue
        if s.startswith("["):
            name = s[1:].split("]", 1)[0].strip().upper()
            if name not in SECTIONS:
                problems.handle(FormatError(f"unknown section [{name}]", line=no, obj_id=name))
                current = None
                continue
            current = name
            if name not in sections:
                sections[name] = []
                order.append(name)
            continue
        if current is None:
            continue
        if current == "TITLE":
            sections[current].append(Line(no, [raw.strip()], "", raw.rstrip("\r\n")))
            continue
        if s.startswith(";"):
            if current in ("TIMESERIES", "CURVES", "CONTROLS"):
                sections[current].append(Line(no, [], s[1:].strip(), raw.rstrip("\r\n")))
            continue
        toks, comment = split_line(raw)
        if toks:
            sections[current].append(Line(no, toks, comment, raw.rstrip("\r\n")))
    return sections, order


def num(line: Line, k: int, what: str, obj_id=None, *, default=None, low=None) -> float:
    """Return field ``k`` of ``line`` as a finite float (``default`` when the field is
    missing and a default is given); ``low``: FormatError below it."""
    if k >= len(line.tokens):
        if default is not None:
            return default
        raise FormatError(f"missing {what}", line=line.no, obj_id=obj_id)
    tok = line.tokens[k]
    try:
        v = float(tok)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise FormatError(f"{what} {tok!r} is not a number", line=line.no, obj_id=obj_id)
    if low is not None and v < low:
        raise FormatError(f"{what} {v:g} is below {low:g}", line=line.no, obj_id=obj_id)
    return v


def hours(token: str) -> float | None:
    """Return the hours of a SWMM time (decimal hours or H:MM[:SS]), or None."""
    parts = token.split(":")
    try:
        y = [float(p) for p in parts]
    except ValueError:
        return None
    if len(y) > 3 or not all(math.isfinite(v) for v in y):
        return None
    return y[0] + (y[1] / 60.0 if len(y) > 1 else 0.0) + (y[2] / 3600.0 if len(y) > 2 else 0.0)


def _date_days(token: str) -> float | None:
    """Days since 1900-01-01 of a SWMM date M/D/Y (or Y-M-D), or None."""
    import datetime as dt

    for fmt in ("%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y"):
        try:
            d = dt.datetime.strptime(token, fmt)
        except ValueError:
            continue
        return float((d - dt.datetime(1900, 1, 1)).days)
    return None


def start_days(options: dict) -> float:
    """Days since 1900-01-01 of the simulation start (START_DATE + START_TIME)."""
    d = _date_days(options.get("START_DATE", "01/01/2004")) or 0.0
    h = hours(options.get("START_TIME", "0:00")) or 0.0
    return d + h / 24.0


def parse_timeseries(lines: list[Line], problems, start: float) -> dict:
    """Return {name: (times s, values)} of the inline [TIMESERIES] (FILE series are left to
    SWMM: skipped here). A date-time is taken relative to ``start`` (days since 1900)."""
    out: dict[str, tuple[list, list]] = {}
    for ln in lines:
        t = ln.tokens
        if not t:
            continue
        name = t[0]
        try:
            if len(t) >= 2 and t[1].upper() == "FILE":
                continue
            k = 1
            ts, vs = out.setdefault(name, ([], []))
            while k < len(t):
                day = _date_days(t[k]) if ("/" in t[k] or "-" in t[k][1:]) else None
                if day is not None:
                    k += 1
                    if k >= len(t):
                        raise FormatError("date without a time", line=ln.no, obj_id=name)
                h = hours(t[k])
                if h is None:
                    raise FormatError(f"bad time {t[k]!r}", line=ln.no, obj_id=name)
                v = num(ln, k + 1, "value", name)
                sec = 3600.0 * h if day is None else ((day - start) * 86400.0 + 3600.0 * h)
                if ts and sec < ts[-1]:
                    raise FormatError(f"time {t[k]} goes backwards", line=ln.no, obj_id=name)
                ts.append(sec)
                vs.append(v)
                k += 2
        except FormatError as e:
            problems.handle(e)
    return out


def fmt(v: float) -> str:
    """Return a number as SWMM reads it back exactly enough (10 significant digits)."""
    if v == 0:
        return "0"
    s = f"{v:.10g}"
    return s


def inlets_sidecar_path(path) -> Path:
    """``<stem>.inlets.csv`` next to ``path`` (``x.inp`` / ``x.inp.gz``)."""
    p = Path(path)
    name = strip_compression(p.name)
    if name.lower().endswith(".inp"):
        name = name[:-4]
    return p.with_name(name + ".inlets.csv")
