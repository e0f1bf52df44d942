"""Write a road network for SUMO: plain XML (``.nod``/``.edg``/``.con``/``.tll``) converted
to a ``.net.xml`` by the ``netconvert`` binary of the ``eclipse-sumo`` package.

- nodes: id, x/y (the model's CRS, which must be projected; a geographic model is written in
  its metric CRS, :meth:`CityModel.to_metric`), ``type`` (``traffic_light`` for signalized
  nodes, else ``node_type`` when SUMO knows it, else ``priority``), ``tl`` for nodes that a
  SUMO program shares; the CRS goes into a ``<location>`` with ``projParameter`` and the
  coordinates are not shifted (``--offset.disable-normalization``), so that
  :func:`cim.load` reads the same coordinates back;
- edges: one per link (id = link id), ``numLanes``, ``speed``, ``length`` (the link's),
  ``name``, ``type`` (``highway.<class>``), shape; with a lane table, per-lane ``allow``,
  ``speed`` and ``width``;
- connections: the model's lane-to-lane connections when it has them (else netconvert
  derives them, without U-turns);
- signals: SUMO programs kept in ``plan["sumo"]`` are written verbatim with their
  connections' link indices; other plans (``green_s``/``yellow_s``/``phase_roads``) become a
  static program over the connections netconvert made: per phase, green (``G``; ``g`` for
  left turns and U-turns) for the approaches its roads serve, then ``yellow_s`` of yellow,
  then red to the end of ``cycle_s``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from ..errors import CIMError
from ..model.roads import ALL_VCLASSES, vclass_names
from ..roads import class_rank
from . import _sumo_tls as tls
from .source import Source
from .sumo_net import read

NODE_TYPES = {"priority", "traffic_light", "right_before_left", "left_before_right",
              "unregulated", "priority_stop", "traffic_light_unregulated", "allway_stop",
              "rail_signal", "zipper", "traffic_light_right_on_red", "rail_crossing",
              "dead_end"}


def netconvert_bin() -> str | None:
    """Path of the ``netconvert`` binary (eclipse-sumo's, else on PATH), or None."""
    try:
        import sumo  # noqa: PLC0415  (the eclipse-sumo wheel)

        p = os.path.join(sumo.SUMO_HOME, "bin", "netconvert")
        if os.path.exists(p):
            return p
    except ImportError:
        pass
    return shutil.which("netconvert")


def _f(x) -> str:
    return f"{float(x):.2f}"


def _shape(xy) -> str:
    return " ".join(f"{x:.2f},{y:.2f}" for x, y in np.asarray(xy)[:, :2])


def _nodes(city, roads) -> str:
    out = ["<nodes>"]
    crs = city.crs
    if crs is not None:
        x0, y0, x1, y1 = roads.bounds()
        b = f"{x0:.2f},{y0:.2f},{x1:.2f},{y1:.2f}"
        with warnings.catch_warnings():  # a PROJ string is what SUMO takes
            warnings.simplefilter("ignore", UserWarning)
            proj = crs.to_proj4()
        out.append(f'  <location netOffset="0.00,0.00" convBoundary="{b}" origBoundary="{b}" '
                   f'projParameter={quoteattr(proj)}/>')
    for i, nid in enumerate(roads.node_ids):
        plan = roads.node_signal_plan[i] or {}
        typ = str(roads.node_type[i])
        if roads.node_signal[i]:
            typ = typ if typ.startswith("traffic_light") else "traffic_light"
        elif typ not in NODE_TYPES or typ.startswith("traffic_light"):
            typ = "priority"
        tl = plan.get("sumo", {}).get("tl") if roads.node_signal[i] else None
        extra = f" tl={quoteattr(str(tl))}" if tl is not None and tl != nid else ""
        x, y = roads.node_xy[i]
        out.append(f"  <node id={quoteattr(str(nid))} x={quoteattr(_f(x))} "
                   f"y={quoteattr(_f(y))} type={quoteattr(typ)}{extra}/>")
    return "\n".join(out + ["</nodes>\n"])


def _edges(roads) -> str:
    out = ["<edges>"]
    pair = set(zip(roads.link_from.tolist(), roads.link_to.tolist()))
    lanes = roads.lanes
    by_link = (np.searchsorted(lanes.link, np.arange(roads.n_links + 1))
               if lanes is not None else None)
    for k, lid in enumerate(roads.link_ids):
        a, b = int(roads.link_from[k]), int(roads.link_to[k])
        n = max(int(roads.link_lanes[k]), 1)
        attrs = (f"id={quoteattr(str(lid))} from={quoteattr(str(roads.node_ids[a]))} "
                 f"to={quoteattr(str(roads.node_ids[b]))} numLanes=\"{n}\" "
                 f"speed=\"{roads.link_free_speed[k]:.2f}\" "
                 f"length=\"{roads.link_length[k]:.2f}\" "
                 f"type={quoteattr('highway.' + str(roads.link_class[k]))}")
        if roads.link_name[k]:
            attrs += f" name={quoteattr(str(roads.link_name[k]))}"
        if (b, a) not in pair and lanes is None:
            attrs += ' spreadType="center"'
        geom = roads.link_geometry(k)
        if len(geom) > 2:
            attrs += f' shape="{_shape(geom)}"'
        rows = [] if lanes is None else range(by_link[k], by_link[k + 1])
        if not rows:
            out.append(f"  <edge {attrs}/>")
            continue
        out.append(f"  <edge {attrs}>")
        for r in rows:
            la = f'index="{int(lanes.index[r])}" speed="{lanes.speed[r]:.2f}" ' \
                 f'width="{lanes.width[r]:.2f}"'
            if int(lanes.allow[r]) != ALL_VCLASSES:
                names = vclass_names(lanes.allow[r])
                la += f' allow="{" ".join(names)}"' if names else ' disallow="all"'
            out.append(f"    <lane {la}/>")
        out.append("  </edge>")
    return "\n".join(out + ["</edges>\n"])


def _connections(roads) -> str:
    c = roads.connections
    ids = roads.link_ids
    out = ["<connections>"]
    for r in range(len(c)):
        out.append(f"  <connection from={quoteattr(str(ids[c.from_link[r]]))} "
                   f"to={quoteattr(str(ids[c.to_link[r]]))} fromLane=\"{c.from_lane[r]}\" "
                   f"toLane=\"{c.to_lane[r]}\"/>")
    # a link into a junction the table covers, with no row of its own, has no turn there:
    # netconvert would otherwise guess some. A junction is covered when it has rows, or when
    # the source typed it (SUMO lists every movement of its junctions). Other junctions (an
    # OSM network's rows are only where restrictions or lane arrows bind) keep their turns.
    typed = np.asarray(roads.node_type, dtype=object) != ""
    covered = np.isin(roads.link_to, roads.link_to[c.from_link]) | typed[roads.link_to]
    none = np.setdiff1d(np.flatnonzero(covered), c.from_link)
    succ = np.argsort(roads.link_from, kind="stable")  # links grouped by their start node
    lo = np.searchsorted(roads.link_from[succ], roads.link_to[none], "left")
    hi = np.searchsorted(roads.link_from[succ], roads.link_to[none], "right")
    for k, a, b in zip(none, lo, hi):
        for t in succ[a:b]:
            out.append(f"  <delete from={quoteattr(str(ids[k]))} to={quoteattr(str(ids[t]))}/>")
    return "\n".join(out + ["</connections>\n"])


def _program_xml(tid, pid, prog) -> list[str]:
    out = [f"  <tlLogic id={quoteattr(str(tid))} programID={quoteattr(str(pid))} "
           f"type={quoteattr(prog.get('type', 'static'))} offset=\"{prog.get('offset', 0):g}\">"]
    for p in prog["phases"]:
        extra = "".join(f" {k}={quoteattr(str(p[k]))}" for k in ("minDur", "maxDur", "name",
                                                                 "next") if k in p)
        out.append(f"    <phase duration=\"{p['duration']:g}\" state=\"{p['state']}\"{extra}/>")
    return out + ["  </tlLogic>"]


def _verbatim_tll(roads) -> str:
    """Programs kept from a SUMO file, with the link indices of their connections."""
    out, done = ["<tlLogics>"], set()
    for plan in roads.node_signal_plan:
        s = (plan or {}).get("sumo")
        if not s or s["tl"] in done:
            continue
        done.add(s["tl"])
        progs = dict(s["programs"])
        active = progs.pop(s["program"], None)
        for pid, prog in list(progs.items()) + ([(s["program"], active)] if active else []):
            out += _program_xml(s["tl"], pid, prog)
    c, ids = roads.connections, roads.link_ids
    if c is not None:
        for r in np.flatnonzero((c.tl != "") & np.isin(c.tl, list(done))):
            out.append(f"  <connection from={quoteattr(str(ids[c.from_link[r]]))} "
                       f"to={quoteattr(str(ids[c.to_link[r]]))} fromLane=\"{c.from_lane[r]}\" "
                       f"toLane=\"{c.to_lane[r]}\" tl={quoteattr(str(c.tl[r]))} "
                       f"linkIndex=\"{c.tl_index[r]}\"/>")
    return "\n".join(out + ["</tlLogics>\n"])


def _derived_tll(roads, made) -> str:
    """Static programs for plans without SUMO phases, over the connections of ``made`` (the
    RoadNetwork netconvert produced, read back)."""
    out = ["<tlLogics>"]
    c = made.connections
    idx = {str(k): i for i, k in enumerate(roads.node_ids)}
    for i in np.flatnonzero(roads.node_signal):
        plan = roads.node_signal_plan[i] or {}
        if "sumo" in plan:
            continue
        nid = str(roads.node_ids[i])
        j = int(np.flatnonzero(made.node_ids == nid)[0]) if nid in idx else -1
        rows = np.flatnonzero((c.tl == nid) & (made.link_to[c.from_link] == j))
        if not len(rows):
            continue
        keys = [tls.road_key(made.link_name[a], made.link_source[a]) for a in c.from_link[rows]]
        roads_of = [list(r) for r in (plan.get("phase_roads") or [])]
        if not roads_of:  # the kernel's default: the major road (class, lanes) first
            best: dict = {}
            at = np.flatnonzero((made.link_to == j) | (made.link_from == j))
            for a in at:
                key = tls.road_key(made.link_name[a], made.link_source[a])
                r = (class_rank(made.link_class[a]), int(made.link_lanes[a]))
                best[key] = max(best.get(key, r), r)
            order = sorted(best, key=lambda k: (-best[k][0], -best[k][1], k))
            roads_of = [order[:1], order[1:]]
        n = len(roads_of)
        where = {r: k for k in reversed(range(n)) for r in roads_of[k]}
        phase = np.array([where.get(k, n - 1) for k in keys])
        g = [float(x) for x in (plan.get("green_s") or [42.0] * n)]
        g = g * n if len(g) == 1 else g
        if len(g) == 2 * n:
            g = [g[2 * k] + g[2 * k + 1] for k in range(n)]
        y = float(plan.get("yellow_s") or 3.0)
        size = int(c.tl_index[rows].max()) + 1
        soft = np.isin(c.direction[rows], ["l", "L", "t"])
        phases = []
        for k in range(n):
            st = np.full(size, "r")
            st[c.tl_index[rows][phase == k]] = "G"
            st[c.tl_index[rows][(phase == k) & soft]] = "g"
            phases.append({"duration": g[k], "state": "".join(st)})
            phases.append({"duration": y, "state": "".join(st).replace("G", "y").replace(
                "g", "y")})
        rest = float(plan.get("cycle_s") or 0) - sum(g) - n * y
        if rest > 0:
            phases.append({"duration": rest, "state": "r" * size})
        out += _program_xml(nid, "0", {"offset": float(plan.get("offset_s") or 0),
                                       "phases": phases})
    return "\n".join(out + ["</tlLogics>\n"])


def _run(cmd, what):
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except OSError as e:
        raise CIMError(f"cannot run netconvert: {e}") from None
    if res.returncode != 0:
        raise CIMError(f"netconvert failed on {what}: " + (res.stderr or res.stdout)[-800:])


def write(city, path: Path) -> Path:
    """Write ``city.roads`` as a SUMO network ``path`` (``.net.xml``); the plain XML inputs
    are kept next to it (``<stem>.nod.xml``, ``.edg.xml``, ``.con.xml``, ``.tll.xml``)."""
    exe = netconvert_bin()
    if exe is None:
        raise CIMError("writing a SUMO network needs netconvert (pip install eclipse-sumo)",
                       path=path)
    if city.crs is not None and city.crs.is_geographic:
        city = city.to_metric()
    roads = city.roads
    if roads.n_links == 0:
        raise CIMError("the model has no road links to write", path=path)
    path = Path(path)
    stem = path.name[:-8] if path.name.endswith(".net.xml") else path.stem
    base = path.parent / stem
    files = {"nod": _nodes(city, roads), "edg": _edges(roads)}
    if roads.connections is not None:
        files["con"] = _connections(roads)
    if any((p or {}).get("sumo") for p in roads.node_signal_plan):
        files["tll"] = _verbatim_tll(roads)
    names = {}
    for ext, text in files.items():
        names[ext] = f"{base}.{ext}.xml"
        Path(names[ext]).write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + text,
                                    encoding="utf-8")
    opts = {"nod": "--node-files", "edg": "--edge-files", "con": "--connection-files",
            "tll": "--tllogic-files"}
    cmd = [exe, "--offset.disable-normalization", "true", "--no-warnings", "true",
           "--no-turnarounds", "true", "--tls.discard-simple", "false",
           "--output-file", str(path)]
    for ext, name in names.items():
        cmd += [opts[ext], name]
    _run(cmd, base)
    derived = [i for i in np.flatnonzero(roads.node_signal)
               if "sumo" not in (roads.node_signal_plan[i] or {})]
    if derived:
        made = read(Source.open_path(path), lenient=False).roads
        tll = f"{base}.derived.tll.xml"
        Path(tll).write_text(_derived_tll(roads, made), encoding="utf-8")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "net.net.xml")
            _run([exe, "--sumo-net-file", str(path), "--tllogic-files", tll,
                  "--offset.disable-normalization", "true", "--no-warnings", "true",
                  "--output-file", out], tll)
            shutil.move(out, path)
    return path
