"""MATPOWER case dicts (``ppc``: ``baseMVA``, ``bus``, ``branch``, ``gen`` in MATPOWER's column
layout) <-> :class:`cim.model.power.PowerGrid`.

Shared by the ``.m`` reader/writer (:mod:`cim.formats.matpower`) and usable on pandapower's
own case dicts (``net._ppc`` or ``pandapower.converter.pypower.to_ppc.to_ppc(net)``), whose
extra columns are understood: a branch table of >= 26 columns carries pandapower's total shunt
conductance ``BR_G`` in column 23 (``to_ppc`` moves it to the key ``branch_g``); its
asymmetric parts (``BR_*_ASYM``) must be zero.
"""

from __future__ import annotations

import numpy as np

from ..errors import ReferenceError_, SchemaError, ValueRangeError
from ..model.power import ISOLATED, PQ, PV, REF, PowerGens, PowerGrid, PowerLoads
from ..model.tables import _obj

# MATPOWER column indices
BUS_I, BUS_TYPE, PD, QD, GS, BS, BUS_AREA, VM, VA, BASE_KV, ZONE, VMAX, VMIN = range(13)
F_BUS, T_BUS, BR_R, BR_X, BR_B, RATE_A, RATE_B, RATE_C, TAP, SHIFT, BR_STATUS = range(11)
ANGMIN, ANGMAX = 11, 12
GEN_BUS, PG, QG, QMAX, QMIN, VG, MBASE, GEN_STATUS, PMAX, PMIN = range(10)
#: pandapower's extra branch columns (pandapower.pypower.idx_brch)
_PP_ASYM = {"BR_R_ASYM": 21, "BR_X_ASYM": 22, "BR_G_ASYM": 24, "BR_B_ASYM": 25}
_PP_BR_G, _PP_BRANCH_COLS = 23, 26

_MIN_COLS = {"bus": 13, "branch": 11, "gen": 8}
#: columns that must not be NaN (others, e.g. an unsolved VM, take defaults)
_NEEDED = {"bus": [BUS_I, BUS_TYPE, PD, QD, GS, BS, BASE_KV],
           "branch": [F_BUS, T_BUS, BR_R, BR_X, BR_B, TAP, SHIFT, BR_STATUS],
           "gen": [GEN_BUS, PG, QG, VG, GEN_STATUS]}


def _table(ppc: dict, key: str, path) -> np.ndarray:
    if key not in ppc:
        raise SchemaError(f"the case has no '{key}' table", path=path)
    a = np.asarray(ppc[key])
    if a.size == 0:
        a = a.reshape(0, _MIN_COLS[key])
    if a.ndim != 2:
        raise SchemaError(f"'{key}' must be a 2-d table, got shape {a.shape}", path=path)
    if a.shape[1] < _MIN_COLS[key]:
        raise SchemaError(f"'{key}' has {a.shape[1]} columns, MATPOWER's layout needs at least "
                          f"{_MIN_COLS[key]}", path=path)
    if np.iscomplexobj(a):
        a = a.real
    a = a.astype(np.float64)
    cols = _NEEDED[key]
    bad = np.argwhere(np.isnan(a[:, cols]))
    if len(bad):
        r, c = bad[0][0], cols[bad[0][1]]
        raise ValueRangeError(f"'{key}' row {r + 1} column {c + 1} is {a[r, c]}", path=path)
    return a


def _extra(ppc: dict, br: np.ndarray, key: str, col: int) -> np.ndarray:
    """Return pandapower's extra branch column ``key`` (a separate key from ``to_ppc``, or a
    column of the 26-column internal layout), zeros when absent."""
    v = ppc.get(key.lower().replace("br_", "branch_"))
    if v is not None and len(np.atleast_1d(v)) == len(br):
        return np.real(np.asarray(v, dtype=np.complex128)).astype(float)
    if br.shape[1] >= _PP_BRANCH_COLS:
        return br[:, col].copy()
    return np.zeros(len(br))


def grid_from_ppc(ppc: dict, *, path=None, bus_names=None) -> PowerGrid:
    """Return the :class:`PowerGrid` of a MATPOWER case dict.

    Buses keep MATPOWER's numbers (arbitrary, unique) as ids (``str``; ``bus_names`` (n,) str
    replace them when given); bus Pd/Qd become one :class:`PowerLoads` row per bus with a
    nonzero demand (id ``load_<bus id>``); Gs/Bs go to ``node_gs_mw`` / ``node_bs_mvar``.
    Generators (id ``gen_<row>``, 0-based): the first in-service one at each REF bus is the
    ``ext_grid``, others at REF/PV buses ``gen``, those at PQ buses ``sgen`` (fixed Pg, Qg).
    Branches (id ``branch_<row>``): ``trafo`` when TAP != 0 or SHIFT != 0 (pandapower's own
    dicts, which write TAP = 1 for lines: when TAP != 1, SHIFT != 0 or the end voltages
    differ), else ``line``; TAP 0 means 1.0. ``path`` names the file in errors.
    """
    base = float(np.real(ppc.get("baseMVA", 100.0)))
    if not np.isfinite(base) or base <= 0:
        raise ValueRangeError(f"baseMVA = {base} must be > 0", path=path)
    bus = _table(ppc, "bus", path)
    br = _table(ppc, "branch", path)
    gen = _table(ppc, "gen", path)
    nb = len(bus)
    num = bus[:, BUS_I]
    if np.any(num != np.round(num)):
        r = int(np.flatnonzero(num != np.round(num))[0])
        raise ValueRangeError(f"bus number {num[r]} (bus row {r + 1}) is not an integer",
                              path=path)
    num = num.astype(np.int64)
    order = np.argsort(num, kind="stable")
    dup = np.flatnonzero(np.diff(num[order]) == 0)
    if len(dup):
        raise SchemaError(f"duplicate bus number {num[order][dup[0]]}", path=path,
                          obj_id=str(num[order][dup[0]]))
    if bus_names is not None:
        ids = [str(s) for s in bus_names]
        if len(ids) != nb:
            raise SchemaError(f"bus_name has {len(ids)} entries for {nb} buses", path=path)
        if len(set(ids)) != nb:
            raise SchemaError("duplicate names in bus_name", path=path)
    else:
        ids = [str(int(k)) for k in num]

    def dense(numbers: np.ndarray, what: str) -> np.ndarray:
        pos = np.searchsorted(num[order], numbers)
        pos = np.minimum(pos, max(nb - 1, 0))
        ok = (nb > 0) & (num[order][pos] == numbers) if nb else np.zeros(len(numbers), bool)
        if not np.all(ok):
            k = int(np.flatnonzero(~ok)[0])
            raise ReferenceError_(f"{what} row {k + 1} refers to unknown bus "
                                  f"{numbers[k]:g}", path=path, obj_id=f"{what}_{k}")
        return order[pos].astype(np.int64)

    btype = bus[:, BUS_TYPE].astype(np.int64)
    badt = np.flatnonzero(~np.isin(btype, (PQ, PV, REF, ISOLATED)))
    if len(badt):
        raise ValueRangeError(f"bus type {btype[badt[0]]} is not 1, 2, 3 or 4", path=path,
                              obj_id=ids[badt[0]])
    if not np.any(btype == REF):
        raise ValueRangeError("the case has no slack bus (no bus of type 3, REF)", path=path)
    f = dense(br[:, F_BUS], "branch")
    t = dense(br[:, T_BUS], "branch")
    gb = dense(gen[:, GEN_BUS], "gen")

    # ---- branches -------------------------------------------------------------------------
    for key, col in _PP_ASYM.items():
        v = _extra(ppc, br, key, col)
        if np.any(v != 0):
            k = int(np.flatnonzero(v != 0)[0])
            raise SchemaError(f"asymmetric branch ({key} = {v[k]:g}) is not supported",
                              path=path, obj_id=f"branch_{k}")
    g_pu = _extra(ppc, br, "BR_G", _PP_BR_G)
    tap_raw, shift = br[:, TAP], br[:, SHIFT]
    kv = bus[:, BASE_KV]
    if "internal" in ppc or "bus_dc" in ppc:  # pandapower's dicts: TAP = 1 on lines
        is_trafo = ((tap_raw != 0) & (tap_raw != 1)) | (shift != 0) | (kv[f] != kv[t])
    else:
        is_trafo = (tap_raw != 0) | (shift != 0)
    nl = len(br)
    link_type = _obj(["line"] * nl)
    link_type[is_trafo] = "trafo"
    # ---- generators -----------------------------------------------------------------------
    ng = len(gen)
    g_on = (gen[:, GEN_STATUS] > 0) & (btype[gb] != ISOLATED)
    gtype = btype[gb]
    kind = _obj(["gen"] * ng)
    kind[gtype == PQ] = "sgen"
    seen: set[int] = set()
    for k in np.flatnonzero((gtype == REF) & g_on):
        if int(gb[k]) not in seen:
            seen.add(int(gb[k]))
            kind[k] = "ext_grid"
    no_slack = [ids[b] for b in np.flatnonzero(btype == REF) if b not in seen]
    if no_slack:
        raise ValueRangeError(f"REF bus {no_slack[0]} has no in-service generator (no slack)",
                              path=path, obj_id=no_slack[0])
    gens = PowerGens(
        ids=_obj([f"gen_{k}" for k in range(ng)]), bus=gb, kind=kind,
        p_mw=gen[:, PG].copy(), q_mvar=gen[:, QG].copy(), vm_pu=gen[:, VG].copy(),
        va_degree=np.nan_to_num(bus[gb, VA], nan=0.0), q_max_mvar=gen[:, QMAX].copy(),
        q_min_mvar=gen[:, QMIN].copy(), in_service=g_on)
    # ---- loads ------------------------------------------------------------------------------
    lb = np.flatnonzero((bus[:, PD] != 0) | (bus[:, QD] != 0))
    nld = len(lb)
    loads = PowerLoads(
        ids=_obj([f"load_{ids[b]}" for b in lb]), bus=lb.astype(np.int64),
        p_mw=bus[lb, PD].copy(), q_mvar=bus[lb, QD].copy(),
        in_service=btype[lb] != ISOLATED, kind=_obj([""] * nld), element=_obj([None] * nld))
    zone = _obj(bus[:, ZONE].astype(np.int64).tolist())
    return PowerGrid(
        node_ids=_obj(ids), node_xy=np.full((nb, 2), np.nan),
        link_ids=_obj([f"branch_{k}" for k in range(nl)]), link_from=f, link_to=t,
        link_length=np.full(nl, np.nan), geometry_offsets=np.zeros(nl + 1, np.int64),
        geometry_xy=np.zeros((0, 2)),
        node_vn_kv=kv.copy(), node_bus_type=btype.astype(np.int8),
        node_gs_mw=bus[:, GS].copy(), node_bs_mvar=bus[:, BS].copy(),
        node_vm_pu=np.nan_to_num(bus[:, VM], nan=1.0),
        node_va_degree=np.nan_to_num(bus[:, VA], nan=0.0),
        node_vmax_pu=bus[:, VMAX].copy(), node_vmin_pu=bus[:, VMIN].copy(),
        node_in_service=btype != ISOLATED, node_zone=zone,
        link_type=link_type, link_r_pu=br[:, BR_R].copy(), link_x_pu=br[:, BR_X].copy(),
        link_b_pu=br[:, BR_B].copy(), link_g_pu=g_pu,
        link_tap=np.where(tap_raw == 0, 1.0, tap_raw), link_shift_degree=shift.copy(),
        link_rate_mva=br[:, RATE_A].copy(), link_max_i_ka=np.full(nl, np.nan),
        link_in_service=br[:, BR_STATUS] > 0,
        gens=gens, loads=loads, base_mva=base)


def _bus_numbers(ids: np.ndarray) -> tuple[np.ndarray, list[str] | None]:
    """Return MATPOWER bus numbers for node ids: the ids themselves when all are distinct
    positive integers, else 1..n (and the ids as bus names)."""
    try:
        nums = np.array([int(s) for s in ids.tolist()], np.int64)
        if (len(nums) == 0 or nums.min() > 0) and len(np.unique(nums)) == len(nums) \
                and all(str(n) == str(s) for n, s in zip(nums.tolist(), ids.tolist())):
            return nums, None
    except (TypeError, ValueError):
        pass
    return np.arange(1, len(ids) + 1, dtype=np.int64), [str(s) for s in ids.tolist()]


def ppc_from_grid(grid: PowerGrid) -> dict:
    """Return a MATPOWER case dict (``baseMVA``, ``bus`` (n, 13), ``gen`` (g, 10), ``branch``
    (l, 13), and ``bus_name`` when the node ids are not positive integers) for ``grid``.

    Bus types follow the generators: a bus with an in-service ``ext_grid`` is REF, one with an
    in-service ``gen`` PV, others PQ; out-of-service buses are ISOLATED. In-service loads are
    summed per bus into Pd/Qd; an ``sgen`` at a PQ bus is a generator row (read back as an
    sgen), elsewhere it is subtracted from Pd/Qd. A branch's shunt conductance ``link_g_pu``
    (no MATPOWER column) is added to the end buses' Gs (half each, the from half over tap²),
    which is the same admittance. A zero-impedance link (a closed switch) gets x = 1e-6 p.u.
    Lines have TAP 0; transformers their ratio.
    """
    nb, nl = grid.n_nodes, grid.n_links
    base = float(grid.base_mva)
    nums, names = _bus_numbers(np.asarray(grid.node_ids, object))
    g = grid.gens
    on = np.asarray(g.in_service, bool)
    kind = np.asarray(g.kind, object)
    btype = np.full(nb, PQ, np.int64)
    btype[g.bus[on & (kind == "gen")]] = PV
    btype[g.bus[on & (kind == "ext_grid")]] = REF
    btype[~np.asarray(grid.node_in_service, bool)] = ISOLATED
    ld = grid.loads
    lon = np.asarray(ld.in_service, bool)
    pd = np.bincount(ld.bus[lon], ld.p_mw[lon], nb)
    qd = np.bincount(ld.bus[lon], ld.q_mvar[lon], nb)
    fold = (kind == "sgen") & on & (btype[g.bus] != PQ)
    pd -= np.bincount(g.bus[fold], g.p_mw[fold], nb)
    qd -= np.bincount(g.bus[fold], g.q_mvar[fold], nb)
    gs = np.array(grid.node_gs_mw, float)
    lg = np.where(grid.link_in_service, grid.link_g_pu, 0.0) * base / 2
    gs += np.bincount(grid.link_from, lg / np.square(grid.link_tap), nb)
    gs += np.bincount(grid.link_to, lg, nb)
    zone = np.array([z if isinstance(z, (int, float, np.integer, np.floating))
                     and np.isfinite(z) else 1 for z in grid.node_zone.tolist()], float)
    bus = np.column_stack([
        nums, btype, pd, qd, gs, grid.node_bs_mvar, np.ones(nb), grid.node_vm_pu,
        grid.node_va_degree, grid.node_vn_kv, zone, grid.node_vmax_pu, grid.node_vmin_pu,
    ]).reshape(nb, 13).astype(float)
    keep = np.flatnonzero(~fold)
    ext_first = np.argsort(np.where(kind[keep] == "ext_grid", 0, 1), kind="stable")
    keep = keep[ext_first]
    vg = np.where(kind == "sgen", 1.0, g.vm_pu)
    gen = np.column_stack([
        nums[g.bus], g.p_mw, g.q_mvar, g.q_max_mvar, g.q_min_mvar, vg, np.full(len(g), base),
        on.astype(float), np.full(len(g), np.inf), np.full(len(g), -np.inf),
    ]).reshape(len(g), 10)[keep].astype(float)
    is_trafo = np.asarray(grid.link_type, object) == "trafo"
    tap = np.where(is_trafo | (grid.link_tap != 1.0), grid.link_tap, 0.0)
    x = np.where((grid.link_r_pu == 0) & (grid.link_x_pu == 0), 1e-6, grid.link_x_pu)
    branch = np.column_stack([
        nums[grid.link_from], nums[grid.link_to], grid.link_r_pu, x, grid.link_b_pu,
        grid.link_rate_mva, grid.link_rate_mva, grid.link_rate_mva, tap,
        grid.link_shift_degree, np.asarray(grid.link_in_service, float),
        np.full(nl, -360.0), np.full(nl, 360.0),
    ]).reshape(nl, 13).astype(float)
    out = {"baseMVA": base, "bus": bus, "gen": gen, "branch": branch}
    if names is not None:
        out["bus_name"] = names
    return out
