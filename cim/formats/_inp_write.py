"""A :class:`cim.model.water.WaterNetwork` (SI) → an EPANET 2.2 .inp file in any flow units.

Every section the reader fills is written back: the network, demands (junctions with several
categories or named categories go to [DEMANDS]), initial statuses, patterns, curves (with a
``;KIND:`` comment line, so that unused curves keep their kind), controls, rules, options,
times, coordinates and vertices; the verbatim sections (quality, energy, report, map) as they
were read. Numbers are written with 12 significant digits.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..errors import CIMError
from ..model.water import VALVE_TYPES, WaterNetwork
from ._inp_controls import format_control, format_rule
from ._inp_parse import format_time, valves_sidecar_path
from ._inp_units import Units

_CURVE_HEADS = {"pump": "PUMP", "efficiency": "EFFICIENCY", "volume": "VOLUME",
                "headloss": "HEADLOSS"}
_STATISTIC = {"none": "NONE", "average": "AVERAGE", "minimum": "MINIMUM", "maximum": "MAXIMUM",
              "range": "RANGE"}


def write_inp(net: WaterNetwork, path: Path, *, units: str | None = "LPS") -> Path:
    """Write ``net`` to ``path`` in flow ``units`` (None: ``net.options["flow_units"]``);
    return ``path``. A ``<stem>.valves.csv`` sidecar holds the isolation valves, if any."""
    code = net.options.get("flow_units", "LPS") if units is None else units
    try:
        u = Units(code)
    except KeyError:
        raise CIMError(f"unknown EPANET flow units {code!r}", path=path) from None
    changed_system = Units(net.options.get("flow_units", "LPS")).us != u.us
    out: list[str] = []

    def section(name, lines):
        out.append(f"[{name}]")
        out.extend(lines)
        out.append("")

    section("TITLE", list(net.title))
    j_lines, d_lines = _junctions(net, u)
    section("JUNCTIONS", j_lines)
    section("RESERVOIRS", [_row(net.node_ids[i], _n(net.node_elevation[i] / u.length),
                                net.node_pattern[i] or "")
                           for i in net.nodes_of("reservoir")])
    section("TANKS", _tanks(net, u))
    link_sections = {"PIPES": (_pipes, ("pipe",)), "PUMPS": (_pumps, ("pump",)),
                     "VALVES": (_valves, VALVE_TYPES)}

    def first(name):   # link sections in the order of the links (EPANET numbers them so)
        idx = net.links_of(*link_sections[name][1])
        return idx[0] if len(idx) else net.n_links

    for name in sorted(link_sections, key=first):
        section(name, link_sections[name][0](net, u))
    section("DEMANDS", d_lines)
    section("STATUS", _status(net))
    section("PATTERNS", _patterns(net))
    section("CURVES", _curves(net, u))
    section("CONTROLS", [format_control(c, net, u) for c in net.controls])
    rules: list[str] = []
    for r in net.rules:
        rules += format_rule(r, net, u) + [""]
    section("RULES", rules)
    section("EMITTERS", [_row(net.node_ids[i], _n(net.node_emitter[i] / u.emitter(
        net.options["emitter_exponent"]))) for i in np.flatnonzero(net.node_emitter)])
    for name in ("ENERGY", "QUALITY", "SOURCES", "REACTIONS", "MIXING", "TAGS"):
        if name in net.sections:
            section(name, net.sections[name])
    section("TIMES", _times(net))
    if "REPORT" in net.sections:
        section("REPORT", net.sections["REPORT"])
    section("OPTIONS", _options(net, u, changed_system))
    section("COORDINATES", [_row(net.node_ids[i], _n(x), _n(y))
                            for i, (x, y) in enumerate(net.node_xy)
                            if math.isfinite(x) and math.isfinite(y)])
    section("VERTICES", _vertices(net))
    for name in ("LABELS", "BACKDROP"):
        if name in net.sections:
            section(name, net.sections[name])
    out.append("[END]")
    path = Path(path)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    if len(net.isolation_valves):
        with open(valves_sidecar_path(path), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["link", "node"])
            for k, i in net.isolation_valves:
                w.writerow([net.link_ids[k], net.node_ids[i]])
    return path


def _n(v) -> str:
    """A number with 12 significant digits."""
    return f"{float(v):.12g}"


def _id(s) -> str:
    s = str(s)
    return f'"{s}"' if (not s or any(c.isspace() for c in s) or ";" in s) else s


def _row(*fields) -> str:
    return " ".join(_id(f) if k == 0 else str(f) for k, f in enumerate(fields)).rstrip()


def _junctions(net, u):
    d = net.demands
    by_node: dict[int, list[int]] = {}
    for r, i in enumerate(d.node):
        by_node.setdefault(int(i), []).append(r)
    j_lines, d_lines = [], []
    for i in net.nodes_of("junction"):
        rows = by_node.get(int(i), [])
        elev = _n(net.node_elevation[i] / u.length)
        if len(rows) == 1 and not d.category[rows[0]]:
            r = rows[0]
            j_lines.append(_row(net.node_ids[i], elev, _n(d.base[r] / u.flow),
                                _id(d.pattern[r]) if d.pattern[r] else ""))
            continue
        j_lines.append(_row(net.node_ids[i], elev, "0"))
        for r in rows:
            line = _row(net.node_ids[i], _n(d.base[r] / u.flow),
                        _id(d.pattern[r]) if d.pattern[r] else "")
            if d.category[r]:
                line += f" ;{d.category[r]}"
            d_lines.append(line)
    return j_lines, d_lines


def _tanks(net, u):
    out = []
    for i in net.nodes_of("tank"):
        f = [_n(v / u.length) for v in (net.node_elevation[i], net.node_init_level[i],
                                        net.node_min_level[i], net.node_max_level[i],
                                        net.node_diameter[i])]
        minvol = net.node_min_volume[i]
        f.append(_n((0.0 if not math.isfinite(minvol) else minvol) / u.volume))
        curve = net.node_volume_curve[i]
        if curve or net.node_overflow[i]:
            f.append(_id(curve) if curve else "*")
        if net.node_overflow[i]:
            f.append("YES")
        out.append(_row(net.node_ids[i], *f))
    return out


def _pipes(net, u):
    rf = u.roughness(net.options["headloss"])
    out = []
    for k in net.links_of("pipe"):
        st = {"open": "Open", "closed": "Open", "cv": "CV"}[net.link_status[k] or "open"]
        out.append(_row(net.link_ids[k], _id(net.node_ids[net.link_from[k]]),
                        _id(net.node_ids[net.link_to[k]]), _n(net.link_length[k] / u.length),
                        _n(net.link_diameter[k] / u.diameter), _n(net.link_roughness[k] / rf),
                        _n(net.link_minor_loss[k]), st))
    return out


def _pumps(net, u):
    out = []
    for k in net.links_of("pump"):
        f = []
        if net.link_curve[k]:
            f += ["HEAD", _id(net.link_curve[k])]
        if math.isfinite(net.link_power[k]):
            f += ["POWER", _n(net.link_power[k] / u.power)]
        s = net.link_setting[k]
        if math.isfinite(s) and s != 1.0:
            f += ["SPEED", _n(s)]
        if net.link_pattern[k]:
            f += ["PATTERN", _id(net.link_pattern[k])]
        out.append(_row(net.link_ids[k], _id(net.node_ids[net.link_from[k]]),
                        _id(net.node_ids[net.link_to[k]]), *f))
    return out


def _valves(net, u):
    out = []
    for k in net.links_of(*VALVE_TYPES):
        vt = net.link_type[k]
        if vt == "gpv":
            setting = _id(net.link_curve[k])
        else:
            s = net.link_setting[k]
            setting = _n((0.0 if not math.isfinite(s) else s) / u.setting(vt))
        out.append(_row(net.link_ids[k], _id(net.node_ids[net.link_from[k]]),
                        _id(net.node_ids[net.link_to[k]]), _n(net.link_diameter[k] / u.diameter),
                        vt.upper(), setting, _n(net.link_minor_loss[k])))
    return out


def _status(net):
    out = []
    for k, (t, s) in enumerate(zip(net.link_type, net.link_status)):
        if t in ("pipe", "pump") and s == "closed":
            out.append(_row(net.link_ids[k], "Closed"))
        elif t in VALVE_TYPES and s in ("open", "closed"):
            out.append(_row(net.link_ids[k], s.capitalize()))
    return out


def _patterns(net):
    out = []
    for name, mult in net.patterns.items():
        vals = [_n(v) for v in mult] or ["1"]
        for s in range(0, len(vals), 8):
            out.append(_row(name, *vals[s:s + 8]))
    return out


def _curves(net, u):
    out = []
    for name, c in net.curves.items():
        fx, fy = u.curve(c.kind)
        if c.kind in _CURVE_HEADS:
            out.append(f";{_CURVE_HEADS[c.kind]}: {name}")
        for x, y in zip(c.x, c.y):
            out.append(_row(name, _n(x / fx), _n(y / fy)))
    return out


def _times(net):
    t = net.times
    keys = (("Duration", "duration"), ("Hydraulic Timestep", "hydraulic_step"),
            ("Quality Timestep", "quality_step"), ("Rule Timestep", "rule_step"),
            ("Pattern Timestep", "pattern_step"), ("Pattern Start", "pattern_start"),
            ("Report Timestep", "report_step"), ("Report Start", "report_start"),
            ("Start ClockTime", "start_clocktime"))
    out = [f"{k:20s} {format_time(t[v])}" for k, v in keys]
    out.append(f"{'Statistic':20s} {_STATISTIC.get(t.get('statistic', 'none'), 'NONE')}")
    return out + list(net.sections.get("TIMES", []))


def _options(net, u, changed_system):
    o = net.options
    p = u.pressure
    lines = [("Units", u.code), ("Headloss", o["headloss"]),
             ("Specific Gravity", _n(o["specific_gravity"])), ("Viscosity", _n(o["viscosity"])),
             ("Trials", str(int(o["trials"]))), ("Accuracy", _n(o["accuracy"])),
             ("CHECKFREQ", str(int(o["checkfreq"]))), ("MAXCHECK", str(int(o["maxcheck"]))),
             ("DAMPLIMIT", _n(o["damplimit"])), ("HEADERROR", _n(o["headerror"] / u.length)),
             ("FLOWCHANGE", _n(o["flowchange"] / u.flow)),
             ("Unbalanced", o["unbalanced"].upper()),
             ("Demand Multiplier", _n(o["demand_multiplier"])),
             ("Emitter Exponent", _n(o["emitter_exponent"])),
             ("Demand Model", o["demand_model"]),
             ("Minimum Pressure", _n(o["minimum_pressure"] / p)),
             ("Required Pressure", _n(o["required_pressure"] / p)),
             ("Pressure Exponent", _n(o["pressure_exponent"]))]
    if o.get("pattern"):
        lines.append(("Pattern", _id(o["pattern"])))
    out = [f"{k:20s} {v}" for k, v in lines]
    for raw in net.sections.get("OPTIONS", []):
        # pressure reporting units belong to the original unit system
        if changed_system and raw.split()[0].upper().startswith("PRESS"):
            continue
        out.append(raw)
    return out


def _vertices(net):
    out = []
    off = net.geometry_offsets
    for k in range(net.n_links):
        pts = net.geometry_xy[off[k] + 1:off[k + 1] - 1]
        for x, y in pts:
            out.append(_row(net.link_ids[k], _n(x), _n(y)))
    return out
