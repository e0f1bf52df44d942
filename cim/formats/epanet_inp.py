"""EPANET 2.2 input files (``.inp``) → ``city.water_network`` (SI), and back.

Every section of EPANET 2.2 is read: the network ([JUNCTIONS] [RESERVOIRS] [TANKS] [PIPES]
[PUMPS] [VALVES] [DEMANDS] [EMITTERS] [STATUS] [PATTERNS] [CURVES]), its operation
([CONTROLS] [RULES] [OPTIONS] [TIMES]) and map ([COORDINATES] [VERTICES]); [TITLE] goes to
``title``; water quality, energy and display sections ([QUALITY] [REACTIONS] [SOURCES]
[MIXING] [ENERGY] [REPORT] [TAGS] [LABELS] [BACKDROP]) are kept verbatim in ``sections``.

Units: all values are converted to SI once, here (see :mod:`._inp_units`; the non-standard
flow code ``SI`` means LPS, as in EPANET 2.0.12). Curves get their kind from their use (pump
HEAD → "pump", tank → "volume", GPV → "headloss", [ENERGY] EFFIC → "efficiency"), else from the
``;TYPE:`` comment line above their first point (as EPANET's GUI writes it), else "generic"
(values kept as written).

Geometry: nodes without [COORDINATES] get NaN x/y; a link's polyline is its start node, its
[VERTICES], its end node. The model has no reference system (``crs`` None).

Isolation valves: a sidecar ``<stem>.valves.csv`` next to the file (header ``link,node``, one
valve per row, ids) is read into ``isolation_valves``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ..errors import CIMError, FormatError, LoadReport, Problems, ReferenceError_
from ..model import CityModel
from ..model.water import WaterNetwork
from ._inp_controls import parse_controls, parse_rules
from ._inp_options import flow_units_of, parse_options, parse_times
from ._inp_parse import VERBATIM_SECTIONS, split_sections, valves_sidecar_path
from ._inp_read import InpBuilder
from ._inp_write import write_inp
from .source import Source

_SNIFF = re.compile(rb"^\s*\[(TITLE|JUNCTIONS|RESERVOIRS|TANKS|PIPES|PUMPS|VALVES|OPTIONS)\]",
                    re.IGNORECASE | re.MULTILINE)


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` has an EPANET section header ([TITLE], [JUNCTIONS]…)."""
    return _SNIFF.search(head[:16384]) is not None


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return a CityModel holding ``water_network`` read from the .inp ``source``."""
    path = source.path
    text = source.read_text()
    report = LoadReport(files=[str(path)])
    problems = Problems(path, lenient, report)
    net = parse(text, problems)
    net.isolation_valves = read_valves_sidecar(path, net, problems)
    return CityModel(water_network=net, crs=None, report=report,
                     metadata={"source_format": "EPANET INP",
                               "title": " ".join(net.title)})


def parse(text: str, problems) -> WaterNetwork:
    """Return the WaterNetwork of .inp ``text``; errors go through ``problems``."""
    sections, order = split_sections(text, problems)
    opt_lines = sections.get("OPTIONS", [])
    declared = flow_units_of(opt_lines, problems)
    options, units, raw_options = parse_options(opt_lines, problems, declared)
    times, raw_times = parse_times(sections.get("TIMES", []), problems)
    b = InpBuilder(sections, problems, units, options, order)
    b.build()
    default = options["pattern"]
    if default is not None and default not in b.patterns:
        if default != "1":
            problems.report.notes.append(f"{problems.path}: default pattern {default!r} is not "
                                         "defined: demands without a pattern are constant")
        options["pattern"] = None
    if options["pattern"] is None and "1" in b.patterns:
        options["pattern"] = "1"
    node_cols = b.node_columns()
    link_cols = b.link_columns(node_cols["node_xy"])
    verbatim = {}
    for name in VERBATIM_SECTIONS:
        if name in sections:
            verbatim[name] = [ln.raw for ln in sections[name]]
    if raw_options:
        verbatim["OPTIONS"] = raw_options
    if raw_times:
        verbatim["TIMES"] = raw_times
    title = [ln.raw.strip() for ln in sections.get("TITLE", [])]
    return WaterNetwork(
        **node_cols, **link_cols, demands=b.demand_table(),
        patterns={k: np.asarray(v, float) for k, v in b.patterns.items()},
        curves=b.curves, controls=parse_controls(sections.get("CONTROLS", []), b, problems),
        rules=parse_rules(sections.get("RULES", []), b, problems), options=options,
        times=times, sections=verbatim, title=title)


def read_valves_sidecar(path, net: WaterNetwork, problems) -> np.ndarray:
    """Return the (k, 2) int64 (link, node) rows of the valves sidecar of ``path`` (empty
    when there is none). Unknown ids are ReferenceErrors naming the csv and its line."""
    side = valves_sidecar_path(path)
    rows = np.zeros((0, 2), np.int64)
    if not side.is_file():
        return rows
    lm, nm = net.id_maps()["water_link"], net.id_maps()["water_node"]
    out = []
    sp = Problems(side, problems.lenient, problems.report)
    with open(side, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:2] != ["link", "node"]:
            sp.handle(FormatError(f"header must be 'link,node', got {','.join(header)!r}",
                                  line=1))
            return rows
        for no, rec in enumerate(reader, start=2):
            if not rec or not "".join(rec).strip():
                continue
            try:
                if len(rec) < 2:
                    raise FormatError("expected 'link,node'")
                link, node = rec[0].strip(), rec[1].strip()
                if link not in lm:
                    raise ReferenceError_(f"valve on undefined link {link!r}", obj_id=link)
                if node not in nm:
                    raise ReferenceError_(f"valve at undefined node {node!r}", obj_id=link)
                k, i = lm[link], nm[node]
                if i not in (net.link_from[k], net.link_to[k]):
                    raise ReferenceError_(f"node {node!r} is not an end of link {link!r}",
                                          obj_id=link)
                out.append((k, i))
            except CIMError as e:
                sp.handle(e, line=no)
    return np.asarray(out, np.int64).reshape(-1, 2)


def write(city, path, *, units: str | None = "LPS") -> Path:
    """Write the water network of ``city`` (a CityModel or a WaterNetwork) as an EPANET
    .inp in flow ``units`` (any EPANET code; None: the network's original units) and return
    the path; a ``<stem>.valves.csv`` sidecar is written when there are isolation valves."""
    net = city.water_network if isinstance(city, CityModel) else city
    if net is None:
        raise CIMError("the city model has no water network to write")
    return write_inp(net, Path(path), units=units)
