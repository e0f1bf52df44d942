"""The water supply network of a synthetic district (EPANET's model, SI).

Mains follow the streets (one pipe per street segment); a treatment plant's clear well
(reservoir) with its high-lift pumps feeds the network from the district edge and booster
stations at the ``pumping_station`` sites pump from their own clear wells (reservoirs fed by
the regional transmission main); a few elevated tanks float on the system. Hills get their own
pressure zones (bands of ground elevation), each fed through a booster pump and a pressure-
reducing valve at its entry (a constant-pressure booster), the other boundary pipes closed.
Every building's residents and jobs are a demand category (category = building id) at the
nearest junction, with hourly residential and commercial patterns. Pipe diameters are sized
from standard DN for the peak hour with a small steady-state solver; isolation valves follow
the N-1 rule (every pipe at a node gets a valve but one, drawn from the seed).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import breadth_first_order, connected_components

from assets._lifeline_common import (
    lifeline_rng,
    sites_xy,
    solve_laplacian,
    spread,
    street_graph,
)
from cim.model import WaterNetwork
from cim.model.tables import _obj
from cim.model.water import WaterCurve, WaterDemands

#: standard nominal diameters (m), DN100–DN1200
DN = np.array([0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2])
#: smallest main by road class (m)
MIN_DN = {"trunk": 0.3, "primary": 0.3, "secondary": 0.2, "tertiary": 0.15}
HW_C = 120.0                    # Hazen–Williams C, cement-lined ductile iron
V_MAX = 1.0                     # m/s at the peak hour (sizing)
S_MAX = 0.003                   # m/m head-loss gradient at the peak hour (sizing)
P_MIN_TARGET = 25.0             # m, lowest peak-hour pressure the sources are set for
ZONE_BASE_M = 12.0              # ground above this (m) is in a boosted hill zone…
ZONE_RANGE_M = 23.0             # …of at most this range of ground elevation
ZONE_MERGE_M = 25.0             # small zones merge while their union spans at most this
#: average daily water use: L per resident, and L per job by building use
L_PER_RESIDENT = 200.0
L_PER_JOB = {"office": 50.0, "commercial": 120.0, "mixed": 100.0, "industrial": 80.0,
             "education": 250.0, "health": 400.0}
SOURCE_NOTE = ("estimate: residential 200 L/person/day and per-job rates within the ranges of "
               "GB 50013-2018 / GB 50015-2019; diurnal patterns typical of Chinese cities")
#: hourly multipliers from 0:00 (normalised to mean 1)
_RES = [0.45, 0.38, 0.35, 0.35, 0.40, 0.60, 1.05, 1.55, 1.45, 1.15, 1.05, 1.10, 1.20, 1.05,
        0.95, 0.95, 1.05, 1.25, 1.50, 1.60, 1.50, 1.25, 0.95, 0.65]
_COM = [0.30, 0.25, 0.25, 0.25, 0.25, 0.30, 0.45, 0.80, 1.35, 1.60, 1.65, 1.65, 1.50, 1.55,
        1.65, 1.60, 1.50, 1.30, 1.05, 0.85, 0.70, 0.55, 0.45, 0.35]
PATTERNS = {"residential": np.round(np.array(_RES) / np.mean(_RES), 4),
            "commercial": np.round(np.array(_COM) / np.mean(_COM), 4)}
PUMP_EFFICIENCY = 0.75


def hw_r(length, d):
    """Hazen–Williams resistance r of h = r q^1.852 (SI: m, m³/s)."""
    return 10.667 * length / (HW_C ** 1.852 * np.asarray(d, float) ** 4.871)


def pump_curve(q_design: float, h_design: float) -> tuple[np.ndarray, np.ndarray]:
    """Return a three-point head curve (flow m³/s, head m) through the design point."""
    return (np.round([0.0, q_design, 1.6 * q_design], 5),
            np.round([1.12 * h_design, h_design, 0.7 * h_design], 2))


def pump_head(x, y, q):
    """Head (m) of the three-point curve (x, y) at flow ``q`` (EPANET's h = A − B q^C)."""
    a = y[0]
    c = np.log((a - y[2]) / (a - y[1])) / np.log(x[2] / x[1])
    b = (a - y[1]) / x[1] ** c
    return a - b * np.maximum(q, 0.0) ** c


def solve(n, a, b, r, fixed, head, inject, iters=60):
    """Steady flows of pipes a→b with resistances ``r`` (h = r q^1.852), heads ``head`` held
    at nodes ``fixed``, ``inject`` (n,) m³/s (demand negative). Returns (heads (n,), q (m,))."""
    q = np.full(len(a), 1e-3)
    for _ in range(iters):
        g = 1.0 / (r * np.maximum(np.abs(q), 1e-6) ** 0.852)
        h = solve_laplacian(n, a, b, g, fixed, head, inject)
        qn = g * (h[a] - h[b])
        q = 0.5 * (q + qn)
    return h, q


def size(d, q, length):
    """Return the smallest standard DN >= ``d`` that carries ``q`` within V_MAX and S_MAX."""
    qa = np.abs(q)[:, None]
    v = qa / (np.pi * DN[None, :] ** 2 / 4)
    s = hw_r(1.0, DN)[None, :] * qa ** 1.852
    ok = (v <= V_MAX) & (s <= S_MAX) & (DN[None, :] >= d[:, None] - 1e-9)
    ok[:, -1] = True
    return DN[np.argmax(ok, axis=1)]


def build_water(name: str, city, sites: list, seed: int) -> tuple[WaterNetwork, dict]:
    """Return the district's water network (EPSG:4549, SI) and its stats."""
    rng = lifeline_rng(seed, name, "water")
    sg = street_graph(city.roads, city.terrain)
    n, m = sg.n, sg.m
    b = city.buildings
    cen = b.footprint.centroids()
    bnode = sg.nearest(cen)
    # demand rows: residents (residential pattern), jobs (commercial pattern)
    res = np.nan_to_num(np.asarray(b.residents, float))
    per_job = np.array([L_PER_JOB.get(str(u), 80.0) for u in b.use])
    jobs = np.nan_to_num(np.asarray(b.jobs, float)) * per_job
    rows_r, rows_j = np.flatnonzero(res > 0), np.flatnonzero(jobs > 0)
    d_bld = np.r_[rows_r, rows_j]
    d_base = np.r_[res[rows_r] * L_PER_RESIDENT, jobs[rows_j]] / 1000.0 / 86400.0
    d_pat = np.r_[np.full(len(rows_r), "residential", object),
                  np.full(len(rows_j), "commercial", object)]
    order = np.lexsort((np.arange(len(d_bld)), d_bld))
    d_bld, d_base, d_pat = d_bld[order], np.round(d_base[order], 9), d_pat[order]
    d_node = bnode[d_bld]
    mult = np.where((d_pat == "residential")[:, None], PATTERNS["residential"],
                    PATTERNS["commercial"])
    hourly = (d_base[:, None] * mult).sum(axis=0)
    peak_h = int(np.argmax(hourly))
    night_h = int(np.argmin(hourly))
    q_peak = np.bincount(d_node, d_base * mult[:, peak_h], minlength=n)
    q_night = np.bincount(d_node, d_base * mult[:, night_h], minlength=n)

    # pressure zones: the low plain (one zone); the rest grown from the highest node left,
    # each zone the connected nodes within ZONE_RANGE_M below its highest one
    low = sg.z <= ZONE_BASE_M
    adj = sg.adjacency((low[sg.seg_from] & low[sg.seg_to]).astype(float))
    adj.eliminate_zeros()
    _, lab = connected_components(adj, directed=False)
    lq = np.where(low, q_peak + 1e-12, 0.0)
    main_lab = int(np.argmax(np.bincount(lab, lq)))
    zone = np.where(low & (lab == main_lab), 0, -1)
    full = sg.adjacency()
    n_zone = 1
    while (zone < 0).any():
        free = np.flatnonzero(zone < 0)
        seed = free[np.argmax(sg.z[free])]
        ok = (zone < 0) & (sg.z >= sg.z[seed] - ZONE_RANGE_M)
        sub = full[ok][:, ok]
        _, lab = connected_components(sub, directed=False)
        idx = np.flatnonzero(ok)
        zone[idx[lab == lab[np.searchsorted(idx, seed)]]] = n_zone
        n_zone += 1
    zone = _merge_zones(zone, sg)
    n_zone = int(zone.max()) + 1
    main = 0
    cross = np.flatnonzero(~(zone[sg.seg_from] == zone[sg.seg_to]))
    zadj = np.zeros((n_zone, n_zone))
    zadj[zone[sg.seg_from[cross]], zone[sg.seg_to[cross]]] = 1
    zorder, zpred = breadth_first_order(zadj + zadj.T, main, directed=False)
    pipe_open = np.ones(m, bool)
    pipe_open[cross] = False
    entries = []       # (zone, segment, supplier node, zone node)
    for zz in zorder[1:]:
        p = zpred[zz]
        fa, ta = zone[sg.seg_from[cross]], zone[sg.seg_to[cross]]
        cand = cross[((fa == p) & (ta == zz)) | ((fa == zz) & (ta == p))]
        zn = np.where(zone[sg.seg_from[cand]] == zz, sg.seg_from[cand], sg.seg_to[cand])
        k = int(np.lexsort((cand, sg.z[zn]))[0])
        s_node = sg.seg_from[cand[k]] if zn[k] == sg.seg_to[cand[k]] else sg.seg_to[cand[k]]
        entries.append((int(zz), int(cand[k]), int(s_node), int(zn[k])))
    # a zone's demand, its sub-zones' included, is drawn at its supplier node
    ztot = np.bincount(zone, q_peak, minlength=n_zone)
    ztot_n = np.bincount(zone, q_night, minlength=n_zone)
    for zz, _, s, _ in entries[::-1]:
        ztot[zone[s]] += ztot[zz]
        ztot_n[zone[s]] += ztot_n[zz]

    # sources: the plant at a dead end of a main road on the edge, boosters at the sites
    deg = np.bincount(np.r_[sg.seg_from, sg.seg_to], minlength=n)
    in_main = zone == main
    ps_ids, ps_xy = sites_xy(sites, "pumping_station")
    on_main_road = np.zeros(n, bool)
    big = np.isin(sg.seg_class, ["trunk", "primary", "secondary"])
    on_main_road[sg.seg_from[big]] = on_main_road[sg.seg_to[big]] = True
    cand = np.flatnonzero(in_main & (deg == 1) & on_main_road)
    if len(cand) == 0:
        cand = np.flatnonzero(in_main & (deg == 1)) if (in_main & (deg == 1)).any() \
            else np.flatnonzero(in_main)
    far = np.min(np.hypot(*(sg.xy[cand][:, None, :] - ps_xy[None, :, :]).transpose(2, 0, 1)),
                 axis=1) if len(ps_xy) else np.zeros(len(cand))
    plant_node = int(cand[np.lexsort((cand, -np.round(far)))[0]])
    away = sg.xy[plant_node] - sg.xy.mean(axis=0)
    away /= max(np.hypot(*away), 1e-9)
    stations = [("wtp", plant_node, sg.xy[plant_node] + 150 * away, 3)]
    titles = [f"{name}: synthetic water supply network (assets/water.py, seed {seed})",
              "wtp: treatment plant clear well and high-lift pumps (synthetic)"]
    for i, (site, xy) in enumerate(zip(ps_ids, ps_xy)):
        sid = f"bs{i + 1:02d}"
        titles.append(f"{sid}: booster station at site {site}")
        j = int(sg.nearest(xy[None], np.flatnonzero(in_main))[0])
        if np.hypot(*(xy - sg.xy[j])) < 20:
            xy = sg.xy[j] + np.array([30.0, 0.0])
        stations.append((sid, j, xy, 2))

    # sizing: peak hour, station connections and zone entries at fixed heads
    src_nodes = np.array([s[1] for s in stations])
    ent_nodes = np.array([e[3] for e in entries], np.int64)
    demand = -q_peak.copy()
    np.add.at(demand, [e[2] for e in entries], -np.array([ztot[e[0]] for e in entries]))
    demand[ent_nodes] += np.array([ztot[e[0]] for e in entries])
    cls_min = np.array([MIN_DN.get(str(c), 0.1) for c in sg.seg_class])
    dia = cls_min.copy()
    oa, ob = sg.seg_from[pipe_open], sg.seg_to[pipe_open]
    fixed = np.r_[src_nodes, ent_nodes]
    for _ in range(6):
        h0 = np.r_[np.full(len(src_nodes), 40.0), np.full(len(ent_nodes), 40.0)]
        h, q = solve(n, oa, ob, hw_r(sg.seg_length[pipe_open], dia[pipe_open]), fixed, h0,
                     demand, iters=40)
        dia[pipe_open] = size(np.maximum(dia[pipe_open], cls_min[pipe_open]), q,
                              sg.seg_length[pipe_open])
    h, q = solve(n, oa, ob, hw_r(sg.seg_length[pipe_open], dia[pipe_open]), fixed,
                 np.full(len(fixed), 40.0), demand)
    loss = 40.0 - h
    h_src = float(np.max((sg.z + P_MIN_TARGET + loss)[in_main]))
    hgl_peak = h_src - loss
    inflow = np.zeros(n)
    np.add.at(inflow, oa, -q)
    np.add.at(inflow, ob, q)
    out = -inflow - demand   # supplied at the fixed nodes (m³/s)

    # zone targets and pumps
    z_hgl = {}
    for zz, *_ in entries:
        zmax, zmin = sg.z[zone == zz].max(), sg.z[zone == zz].min()
        z_hgl[zz] = float(np.round(min(zmax + P_MIN_TARGET, zmin + 47.0), 1))
    ent = []
    for zz, k, s, e in entries:
        hs = hgl_peak[s] if zone[s] == main else z_hgl[zone[s]] - 2.0
        head = z_hgl[zz] + 6.0 - hs
        ent.append((zz, k, s, e, max(head, 0.0), max(ztot[zz] * 1.25, 0.001)))

    # tanks: a few, far from the sources, spread out
    n_tank = 3 if in_main.sum() > 2500 else 2
    dist_src = np.min(np.hypot(*(sg.xy[:, None, :] - sg.xy[src_nodes][None]).transpose(2, 0, 1)),
                      axis=1)
    cand = np.flatnonzero(in_main & (deg >= 3))
    cand = cand[np.argsort(-dist_src[cand], kind="stable")[: max(len(cand) // 4, n_tank)]]
    tank_nodes = cand[spread(sg.xy[cand], n_tank, 0)]

    # ---- assemble the network --------------------------------------------------------
    nid = [f"j-{r}" for r in sg.road_ids]
    nxy = [sg.xy]
    ntype = ["junction"] * n
    elev = list(np.round(sg.z, 2))
    extra = {"init": {}, "min": {}, "max": {}, "diam": {}}
    lid, lfrom, lto, ltype, ldia, llen, lgeo, lstat, lset, lcurve = ([] for _ in range(10))
    curves = {}

    def node(i, x, t, z):
        nid.append(i)
        nxy.append(np.asarray(x, float)[None])
        ntype.append(t)
        elev.append(round(float(z), 2))
        return len(nid) - 1

    def link(i, a, b_, t, d, length, geo, st="open", setting=np.nan, curve=None):
        lid.append(i)
        lfrom.append(a)
        lto.append(b_)
        ltype.append(t)
        ldia.append(d)
        llen.append(round(float(length), 2))
        lgeo.append(np.asarray(geo, float))
        lstat.append(st)
        lset.append(setting)
        lcurve.append(curve)

    gx = sg.geom_xy
    seg_geo = [gx[sg.geom_offsets[k]:sg.geom_offsets[k + 1]] for k in range(m)]
    ent_by_seg = {k: (zz, s, e, head, qd) for zz, k, s, e, head, qd in ent}
    for k in range(m):
        a_, b_ = int(sg.seg_from[k]), int(sg.seg_to[k])
        st = "open" if pipe_open[k] else "closed"
        if k in ent_by_seg:
            zz, s, e, head, qd = ent_by_seg[k]
            xy_s = sg.xy[s]
            src = s
            if head > 0:
                pout = node(f"j-zone{zz:03d}-pump", xy_s + [2.0, 0.0], "junction", sg.z[s])
                x, y = pump_curve(qd, round(head, 1))
                curves[f"pc-zone{zz:03d}"] = WaterCurve("pump", x, y)
                link(f"pump-zone{zz:03d}", s, pout, "pump", np.nan, 2.0,
                     [xy_s, xy_s + [2.0, 0.0]], "open", 1.0, f"pc-zone{zz:03d}")
                src = pout
            vout = node(f"j-zone{zz:03d}-prv", xy_s + [4.0, 0.0], "junction", sg.z[s])
            link(f"prv-zone{zz:03d}", src, vout, "prv", dia[k], 2.0,
                 [xy_s + [2.0 if src != s else 0.0, 0.0], xy_s + [4.0, 0.0]], None,
                 round(z_hgl[zz] - float(np.round(sg.z[s], 2)), 2))
            a_, b_ = (vout, e)
            geo = seg_geo[k] if sg.seg_from[k] == s else seg_geo[k][::-1]
            link(f"p-{sg.seg_ids[k]}", a_, b_, "pipe", dia[k], sg.seg_length[k], geo, "open")
            continue
        link(f"p-{sg.seg_ids[k]}", a_, b_, "pipe", dia[k], sg.seg_length[k], seg_geo[k], st)
    pumps = []
    for sid, j, xy, npump in stations:
        zg = float(city.terrain.sample(np.array([xy[0]]), np.array([xy[1]]))[0])
        zg = zg if np.isfinite(zg) else float(sg.z[j])
        suction = round(max(zg, 2.0) + 1.0, 2)
        qs = max(float(out[j]), 0.02)
        head = round(h_src - suction, 1)
        r = node(f"r-{sid}", xy, "reservoir", suction)
        hx = xy + 0.5 * (sg.xy[j] - xy)
        hdr = node(f"j-{sid}-header", hx, "junction", sg.z[j])
        x, y = pump_curve(round(qs / npump, 4), head)
        curves[f"pc-{sid}"] = WaterCurve("pump", x, y)
        for p in range(npump):
            link(f"pump-{sid}-{p + 1}", r, hdr, "pump", np.nan, np.hypot(*(hx - xy)),
                 [xy, hx], "open", 1.0, f"pc-{sid}")
            pumps.append((f"pump-{sid}-{p + 1}", qs / npump, head))
        dd = size(np.array([0.3]), np.array([qs]), np.array([1.0]))[0]
        link(f"p-{sid}-main", hdr, j, "pipe", dd, max(np.hypot(*(sg.xy[j] - hx)), 1.0),
             [hx, sg.xy[j]])
    for zz, _, _, _, head, qd in ent:
        if head > 0:
            pumps.append((f"pump-zone{zz:03d}", qd, head))
    # tanks float between the peak-hour and night heads at their node
    night_h = {int(t): h_src + 0.12 * (h_src - 4.0) for t in tank_nodes}
    for i, t in enumerate(tank_nodes):
        bottom = round(float(hgl_peak[t]) - 2.0, 1)
        top = round(night_h[int(t)] + 2.0, 1)
        xy = sg.xy[t] + [25.0, 25.0]
        ti = node(f"t-{i + 1:02d}", xy, "tank", bottom)
        extra["init"][ti] = round(night_h[int(t)] - 3.0 - bottom, 2)
        extra["min"][ti] = 0.5
        extra["max"][ti] = round(top - bottom, 2)
        extra["diam"][ti] = 20.0
        link(f"p-t-{i + 1:02d}", int(t), ti, "pipe", 0.4, 35.4, [sg.xy[t], xy])
    N = len(nid)
    init = np.full(N, np.nan)
    mn, mx, dm = init.copy(), init.copy(), init.copy()
    for k_, arr in (("init", init), ("min", mn), ("max", mx), ("diam", dm)):
        for i, v in extra[k_].items():
            arr[i] = v
    lens = [len(g) for g in lgeo]
    net = WaterNetwork(
        _obj(nid), np.round(np.concatenate(nxy), 3), _obj(lid), np.array(lfrom, np.int64),
        np.array(lto, np.int64), np.array(llen, float),
        np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
        np.round(np.concatenate(lgeo), 3),
        node_type=_obj(ntype), node_elevation=np.array(elev, float),
        node_init_level=init, node_min_level=mn, node_max_level=mx, node_diameter=dm,
        node_min_volume=np.where(np.isfinite(dm), 0.0, np.nan),
        link_type=_obj(ltype), link_diameter=np.array(ldia, float),
        link_roughness=np.where(np.array(ltype) == "pipe", HW_C, np.nan).astype(float),
        link_status=_obj(lstat), link_setting=np.array(lset, float), link_curve=_obj(lcurve),
        demands=WaterDemands(d_node.astype(np.int64), d_base, d_pat,
                             b.ids[d_bld].astype(object)),
        patterns={k: v.copy() for k, v in PATTERNS.items()}, curves=curves,
        title=titles,
    )
    net.options.update(flow_units="LPS", headloss="H-W", demand_model="DDA")
    net.times.update(duration=86400.0, hydraulic_step=3600.0, pattern_step=3600.0,
                     report_step=3600.0, quality_step=300.0)
    net.isolation_valves = _valves(net, rng)
    stats = _stats(net, hourly, peak_h, hgl_peak, sg, in_main, z_hgl, zone, pumps)
    return net, stats


def _merge_zones(zone: np.ndarray, sg) -> np.ndarray:
    """Merge each small hill zone into a neighbour when their union spans at most
    ZONE_MERGE_M of ground elevation; return zone labels renumbered 0 (main), 1, 2…"""
    zone = zone.copy()
    while True:
        size = np.bincount(zone)
        a, b = zone[sg.seg_from], zone[sg.seg_to]
        x = (a != b) & (a > 0) & (b > 0)
        pairs = np.unique(np.sort(np.column_stack([a[x], b[x]]), axis=1), axis=0)
        best = None
        for u, v in pairs:
            zz = sg.z[(zone == u) | (zone == v)]
            if zz.max() - zz.min() <= ZONE_MERGE_M:
                key = (min(size[u], size[v]), max(size[u], size[v]), u, v)
                best = key if best is None or key < best else best
        if best is None:
            break
        zone[zone == best[3]] = best[2]
    _, zone = np.unique(zone, return_inverse=True)
    return zone


def _valves(net: WaterNetwork, rng) -> np.ndarray:
    """N-1 valve layer: at every node, a valve on each pipe but one (drawn), rows (link,
    node) int64."""
    pipes = net.links_of("pipe")
    link = np.r_[pipes, pipes]
    node = np.r_[net.link_from[pipes], net.link_to[pipes]]
    key = rng.random(len(link))
    order = np.lexsort((key, node))
    link, node = link[order], node[order]
    last = np.r_[node[1:] != node[:-1], True]
    keep = ~last & (net.node_type[node] == "junction")
    out = np.column_stack([link[keep], node[keep]])
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def _stats(net, hourly, peak_h, hgl_peak, sg, in_main, z_hgl, zone, pumps) -> dict:
    j = net.nodes_of("junction")
    pipes = net.links_of("pipe")
    p_main = (hgl_peak - sg.z)[in_main]
    zp = [h - sg.z[zone == zz] for zz, h in z_hgl.items()]
    p_all = np.concatenate([p_main] + zp)
    return {
        "pipes": int(len(pipes)), "pipes_km": round(float(net.link_length[pipes].sum()) / 1e3, 1),
        "junctions": int(len(j)), "reservoirs": int(len(net.nodes_of("reservoir"))),
        "tanks": int(len(net.nodes_of("tank"))), "pumps": int(len(net.links_of("pump"))),
        "prvs": int(len(net.links_of("prv"))), "pressure_zones": 1 + len(z_hgl),
        "closed_zone_boundary_pipes": int((net.link_status[pipes] == "closed").sum()),
        "isolation_valves": int(len(net.isolation_valves)),
        "demand_categories": int(len(set(net.demands.category))),
        "average_demand_m3s": round(float(hourly.mean()), 3),
        "peak_demand_m3s": round(float(hourly[peak_h]), 3), "peak_hour": peak_h,
        "design_peak_pressure_min_m": round(float(p_all.min()), 1),
        "design_peak_pressure_max_m": round(float(p_all.max()), 1),
        "pump_power_kw": round(sum(9.81 * q * h / PUMP_EFFICIENCY for _, q, h in pumps), 1),
        "source": SOURCE_NOTE,
    }


def pump_loads(net: WaterNetwork) -> list[tuple[str, np.ndarray, float]]:
    """Return [(pump link id, (2,) x/y, electric power MW at its design point)]."""
    out = []
    for k in net.links_of("pump"):
        c = net.curves[net.link_curve[k]]
        q, h = float(c.x[1]), float(c.y[1])
        xy = net.node_xy[net.link_from[k]]
        out.append((str(net.link_ids[k]), xy, 1000 * 9.81 * q * h / PUMP_EFFICIENCY / 1e6))
    return out
