"""PowerGrid -> pandapower JSON (the layout ``pandapower.to_json`` writes; loads with
``pandapower.from_json`` >= 3.0 and runs with ``pandapower.runpp``), written without pandapower.

The per-unit values are expressed so that pandapower's internal case equals the grid's:

- buses: index = the node id when all ids are distinct non-negative integers, else 0..n-1;
  ``name`` = the node's ``name`` attribute, else its id; ``geo`` from ``node_xy``;
- ``line`` links between buses of equal voltage, tap 1, no shift: a ``line`` of length
  ``link_length`` (1 km when unknown) with r/x/c/g per km giving the per-unit values on the
  from bus's base; ``max_i_ka`` from ``link_max_i_ka`` (else from ``link_rate_mva``); other
  line links: an ``impedance``;
- ``trafo`` links (and lines with a tap or shift): a ``trafo`` hv = from, lv = to with
  ``sn_mva`` = the rating (else the base), vn_hv = tap × from kV, vn_lv = to kV, vk/vkr from
  r, x; magnetising g >= 0, b <= 0 as pfe_kw/i0_percent with ``user_pf_options``
  ``trafo_model`` "pi" (pandapower's default T model would change the values); other shunt
  parts as bus ``shunt`` elements (half per end, the from half over tap²);
- ``switch`` links with r = x = 0: bus-bus switches (closed = in service);
- gens: ext_grid / gen / sgen tables (unlimited Q as NaN); loads with ``kind`` / ``element``
  columns; node Gs/Bs as shunts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..model.power import PowerGrid

#: the pandapower format written (>= 3.0 layout: geo columns, tap_changer_type)
FORMAT_VERSION = "3.1.0"


def _dumps(v) -> str:
    """JSON text of ``v`` (dict, list, str, float, int, bool, None) with floats written by
    ``repr`` (exact; independent of any process-wide patch of ``json.encoder``)."""
    if v is None:
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v)) if np.isfinite(v) else "null"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_dumps(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_dumps(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to JSON")


def _clean(v):
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _df(columns: dict[str, tuple[str, list]], index) -> dict:
    """Return a pandapower-serialised DataFrame of ``columns`` {name: (dtype, values)}."""
    names = list(columns)
    rows = [[_clean(columns[c][1][k]) for c in names] for k in range(len(index))]
    inner = {"columns": names, "index": [int(i) for i in index], "data": rows}
    return {"_module": "pandas.core.frame", "_class": "DataFrame",
            "_object": _dumps(inner), "orient": "split",
            "dtype": {c: columns[c][0] for c in names}, "is_multiindex": False,
            "is_multicolumn": False}


def _index_of(ids, prefix: str) -> list[int]:
    """Indices parsed from ids ``<prefix>_<int>`` (or plain ints) when all parse and are
    distinct, else 0..n-1."""
    out = []
    for s in ids:
        m = re.fullmatch(rf"(?:{re.escape(prefix)}_)?(\d+)", str(s))
        if m is None:
            return list(range(len(ids)))
        out.append(int(m.group(1)))
    return out if len(set(out)) == len(out) else list(range(len(ids)))


def _point(xy) -> str | None:
    if not np.all(np.isfinite(xy)):
        return None
    return _dumps({"coordinates": [float(xy[0]), float(xy[1])], "type": "Point"})


def write_net(grid: PowerGrid, path: Path) -> Path:
    """Write ``grid`` as pandapower JSON at ``path`` and return it (module docstring)."""
    sn, f_hz = float(grid.base_mva), float(grid.f_hz)
    nb = grid.n_nodes
    bidx = np.asarray(_index_of(grid.node_ids, "bus"), np.int64)
    vn = np.asarray(grid.node_vn_kv, float)
    names = grid.node_attributes.columns.get("name")
    bname = [str(names[k]) if names is not None and names[k] not in (None, "") else
             str(grid.node_ids[k]) for k in range(nb)]
    tables: dict[str, dict] = {}
    tables["bus"] = _df({
        "name": ("object", bname), "vn_kv": ("float64", vn), "type": ("object", ["b"] * nb),
        "zone": ("object", list(grid.node_zone)),
        "in_service": ("bool", grid.node_in_service),
        "max_vm_pu": ("float64", grid.node_vmax_pu), "min_vm_pu": ("float64", grid.node_vmin_pu),
        "geo": ("object", [_point(p) for p in grid.node_xy])}, bidx)
    f, t = grid.link_from, grid.link_to
    kind = np.asarray(grid.link_type, object)
    r, x, b, g = grid.link_r_pu, grid.link_x_pu, grid.link_b_pu, grid.link_g_pu
    tap, shift = grid.link_tap, grid.link_shift_degree
    zero = (r == 0) & (x == 0)
    is_sw = (kind == "switch") & zero
    is_tr = ~is_sw & ((kind == "trafo") | (tap != 1) | (shift != 0))
    is_ln = ~is_sw & ~is_tr & (vn[f] == vn[t])
    is_imp = ~is_sw & ~is_tr & ~is_ln
    shunt_bus: list[np.ndarray] = [np.arange(nb)]
    shunt_p: list[np.ndarray] = [np.asarray(grid.node_gs_mw, float)]
    shunt_q: list[np.ndarray] = [-np.asarray(grid.node_bs_mvar, float)]
    on = np.asarray(grid.link_in_service, bool)
    # lines
    k = np.flatnonzero(is_ln)
    base_r = np.square(vn[f[k]]) / sn
    length = np.asarray(grid.link_length, float)[k] / 1000.0
    length = np.where(np.isfinite(length) & (length > 0), length, 1.0)
    imax = np.asarray(grid.link_max_i_ka, float)[k]
    rate = np.asarray(grid.link_rate_mva, float)[k]
    imax = np.where(np.isnan(imax) & (rate > 0), rate / (np.sqrt(3) * vn[f[k]]), imax)
    geo = []
    for i in k:
        pts = grid.link_geometry(i)
        geo.append(_dumps({"coordinates": pts.tolist(), "type": "LineString"})
                   if len(pts) >= 2 and np.isfinite(pts).all() else None)
    n = len(k)
    lids = grid.link_ids[k]
    tables["line"] = _df({
        "name": ("object", [str(s) for s in lids]), "std_type": ("object", [None] * n),
        "from_bus": ("uint32", bidx[f[k]]), "to_bus": ("uint32", bidx[t[k]]),
        "length_km": ("float64", length),
        "r_ohm_per_km": ("float64", r[k] * base_r / length),
        "x_ohm_per_km": ("float64", x[k] * base_r / length),
        "c_nf_per_km": ("float64", b[k] / (2 * np.pi * f_hz * base_r) * 1e9 / length),
        "g_us_per_km": ("float64", g[k] / base_r * 1e6 / length),
        "max_i_ka": ("float64", imax), "df": ("float64", np.ones(n)),
        "parallel": ("uint32", np.ones(n, np.int64)), "type": ("object", [None] * n),
        "in_service": ("bool", on[k]), "geo": ("object", geo)}, _index_of(lids, "line"))
    # transformers
    k = np.flatnonzero(is_tr)
    n = len(k)
    rate = np.asarray(grid.link_rate_mva, float)[k]
    sn_tr = np.where(np.isfinite(rate) & (rate > 0), rate, sn)
    z = np.sign(x[k]) * np.hypot(r[k], x[k])
    z = np.where(z == 0, np.hypot(r[k], x[k]), z)
    mag = (g[k] >= 0) & (b[k] <= 0)
    pfe = np.where(mag, g[k] * sn, 0.0)
    ym = np.hypot(b[k] * sn, pfe)
    i0 = np.where(mag, ym / sn_tr * 100, 0.0)
    rest = ~mag & on[k]
    for end, div in ((f[k], np.square(tap[k])), (t[k], 1.0)):
        shunt_bus.append(end[rest])
        shunt_p.append((g[k] / 2 / div * sn)[rest])
        shunt_q.append((-b[k] / 2 / div * sn)[rest])
    tids = grid.link_ids[k]
    nan = np.full(n, np.nan)
    tables["trafo"] = _df({
        "name": ("object", [str(s) for s in tids]), "std_type": ("object", [None] * n),
        "hv_bus": ("uint32", bidx[f[k]]), "lv_bus": ("uint32", bidx[t[k]]),
        "sn_mva": ("float64", sn_tr), "vn_hv_kv": ("float64", tap[k] * vn[f[k]]),
        "vn_lv_kv": ("float64", vn[t[k]]),
        "vk_percent": ("float64", z * 100 * sn_tr / sn),
        "vkr_percent": ("float64", r[k] * 100 * sn_tr / sn),
        "pfe_kw": ("float64", pfe * 1000), "i0_percent": ("float64", i0),
        "shift_degree": ("float64", shift[k]), "tap_side": ("object", [None] * n),
        "tap_neutral": ("float64", nan), "tap_min": ("float64", nan),
        "tap_max": ("float64", nan), "tap_step_percent": ("float64", nan),
        "tap_step_degree": ("float64", nan), "tap_pos": ("float64", nan),
        "tap_changer_type": ("object", [None] * n),
        "id_characteristic_table": ("Int64", [None] * n),
        "tap_dependency_table": ("bool", np.zeros(n, bool)),
        "parallel": ("uint32", np.ones(n, np.int64)), "df": ("float64", np.ones(n)),
        "in_service": ("bool", on[k]), "oltc": ("bool", np.zeros(n, bool))},
        _index_of(tids, "trafo"))
    # impedances (line links between buses of different voltage)
    k = np.flatnonzero(is_imp)
    n = len(k)
    iids = grid.link_ids[k]
    tables["impedance"] = _df({
        "name": ("object", [str(s) for s in iids]),
        "from_bus": ("uint32", bidx[f[k]]), "to_bus": ("uint32", bidx[t[k]]),
        "rft_pu": ("float64", r[k]), "xft_pu": ("float64", x[k]),
        "rtf_pu": ("float64", r[k]), "xtf_pu": ("float64", x[k]),
        "gf_pu": ("float64", g[k] / 2), "bf_pu": ("float64", b[k] / 2),
        "gt_pu": ("float64", g[k] / 2), "bt_pu": ("float64", b[k] / 2),
        "sn_mva": ("float64", np.full(n, sn)), "in_service": ("bool", on[k])},
        _index_of(iids, "impedance"))
    # switches
    k = np.flatnonzero(is_sw)
    n = len(k)
    sids = grid.link_ids[k]
    tables["switch"] = _df({
        "bus": ("int64", bidx[f[k]]), "element": ("int64", bidx[t[k]]),
        "et": ("object", ["b"] * n), "type": ("object", ["CB"] * n),
        "closed": ("bool", on[k]), "name": ("object", [str(s) for s in sids]),
        "z_ohm": ("float64", np.zeros(n)), "in_ka": ("float64", np.full(n, np.nan))},
        _index_of(sids, "switch"))
    _gens_loads(grid, tables, bidx)
    sb = np.concatenate(shunt_bus)
    sp, sq = np.concatenate(shunt_p), np.concatenate(shunt_q)
    keep = (sp != 0) | (sq != 0)
    sb, sp, sq = sb[keep], sp[keep], sq[keep]
    n = len(sb)
    tables["shunt"] = _df({
        "bus": ("uint32", bidx[sb]), "name": ("object", [None] * n), "q_mvar": ("float64", sq),
        "p_mw": ("float64", sp), "vn_kv": ("float64", vn[sb]), "step": ("float64", np.ones(n)),
        "max_step": ("uint32", np.ones(n, np.int64)),
        "id_characteristic_table": ("Int64", [None] * n),
        "step_dependency_table": ("bool", np.zeros(n, bool)),
        "in_service": ("bool", np.ones(n, bool))}, range(n))
    obj = dict(tables)
    obj.update({"version": FORMAT_VERSION, "format_version": FORMAT_VERSION, "name": "",
                "f_hz": f_hz, "sn_mva": sn, "user_pf_options": {"trafo_model": "pi"}})
    doc = {"_module": "pandapower.auxiliary", "_class": "pandapowerNet", "_object": obj}
    path.write_text(_dumps(doc) + "\n", encoding="utf-8")
    return path


def _nan_inf(a) -> np.ndarray:
    a = np.array(a, float)
    a[~np.isfinite(a)] = np.nan
    return a


def _gens_loads(grid: PowerGrid, tables: dict, bidx: np.ndarray) -> None:
    gs = grid.gens
    kind = np.asarray(gs.kind, object)
    for name, sel in (("ext_grid", kind == "ext_grid"), ("gen", kind == "gen"),
                      ("sgen", kind == "sgen")):
        k = np.flatnonzero(sel)
        n = len(k)
        ids = [str(s) for s in gs.ids[k]]
        cols = {"name": ("object", ids), "bus": ("uint32", bidx[gs.bus[k]])}
        if name == "ext_grid":
            cols.update({"vm_pu": ("float64", gs.vm_pu[k]),
                         "va_degree": ("float64", gs.va_degree[k]),
                         "slack_weight": ("float64", np.ones(n)),
                         "in_service": ("bool", gs.in_service[k]),
                         "controllable": ("bool", np.zeros(n, bool))})
        elif name == "gen":
            cols.update({"p_mw": ("float64", gs.p_mw[k]), "vm_pu": ("float64", gs.vm_pu[k]),
                         "sn_mva": ("float64", np.full(n, np.nan)),
                         "min_q_mvar": ("float64", _nan_inf(gs.q_min_mvar[k])),
                         "max_q_mvar": ("float64", _nan_inf(gs.q_max_mvar[k])),
                         "scaling": ("float64", np.ones(n)), "slack": ("bool", np.zeros(n, bool)),
                         "controllable": ("bool", np.zeros(n, bool)),
                         "in_service": ("bool", gs.in_service[k]),
                         "slack_weight": ("float64", np.zeros(n)),
                         "type": ("object", [None] * n)})
        else:
            cols.update({"p_mw": ("float64", gs.p_mw[k]), "q_mvar": ("float64", gs.q_mvar[k]),
                         "min_q_mvar": ("float64", _nan_inf(gs.q_min_mvar[k])),
                         "max_q_mvar": ("float64", _nan_inf(gs.q_max_mvar[k])),
                         "sn_mva": ("float64", np.full(n, np.nan)),
                         "scaling": ("float64", np.ones(n)),
                         "controllable": ("bool", np.zeros(n, bool)),
                         "in_service": ("bool", gs.in_service[k]), "type": ("object", [None] * n),
                         "current_source": ("bool", np.ones(n, bool))})
        tables[name] = _df(cols, _index_of(ids, name))
    ld = grid.loads
    n = len(ld)
    ids = [str(s) for s in ld.ids]
    z = np.zeros(n)
    tables["load"] = _df({
        "name": ("object", ids), "bus": ("uint32", bidx[ld.bus]), "p_mw": ("float64", ld.p_mw),
        "q_mvar": ("float64", ld.q_mvar), "const_z_p_percent": ("float64", z),
        "const_i_p_percent": ("float64", z), "const_z_q_percent": ("float64", z),
        "const_i_q_percent": ("float64", z), "sn_mva": ("float64", np.full(n, np.nan)),
        "scaling": ("float64", np.ones(n)), "in_service": ("bool", ld.in_service),
        "type": ("object", ["wye"] * n), "controllable": ("bool", np.zeros(n, bool)),
        "kind": ("object", [str(s) if s is not None else "" for s in ld.kind]),
        "element": ("object", [None if s is None else str(s) for s in ld.element])},
        _index_of(ids, "load"))
