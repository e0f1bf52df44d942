"""Helpers of the power benchmark: a generated 10 kV distribution grid (radial feeders with
some ties) as a PowerGrid, and the conversion of a PowerGrid of lines and two-winding
transformers (the Liangxi grid) to power-grid-model's input and N-1 batch update."""

from __future__ import annotations

import numpy as np

from cim.model.power import PowerGens, PowerGrid, PowerLoads

VN_KV, BASE_MVA, F_HZ = 10.0, 100.0, 50.0
R_OHM_KM, X_OHM_KM, C_NF_KM, IMAX_KA = 0.206, 0.080, 300.0, 0.30


def district_grid(n_feeders: int = 20, per_feeder: int = 100, tie_share: float = 0.05,
                  seed: int = 7) -> PowerGrid:
    """A 10 kV grid: a substation bus (the ext_grid) feeding ``n_feeders`` random radial
    feeders of ``per_feeder`` buses (cable 0.1-0.4 km), a load of 20-60 kW (pf 0.95) at each
    bus, and ``tie_share`` x buses extra ties between buses of neighbouring feeders."""
    rng = np.random.default_rng(seed)
    n = 1 + n_feeders * per_feeder
    f, t = [], []
    for fd in range(n_feeders):
        first = 1 + fd * per_feeder
        f.append(0)
        t.append(first)
        for j in range(1, per_feeder):  # parent among the last few buses: long feeders
            parent = first + int(rng.integers(max(0, j - 4), j))
            f.append(parent)
            t.append(first + j)
    n_tie = int(tie_share * n)
    for _ in range(n_tie):
        fd = int(rng.integers(n_feeders))
        a = 1 + fd * per_feeder + int(rng.integers(per_feeder // 2, per_feeder))
        b = 1 + ((fd + 1) % n_feeders) * per_feeder + int(rng.integers(per_feeder // 2,
                                                                         per_feeder))
        f.append(a)
        t.append(b)
    f, t = np.array(f), np.array(t)
    nl = len(f)
    length = rng.uniform(0.1, 0.4, nl)
    zb = VN_KV ** 2 / BASE_MVA
    p = rng.uniform(0.02, 0.06, n)
    p[0] = 0.0
    q = p * np.tan(np.arccos(0.95))
    lb = np.arange(1, n)
    gens = PowerGens(np.array(["ext_grid"], object), np.array([0]),
                     np.array(["ext_grid"], object), np.zeros(1), np.zeros(1), np.ones(1),
                     np.zeros(1), np.full(1, np.inf), np.full(1, -np.inf), np.ones(1, bool))
    loads = PowerLoads(np.array([f"load_{b}" for b in lb], object), lb, p[lb], q[lb],
                       np.ones(n - 1, bool), np.full(n - 1, "", object),
                       np.full(n - 1, None, object))
    return PowerGrid(
        node_ids=np.array([str(i) for i in range(n)], object), node_xy=np.zeros((n, 2)),
        link_ids=np.array([f"line_{k}" for k in range(nl)], object), link_from=f, link_to=t,
        link_length=length * 1000, geometry_offsets=np.zeros(nl + 1, np.int64),
        geometry_xy=np.zeros((0, 2)), node_vn_kv=np.full(n, VN_KV),
        link_r_pu=R_OHM_KM * length / zb, link_x_pu=X_OHM_KM * length / zb,
        link_b_pu=2 * np.pi * F_HZ * C_NF_KM * 1e-9 * length * zb,
        link_max_i_ka=np.full(nl, IMAX_KA), gens=gens, loads=loads, base_mva=BASE_MVA,
        f_hz=F_HZ)


def pgm_input(grid: PowerGrid) -> dict:
    """power-grid-model input of a PowerGrid of lines and transformers (ohm / farad / W
    from per unit); ids: nodes 0..n-1, branch k: n + k (lines as ``line``, transformers as
    ``generic_branch``: impedances on the to (low-voltage) side, ratio ``k`` = our tap at
    the from side), loads and the sources after them."""
    from power_grid_model import ComponentType, DatasetType, LoadGenType, initialize_array

    n, nl = grid.n_nodes, grid.n_links
    vn = np.asarray(grid.node_vn_kv) * 1e3
    typ = np.asarray(grid.link_type, object)
    lines = np.flatnonzero(typ == "line")
    trafos = np.flatnonzero(typ == "trafo")
    if len(lines) + len(trafos) != nl:
        raise ValueError("pgm_input converts lines and two-winding transformers only")
    node = initialize_array(DatasetType.input, ComponentType.node, n)
    node["id"] = np.arange(n)
    node["u_rated"] = vn
    zb = (vn[grid.link_from[lines]]) ** 2 / (grid.base_mva * 1e6)
    line = initialize_array(DatasetType.input, ComponentType.line, len(lines))
    line["id"] = n + lines
    line["from_node"], line["to_node"] = grid.link_from[lines], grid.link_to[lines]
    line["from_status"] = line["to_status"] = grid.link_in_service[lines].astype(np.int8)
    line["r1"], line["x1"] = grid.link_r_pu[lines] * zb, grid.link_x_pu[lines] * zb
    line["c1"] = grid.link_b_pu[lines] / zb / (2 * np.pi * grid.f_hz)
    line["tan1"] = 0.0
    line["i_n"] = np.nan_to_num(grid.link_max_i_ka[lines], nan=1.0) * 1e3
    zt = (vn[grid.link_to[trafos]]) ** 2 / (grid.base_mva * 1e6)
    br = initialize_array(DatasetType.input, ComponentType.generic_branch, len(trafos))
    br["id"] = n + trafos
    br["from_node"], br["to_node"] = grid.link_from[trafos], grid.link_to[trafos]
    br["from_status"] = br["to_status"] = grid.link_in_service[trafos].astype(np.int8)
    br["r1"], br["x1"] = grid.link_r_pu[trafos] * zt, grid.link_x_pu[trafos] * zt
    br["g1"], br["b1"] = grid.link_g_pu[trafos] / zt, grid.link_b_pu[trafos] / zt
    tap = np.asarray(grid.link_tap, float)[trafos]
    br["k"] = np.where(tap == 0, 1.0, tap)
    br["theta"] = np.deg2rad(np.asarray(grid.link_shift_degree, float)[trafos])
    br["sn"] = np.nan_to_num(np.asarray(grid.link_rate_mva, float)[trafos], nan=100.0) * 1e6
    ld = grid.loads
    nld = len(ld)
    load = initialize_array(DatasetType.input, ComponentType.sym_load, nld)
    load["id"] = n + nl + np.arange(nld)
    load["node"], load["status"] = ld.bus, ld.in_service.astype(np.int8)
    load["type"] = LoadGenType.const_power
    load["p_specified"], load["q_specified"] = ld.p_mw * 1e6, ld.q_mvar * 1e6
    g = grid.gens
    ext = np.flatnonzero(np.asarray(g.kind, object) == "ext_grid")
    src = initialize_array(DatasetType.input, ComponentType.source, len(ext))
    src["id"] = n + nl + nld + np.arange(len(ext))
    src["node"], src["status"] = g.bus[ext], 1
    src["u_ref"], src["u_ref_angle"] = g.vm_pu[ext], np.deg2rad(g.va_degree[ext])
    src["sk"] = 1e15  # a stiff source (our ext_grid holds its voltage exactly)
    out = {ComponentType.node: node, ComponentType.line: line,
           ComponentType.sym_load: load, ComponentType.source: src}
    if len(trafos):
        out[ComponentType.generic_branch] = br
    return out


def pgm_outages(grid: PowerGrid, branches: np.ndarray) -> dict:
    """A dense batch update: scenario k takes branch ``branches[k]`` (a line or transformer)
    out (both ends open). Each scenario updates one line and one transformer (when the grid
    has any); the one not outaged is an in-service branch set in service again (a no-op)."""
    from power_grid_model import ComponentType, DatasetType, initialize_array

    n, k = grid.n_nodes, len(branches)
    branches = np.asarray(branches)
    typ = np.asarray(grid.link_type, object)
    out = {}
    for kind, comp in (("line", ComponentType.line), ("trafo", ComponentType.generic_branch)):
        of_kind = np.flatnonzero((typ == kind) & grid.link_in_service)
        if len(of_kind) == 0:
            continue
        mine = typ[branches] == kind
        up = initialize_array(DatasetType.update, comp, (k, 1))
        up["id"] = (n + np.where(mine, branches, of_kind[0]))[:, None]
        up["from_status"] = up["to_status"] = np.where(mine, 0, 1).astype(np.int8)[:, None]
        out[comp] = up
    return out
