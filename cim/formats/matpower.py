"""MATPOWER case files (``.m``) <-> :class:`cim.model.power.PowerGrid`.

Reads the subset of the MATPOWER language that case files use: ``function mpc = caseX``,
assignments ``mpc.<field> = <number> | '<string>' | [ matrix ] | { cell array };`` (version 1
files without the ``mpc.`` prefix too), ``%`` comments, ``...`` continuations, rows separated by
``;`` or newlines, entries by blanks or commas, ``Inf`` / ``NaN``. ``baseMVA``, ``bus``,
``branch``, ``gen`` are used; ``bus_name`` (a cell array of strings) names the buses (their
ids); other fields (``gencost``, ``areas``, ``version``…) are parsed and ignored. The model
conversion is :func:`grid_from_ppc`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import CIMError, FormatError, LoadReport
from ..model import CityModel, PowerGrid
from ._ppc import grid_from_ppc, ppc_from_grid
from .source import Source

__all__ = ["grid_from_ppc", "ppc_from_grid", "parse_case", "read", "sniff", "write"]

_ASSIGN = re.compile(r"^\s*(?:mpc\s*\.\s*)?([A-Za-z_]\w*)\s*=\s*(.*)$", re.S)
_FUNC = re.compile(rb"^\s*function\b[^\n=]*=\s*\w+", re.M)


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` looks like a MATPOWER case (``function mpc`` or
    ``mpc.baseMVA``)."""
    return (b"mpc.baseMVA" in head or re.search(rb"^\s*function\s+mpc\s*=", head, re.M)
            is not None or (name.endswith(".m") and _FUNC.search(head) is not None
                            and b"baseMVA" in head))


def _strip_comment(line: str) -> str:
    """Return ``line`` without its ``%`` comment (a ``%`` inside '…' is kept)."""
    if "%" not in line:
        return line
    quoted = False
    for k, ch in enumerate(line):
        if ch == "'":
            quoted = not quoted
        elif ch == "%" and not quoted:
            return line[:k]
    return line


def _statements(text: str, path):
    """Yield (first line number, statement text) of the case file: comments removed, ``...``
    continuations joined; a statement opened by ``[`` or ``{`` runs to its closing bracket."""
    buf: list[tuple[int, str]] = []
    depth = 0
    cont = False
    for no, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).rstrip()
        joined = cont and bool(buf)
        cont = line.endswith("...")
        if cont:
            line = line[:-3]
        if not line.strip() and not buf:
            continue
        if joined:  # the previous line ended with "...": same row
            buf[-1] = (buf[-1][0], buf[-1][1] + " " + line)
        else:
            buf.append((no, line))
        depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
        if depth < 0:
            raise FormatError("unbalanced ']' or '}'", path=path, line=no)
        if depth == 0 and not cont:
            yield buf
            buf = []
    if depth > 0:
        raise FormatError("matrix or cell array not closed (missing ']' or '}')", path=path,
                          line=buf[0][0])
    if buf:
        yield buf


def _matrix(lines: list[tuple[int, str]], name: str, path) -> np.ndarray:
    """Parse the body of ``[ … ]`` given as (line number, text) pieces into a 2-d array."""
    rows: list[tuple[int, list[str]]] = []
    for no, text in lines:
        for part in text.split(";"):
            toks = part.replace(",", " ").split()
            if toks:
                rows.append((no, toks))
    if not rows:
        return np.zeros((0, 0))
    width = len(rows[0][1])
    for no, toks in rows:
        if len(toks) != width:
            raise FormatError(f"mpc.{name}: row has {len(toks)} columns, the first row has "
                              f"{width}", path=path, line=no)
    flat = [t for _, toks in rows for t in toks]
    try:
        return np.array(flat, dtype=np.float64).reshape(len(rows), width)
    except ValueError:
        for no, toks in rows:
            for t in toks:
                try:
                    float(t)
                except ValueError:
                    raise FormatError(f"mpc.{name}: entry {t!r} is not a number", path=path,
                                      line=no) from None
        raise


def _value(stmt: list[tuple[int, str]], name: str, rhs: str, path):
    """Return the value of one assignment: float, str, 2-d array or list of str."""
    no = stmt[0][0]
    body = rhs.strip().rstrip(";").strip()
    if body.startswith("["):
        pieces = [(no, body)] + stmt[1:]
        joined = [(n, t) for n, t in pieces]
        first_n, first_t = joined[0]
        joined[0] = (first_n, first_t.split("[", 1)[1])
        last_n, last_t = joined[-1]
        if "]" not in last_t:
            raise FormatError(f"mpc.{name}: matrix not closed", path=path, line=last_n)
        joined[-1] = (last_n, last_t.rsplit("]", 1)[0])
        if joined[-1][1].rstrip().endswith("'"):
            raise FormatError(f"mpc.{name}: transposed matrices are not supported", path=path,
                              line=last_n)
        return _matrix(joined, name, path)
    if body.startswith("{"):
        text = " ".join([body] + [t for _, t in stmt[1:]])
        return [v.replace("''", "'") for v in
                re.findall(r"'((?:[^']|'')*)'", text.split("{", 1)[1].rsplit("}", 1)[0])]
    if body.startswith("'"):
        return body.strip("'")
    try:
        return float(body)
    except ValueError:
        return body  # an expression we do not evaluate (ignored unless it is a needed field)


def parse_case(text: str, path=None) -> dict:
    """Return the fields of a MATPOWER case file's text as a dict (``baseMVA`` float,
    ``bus``/``branch``/``gen``/… 2-d arrays, ``bus_name`` list of str); FormatError naming the
    line on a malformed entry."""
    out: dict = {}
    lines_of: dict[str, int] = {}
    for stmt in _statements(text, path):
        first = " ".join(t for _, t in stmt[:1]).strip()
        if not first or first.startswith("function") or first in ("end", "return"):
            continue
        m = _ASSIGN.match(first)
        if m is None:
            raise FormatError(f"not an assignment: {first[:60]!r}", path=path, line=stmt[0][0])
        name, rhs = m.group(1), m.group(2)
        out[name] = _value(stmt, name, rhs, path)
        lines_of[name] = stmt[0][0]
    for key in ("baseMVA", "bus", "branch", "gen"):
        if key not in out:
            raise FormatError(f"the case has no mpc.{key}", path=path)
    for key in ("bus", "branch", "gen"):
        if not isinstance(out[key], np.ndarray):
            raise FormatError(f"mpc.{key} must be a matrix", path=path, line=lines_of[key])
    if not isinstance(out["baseMVA"], float):
        raise FormatError(f"mpc.baseMVA = {out['baseMVA']!r} is not a number", path=path,
                          line=lines_of["baseMVA"])
    out["_lines"] = lines_of
    return out


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return a CityModel holding only ``power_grid`` read from a MATPOWER ``.m`` case."""
    path = source.path
    try:
        text = source.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        text = source.read_bytes().decode("latin-1")
    case = parse_case(text, path)
    names = case.get("bus_name")
    try:
        grid = grid_from_ppc(case, path=path,
                             bus_names=names if isinstance(names, list) else None)
    except CIMError as e:
        # name the line of the table the error is about, when we know it
        line = next((case["_lines"][k] for k in ("branch", "gen", "bus")
                     if k in e.reason), None)
        raise e.located(path=path, line=line) from None
    report = LoadReport(files=[str(path)])
    report.notes.append(f"{path}: MATPOWER case: {grid.n_nodes} buses, {grid.n_links} "
                        f"branches, {len(grid.gens)} generators, base {grid.base_mva:g} MVA")
    return CityModel(power_grid=grid, metadata={"source_format": "MATPOWER case"},
                     report=report)


def _fmt(a: np.ndarray, ints: tuple[int, ...]) -> str:
    rows = []
    for r in np.asarray(a, float):
        cells = []
        for k, v in enumerate(r):
            if k in ints and np.isfinite(v):
                cells.append(str(int(v)))
            elif np.isnan(v):
                cells.append("NaN")
            elif np.isinf(v):
                cells.append("Inf" if v > 0 else "-Inf")
            else:
                cells.append(repr(float(v)))
        rows.append("\t" + "\t".join(cells) + ";")
    return "\n".join(rows)


def write(city_or_grid, path, *, name: str | None = None) -> Path:
    """Write a PowerGrid (or a CityModel's ``power_grid``) as a MATPOWER version-2 case file
    and return its path. Floats are written exactly (``repr``); see
    :func:`cim.formats._ppc.ppc_from_grid` for how loads, sgens, switches and branch shunt
    conductance are expressed."""
    grid = city_or_grid.power_grid if isinstance(city_or_grid, CityModel) else city_or_grid
    if not isinstance(grid, PowerGrid):
        raise CIMError("nothing to write: no power grid")
    path = Path(path)
    ppc = ppc_from_grid(grid)
    fname = name or re.sub(r"\W", "_", path.name.split(".")[0]) or "case"
    if not fname[0].isalpha():
        fname = "case_" + fname
    parts = [f"function mpc = {fname}", "%% written by district-twin (cim.write_matpower)",
             "mpc.version = '2';", f"mpc.baseMVA = {float(ppc['baseMVA'])!r};", "",
             "%% bus data", "%\tbus_i\ttype\tPd\tQd\tGs\tBs\tarea\tVm\tVa\tbaseKV\tzone\tVmax\tVmin",
             "mpc.bus = [", _fmt(ppc["bus"], (0, 1, 6, 10)), "];", "",
             "%% generator data",
             "%\tbus\tPg\tQg\tQmax\tQmin\tVg\tmBase\tstatus\tPmax\tPmin",
             "mpc.gen = [", _fmt(ppc["gen"], (0, 7)), "];", "",
             "%% branch data",
             "%\tfbus\ttbus\tr\tx\tb\trateA\trateB\trateC\tratio\tangle\tstatus\tangmin\tangmax",
             "mpc.branch = [", _fmt(ppc["branch"], (0, 1, 10)), "];"]
    if "bus_name" in ppc:
        esc = [str(s).replace("'", "''") for s in ppc["bus_name"]]
        parts += ["", "%% bus names", "mpc.bus_name = {"] + [f"\t'{s}';" for s in esc] + ["};"]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
