"""EPANET [OPTIONS] and [TIMES] → SI ``options`` / ``times`` dicts (see
:data:`cim.model.water.DEFAULT_OPTIONS`, :data:`~cim.model.water.DEFAULT_TIMES`).

Keywords match by prefix as EPANET's ``match()`` does ("Units", "UNITS", "Unit" alike).
Options that do not concern hydraulics (QUALITY, DIFFUSIVITY, TOLERANCE, MAP, PRESSURE units…)
are kept verbatim and written back."""

from __future__ import annotations

from ..errors import FormatError, ValueRangeError
from ..model.water import DEFAULT_OPTIONS, DEFAULT_TIMES
from ._inp_parse import hours, keyword, seconds
from ._inp_units import Units, flow_code, viscosity_relative

#: options kept verbatim (first-token prefixes)
_RAW_OPTIONS = ("QUAL", "DIFF", "TOLER", "MAP", "HYDRAU", "VERIFY", "SEGM", "HTOL", "QTOL",
                "RQTOL", "BACKFLOW")
#: numeric options: (prefix, key, index of the value token, conversion kind)
_NUMERIC = (
    ("SPECIFIC", "specific_gravity", 2, None), ("EMITTER", "emitter_exponent", 2, None),
    ("MINIMUM", "minimum_pressure", 2, "pressure"),
    ("REQUIRED", "required_pressure", 2, "pressure"),
    ("VISC", "viscosity", 1, "viscosity"), ("TRIAL", "trials", 1, "int"),
    ("ACCU", "accuracy", 1, None), ("CHECKFREQ", "checkfreq", 1, "int"),
    ("MAXCHECK", "maxcheck", 1, "int"), ("DAMPLIMIT", "damplimit", 1, None),
    ("HEADERROR", "headerror", 1, "length"), ("FLOWCHANGE", "flowchange", 1, "flow"),
)
_TIME_KEYS = (("DURA", None, "duration"), ("HYDRAU", None, "hydraulic_step"),
              ("QUAL", None, "quality_step"), ("RULE", None, "rule_step"),
              ("PATT", "TIME", "pattern_step"), ("PATT", "STAR", "pattern_start"),
              ("REPO", "TIME", "report_step"), ("REPO", "STAR", "report_start"),
              ("STAR", None, "start_clocktime"))
STATISTICS = {"NONE": "none", "NO": "none", "AVERAGE": "average", "AVG": "average",
              "MIN": "minimum", "MAX": "maximum", "RANGE": "range"}


def flow_units_of(lines, problems) -> str:
    """Return the flow unit code set by the [OPTIONS] lines (GPM when none is given, as in
    EPANET)."""
    code = "GPM"
    for ln in lines:
        t = ln.tokens
        if t and keyword(t[0], "UNIT") and len(t) >= 2:
            c = flow_code(t[1])
            if c is None:
                problems.handle(FormatError(f"unknown flow units {t[1]!r} (expected CFS GPM "
                                            "MGD IMGD AFD LPS LPM MLD CMH CMD)", line=ln.no,
                                            obj_id="UNITS"))
            else:
                code = c
    return code


def parse_options(lines, problems, declared: str) -> tuple[dict, Units, list]:
    """Return (options dict SI, Units, verbatim lines) of the [OPTIONS] ``lines``;
    ``declared`` is the flow unit code as written (e.g. "SI")."""
    units = Units(declared)
    opts = dict(DEFAULT_OPTIONS)
    opts["flow_units"] = units.code
    raw: list[str] = []
    for ln in lines:
        t = ln.tokens
        if not t:
            continue
        try:
            _option(ln, t, opts, units, raw)
        except (FormatError, ValueRangeError) as e:
            problems.handle(e, obj_id=e.obj_id or t[0].upper(), line=ln.no)
    if opts["required_pressure"] < opts["minimum_pressure"]:
        problems.handle(ValueRangeError(
            "REQUIRED PRESSURE must not be below MINIMUM PRESSURE", obj_id="REQUIRED PRESSURE"))
    return opts, units, raw


def _option(ln, t, opts, units, raw) -> None:
    k0 = t[0].upper()
    what = " ".join(t[:2]).upper()
    if keyword(k0, "UNIT"):
        return
    if any(keyword(k0, p) for p in _RAW_OPTIONS):
        raw.append(ln.raw)
        return
    if keyword(k0, "HEADL"):
        ln.need(2, "HEADLOSS H-W|D-W|C-M", obj_id="HEADLOSS")
        v = t[1].upper()
        if v not in ("H-W", "D-W", "C-M"):
            raise FormatError(f"unknown headloss formula {t[1]!r}", obj_id="HEADLOSS")
        opts["headloss"] = v
        return
    if keyword(k0, "UNBAL"):
        ln.need(2, "UNBALANCED STOP|CONTINUE [n]", obj_id="UNBALANCED")
        if keyword(t[1], "STOP"):
            opts["unbalanced"] = "stop"
        elif keyword(t[1], "CONT"):
            n = int(ln.num(2, "UNBALANCED CONTINUE", "UNBALANCED")) if len(t) > 2 else 0
            opts["unbalanced"] = f"continue {n}"
        else:
            raise FormatError(f"UNBALANCED {t[1]!r}: expected STOP or CONTINUE")
        return
    if keyword(k0, "PATT"):
        if len(t) >= 2:
            opts["pattern"] = t[1]
        return
    if keyword(k0, "DEMAND") and len(t) >= 2 and keyword(t[1], "MODEL"):
        ln.need(3, "DEMAND MODEL DDA|PDA", obj_id="DEMAND MODEL")
        v = t[2].upper()
        if v not in ("DDA", "PDA"):
            raise FormatError(f"unknown demand model {t[2]!r} (expected DDA or PDA)")
        opts["demand_model"] = v
        return
    if keyword(k0, "DEMAND"):
        if len(t) >= 3:
            opts["demand_multiplier"] = _positive(ln, 2, "DEMAND MULTIPLIER")
        return
    if keyword(k0, "PRESS"):
        if len(t) >= 2 and keyword(t[1], "EXP"):
            if len(t) >= 3:
                opts["pressure_exponent"] = _positive(ln, 2, "PRESSURE EXPONENT")
        else:
            raw.append(ln.raw)   # pressure reporting units
        return
    for prefix, key, k, kind in _NUMERIC:
        if keyword(k0, prefix):
            if len(t) <= k:
                return
            v = ln.num(k, what, what)
            if v < 0 or (v == 0 and kind in ("int", "viscosity")):
                raise ValueRangeError(f"{what} = {v:g} must be > 0")
            opts[key] = _convert(v, kind, units)
            return
    raise FormatError(f"unknown option {' '.join(t)!r}", obj_id=k0)


def _positive(ln, k, what) -> float:
    v = ln.num(k, what, what)
    if v <= 0:
        raise ValueRangeError(f"{what} = {v:g} must be > 0", obj_id=what)
    return v


def _convert(v, kind, units):
    if kind == "int":
        return int(v)
    if kind == "pressure":
        return v * units.pressure
    if kind == "length":
        return v * units.length
    if kind == "flow":
        return v * units.flow
    if kind == "viscosity":
        return viscosity_relative(v, units)
    return v


def parse_times(lines, problems) -> tuple[dict, list]:
    """Return (times dict in s, verbatim lines of keys not modelled) of [TIMES] ``lines``."""
    times = dict(DEFAULT_TIMES)
    raw: list[str] = []
    for ln in lines:
        t = ln.tokens
        if not t:
            continue
        what = " ".join(t[:2]) if len(t) > 2 and hours(t[1]) is None else t[0]
        try:
            ln.need(2, "<keyword> <value>", obj_id=what)
            if keyword(t[0], "STAT"):
                v = STATISTICS.get(t[-1].upper())
                if v is None:
                    raise FormatError(f"unknown statistic {t[-1]!r}")
                times["statistic"] = v
                continue
            if keyword(t[0], "MINIMUM"):
                raw.append(ln.raw)
                continue
            key = next((k for p0, p1, k in _TIME_KEYS if keyword(t[0], p0)
                        and (p1 is None or keyword(t[1], p1))), None)
            if key is None:
                raise FormatError(f"unknown time option {what!r}")
            s = seconds(t[1:], what, line=ln.no, obj_id=what)
            times[key] = s % 86400.0 if key == "start_clocktime" else s
        except (FormatError, ValueRangeError) as e:
            problems.handle(e, obj_id=what, line=ln.no)
    return times, raw
