"""The power grid of a synthetic district: a bus-branch model in per unit (MATPOWER's model).

Each ``substation`` site is a 110/10 kV substation: an external grid at its 110 kV bus and
two or three 110/10 kV transformers onto its 10 kV busbar, which is the street node it stands
on. 10 kV cables (3-core Cu XLPE, 8.7/15 kV) follow every street segment; each street node is
a 10 kV bus served by the nearest substation along the streets, and cables between two
substations' areas are normally-open ties (out of service), so each area is a meshed
network of its own with radial ends at dead-end streets. Loads: every building (coincident
peak W/m² of floor area by use, power factor 0.95), every signal controller (1 kW), every
water pump (its design shaft power over efficiency), each at the nearest 10 kV bus. Cables are
sized (parallel runs) and the on-load tap changers set with a small AC power flow.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import splu

from assets._lifeline_common import sites_xy, street_graph
from cim.model import PowerGrid
from cim.model.power import PQ, REF, PowerGens, PowerLoads
from cim.model.tables import _obj

BASE_MVA = 100.0
PF = 0.95
#: coincident peak demand at the 10 kV level, W per m² of gross floor area, by building use
W_PER_M2 = {"residential": 12.0, "mixed": 20.0, "office": 35.0, "commercial": 40.0,
            "education": 15.0, "health": 35.0, "industrial": 30.0}
SIGNAL_MW = 0.001
#: 10 kV cables: r, x ohm/km, c nF/km, ampacity kA (3-core Cu XLPE 8.7/15 kV, buried)
CABLES = {"YJV22-8.7/15-3x300": (0.0601, 0.087, 390.0, 0.48),
          "YJV22-8.7/15-3x150": (0.124, 0.094, 300.0, 0.33)}
HEAVY = ("trunk", "primary", "secondary", "tertiary")
#: 110/10.5 kV transformers: sn MVA, vk %, vkr %, pfe kW, i0 %
TRAFOS = {40.0: (17.0, 0.43, 32.0, 0.30), 50.0: (17.0, 0.40, 37.0, 0.28),
          63.0: (17.0, 0.37, 44.0, 0.25)}
TRAFO_OPTIONS = ((2, 40.0), (2, 50.0), (2, 63.0), (3, 63.0), (4, 63.0))
LOADING_TARGET = 0.6            # cables sized to this share of their ampacity (base case)
TRAFO_TARGET = 0.75             # transformers chosen for at most this loading
V_TARGET = 1.03                 # 10 kV busbar voltage the tap changers hold, p.u.
TAP_STEP = 0.0125
SOURCE_NOTE = ("estimate: coincident peak load densities typical of Chinese urban planning "
               "(GB/T 50293 ranges); cable data typical of 8.7/15 kV 3-core Cu XLPE (GB/T "
               "12706); 110 kV transformer data typical of SZ11 63 MVA units")


def _flow(n, f, t, y, tap, shunt, slack, s_load, iters=30):
    """AC power flow by current injection: branches f→t with series admittance ``y``
    (p.u.), off-nominal ``tap`` at f; bus ``shunt`` admittance; ``slack`` buses at 1∠0;
    ``s_load`` (n,) complex p.u. Returns bus voltages (n,) complex."""
    yff, yft = y / tap ** 2, -y / tap
    rows = np.r_[f, t, f, t]
    cols = np.r_[f, t, t, f]
    Y = sp.coo_matrix((np.r_[yff, y, yft, yft], (rows, cols)), shape=(n, n)).tocsr()
    Y = Y + sp.diags(shunt)
    is_s = np.zeros(n, bool)
    is_s[slack] = True
    free = np.flatnonzero(~is_s)
    lu = splu(Y[free][:, free].tocsc())
    ysl = Y[free][:, slack]
    v = np.ones(n, complex)
    for _ in range(iters):
        inj = -np.conj(s_load[free] / v[free])
        v[free] = lu.solve(inj - ysl @ v[slack])
    return v


def build_power(name: str, city, sites: list, water, seed: int) -> tuple[PowerGrid, dict]:
    """Return the district's power grid (EPSG:4549, per unit on 100 MVA) and its stats;
    ``water`` (the WaterNetwork) gives the pump loads."""
    from assets.water import pump_loads

    sg = street_graph(city.roads, city.terrain)
    n, m = sg.n, sg.m
    sub_ids, sub_xy = sites_xy(sites, "substation")
    sub_node = sg.nearest(sub_xy)
    sub_ids = [s for s, _ in sorted(zip(sub_ids, sub_node), key=lambda p: p[1])]
    sub_node = np.sort(sub_node)
    ns = len(sub_node)
    # areas: nearest substation along the streets, distances offset so that the areas'
    # loads balance (an additively weighted Voronoi partition: each area stays connected)
    adj = sg.adjacency(sg.seg_length)
    dist = dijkstra(adj, directed=False, indices=sub_node)
    # loads
    b = city.buildings
    bnode = sg.nearest(b.footprint.centroids())
    w = np.array([W_PER_M2.get(str(u), 15.0) for u in b.use])
    p_b = np.round(np.nan_to_num(np.asarray(b.floor_area, float)) * w / 1e6, 5)
    sig = np.flatnonzero(city.roads.node_signal)
    pumps = pump_loads(water)
    l_ids = [f"ld-{i}" for i in b.ids] + [f"ld-sig-{city.roads.node_ids[i]}" for i in sig] + \
        [f"ld-{p[0]}" for p in pumps]
    l_kind = ["building"] * len(b) + ["signal"] * len(sig) + ["pump"] * len(pumps)
    l_elem = list(b.ids) + [str(city.roads.node_ids[i]) for i in sig] + [p[0] for p in pumps]
    l_bus = np.r_[bnode, sg.road_to_node[sig],
                  sg.nearest(np.array([p[1] for p in pumps]).reshape(-1, 2))].astype(np.int64)
    l_p = np.r_[p_b, np.full(len(sig), SIGNAL_MW), np.round([p[2] for p in pumps], 5)]
    l_q = np.round(l_p * np.tan(np.arccos(PF)), 5)

    # buses: 0..n-1 street nodes (10 kV), then one 110 kV bus per substation
    nb = n + ns
    s_load = np.zeros(nb, complex)
    np.add.at(s_load, l_bus, (l_p + 1j * l_q) / BASE_MVA)
    p_node = np.bincount(l_bus, l_p, minlength=n)
    off = np.zeros(ns)
    for _ in range(60):
        area = np.argmin(dist + off[:, None], axis=0)
        p_area = np.bincount(area, p_node, minlength=ns)
        off += 400.0 * (p_area / p_area.mean() - 1)
    area = np.argmin(dist + off[:, None], axis=0)
    tie = area[sg.seg_from] != area[sg.seg_to]
    s_area = np.bincount(area, p_node, minlength=ns) / PF
    # transformers per substation
    cfg = []
    for k in range(ns):
        c = next((o for o in TRAFO_OPTIONS if s_area[k] <= TRAFO_TARGET * o[0] * o[1]),
                 TRAFO_OPTIONS[-1])
        cfg.append(c)
    tf, tt, tsn = [], [], []
    for k, (cnt, sn) in enumerate(cfg):
        tf += [n + k] * cnt
        tt += [int(sub_node[k])] * cnt
        tsn += [sn] * cnt
    tf, tt, tsn = np.array(tf), np.array(tt), np.array(tsn)
    vk, vkr, pfe, i0 = (np.array([TRAFOS[s][i] for s in tsn]) for i in range(4))
    zt = vk / 100 * BASE_MVA / tsn
    rt = vkr / 100 * BASE_MVA / tsn
    xt = np.sqrt(zt ** 2 - rt ** 2)
    # cables
    heavy = np.isin(sg.seg_class, HEAVY)
    ctype = np.where(heavy, "YJV22-8.7/15-3x300", "YJV22-8.7/15-3x150")
    cab = np.array([CABLES[c] for c in ctype])
    km = sg.seg_length / 1000.0
    zb = 10.0 ** 2 / BASE_MVA
    n_par = np.ones(m)
    on = ~tie
    i_base = BASE_MVA / (np.sqrt(3) * 10.0)      # kA
    tap = np.ones(len(tf))
    for it in range(7):
        r = cab[:, 0] * km / n_par / zb
        x = cab[:, 1] * km / n_par / zb
        bc = 2 * np.pi * 50 * cab[:, 2] * 1e-9 * km * n_par * zb
        f = np.r_[sg.seg_from[on], tf]
        t = np.r_[sg.seg_to[on], tt]
        y = 1.0 / np.r_[r[on] + 1j * x[on], rt + 1j * xt]
        tp = np.r_[np.ones(on.sum()), tap]
        sh = np.zeros(nb, complex)
        np.add.at(sh, sg.seg_from[on], 0.5j * bc[on])
        np.add.at(sh, sg.seg_to[on], 0.5j * bc[on])
        v = _flow(nb, f, t, y, tp, sh, np.arange(n, nb), s_load)
        i_ka = np.abs((v[sg.seg_from] - v[sg.seg_to]) / (r + 1j * x)) * i_base
        if it == 6:
            break
        need = np.ceil(i_ka / (LOADING_TARGET * cab[:, 3]))
        n_par = np.where(on, np.maximum(need, 1.0), 1.0)
        vbus = np.abs(v[sub_node])
        tap_k = np.round((vbus / V_TARGET - 1) / TAP_STEP) * TAP_STEP + 1
        tap = np.clip(tap * tap_k[np.searchsorted(sub_node, tt)], 0.9, 1.1)
    return _assemble(name, sg, sub_ids, sub_node, sub_xy, area, tie, r, x, bc, n_par, ctype,
                     cab, tf, tt, tsn, rt, xt, pfe, i0, tap, l_ids, l_kind, l_elem, l_bus, l_p,
                     l_q, cfg, np.abs(v), i_ka, seed)


def _assemble(name, sg, sub_ids, sub_node, sub_xy, area, tie, r, x, bc, n_par, ctype, cab, tf,
              tt, tsn, rt, xt, pfe, i0, tap, l_ids, l_kind, l_elem, l_bus, l_p, l_q, cfg, vm,
              i_ka, seed):
    n, m, ns = sg.n, sg.m, len(sub_node)
    hv_xy = sg.xy[sub_node] + np.array([30.0, 30.0])
    node_ids = [f"b-{r_}" for r_ in sg.road_ids] + [f"b-{s}-110" for s in sub_ids]
    zone = _obj([sub_ids[a] for a in area] + list(sub_ids))
    gx, go = sg.geom_xy, sg.geom_offsets
    t_ids = []
    for k, (cnt, _) in enumerate(cfg):
        t_ids += [f"tr-{sub_ids[k]}-{j + 1}" for j in range(cnt)]
    nt = len(tf)
    link_ids = [f"l-{s}" for s in sg.seg_ids] + t_ids
    t_geo = np.stack([hv_xy[tf - n], sg.xy[tt]], axis=1).reshape(-1, 2)
    geo = np.concatenate([gx, t_geo])
    offs = np.concatenate([go, go[-1] + 2 * np.arange(1, nt + 1)])
    ym = i0 / 100 * tsn / BASE_MVA
    g_m = pfe / 1000 / BASE_MVA
    b_m = -np.sqrt(np.maximum(ym ** 2 - g_m ** 2, 0))
    rate = np.r_[np.sqrt(3) * 10.0 * cab[:, 3] * n_par, tsn]
    attrs_cable = [f"{int(k)}x {c}" for k, c in zip(n_par, ctype)]
    from cim.model.tables import Attributes
    link_attr = Attributes(m + nt, {"std_type": _obj(attrs_cable + [
        f"{int(s)} MVA 110/10.5 kV" for s in tsn]),
        "parallel": _obj([int(k) for k in n_par] + [1] * nt)})
    grid = PowerGrid(
        _obj(node_ids), np.round(np.concatenate([sg.xy, hv_xy]), 3), _obj(link_ids),
        np.r_[sg.seg_from, tf].astype(np.int64), np.r_[sg.seg_to, tt].astype(np.int64),
        np.round(np.r_[sg.seg_length, np.full(nt, 42.43)], 2),
        offs.astype(np.int64), np.round(geo, 3),
        node_vn_kv=np.r_[np.full(n, 10.0), np.full(ns, 110.0)],
        node_bus_type=np.r_[np.full(n, PQ), np.full(ns, REF)].astype(np.int8),
        node_vmax_pu=np.full(n + ns, 1.05), node_vmin_pu=np.full(n + ns, 0.95),
        node_zone=zone,
        link_type=_obj(["line"] * m + ["trafo"] * nt),
        link_r_pu=np.r_[r, rt], link_x_pu=np.r_[x, xt], link_b_pu=np.r_[bc, b_m],
        link_g_pu=np.r_[np.zeros(m), g_m], link_tap=np.r_[np.ones(m), tap],
        link_rate_mva=np.round(rate, 3),
        link_max_i_ka=np.r_[cab[:, 3] * n_par, np.full(nt, np.nan)],
        link_in_service=np.r_[~tie, np.ones(nt, bool)],
        link_attributes=link_attr,
        gens=PowerGens(_obj([f"eg-{s}" for s in sub_ids]), np.arange(n, n + ns),
                       _obj(["ext_grid"] * ns), np.zeros(ns), np.zeros(ns), np.ones(ns),
                       np.zeros(ns), np.full(ns, np.inf), np.full(ns, -np.inf),
                       np.ones(ns, bool)),
        loads=PowerLoads(_obj(l_ids), l_bus, l_p, l_q, np.ones(len(l_ids), bool),
                         _obj(l_kind), _obj(l_elem)),
        base_mva=BASE_MVA, f_hz=50.0,
    )
    on = ~tie
    stats = {
        "buses": int(grid.n_nodes), "lines": int(m), "lines_in_service": int(on.sum()),
        "normally_open_ties": int(tie.sum()),
        "lines_km": round(float(sg.seg_length.sum()) / 1e3, 1),
        "cable_km": round(float((sg.seg_length * n_par)[on].sum()) / 1e3, 1),
        "substations": int(ns), "trafos": int(nt),
        "trafo_mva": [f"{c}x{int(s)}" for c, s in cfg],
        "loads": int(len(l_ids)), "peak_load_mw": round(float(np.sum(l_p)), 1),
        "design_vm_min_pu": round(float(vm[:n].min()), 4),
        "design_vm_max_pu": round(float(vm[:n].max()), 4),
        "design_max_line_loading": round(float(np.max(i_ka[on] / (cab[on, 3] * n_par[on]))), 3),
        "source": SOURCE_NOTE,
    }
    return grid, stats
