"""The storm-sewer network of a synthetic district (SWMM's model, SI).

Manholes at the street nodes (rim = terrain); sewers follow the streets as a gravity tree that
drains each manhole to the nearest outfall by the cheapest path (length, plus a penalty for
every metre the ground rises in the flow direction); outfalls on the shores of the lake and
rivers (``city.water_bodies``), with flap gates. Pipes are sized by the **rational method**
Q = C·q·A for the design storm of return period :data:`DESIGN_P` years (GB 50014-2021 §4.1:
3–5 years for the storm sewers of large cities) with the flood kernel's storm-intensity
formula (:data:`twin.kernels.flood.rain.WUXI`; q = 167 i L/(s·ha), duration = 10 min inlet
time + pipe travel at 1 m/s), each manhole collecting the land nearest to it; smallest
standard DN whose Manning full-flow capacity (n = 0.013) carries Q, with minimum cover
(crown 1.0 m below ground) and minimum slopes (GB 50014 §5.2.10). Street inlets (gullies)
every 30 m on both sides of each street (§5.7: 25–50 m), 20 L/s each, drain to the
segment's ends; a clogging factor per manhole is drawn from the district's own ``drainage``
RNG stream, so the other asset files do not change.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from assets._lifeline_common import lifeline_rng, street_graph
from cim.model.drainage import DrainageNetwork
from cim.model.tables import _obj

DESIGN_P = 3.0                    # years
RUNOFF_C = 0.65                   # integrated runoff coefficient of a dense urban district
DN = np.array([0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4])
N_MANNING = 0.013
COVER_M = 1.0                     # ground to crown
INLET_SPACING_M, INLET_Q = 30.0, 0.020
OUTFALL_SPACING_M = 400.0         # at most one outfall per this much shore
SHORE_M = 150.0                   # street nodes this close to water may get an outfall
UPHILL_PENALTY = 200.0            # m of path per m the ground rises along the flow


def _smin(d):
    """Minimum slope (m/m) of a sewer of diameter d (m): 0.003 for DN300, ~0.3/DN(mm)."""
    return np.maximum(0.3 / (np.asarray(d) * 1000.0), 0.0005)


def _capacity(d, s):
    a = np.pi * d * d / 4
    return a * (d / 4) ** (2 / 3) * np.sqrt(s) / N_MANNING


def build_drainage(name: str, city, seed: int) -> tuple[DrainageNetwork, dict]:
    """Return the district's DrainageNetwork and its stats (nothing written)."""
    from twin.kernels.flood.rain import WUXI

    rng = lifeline_rng(seed, name, "drainage")
    sg = street_graph(city.roads, city.terrain)
    n = sg.n
    wb = city.water_bodies
    polys = [wb.polygons.to_shapely(i) for i in range(len(wb))]
    off = wb.polygons.object_offsets
    levels = [float(wb.polygons.vertices[wb.polygons.ring_offsets[
        wb.polygons.polygon_offsets[off[i]]], 2]) for i in range(len(wb))]
    # outfalls: street nodes near a shore, spread along it
    pts = shapely.points(sg.xy)
    out_node, out_xy, out_level, out_ids = [], [], [], []
    for w, (g, lvl) in enumerate(zip(polys, levels)):
        d = shapely.distance(g, pts)
        cand = np.flatnonzero(d < SHORE_M)
        cand = cand[np.argsort(d[cand], kind="stable")]
        chosen: list[int] = []
        for c in cand:
            if all(np.hypot(*(sg.xy[c] - sg.xy[o])) >= OUTFALL_SPACING_M for o in chosen):
                chosen.append(int(c))
        for j, c in enumerate(chosen):
            shore = shapely.get_coordinates(shapely.shortest_line(pts[c], g))[1]
            out_node.append(c)
            out_xy.append(shore)
            out_level.append(lvl)
            out_ids.append(f"of-{wb.ids[w]}-{j + 1:02d}")
    if not out_node:
        raise ValueError(f"{name}: no street node within {SHORE_M} m of a water body")
    out_node = np.asarray(out_node, np.int64)
    # gravity tree: cheapest path to an outfall (search from the outfalls upstream)
    a, b, L = sg.seg_from, sg.seg_to, sg.seg_length
    z = sg.z
    # an edge p→u in the search means water flows u→p
    w_ab = L + UPHILL_PENALTY * np.maximum(z[a] - z[b], 0.0)   # water b→a
    w_ba = L + UPHILL_PENALTY * np.maximum(z[b] - z[a], 0.0)   # water a→b
    G = sp.csr_matrix((np.r_[w_ab, w_ba], (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    dist, pred, _ = dijkstra(G, indices=np.unique(out_node), min_only=True,
                             return_predecessors=True)
    seg_of = {}
    for k in range(len(a)):
        seg_of[(int(a[k]), int(b[k]))] = seg_of[(int(b[k]), int(a[k]))] = k
    child = np.flatnonzero(pred >= 0)
    parent = pred[child]
    seg = np.array([seg_of[(int(u), int(p))] for u, p in zip(child, parent)], np.int64)
    plen = L[seg]
    # land draining to each manhole: terrain cells outside water, nearest manhole
    t = city.terrain
    ny, nx = t.shape
    cx = t.x0 + (np.arange(nx) + 0.5) * t.cell
    cy = t.y0 + (ny - np.arange(ny) - 0.5) * t.cell
    gx, gy = np.meshgrid(cx, cy)
    cells = np.c_[gx.ravel(), gy.ravel()]
    wet = shapely.contains_xy(shapely.union_all(polys), cells[:, 0], cells[:, 1]) \
        if polys else np.zeros(len(cells), bool)
    _, near = cKDTree(sg.xy).query(cells[~wet])
    area = np.bincount(near, minlength=n) * t.cell ** 2          # m²
    # accumulate area and travel time leaves → outfalls
    order = np.argsort(-dist, kind="stable")
    acc = area.astype(float).copy()
    travel = np.zeros(n)
    par = np.full(n, -1, np.int64)
    par[child] = parent
    plen_of = np.zeros(n)
    plen_of[child] = plen
    for u in order:
        p = par[u]
        if p >= 0:
            acc[p] += acc[u]
            travel[p] = max(travel[p], travel[u] + plen_of[u] / 1.0)
    tmin = 10.0 + travel / 60.0
    q_lsha = 167.0 * WUXI.intensity(DESIGN_P, tmin)
    Q = RUNOFF_C * q_lsha * acc / 1e4 / 1e3                      # m³/s leaving each manhole
    # diameters: smallest DN whose capacity at max(ground slope, min slope) carries Q
    gslope = np.zeros(n)
    gslope[child] = (z[child] - z[parent]) / plen
    D = np.zeros(n)
    barrels = np.ones(n, np.int64)
    for u in child:
        for d in DN:
            s = max(gslope[u], _smin(d))
            if _capacity(d, s) >= Q[u] or d == DN[-1]:
                D[u] = d
                barrels[u] = max(1, int(np.ceil(Q[u] / _capacity(d, s))))
                break
    # inverts leaves first: crown ≥ COVER below ground, each pipe at ≥ its minimum slope
    inv = z - COVER_M - np.where(D > 0, D, DN[0])
    for u in order:
        p = par[u]
        if p >= 0:
            s = max(gslope[u], _smin(D[u]))
            inv[p] = min(inv[p], inv[u] - s * plen_of[u], z[p] - COVER_M - D[u])
    # outfall pipes: street node → shore, at the minimum slope
    roots = np.unique(out_node)
    dmax = np.zeros(n)
    np.maximum.at(dmax, parent, D[child])
    ids = np.array([f"mh-{r}" for r in sg.road_ids], object)
    node_xy = np.r_[sg.xy, np.asarray(out_xy)]
    o_len = np.maximum(np.hypot(*(np.asarray(out_xy) - sg.xy[out_node]).T), 10.0)
    # each root's collected flow goes out through its first outfall; others relieve it
    first = {int(r): i for i, r in reversed(list(enumerate(out_node)))}
    o_d = np.array([max(dmax[r], DN[0]) if first[int(r)] == i else DN[0]
                    for i, r in enumerate(out_node)])
    o_inv = inv[out_node] - _smin(o_d) * o_len
    nn = n + len(out_node)
    clog = rng.uniform(0.8, 1.0, n)
    seg_len = np.zeros(n)
    np.add.at(seg_len, a, L)
    np.add.at(seg_len, b, L)
    inlets = np.round(seg_len / INLET_SPACING_M).astype(np.int64)  # ½ per end × 2 sides
    cap = np.where(inlets > 0, inlets * INLET_Q * clog, np.nan)
    link_from = np.r_[child, out_node]
    link_to = np.r_[parent, n + np.arange(len(out_node))]
    geo_off = [0]
    geo = []
    for u, k in zip(child, seg):
        line = sg.geom_xy[sg.geom_offsets[k]:sg.geom_offsets[k + 1]]
        if sg.seg_from[k] != u:
            line = line[::-1]
        geo.append(line)
        geo_off.append(geo_off[-1] + len(line))
    for i, c in enumerate(out_node):
        geo.append(np.array([sg.xy[c], out_xy[i]]))
        geo_off.append(geo_off[-1] + 2)
    nlink = len(link_from)
    net = DrainageNetwork(
        node_ids=_obj(list(ids) + out_ids), node_xy=node_xy,
        link_ids=_obj([f"sw-{sg.seg_ids[k]}" for k in seg] +
                      [f"sw-{o}" for o in out_ids]),
        link_from=link_from.astype(np.int64), link_to=link_to.astype(np.int64),
        link_length=np.r_[plen, o_len], geometry_offsets=np.asarray(geo_off, np.int64),
        geometry_xy=np.concatenate(geo).astype(float),
        node_type=_obj(["junction"] * n + ["outfall"] * len(out_node)),
        node_invert=np.round(np.r_[inv, o_inv], 3),
        node_max_depth=np.round(np.r_[z - np.round(inv, 3), np.zeros(len(out_node))], 3),
        node_outfall_type=_obj([None] * n + ["fixed"] * len(out_node)),
        node_outfall_stage=np.r_[np.full(n, np.nan), out_level],
        node_flap_gate=np.r_[np.zeros(n, bool), np.ones(len(out_node), bool)],
        node_inlet_capacity=np.round(np.r_[cap, np.full(len(out_node), np.nan)], 4),
        node_inlets=np.r_[inlets, np.zeros(len(out_node), np.int64)],
        link_roughness=np.full(nlink, N_MANNING),
        link_shape=_obj(["circular"] * nlink),
        link_geom=np.c_[np.r_[D[child], o_d], np.zeros((nlink, 3))],
        link_barrels=np.r_[barrels[child], [barrels[r] if first[int(r)] == i else 1
                                            for i, r in enumerate(out_node)]].astype(np.int64),
        flow_units="CMS",
        title=[f"{name}: synthetic storm sewers (assets/drainage.py), rational method, "
               f"P = {DESIGN_P:g} years"])
    del roots, nn
    big = net.link_barrels > 1
    stats = {"manholes": int(n), "outfalls": len(out_node), "conduits": int(nlink),
             "sewer_km": round(float(net.link_length.sum()) / 1e3, 1),
             "inlets": int(inlets.sum()), "design_return_period_y": DESIGN_P,
             "largest_dn_m": float(net.link_geom[:, 0].max()),
             "multi_barrel_conduits": int(big.sum()),
             "design_peak_m3s": round(float(Q[roots_of(out_node)].sum()), 2)}
    return net, stats


def roots_of(out_node):
    """The distinct street nodes that carry outfalls."""
    return np.unique(out_node)
