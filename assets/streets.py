"""The street network of a synthetic district: the spec's named main roads plus a generated
grid of local streets, noded into a planar, connected, signalized network.

All geometry here is in local metres (EPSG:4549 minus the district origin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.ops import substring

from cim.graph import csr, largest_strong_component
from cim.roads import LANE_WIDTH_M, class_defaults

#: road class -> hierarchy rank (higher = more important)
CLASS_RANK = {"trunk": 5, "primary": 4, "secondary": 3, "tertiary": 2, "residential": 1,
              "service": 0}
#: classes whose crossings are signalized
SIGNAL_CLASSES = ("primary", "secondary", "tertiary")
#: local street spacing range (m): blocks of ~120–250 m between streets
LOCAL_SPACING_M = (130.0, 240.0)
#: clearance (m) kept between local streets and grade-separated roads / barriers
GRADE_CLEARANCE_M = 30.0


@dataclass
class Source:
    """A source line of the network: a named main road or a generated local street."""

    id: str
    name: str
    cls: str
    lanes: int
    speed_kmh: float
    rank: int
    main: bool


@dataclass
class Streets:
    """The noded network: segments (local metres) with their source and flags, and nodes."""

    node_xy: np.ndarray          # (n_nodes, 2)
    seg_from: np.ndarray         # (n_segs,) int64
    seg_to: np.ndarray           # (n_segs,) int64
    seg_geom: list               # shapely LineStrings
    seg_source: list             # Source per segment
    seg_tunnel: np.ndarray       # bool
    seg_bridge: np.ndarray       # bool
    signal_plans: dict           # node index -> plan dict
    dropped_nodes: int           # nodes removed as disconnected pieces
    superblocks: list            # shapely Polygons between main roads (local)


def _tunnel_spans(line, road: dict, named_lines: dict) -> list[tuple[float, float]]:
    spans = []
    for t in road.get("tunnels", []):
        other = named_lines.get(t["under"])
        if other is None:
            raise ValueError(f"road {road['id']}: tunnel under unknown road {t['under']!r}")
        hit = line.intersection(other)
        if hit.is_empty:
            raise ValueError(f"road {road['id']} does not cross {t['under']!r}")
        d = line.project(shapely.Point(shapely.get_coordinates(hit)[0]))
        half = 0.5 * float(t["length_m"])
        spans.append((max(d - half, 0.0), min(d + half, line.length)))
    return sorted(spans)


def _grade_separated_part(line, road: dict, named_lines: dict):
    gs = road.get("grade_separated")
    if not gs:
        return None
    other = named_lines[gs["from"]]
    hit = line.intersection(other)
    d0 = line.project(shapely.Point(shapely.get_coordinates(hit)[0]))
    return substring(line, d0, line.length)


def _split_spans(line, spans):
    """Return [(piece, in_span)] cutting ``line`` at the span ends."""
    cuts = [0.0]
    for a, b in spans:
        cuts += [a, b]
    cuts.append(line.length)
    out = []
    for k in range(len(cuts) - 1):
        a, b = cuts[k], cuts[k + 1]
        if b - a > 0.5:
            out.append((substring(line, a, b), k % 2 == 1))
    return out


def _local_grid(block, rng, land, sources, next_id):
    """Return local street lines (LineStrings) inside superblock ``block``, clipped to
    ``land``, oriented along the block's minimum rotated rectangle."""
    if block.area < 4 * LOCAL_SPACING_M[0] ** 2:
        return []
    rect = np.asarray(block.minimum_rotated_rectangle.exterior.coords)[:4]
    e = rect[1] - rect[0]
    ang = np.arctan2(e[1], e[0])
    u = np.array([np.cos(ang), np.sin(ang)])
    v = np.array([-u[1], u[0]])
    pts = shapely.get_coordinates(block.exterior)
    cx, cy = pts.mean(axis=0)
    rel = pts - [cx, cy]
    pu, pv = rel @ u, rel @ v
    lines = []
    for axis, (lo, hi), (olo, ohi) in ((u, (pu.min(), pu.max()), (pv.min(), pv.max())),
                                       (v, (pv.min(), pv.max()), (pu.min(), pu.max()))):
        other = v if axis is u else u
        pos = lo + rng.uniform(*LOCAL_SPACING_M) * rng.uniform(0.4, 0.9)
        while pos < hi - 0.4 * LOCAL_SPACING_M[0]:
            a = np.array([cx, cy]) + axis * pos + other * (olo - 10)
            b = np.array([cx, cy]) + axis * pos + other * (ohi + 10)
            lines.append((a, b))
            pos += rng.uniform(*LOCAL_SPACING_M)
    if not lines:
        return []
    geoms = shapely.linestrings(np.array([[a, b] for a, b in lines]))
    clipped = shapely.intersection(geoms, land)
    out = []
    for g in clipped:
        for part in shapely.get_parts(g):
            if part.geom_type == "LineString" and part.length > 40:
                k = next_id()
                collector = rng.random() < 0.25 and part.length > 500
                cls = "tertiary" if collector else "residential"
                lanes, speed, _ = class_defaults(cls)
                sources.append(Source(f"st{k:04d}", f"Synthetic Street {k}", cls, lanes, speed,
                                      CLASS_RANK[cls], False))
                out.append((part, len(sources) - 1))
    return out


def build_streets(spec: dict, ctx, rng: np.random.Generator) -> Streets:
    """Return the noded street network of the district described by ``spec``.

    ``ctx`` provides ``to_local`` (lon/lat (n, 2) -> local metres), ``extent`` (Polygon),
    ``water`` (union of water polygons), ``barriers`` (union of barrier polygons) and
    ``no_street`` (areas without local streets, e.g. hill cores)."""
    sources: list[Source] = []
    named: dict[str, object] = {}
    pieces: list[tuple[object, int, bool]] = []      # (line, source index, tunnel)
    grade_sep = []
    for road in spec["roads"]:
        full = shapely.LineString(ctx.to_local(np.asarray(road["line"], float)))
        named[road["name"]] = full
    for road in spec["roads"]:
        full = named[road["name"]]
        lanes = int(road.get("lanes", class_defaults(road["class"])[0]))
        speed = float(road.get("maxspeed_kmh", class_defaults(road["class"])[1]))
        sources.append(Source(road["id"], road["name"], road["class"], lanes, speed,
                              CLASS_RANK.get(road["class"], 1), True))
        si = len(sources) - 1
        gs = _grade_separated_part(full, road, named)
        if gs is not None:
            grade_sep.append(gs)
        for piece, tunnel in _split_spans(full, _tunnel_spans(full, road, named)):
            clipped = piece.intersection(ctx.extent)
            for part in shapely.get_parts(clipped):
                if part.geom_type == "LineString" and part.length > 1.0:
                    pieces.append((part, si, tunnel))

    # superblocks between main roads; local streets inside them
    main_union = shapely.union_all([p for p, _, _ in pieces] + [ctx.extent.exterior])
    superblocks = [g for g in shapely.get_parts(shapely.polygonize(shapely.get_parts(main_union)))
                   if g.area > 1.0]
    avoid = ctx.water
    if grade_sep:
        avoid = avoid.union(shapely.union_all(grade_sep).buffer(GRADE_CLEARANCE_M))
    if ctx.barriers is not None and not ctx.barriers.is_empty:
        avoid = avoid.union(ctx.barriers.buffer(GRADE_CLEARANCE_M * 0.5))
    if ctx.no_street is not None:
        avoid = avoid.union(ctx.no_street)
    counter = iter(range(1, 10 ** 6))
    for sb in sorted(superblocks, key=lambda g: (round(g.centroid.x), round(g.centroid.y))):
        land = sb.difference(avoid)
        if land.is_empty:
            continue
        for line, si in _local_grid(sb, rng, land, sources, lambda: next(counter)):
            pieces.append((line, si, False))

    # node everything that meets at grade (tunnels stay apart) with the helper boundaries
    at_grade = [(p, si) for p, si, t in pieces if not t]
    helpers = list(shapely.get_parts(shapely.boundary(ctx.water))) if not ctx.water.is_empty else []
    if ctx.barriers is not None and not ctx.barriers.is_empty:
        helpers += list(shapely.get_parts(shapely.boundary(ctx.barriers)))
    src_lines = np.array([p for p, _ in at_grade] + helpers, dtype=object)
    src_idx = np.array([si for _, si in at_grade] + [-1] * len(helpers))
    noded = shapely.get_parts(shapely.node(shapely.MultiLineString(
        [ln for g in src_lines for ln in shapely.get_parts(shapely.line_merge(g))
         if ln.geom_type == "LineString"])))
    mids = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    tree = shapely.STRtree(src_lines)
    qi, qt = tree.query(mids, predicate="dwithin", distance=0.05)
    rank = np.array([sources[s].rank if s >= 0 else -1 for s in src_idx])
    best = np.full(len(noded), -1)
    best_rank = np.full(len(noded), -2)
    for i, t in zip(qi, qt):
        if rank[t] > best_rank[i]:
            best_rank[i], best[i] = rank[t], src_idx[t]
    keep = best >= 0
    segs = list(noded[keep])
    seg_src = list(best[keep])
    seg_tunnel = [False] * len(segs)
    for p, si, t in pieces:
        if t:
            segs.append(p)
            seg_src.append(si)
            seg_tunnel.append(True)
    segs_arr = np.array(segs, dtype=object)
    lengths = shapely.length(segs_arr)
    ok = lengths > 1.0
    segs_arr = segs_arr[ok]
    seg_src = np.asarray(seg_src)[ok]
    seg_tunnel = np.asarray(seg_tunnel)[ok]
    mids = shapely.line_interpolate_point(segs_arr, 0.5, normalized=True)
    seg_bridge = shapely.contains(ctx.water, mids) & ~seg_tunnel
    if ctx.barriers is not None and not ctx.barriers.is_empty:
        seg_bridge |= shapely.contains(ctx.barriers, mids) & ~seg_tunnel

    # nodes = rounded segment ends
    first = shapely.get_coordinates(shapely.get_point(segs_arr, 0))
    last = shapely.get_coordinates(shapely.get_point(segs_arr, -1))
    ends = np.round(np.vstack([first, last]), 2)
    uniq, inv = np.unique(ends, axis=0, return_inverse=True)
    inv = inv.ravel()
    n = len(segs_arr)
    a, b = inv[:n], inv[n:]
    loop = a == b
    a, b, segs_arr = a[~loop], b[~loop], segs_arr[~loop]
    seg_src, seg_tunnel, seg_bridge = seg_src[~loop], seg_tunnel[~loop], seg_bridge[~loop]

    # keep the largest connected piece (every street is two-way, so weak = strong)
    used = np.zeros(len(uniq), bool)
    used[a] = used[b] = True
    node_keep = used & largest_strong_component(
        csr(len(uniq), np.concatenate([a, b]), np.concatenate([b, a])))
    keep = node_keep[a]
    dropped = int(used.sum() - node_keep.sum())
    remap = -np.ones(len(uniq), np.int64)
    remap[node_keep] = np.arange(node_keep.sum())
    a, b = remap[a[keep]], remap[b[keep]]
    segs_arr, seg_src = segs_arr[keep], seg_src[keep]
    seg_tunnel, seg_bridge = seg_tunnel[keep], seg_bridge[keep]
    node_xy = uniq[node_keep]

    plans = _signals(node_xy, a, b, seg_src, seg_tunnel, sources, rng)
    return Streets(node_xy, a, b, list(segs_arr), [sources[s] for s in seg_src], seg_tunnel,
                   seg_bridge, plans, dropped, superblocks)


def _signals(node_xy, a, b, seg_src, seg_tunnel, sources, rng) -> dict:
    """Return {node: plan} for at-grade nodes where arterials/collectors of two different
    roads meet (degree >= 3). Plans: 2 phases (4 where two roads of secondary class or above
    cross); cycle by the two highest classes; greens split by approach lanes; yellow+all-red
    4 s per phase; random offset (coordination is left to the operators' agents)."""
    n = len(node_xy)
    ends = np.concatenate([a, b])
    src = np.concatenate([seg_src, seg_src])
    tun = np.concatenate([seg_tunnel, seg_tunnel])
    order = np.lexsort((src, ends))
    plans = {}
    deg = np.bincount(ends, minlength=n)
    by_node: dict[int, set] = {}
    for e, s, t in zip(ends[order], src[order], tun[order]):
        if not t and deg[e] >= 3:
            by_node.setdefault(int(e), set()).add(int(s))
    cycles = {(4, 4): 120, (4, 3): 110, (3, 3): 100, (4, 2): 90, (3, 2): 80, (2, 2): 60}
    for node in sorted(by_node):
        srcs = [sources[s] for s in sorted(by_node[node])]
        if any(s.cls == "trunk" for s in srcs):
            continue
        sig = sorted({(s.rank, s.lanes) for s in srcs if s.cls in SIGNAL_CLASSES},
                     reverse=True)
        names = {s.name for s in srcs if s.cls in SIGNAL_CLASSES}
        if len(names) < 2:
            continue
        (r1, l1), (r2, l2) = sig[0], sig[1] if len(sig) > 1 else sig[0]
        cycle = cycles.get((r1, r2), 60)
        n_phases = 4 if r2 >= 3 else 2
        yellow = 4
        green_total = cycle - n_phases * yellow
        if n_phases == 2:
            w = np.array([l1, l2], float)
        else:  # through and left-turn phase per road; left turns get 30 %
            w = np.array([0.7 * l1, 0.3 * l1, 0.7 * l2, 0.3 * l2])
        green = np.floor(green_total * w / w.sum()).astype(int)
        green[0] += green_total - green.sum()
        plans[node] = {"cycle_s": float(cycle), "offset_s": float(rng.integers(0, cycle)),
                       "green_s": [float(x) for x in green], "yellow_s": float(yellow)}
    return plans


def street_width(src: Source) -> float:
    """Return the carriageway width (m) of a street: lanes both ways × lane width."""
    return 2 * src.lanes * LANE_WIDTH_M
