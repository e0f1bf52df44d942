"""OSM relations of the OSM reader: multipolygon areas (rings assembled from member ways,
holes) and turn restrictions (parsed into plain dicts applied by :mod:`._osm_net`).

A relation that refers to a way or node not in the file (common at an extract's edge) is
skipped and listed in the load report's notes, never an error.
"""

from __future__ import annotations

import numpy as np
import shapely

from ..errors import GeometryError

#: restriction values read (``no_*`` / ``only_*``)
_KINDS = ("no_", "only_")
#: vehicle words of ``restriction:<v>`` / ``except`` that mean passenger cars
CAR_WORDS = ("motorcar", "motor_vehicle", "vehicle")


def members(el) -> list[tuple[str, str, str]]:
    """Return the (type, ref, role) of a relation element's members."""
    return [(m.get("type", ""), m.get("ref", ""), m.get("role", "") or "")
            for m in el.iter("member")]


def missing_member(mem, way_refs, nodes, types=("way", "node")) -> str | None:
    """Return "way 12" for the first member (of ``types``) not in the file, else None."""
    for t, ref, _ in mem:
        if t == "way" and "way" in types and ref not in way_refs:
            return f"way {ref}"
        if t == "node" and "node" in types and ref not in nodes:
            return f"node {ref}"
    return None


def assemble_rings(pieces: list[list[str]]) -> list[list[str]]:
    """Join ways (node-id lists) end to end into closed rings (each repeats its first node
    last). Raises GeometryError when the pieces do not close."""
    todo = [list(p) for p in pieces if len(p) >= 2]
    rings = []
    while todo:
        ring = todo.pop(0)
        while ring[0] != ring[-1]:
            for k, p in enumerate(todo):
                if p[0] == ring[-1]:
                    ring += p[1:]
                elif p[-1] == ring[-1]:
                    ring += p[-2::-1]
                else:
                    continue
                todo.pop(k)
                break
            else:
                raise GeometryError(f"multipolygon ring from node {ring[0]} to node {ring[-1]} "
                                    "does not close")
        if len(ring) < 4:
            raise GeometryError("multipolygon ring has fewer than 3 distinct nodes")
        rings.append(ring)
    return rings


def multipolygon(mem, way_refs, nodes) -> list[list[np.ndarray]]:
    """Return the polygons (lists of (n, 2) lon/lat rings, outer first, then its holes) of a
    multipolygon relation's members. Raises GeometryError for rings that do not close, an
    inner ring outside every outer one, or no outer ring."""
    outer = [way_refs[r] for t, r, role in mem if t == "way" and role in ("outer", "")]
    inner = [way_refs[r] for t, r, role in mem if t == "way" and role == "inner"]
    if not outer:
        raise GeometryError("multipolygon has no outer ring")
    to_xy = [np.array([nodes[n] for n in ring], float) for ring in assemble_rings(outer)]
    polys = [[o] for o in to_xy]
    shapes = [shapely.Polygon(o) for o in to_xy]
    for ring in assemble_rings(inner):
        xy = np.array([nodes[n] for n in ring], float)
        pt = shapely.Point(xy[:-1].mean(0)) if len(xy) > 3 else shapely.Point(xy[0])
        k = next((k for k, s in enumerate(shapes) if s.contains(pt) or s.covers(
            shapely.Polygon(xy))), None)
        if k is None:
            raise GeometryError("multipolygon inner ring lies outside every outer ring")
        polys[k].append(xy)
    return polys


def _first_condition(text: str) -> tuple[str, str | None]:
    """Return (value, condition) of the first ``value @ condition`` part of a conditional
    tag (parts separated by ``;`` outside parentheses)."""
    depth, part = 0, text
    for k, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch == ";" and depth == 0:
            part = text[:k]
            break
    value, _, cond = part.partition("@")
    cond = cond.strip()
    if cond.startswith("(") and cond.endswith(")"):
        cond = cond[1:-1].strip()
    return value.strip(), cond or None


def restriction(rid: str, mem, tags: dict, line) -> dict | None:
    """Return a turn restriction of a relation's members and tags, or None when the relation
    is not one. Keys: ``id``, ``restriction`` (e.g. "no_left_turn"), ``only`` (bool),
    ``from`` / ``to`` (way ids), ``via_node`` (node id or None), ``via_ways`` (way ids),
    ``vehicle`` ("" for all vehicles, else the ``restriction:<vehicle>`` word),
    ``except`` (list), ``condition`` (the condition of the first part of
    ``restriction:conditional`` when that gives the restriction, else None),
    ``conditional`` (the ``restriction:conditional`` value as written, or None),
    ``cars`` (True when it binds passenger cars), ``line``, ``problem`` (why it cannot be
    applied, or None)."""
    typ = tags.get("type", "")
    if not typ.startswith("restriction"):
        return None
    value, vehicle, condition = tags.get("restriction"), typ.partition(":")[2], None
    if value is None:
        for k, v in tags.items():
            if k.startswith("restriction:") and k != "restriction:conditional":
                value, vehicle = v, k.partition(":")[2]
                break
    cond = tags.get("restriction:conditional")
    if value is None and cond:
        value, condition = _first_condition(str(cond))
    exc = [e.strip() for e in str(tags.get("except", "")).split(";") if e.strip()]
    out = {"id": rid, "restriction": (value or "").strip(), "from": [], "to": [],
           "via_node": None, "via_ways": [], "vehicle": vehicle, "except": exc,
           "condition": condition, "conditional": cond, "line": line, "problem": None}
    out["only"] = out["restriction"].startswith("only_")
    out["cars"] = (vehicle in ("", *CAR_WORDS)) and not any(e in CAR_WORDS for e in exc)
    for t, ref, role in mem:
        if role == "from" and t == "way":
            out["from"].append(f"way/{ref}")
        elif role == "to" and t == "way":
            out["to"].append(f"way/{ref}")
        elif role == "via" and t == "node":
            out["via_node"] = ref
        elif role == "via" and t == "way":
            out["via_ways"].append(f"way/{ref}")
    if not out["restriction"].startswith(_KINDS):
        out["problem"] = f"restriction value {out['restriction']!r} is not no_* / only_*"
    elif not out["from"] or not out["to"]:
        out["problem"] = "restriction needs a 'from' and a 'to' way"
    elif (out["via_node"] is None) == (not out["via_ways"]):
        out["problem"] = "restriction needs one 'via' node or 'via' ways"
    elif out["only"] and (len(out["from"]) > 1 or len(out["to"]) > 1):
        out["problem"] = "only_* restriction with several 'from' or 'to' ways"
    return out
