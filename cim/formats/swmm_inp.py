"""SWMM 5 input files (``.inp``) → ``city.drainage`` (SI), and back.

Modelled sections (SI columns of :class:`cim.model.drainage.DrainageNetwork`): [JUNCTIONS]
[OUTFALLS] [STORAGE] [DIVIDERS] [CONDUITS] [PUMPS] [ORIFICES] [WEIRS] [OUTLETS] [XSECTIONS]
[LOSSES] [COORDINATES] [VERTICES] [SUBCATCHMENTS] [SUBAREAS] [POLYGONS], [OPTIONS] and
[TITLE]; [INFLOWS] (FLOW) and inline [TIMESERIES] are parsed for the solver and also kept
verbatim with every other section (rain gauges, infiltration, curves, controls, quality…),
so that a read → write round trip runs identically in SWMM. Pump/orifice/weir/outlet and
divider parameters are kept as written.

Units: the file's FLOW_UNITS (default CFS) fixes its unit system (CFS/GPM/MGD: US, ft,
acres; CMS/LPS/MLD: SI, m, hectares); everything is converted to SI on load and back on
write (the original flow units are kept, so verbatim sections stay valid).

Detection: a SWMM file has a section EPANET does not know ([CONDUITS], [SUBCATCHMENTS],
[OUTFALLS], [XSECTIONS], [RAINGAGES], [STORAGE], [SUBAREAS]…) or FLOW_UNITS in [OPTIONS]
(EPANET says UNITS); "swmm" is sniffed before "epanet".

Inlets: the street-inlet capture of each node (not a SWMM section) lives in a sidecar
``<stem>.inlets.csv`` (header ``node,capacity_m3s,inlets``).

Coordinates: the file has no reference system (``crs`` None).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ..errors import CIMError, FormatError, LoadReport, Problems, ReferenceError_
from ..model import CityModel
from ..model.drainage import DrainageNetwork
from ._swmm_parse import (
    FLOW_FACTORS,
    MODELLED,
    Units,
    inlets_sidecar_path,
    parse_timeseries,
    split_sections,
    start_days,
)
from ._swmm_read import SwmmBuilder
from ._swmm_write import write_swmm
from .source import Source

_SNIFF = re.compile(rb"^\s*\[(CONDUITS|SUBCATCHMENTS|OUTFALLS|XSECTIONS|RAINGAGES|STORAGE|"
                    rb"SUBAREAS|ORIFICES|WEIRS|DIVIDERS|TRANSECTS|INFILTRATION)\]|"
                    rb"^\s*FLOW_UNITS\s", re.IGNORECASE | re.MULTILINE)


def sniff(head: bytes, name: str) -> bool:
    """True when ``head`` has a section only SWMM has, or a FLOW_UNITS option."""
    return _SNIFF.search(head[:65536]) is not None


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return a CityModel holding ``drainage`` read from the SWMM .inp ``source``."""
    path = source.path
    text = source.read_text()
    report = LoadReport(files=[str(path)])
    problems = Problems(path, lenient, report)
    net = parse(text, problems)
    read_inlets(path, net, problems)
    return CityModel(drainage=net, crs=None, report=report,
                     metadata={"source_format": "SWMM INP", "title": " ".join(net.title)})


def parse_options(lines, problems) -> dict:
    """Return {KEY: value} of [OPTIONS] (values as written, dates and times joined)."""
    out = {}
    for ln in lines:
        if len(ln.tokens) < 2:
            problems.handle(FormatError("option without a value", line=ln.no,
                                        obj_id=ln.tokens[0] if ln.tokens else None))
            continue
        out[ln.tokens[0].upper()] = " ".join(ln.tokens[1:])
    return out


def parse(text: str, problems) -> DrainageNetwork:
    """Return the DrainageNetwork of SWMM .inp ``text``; errors go through ``problems``."""
    sections, order = split_sections(text, problems)
    options = parse_options(sections.get("OPTIONS", []), problems)
    code = options.get("FLOW_UNITS", "CFS").upper()
    if code not in FLOW_FACTORS:
        ln = next((x for x in sections.get("OPTIONS", []) if x.tokens[0].upper() ==
                   "FLOW_UNITS"), None)
        problems.handle(FormatError(f"unknown FLOW_UNITS {code!r} (expected "
                                    f"{', '.join(FLOW_FACTORS)})", line=ln and ln.no,
                                    obj_id="FLOW_UNITS"))
        code = "CFS"
    units = Units(code)
    b = SwmmBuilder(sections, problems, units, options)
    b.build()
    nodes = b.node_columns()
    links = b.link_columns(nodes)
    index = {k: i for i, k in enumerate(nodes["node_ids"])}
    verbatim = {k: [ln.raw for ln in v] for k, v in sections.items() if k not in MODELLED}
    ts = parse_timeseries(sections.get("TIMESERIES", []), problems, start_days(options))
    return DrainageNetwork(
        **nodes, **links, subcatchments=b.subcatchments(), inflows=b.inflows(index),
        timeseries={k: (np.asarray(t, float), np.asarray(v, float)) for k, (t, v) in ts.items()},
        options=options, flow_units=code, sections=verbatim,
        title=[ln.raw.strip() for ln in sections.get("TITLE", [])], order=order)


def read_inlets(path, net: DrainageNetwork, problems) -> None:
    """Fill ``node_inlet_capacity``/``node_inlets`` from the inlets sidecar of ``path``
    (nothing when there is none); unknown nodes are ReferenceErrors naming the csv line."""
    side = inlets_sidecar_path(path)
    if not side.is_file():
        return
    index = net.id_maps()["drainage_node"]
    sp = Problems(side, problems.lenient, problems.report)
    with open(side, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:3] != ["node", "capacity_m3s", "inlets"]:
            sp.handle(FormatError("header must be 'node,capacity_m3s,inlets', got "
                                  f"{','.join(header)!r}", line=1))
            return
        for no, rec in enumerate(reader, start=2):
            if not rec or not "".join(rec).strip():
                continue
            try:
                if len(rec) < 3:
                    raise FormatError("expected 'node,capacity_m3s,inlets'")
                node = rec[0].strip()
                if node not in index:
                    raise ReferenceError_(f"inlet at undefined node {node!r}", obj_id=node)
                try:
                    cap, cnt = float(rec[1]), int(rec[2])
                except ValueError:
                    raise FormatError(f"bad capacity/count {rec[1]!r}, {rec[2]!r}",
                                      obj_id=node) from None
                if not (np.isfinite(cap) and cap >= 0 and cnt >= 0):
                    raise FormatError(f"capacity {cap} m³/s and count {cnt} must be ≥ 0",
                                      obj_id=node)
                net.node_inlet_capacity[index[node]] = cap
                net.node_inlets[index[node]] = cnt
            except CIMError as e:
                sp.handle(e, line=no)


def write(city, path) -> Path:
    """Write the drainage network of ``city`` (a CityModel or a DrainageNetwork) as a SWMM 5
    .inp in its flow units (``<stem>.inlets.csv`` too when it has inlets); return the path."""
    net = city.drainage if isinstance(city, CityModel) else city
    if net is None:
        raise CIMError("the city model has no drainage network to write")
    return write_swmm(net, Path(path))
