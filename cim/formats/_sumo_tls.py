"""SUMO traffic-light programs (``tlLogic``) and WAUTs → ``RoadNetwork.node_signal_plan``.

A SUMO program is a list of phases, each a duration and one state character per controlled
connection (``G`` priority green, ``g`` green that yields, ``s`` green right-on-red, ``y``/``Y``
yellow, ``r`` red, ``u`` red-yellow, ``o``/``O`` off). The connections a program controls
are those of :attr:`RoadNetwork.connections` whose ``tl`` is the program's id; ``tl_index``
is their position in the state strings. One program may control several junctions.

Mapping into the plan of each controlled node (the keys :mod:`cim.roads` documents, which the
traffic kernel uses today, with its one phase per approach):

- *green phases* are the phases with a green (``G g s o O``) and no yellow; each gives one
  entry of ``green_s`` (its duration, s);
- ``yellow_s`` is the mean duration of the yellow phases (3 s when there are none); all-red
  phases are kept in the cycle: ``cycle_s`` is the program's total duration;
- ``offset_s`` is SUMO's ``offset`` plus the time from the program's start to its first green
  phase (the kernel's cycle starts with a green);
- each approach (incoming link with controlled connections) is served by the green phase in
  which most of its connections, weighted by duration, are green; ``phase_roads[k]`` lists the
  road keys (name, else the source edge id) of the approaches served by phase k.

Per-connection states, which the kernel cannot use yet, are kept verbatim in
``plan["sumo"]``: ``tl`` (program id), ``program`` (active programID), ``type`` (static,
actuated, …), ``offset``, ``phases`` (list of dicts: ``duration``, ``state``, and ``minDur``,
``maxDur``, ``name``, ``next`` where given), ``programs`` (programID → the same dict for every
program loaded, the last one loaded active, as in SUMO) and ``junctions`` (node ids the
program controls). ``min_green_s`` / ``max_green_s`` per green phase come from
``minDur`` / ``maxDur`` of actuated programs.
"""

from __future__ import annotations

import numpy as np

from ..errors import MissingReferenceError, SchemaError, ValueRangeError

_GREEN = set("GgsoO")
_YELLOW = set("yY")
_STATES = set("GgsoOyYruo")
_PHASE_OPT = {"minDur": float, "maxDur": float, "name": str, "next": str}


def _num(el, attr, path, what, default=None, minimum=None):
    v = el.get(attr)
    if v is None:
        if default is None:
            raise SchemaError(f"{what} has no '{attr}'", path=path, line=el.sourceline)
        return default
    try:
        x = float(v)
    except ValueError:
        raise ValueRangeError(f"{what}: {attr}={v!r} is not a number", path=path,
                              line=el.sourceline) from None
    if not np.isfinite(x) or (minimum is not None and x < minimum):
        raise ValueRangeError(f"{what}: {attr}={v!r} is not valid", path=path,
                              line=el.sourceline)
    return x


def parse_program(el, path) -> dict:
    """Return the program of a ``<tlLogic>`` element (its phases read); SchemaError /
    ValueRangeError name the file, line and program."""
    tid, pid = el.get("id"), el.get("programID")
    if not tid:
        raise SchemaError("tlLogic has no 'id'", path=path, line=el.sourceline)
    what = f"tlLogic {tid!r} program {pid!r}"
    if pid is None:
        raise SchemaError(f"{what} has no 'programID'", path=path, line=el.sourceline)
    phases = []
    for ph in el.iter("phase"):
        state = ph.get("state")
        if not state:
            raise SchemaError(f"{what}: phase has no 'state'", path=path, line=ph.sourceline)
        bad = set(state) - _STATES
        if bad:
            raise SchemaError(f"{what}: phase state {state!r} has unknown signal(s) "
                              f"{''.join(sorted(bad))}", path=path, line=ph.sourceline)
        p = {"duration": _num(ph, "duration", path, f"{what} phase", minimum=0.0),
             "state": state}
        for k, typ in _PHASE_OPT.items():
            if ph.get(k) is not None:
                p[k] = _num(ph, k, path, f"{what} phase") if typ is float else ph.get(k)
        phases.append(p)
    if not phases:
        raise SchemaError(f"{what} has no phases", path=path, line=el.sourceline)
    if len({len(p["state"]) for p in phases}) > 1:
        raise SchemaError(f"{what}: phase states differ in length", path=path,
                          line=el.sourceline)
    if sum(p["duration"] for p in phases) <= 0:
        raise ValueRangeError(f"{what}: the phases last 0 s in all", path=path,
                              line=el.sourceline)
    return {"id": tid, "programID": pid, "type": el.get("type", "static"),
            "offset": _num(el, "offset", path, what, default=0.0),
            "phases": phases, "line": el.sourceline}


def parse_waut(el, path) -> dict:
    """Return a ``<WAUT>`` (id, refTime, startProg, period, switches [(time s, programID)])."""
    wid = el.get("id")
    if not wid or el.get("startProg") is None:
        raise SchemaError("WAUT needs 'id' and 'startProg'", path=path, line=el.sourceline)
    sw = [(_num(s, "time", path, f"WAUT {wid!r} wautSwitch"), s.get("to"))
          for s in el.iter("wautSwitch")]
    if any(to is None for _, to in sw):
        raise SchemaError(f"WAUT {wid!r}: wautSwitch has no 'to'", path=path,
                          line=el.sourceline)
    return {"id": wid, "refTime": _num(el, "refTime", path, f"WAUT {wid!r}", default=0.0),
            "startProg": el.get("startProg"),
            "period": _num(el, "period", path, f"WAUT {wid!r}", default=0.0),
            "switches": sw, "junctions": [], "line": el.sourceline}


def road_key(name, source) -> str:
    """The road a link belongs to: its name, else its source id (as the kernel's plans)."""
    return str(name) if name else str(source).rsplit(":", 1)[0]


def _phase_kind(state: str) -> str:
    s = set(state)
    if s & _YELLOW:
        return "yellow"
    return "green" if s & _GREEN else "red"


def _plan(prog: dict, conn_rows: np.ndarray, roads) -> dict:
    """Return the kernel plan of one node from ``prog`` and the node's controlled
    connections ``conn_rows`` (rows of roads.connections)."""
    c = roads.connections
    phases = prog["phases"]
    kinds = [_phase_kind(p["state"]) for p in phases]
    greens = [k for k, kind in enumerate(kinds) if kind == "green"]
    yellows = [p["duration"] for p, kind in zip(phases, kinds) if kind == "yellow"]
    dur = np.array([p["duration"] for p in phases], float)
    start = np.concatenate([[0.0], np.cumsum(dur)[:-1]])
    total = float(dur.sum())
    y = float(np.mean(yellows)) if yellows else 3.0
    plan = {"cycle_s": total, "offset_s": prog["offset"] % total, "yellow_s": y}
    if not greens:
        return plan
    approach = c.from_link[conn_rows].tolist()
    links = sorted(set(approach))  # the approaches (incoming links), ascending
    at = {a: j for j, a in enumerate(links)}
    pairs = [(i, at[a]) for i, a in zip(c.tl_index[conn_rows].tolist(), approach)]
    # w[a][g]: green connections of approach a in green phase g x the phase's duration
    # (summed connection by connection, in row order)
    w = [[0.0] * len(greens) for _ in links]
    for g, k in enumerate(greens):
        st, d = phases[k]["state"], dur[k]
        for i, a in pairs:
            if st[i] in _GREEN:
                w[a][g] += d
    main = [row.index(max(row)) if max(row) > 0 else -1 for row in w]  # first largest
    keys = [road_key(roads.link_name[a], roads.link_source[a]) for a in links]
    # a green phase that is no approach's main phase (a protected left after the through,
    # say) extends the green phase before it, as the kernel serves an approach in one phase
    kept: list[list] = []  # [green phase index, start s, end s]
    served = set(main)
    for g, k in enumerate(greens):
        if g in served or not kept:
            kept.append([g, start[k], start[k] + dur[k]])
        else:
            kept[-1][2] = start[k] + dur[k]
    plan["offset_s"] = float((prog["offset"] + kept[0][1]) % total)
    plan["green_s"] = [float(e - b) for _, b, e in kept]
    plan["phase_roads"] = [sorted({keys[a] for a, m in enumerate(main) if m == g})
                           for g, _, _ in kept]
    if any("minDur" in phases[k] or "maxDur" in phases[k] for k in greens):
        plan["min_green_s"] = [phases[greens[g]].get("minDur", dur[greens[g]])
                               for g, _, _ in kept]
        plan["max_green_s"] = [phases[greens[g]].get("maxDur", dur[greens[g]])
                               for g, _, _ in kept]
    return plan


def apply_programs(roads, programs: list[dict], path, *, strict_ids: bool = True) -> list:
    """Set ``node_signal`` / ``node_signal_plan`` of the nodes each program controls (in
    ``roads``, in place), later programs of a tl id becoming active. Returns the tl ids
    applied. Raises SchemaError (state strings shorter than the tl's connections) and, with
    ``strict_ids``, MissingReferenceError (a program for a tl no connection names)."""
    c = roads.connections
    if c is None or not programs:
        return []
    node_of = roads.link_to[c.from_link].tolist()  # (lists: few rows per program)
    tl_index = c.tl_index.tolist()
    node_ids = roads.node_ids
    kept: dict[str, dict] = {}
    done = []
    by_tl: dict = {}  # tl id -> its connection rows (ascending)
    for i, t in enumerate(c.tl.tolist()):
        by_tl.setdefault(t, []).append(i)
    for prog in programs:
        tid = prog["id"]
        rows = by_tl.get(tid, [])
        what = f"tlLogic {tid!r} program {prog['programID']!r}"
        if not rows:
            if strict_ids:
                raise MissingReferenceError(f"{what}: no connection of the network is "
                                            "controlled by this traffic light",
                                            path=path, line=prog["line"])
            continue
        need = max(tl_index[i] for i in rows) + 1
        have = len(prog["phases"][0]["state"])
        if have < need:
            raise SchemaError(f"{what}: its states have {have} signals but the traffic "
                              f"light controls connections up to index {need - 1} "
                              f"({need} signals needed)", path=path, line=prog["line"])
        entry = {k: v for k, v in prog.items() if k not in ("id", "programID", "line")}
        nodes = sorted({node_of[i] for i in rows})
        if tid not in kept:  # programs loaded before (the network's, for an additional)
            old = next((p["sumo"]["programs"] for p in (roads.node_signal_plan[n]
                                                        for n in nodes)
                        if p and "sumo" in p), {})
            kept[tid] = dict(old)
        store = kept[tid]
        store[prog["programID"]] = entry
        sumo = {"tl": tid, "program": prog["programID"], "type": prog["type"],
                "offset": prog["offset"], "phases": prog["phases"], "programs": store,
                "junctions": [str(node_ids[n]) for n in nodes]}
        for n in nodes:
            conn = np.array([i for i in rows if node_of[i] == n], np.intp)
            plan = _plan(prog, conn, roads)
            plan["sumo"] = sumo
            roads.node_signal[n] = True
            roads.node_signal_plan[n] = plan
        done.append(tid)
    return done


def attach_wauts(roads, wauts: dict, junctions: list[tuple], path) -> None:
    """Record WAUTs: ``junctions`` are (wautID, tl id, procedure, synchron, line); each
    ``wautJunction`` adds its tl to the WAUT and the WAUT id to the tl's ``plan["sumo"]``."""
    for wid, tid, proc, sync, line in junctions:
        w = wauts.get(wid)
        if w is None:
            raise MissingReferenceError(f"wautJunction refers to WAUT {wid!r}, which is not "
                                        "defined", path=path, line=line)
        w["junctions"].append({"tl": tid, "procedure": proc, "synchron": sync})
        plans = [p for p in roads.node_signal_plan if p and p.get("sumo", {}).get("tl") == tid]
        if not plans:
            raise MissingReferenceError(f"wautJunction of WAUT {wid!r} names traffic light "
                                        f"{tid!r}, which is not in the network",
                                        path=path, line=line)
        for p in plans:
            p["sumo"]["waut"] = wid
