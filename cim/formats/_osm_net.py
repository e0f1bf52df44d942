"""Road network of the OSM reader: car-road ways split into links, signals grouped per
junction, a lane table with vehicle-class masks, and lane-to-lane connections where OSM says
more than geometry (turn restrictions, ``turn:lanes``, lanes closed to cars).

**Splitting.** Ways are split at junctions (nodes shared by several car roads, a way's own
repeated nodes) and at stand-alone signals.

**Signals mapped per approach.** A ``highway=traffic_signals`` node that is not a junction
belongs to the junction it stands before: along its way, the first junction within
:data:`SIGNAL_JOIN_M` m ahead in the direction that ``traffic_signals:direction`` (or
``direction``) names (``forward`` / ``backward``; on a one-way road the travel direction;
otherwise the nearer one). That junction is signalized and the way is not split at the
signal. A signal with no junction that near (a mid-block crossing) stays a signal of its own.

**Connections** (:class:`~cim.model.roads.RoadConnections`) are written at the nodes that
need them, and there for every incoming link: nodes with a turn restriction that binds cars,
the nodes where a way with ``turn:lanes`` ends (the arrows apply there, not at junctions it
passes through), and nodes touching a link with a lane closed to passenger cars. The turns
there are the geometric ones (every incoming × outgoing link, no U-turns; kind from the
heading change at the node: more than 45° left/right, more than 170° a turnaround) minus
``no_*`` restrictions, or only the ``only_*`` ones. Lanes: ``turn:lanes`` arrows where mapped
(binding: a turn no lane is marked for is dropped, unless no turn is marked at all; ``none``
/ empty marks any turn); else rights from the rightmost car lane, lefts from the leftmost,
through movements from all (a link with one movement: all lanes; lanes closed to cars serve
every movement). Other nodes have no rows and keep the kernel's geometric turns.
Restrictions are applied as netconvert applies them: one whose two-way 'from' or 'to' road
passes through the via node is ambiguous and not applied; several ``only_*`` of one link
allow each of their turns; an ``only_*`` turn wins over a ``no_*`` one. Restrictions with
``via`` ways are applied where link-to-link turns express them exactly (:func:`_via_ways`:
the via path is entered only from the link before it, as a one-way U-turn connector between
dual carriageways). Every restriction not applied is listed in
``city.metadata["osm_restrictions"]`` with the reason.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ..errors import CIMError, GeometryError
from ..model import RoadNetwork
from ..model.roads import RoadConnections, RoadLanes
from ..model.tables import _obj
from ..roads import LANE_WIDTH_M, RoadNetworkBuilder
from . import _osm_tags as T
from ._common import _GEOD

#: a signal node at most this far (m, along its way) before a junction belongs to it
SIGNAL_JOIN_M = 40.0
_M_PER_DEG = 111_195.0


def _dist(a, b) -> float:
    """Approximate distance (m) between two lon/lat points (equirectangular)."""
    c = math.cos(math.radians(0.5 * (a[1] + b[1])))
    return _M_PER_DEG * math.hypot((b[0] - a[0]) * c, b[1] - a[1])


def batch_lengths(segs, nodes):
    """Return (vertices (n, 2), offsets (len(segs) + 1,), geodesic lengths m (len(segs),)) of
    polylines given as node-id lists, in one pass of pyproj over all vertices."""
    nv = np.array([len(g) for g in segs], np.int64)
    off = np.concatenate([[0], np.cumsum(nv)]).astype(np.int64)
    xy = np.array([nodes[r] for g in segs for r in g], float).reshape(-1, 2)
    step = _GEOD.line_lengths(xy[:, 0], xy[:, 1]) if len(xy) > 1 else np.zeros(0)
    run = np.concatenate([[0.0], np.cumsum(step)])
    return xy, off, (run[off[1:] - 1] - run[off[:-1]]) if len(segs) else np.zeros(0)


def loop_cuts(refs, cuts: list[int]) -> list[int]:
    """Return ``cuts`` (indices into ``refs`` where a way is split) with a cut added in the
    middle of every piece that would start and end at the same node (a closed way: a loop
    link is no link)."""
    out = [cuts[0]]
    for a, b in zip(cuts[:-1], cuts[1:]):
        if refs[a] == refs[b] and b - a >= 2:
            out.append((a + b) // 2)
        out.append(b)
    return out


def junctions(highways) -> tuple[Counter, set]:
    """Return (use count of each node over the car-road ways, junction node ids)."""
    use = Counter(r for _, refs, _, _ in highways for r in set(refs))
    junc = {r for r, c in use.items() if c > 1}
    for _, refs, _, _ in highways:
        junc.update(r for r, c in Counter(refs).items() if c > 1)
    return use, junc


def group_signals(highways, nodes, signals: dict, junc: set) -> tuple[set, set]:
    """Return (signalized junction node ids, stand-alone signal node ids) of the signal
    nodes ``signals`` ({node id: direction word or ""}), grouped per approach (module
    docstring)."""
    at_junction = {s for s in signals if s in junc}
    todo = {s for s in signals if s not in junc}
    found: dict[str, tuple[float, str]] = {}
    for _, refs, tags, _ in highways:
        hits = [k for k, r in enumerate(refs) if r in todo]
        if not hits:
            continue
        ow = str(tags.get("oneway", "")).lower()
        travel = ("backward" if ow in ("-1", "reverse") else "forward") if (
            ow in ("yes", "1", "true", "-1", "reverse")
            or tags.get("junction") == "roundabout") else ""
        for k in hits:
            want = signals[refs[k]] or travel
            for step, name in ((1, "forward"), (-1, "backward")):
                if want and want != name:
                    continue
                d, j = 0.0, k
                while 0 <= j + step < len(refs) and d <= SIGNAL_JOIN_M:
                    d += _dist(nodes[refs[j]], nodes[refs[j + step]])
                    j += step
                    if refs[j] in junc:
                        break
                if refs[j] in junc and d <= SIGNAL_JOIN_M and d < found.get(
                        refs[k], (math.inf, ""))[0]:
                    found[refs[k]] = (d, refs[j])
    grouped = {j for _, j in found.values()}
    return at_junction | grouped, todo - set(found)


def build(highways, nodes, signals, restrictions, problems) -> tuple[RoadNetwork, list[str]]:
    """Return (RoadNetwork with lanes and connections, report notes) of the car-road ways
    ``highways`` [(way id, node refs, tags, line)]."""
    use, junc = junctions(highways)
    sig_nodes, alone = group_signals(highways, nodes, signals, junc)
    plan = []                  # (way index, road fields, reverse, [(piece id, node refs)])
    oneway = [False] * len(highways)
    for w, (wid, refs, tags, line) in enumerate(highways):
        try:
            f = T.road_fields(tags)
            reverse = f.pop("reverse")
            oneway[w] = f["oneway"]
            if len(refs) < 2:
                raise GeometryError("highway way has fewer than 2 nodes")
            cuts = loop_cuts(refs, [0] + [k for k in range(1, len(refs) - 1)
                                          if refs[k] in junc or refs[k] in alone]
                             + [len(refs) - 1])
            pieces = [(wid if len(cuts) == 2 else f"{wid}-{k}",
                       refs[a:b + 1][::-1] if reverse else refs[a:b + 1])
                      for k, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]))]
            plan.append((w, f, reverse, pieces))
        except CIMError as e:
            problems.handle(e, obj_id=wid, line=line)
    segs = [seg for *_, pieces in plan for _, seg in pieces]
    xy_all, off, lengths = batch_lengths(segs, nodes)
    now = [0.0]                # the length of the piece being added (m)
    builder = RoadNetworkBuilder(length_fn=lambda xy: now[0])
    link_way: list[int] = []   # index into highways of each link
    link_dir: list[str] = []   # "forward" / "backward" along the way
    first = np.cumsum([0] + [len(p[3]) for p in plan])  # index of each way's first piece
    for (w, f, reverse, pieces), i0 in zip(plan, first):
        try:
            for i, (rid, seg) in enumerate(pieces, start=int(i0)):
                now[0] = lengths[i]
                n0 = len(builder.links["ids"])
                builder.add_segment(rid, seg[0], seg[-1], xy_all[off[i]:off[i + 1]], **f)
                for lid in builder.links["ids"][n0:]:
                    link_way.append(w)
                    fwd = lid.endswith(":f") != reverse
                    link_dir.append("forward" if fwd else "backward")
        except CIMError as e:
            problems.handle(e, obj_id=highways[w][0], line=highways[w][3])
    for nid in sig_nodes | alone:
        if nid in builder.node_index:
            builder.set_signal(nid)
    roads = builder.build()
    notes: list[str] = []
    if len(sig_nodes) and signals:
        joined = len(signals) - len(alone) - len({s for s in signals if s in junc})
        if joined:
            notes.append(f"{joined} traffic_signals nodes mapped per approach were joined to "
                         "their junction")
    roads.lanes, arrows = _lanes(roads, highways, link_way, link_dir, oneway)
    roads.connections = _connections(roads, highways, link_way, arrows, restrictions, notes)
    return roads, notes


def _lanes(roads, highways, link_way, link_dir, oneway):
    """Return (RoadLanes, {link: turn arrows per lane}); each lane's shape is its link's."""
    allow, arrows, memo = [], {}, {}
    n_lanes = np.asarray(roads.link_lanes, np.int64)
    for k in range(roads.n_links):
        w, n = link_way[k], int(n_lanes[k])
        key = (w, link_dir[k], n)  # the tags of a way give the same lanes to its segments
        if key not in memo:
            tags = highways[w][2]
            memo[key] = (T.lane_masks(tags, T.access_mask(tags), n, link_dir[k], oneway[w]),
                         T.turn_arrows(tags, link_dir[k], oneway[w], n))
        masks, a = memo[key]
        allow += masks
        refs = highways[w][1]
        if a is not None and str(roads.node_ids[roads.link_to[k]]) == (
                refs[-1] if link_dir[k] == "forward" else refs[0]):
            arrows[k] = a  # the arrows apply where the marked way ends
    link = np.repeat(np.arange(roads.n_links), n_lanes)
    first = np.cumsum(n_lanes) - n_lanes
    index = np.arange(link.size) - first[link]
    go = np.asarray(roads.geometry_offsets, np.int64)
    nv = np.diff(go)[link]                               # vertices of each lane's shape
    offs = np.concatenate([[0], np.cumsum(nv)]).astype(np.int64)
    vert = np.arange(offs[-1]) - np.repeat(offs[:-1] - go[link], nv)
    ids = np.char.add(np.char.add(np.asarray(roads.link_ids, str)[link], "_"),
                      index.astype(str)).astype(object)
    lanes = RoadLanes(
        link, index.astype(np.int16), ids, np.asarray(roads.link_free_speed, float)[link],
        np.asarray(roads.link_length, float)[link], np.full(link.size, LANE_WIDTH_M),
        np.array(allow, np.int64), offs, np.asarray(roads.geometry_xy, float)[vert])
    return lanes, arrows


def _heading(xy, end: bool) -> float:
    """Heading (degrees, east = 0, counter-clockwise) at the start or end of a lon/lat
    polyline."""
    a, b = (xy[-2], xy[-1]) if end else (xy[0], xy[1])
    c = math.cos(math.radians(0.5 * (a[1] + b[1])))
    return math.degrees(math.atan2(b[1] - a[1], (b[0] - a[0]) * c))


def _apply(turns, r, ins, outs, way_of, only, fr=None, to=None) -> bool:
    """Apply restriction ``r`` at a node: a ``no_*`` one removes its turns from ``turns``
    ({(in, out): (dir, angle)}), an ``only_*`` one adds its turns to ``only`` ({in link:
    (set of out links, U-turn)}; several only_* of one link allow each of their turns). From links
    ``fr`` to links ``to`` (default: the in- / out-links of its 'from' / 'to' ways); False
    when its ways do not meet there."""
    fr = [k for k in ins if way_of[k] in r["from"]] if fr is None else fr
    to = [k for k in outs if way_of[k] in r["to"]] if to is None else to
    if not fr or not to:
        r["problem"] = "its 'from' / 'to' ways do not end at the 'via' node"
        return False
    for f in fr:
        if r["only"]:
            keep = only.setdefault(f, (set(), r["restriction"] == "only_u_turn"))
            keep[0].update(to)
        else:
            for t in to:
                turns.pop((f, t), None)
    return True


def _only(turns, geometric, only) -> None:
    """Keep, from each link of ``only`` ({in link: (out links, U-turn allowed)}), just its
    listed turns, even one a ``no_*`` removed (only_* wins, as in netconvert); a U-turn,
    which geometry leaves out, only for ``only_u_turn``."""
    for f, (keep, uturn) in only.items():
        for key in [k for k in turns if k[0] == f and k[1] not in keep]:
            del turns[key]
        for t in keep:
            if (f, t) in geometric:
                turns[(f, t)] = geometric[(f, t)]
            elif uturn:
                turns[(f, t)] = ("t", 180.0)


def _via_ways(r, roads, way_of, links_of_way, ins_of, outs_of):
    """Return [(node, from links, to links)] that apply restriction ``r`` with 'via' ways
    exactly as link-to-link turns, or a str saying why that is not possible. Exact when each
    link of the via path is entered only from the link before it (as a one-way connector
    between dual carriageways): then ``no_*`` forbids the last via link -> 'to' turn, and
    ``only_*`` allows only 'from' -> first via link and last via link -> 'to'."""
    lf, lt, src = roads.link_from, roads.link_to, roads.link_source

    def back(a, b):
        return lt[b] == lf[a] and src[a] == src[b]

    via, out = set(r["via_ways"]), []
    for f in (k for w in r["from"] for k in links_of_way.get(w, [])):
        chain, prev, x = [], f, int(lt[f])
        for _ in range(64):
            to = [t for t in outs_of.get(x, []) if way_of[t] in r["to"] and not back(prev, t)]
            if to and chain:
                break
            nxt = [t for t in outs_of.get(x, []) if way_of[t] in via and not back(prev, t)]
            if len(nxt) != 1:
                chain = None
                break
            chain.append(nxt[0])
            prev, x = nxt[0], int(lt[nxt[0]])
        else:
            chain = None
        if not chain:
            continue
        for before, v in zip([f] + chain[:-1], chain):
            if [k for k in ins_of.get(int(lf[v]), []) if not back(k, v)] != [before]:
                return ("its 'via' way is entered from other links too (not expressible as "
                        "link-to-link connections)")
        out.append((x, [chain[-1]], to))
        if r["only"]:
            out.append((int(lt[f]), [f], [chain[0]]))
    return out or "its 'from', 'via' and 'to' ways do not form a path"


def _connections(roads, highways, link_way, arrows, restrictions, notes):
    """Return the RoadConnections of the nodes that need them (module docstring), or None."""
    way_of = [highways[w][0] for w in link_way]
    nid = {str(n): i for i, n in enumerate(roads.node_ids)}
    lanes = roads.lanes
    car = (lanes.allow & T.PASSENGER) != 0
    link_car = np.ones(roads.n_links, bool)
    link_car[lanes.link[~car]] = False
    ins_of: dict[int, list] = {}
    outs_of: dict[int, list] = {}
    links_of_way: dict[str, list] = {}
    for k, (a, b) in enumerate(zip(roads.link_from.tolist(), roads.link_to.tolist())):
        outs_of.setdefault(a, []).append(k)
        ins_of.setdefault(b, []).append(k)
        links_of_way.setdefault(way_of[k], []).append(k)
    by_node: dict[int, list] = {}
    for r in restrictions:
        if r["problem"] is None and not r["cars"]:
            r["problem"] = "does not bind passenger cars"
        if r["problem"] is None and r["via_ways"]:
            at = _via_ways(r, roads, way_of, links_of_way, ins_of, outs_of)
            if isinstance(at, str):
                r["problem"] = at
            for v, fr, to in ([] if isinstance(at, str) else at):
                by_node.setdefault(v, []).append((r, fr, to))
        elif r["problem"] is None:
            v = nid.get(r["via_node"])
            if v is None:
                r["problem"] = "its 'via' node is not a node of the road network"
                continue
            # a two-way road through the via node (OSM wants it to start or end there) gives
            # two 'from' (or 'to') links: ambiguous, not applied (as netconvert does)
            n_in = Counter(way_of[k] for k in ins_of.get(v, []))
            n_out = Counter(way_of[k] for k in outs_of.get(v, []))
            amb = [w for w in r["from"] if n_in[w] > 1] + [w for w in r["to"] if n_out[w] > 1]
            if amb:
                r["problem"] = (f"{amb[0]} passes through the 'via' node both ways (ambiguous;"
                                " it should start or end there)")
            else:
                by_node.setdefault(v, []).append((r, None, None))
    cover = set(by_node)
    cover.update(int(roads.link_to[k]) for k in arrows)
    bad = np.flatnonzero(~link_car)
    cover.update(roads.link_to[bad].tolist())
    cover.update(roads.link_from[bad].tolist())
    rows = []
    lane0 = np.searchsorted(lanes.link, np.arange(roads.n_links + 1))
    for v in sorted(cover):
        ins, outs = ins_of.get(v, []), outs_of.get(v, [])
        turns = {}
        for f in ins:
            h_in = _heading(roads.link_geometry(f), True)
            for t in outs:
                ang = (_heading(roads.link_geometry(t), False) - h_in + 180.0) % 360.0 - 180.0
                back = (roads.link_to[t] == roads.link_from[f]
                        and roads.link_source[t] == roads.link_source[f])
                if back or abs(ang) > 170.0:
                    continue
                turns[(f, t)] = ("l" if ang > 45.0 else "r" if ang < -45.0 else "s", ang)
        only: dict[int, tuple] = {}
        geometric = dict(turns)
        for r, fr, to in by_node.get(v, []):
            _apply(turns, r, ins, outs, way_of, only, fr, to)
        _only(turns, geometric, only)
        for f in ins:
            moves = [(t, d, a) for (f_, t), (d, a) in turns.items() if f_ == f]
            allow = lanes.allow[lane0[f]:lane0[f + 1]]
            for t, d, lanes_f in _assign(moves, allow, arrows.get(f)):
                allow_t = lanes.allow[lane0[t]:lane0[t + 1]]
                for j, fl in enumerate(lanes_f):
                    rows.append((f, t, fl, _to_lane(allow[fl], allow_t, d, j, len(lanes_f)), d))
    bad_r = [r for r in restrictions if r["problem"] is not None]
    applied = len(restrictions) - len(bad_r)
    if applied:
        notes.append(f"{applied} turn restrictions applied as lane connections")
    if bad_r:
        notes.append(f"{len(bad_r)} turn restrictions not applied: " + "; ".join(
            f"{r['id']} ({r['problem']})" for r in bad_r[:5]) + (" …" if len(bad_r) > 5
                                                                  else ""))
    if not cover:
        return None
    rows.sort()
    n = len(rows)
    return RoadConnections(
        np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64),
        np.array([r[2] for r in rows], np.int16), np.array([r[3] for r in rows], np.int16),
        _obj([r[4] for r in rows]), _obj([""] * n), _obj([""] * n),
        np.full(n, -1, np.int32), _obj([""] * n))


def _assign(moves, allow, arrows):
    """Yield (to link, direction, from lanes) for the movements ``moves`` [(to, dir, angle)]
    of a link whose lanes have class masks ``allow`` (index 0 = rightmost)."""
    n = len(allow)
    if arrows is not None:
        found = {}
        for t, d, ang in moves:
            use = [j for j in range(n) if d in arrows[j] or "*" in arrows[j]]
            if not use and d == "t":
                use = [j for j in range(n) if "l" in arrows[j]][-1:]
            if not use and d == "s":
                side = "l" if ang > 0 else "r"
                use = [j for j in range(n) if side in arrows[j]]
            found[t] = (d, use)
        served = any(use for _, use in found.values())
        for t, (d, use) in found.items():
            if not use and served:
                continue  # the arrows are binding: no lane for this turn
            yield t, d, use or ([0] if d == "r" else [n - 1] if d in "lt" else list(range(n)))
        return
    car = [j for j in range(n) if allow[j] & T.PASSENGER] or list(range(n))
    other = [j for j in range(n) if j not in car]
    thr = any(d == "s" for _, d, _ in moves)
    m = len(car)
    for t, d, _ in moves:
        if len(moves) == 1 or d == "s":
            use = car
        elif d == "r":
            use = car[:1] if thr else car[:max(1, (m + 1) // 2)]
        else:
            use = car[-1:] if thr else car[m - max(1, m // 2):]
        yield t, d, sorted(use + other)


def _to_lane(a_from: int, allow_t, d: str, j: int, n_from: int) -> int:
    """The lane of the target link that from-lane number ``j`` (of ``n_from``, right to
    left) of a movement of direction ``d`` enters: among the target lanes sharing the most
    vehicle classes with it, counted from the right (from the left for lefts / U-turns)."""
    share = [bin(int(a_from) & int(b)).count("1") for b in allow_t]
    best = max(share)
    cand = [k for k, s in enumerate(share) if s == best]
    if d in "lt":
        return cand[::-1][min(n_from - 1 - j, len(cand) - 1)]
    return cand[min(j, len(cand) - 1)]
