"""pandapower network tables (decoded by :mod:`._pp_tables`) -> :class:`PowerGrid`, in per unit
as pandapower builds its internal case (see :mod:`cim.formats.pandapower_json` for the
rules)."""

from __future__ import annotations

import json

import numpy as np

from ..errors import ReferenceError_, SchemaError, ValueRangeError
from ..model import Attributes
from ..model.power import ISOLATED, PQ, PV, REF, PowerGens, PowerGrid, PowerLoads
from ..model.tables import _obj
from ._pp_branch import impedance_pu, line_pu, trafo3w_dicts, trafo_dict, trafo_pu
from ._pp_tables import Frame, is_passive

HANDLED = {"bus", "line", "trafo", "trafo3w", "impedance", "switch", "ext_grid", "gen", "sgen",
           "load", "storage", "shunt", "ward", "xward", "asymmetric_load", "asymmetric_sgen"}


def _xy_of(geo) -> list | None:
    """Coordinates of a GeoJSON geometry (str or dict), None when absent or unreadable."""
    if geo is None or (isinstance(geo, float) and geo != geo):
        return None
    if isinstance(geo, str):
        try:
            geo = json.loads(geo)
        except json.JSONDecodeError:
            return None
    if isinstance(geo, dict):
        return geo.get("coordinates")
    return None


class _Links:
    """Collects branch rows element by element."""

    def __init__(self):
        self.parts: list[dict] = []

    def add(self, ids, f, t, kind, r, x, b, g, tap, shift, rate, max_i, on, length, geom):
        n = len(ids)
        def full(v):
            return (np.broadcast_to(np.asarray(v, float), (n,)).astype(float))
        self.parts.append(dict(
            ids=list(ids), f=np.asarray(f, np.int64), t=np.asarray(t, np.int64),
            type=[kind] * n, r=full(r), x=full(x), b=full(b), g=full(g), tap=full(tap),
            shift=full(shift), rate=full(rate), max_i=full(max_i),
            on=np.broadcast_to(np.asarray(on, bool), (n,)), length=full(length),
            geom=list(geom) if geom is not None else [None] * n))

    def cat(self, key):
        vals = [p[key] for p in self.parts]
        if key in ("ids", "type", "geom"):
            return [v for part in vals for v in part]
        return np.concatenate(vals) if vals else np.zeros(0)


def _ids(fr: Frame, prefix: str) -> list[str]:
    return [f"{prefix}_{i}" for i in fr.index.tolist()]


def _named_ids(fr: Frame, prefix: str) -> list[str]:
    names = fr.text("name")
    if len(names) and all(names) and len(set(names.tolist())) == len(names):
        return [str(s) for s in names]
    return _ids(fr, prefix)


def grid_from_frames(frames: dict[str, Frame], scalars: dict, path=None) -> PowerGrid:
    """Return the :class:`PowerGrid` of decoded pandapower tables."""
    for name, fr in frames.items():
        if len(fr) and name not in HANDLED and not is_passive(name):
            on = fr.flag("in_service", True)
            if on.any():
                raise SchemaError(f"table '{name}' is not supported (element "
                                  f"{name}_{fr.index[int(np.flatnonzero(on)[0])]} in service)",
                                  path=path, obj_id=name)
    empty = Frame("", np.zeros(0, np.int64), {})
    T = {k: frames.get(k, Frame(k, empty.index, {})) for k in HANDLED}
    sn = float(scalars.get("sn_mva") or 1.0)
    f_hz = float(scalars.get("f_hz") or 50.0)
    opts = scalars.get("user_pf_options") or {}
    model = str(opts.get("trafo_model", "t"))
    angles = opts.get("calculate_voltage_angles", True) is not False
    bus = T["bus"]
    nb = len(bus)
    order = np.argsort(bus.index, kind="stable")
    if np.any(np.diff(bus.index[order]) == 0):
        dup = bus.index[order][np.flatnonzero(np.diff(bus.index[order]) == 0)[0]]
        raise SchemaError(f"duplicate bus index {dup}", path=path, obj_id=str(dup))

    def pos(fr: Frame, col: str) -> np.ndarray:
        v = fr.num(col)
        p = np.minimum(np.searchsorted(bus.index[order], v), max(nb - 1, 0))
        ok = (nb > 0) & (bus.index[order][p] == v) if nb else np.zeros(len(v), bool)
        if not np.all(ok):
            k = int(np.flatnonzero(~ok)[0])
            raise ReferenceError_(f"{col} {v[k]:g} is not a bus", path=path,
                                  obj_id=f"{fr.name}_{fr.index[k]}")
        return order[p].astype(np.int64)

    vn = list(bus.num("vn_kv"))
    node_on = list(bus.flag("in_service", True))
    node_ids = [str(i) for i in bus.index.tolist()]
    xy = np.full((nb, 2), np.nan)
    for k, g in enumerate(bus.obj("geo")):
        c = _xy_of(g)
        if c is not None and len(c) >= 2:
            xy[k] = c[:2]
    bgeo = frames.get("bus_geodata")
    if bgeo is not None and len(bgeo) and bgeo.has("x"):
        at = {i: k for k, i in enumerate(bus.index.tolist())}
        for i, x, y in zip(bgeo.index.tolist(), bgeo.num("x"), bgeo.num("y")):
            if i in at:
                xy[at[i]] = (x, y)
    xy_rows = [xy]
    links = _Links()
    ln = T["line"]
    if len(ln):
        f, t = pos(ln, "from_bus"), pos(ln, "to_bus")
        r, x, b, g = line_pu(ln, np.asarray(vn)[f], sn, f_hz)
        imax = ln.num("max_i_ka") * ln.num("df", 1.0) * ln.num("parallel", 1.0)
        geom = [_xy_of(v) for v in ln.obj("geo")]
        lgeo = frames.get("line_geodata")
        if lgeo is not None and len(lgeo) and lgeo.has("coords"):
            at = {i: k for k, i in enumerate(ln.index.tolist())}
            for i, c in zip(lgeo.index.tolist(), lgeo.obj("coords")):
                if i in at:
                    geom[at[i]] = c
        links.add(_ids(ln, "line"), f, t, "line", r, x, b, g, 1.0, 0.0,
                  np.sqrt(3) * np.asarray(vn)[f] * imax, imax, ln.flag("in_service", True),
                  ln.num("length_km") * 1000.0, geom)
    tr = T["trafo"]
    if len(tr):
        hv, lv = pos(tr, "hv_bus"), pos(tr, "lv_bus")
        d = trafo_dict(tr)
        r, x, g, b, ga, ba, ratio, shift = trafo_pu(d, np.asarray(vn)[hv], np.asarray(vn)[lv],
                                                    sn, model=model, angles=angles)
        _symmetric(ga, ba, tr, path)
        links.add(_ids(tr, "trafo"), hv, lv, "trafo", r, x, b, g, ratio, shift,
                  d["sn_mva"] * tr.num("df", 1.0) * d["parallel"], np.nan,
                  tr.flag("in_service", True), 0.0, None)
    t3 = T["trafo3w"]
    if len(t3):
        n3 = len(t3)
        hvb, mvb, lvb = pos(t3, "hv_bus"), pos(t3, "mv_bus"), pos(t3, "lv_bus")
        star = np.arange(len(vn), len(vn) + n3)
        vn += list(np.asarray(vn)[hvb])
        on3 = t3.flag("in_service", True)
        node_on += list(on3)
        node_ids += [f"trafo3w_{i}_star" for i in t3.index.tolist()]
        xy_rows.append(np.full((n3, 2), np.nan))
        d = trafo3w_dicts(t3, str(opts.get("trafo3w_losses", "hv")).lower())
        hv = np.concatenate([hvb, star, star])
        lv = np.concatenate([star, mvb, lvb])
        r, x, g, b, ga, ba, ratio, shift = trafo_pu(d, np.asarray(vn)[hv], np.asarray(vn)[lv],
                                                    sn, model=model, angles=angles)
        _symmetric(ga, ba, t3, path)
        ids = [f"trafo3w_{i}_{s}" for s in ("hv", "mv", "lv") for i in t3.index.tolist()]
        links.add(ids, hv, lv, "trafo", r, x, b, g, ratio, shift, d["sn_mva"], np.nan,
                  np.tile(on3, 3), 0.0, None)
    imp = T["impedance"]
    if len(imp):
        r, x, g, b = impedance_pu(imp, sn)
        links.add(_ids(imp, "impedance"), pos(imp, "from_bus"), pos(imp, "to_bus"), "line",
                  r, x, b, g, 1.0, 0.0, imp.num("sn_mva"), np.nan,
                  imp.flag("in_service", True), 0.0, None)
    xw = T["xward"]
    if len(xw):
        nx = len(xw)
        xb = pos(xw, "bus")
        aux = np.arange(len(vn), len(vn) + nx)
        vn += list(np.asarray(vn)[xb])
        node_on += list(xw.flag("in_service", True))
        node_ids += [f"xward_{i}_aux" for i in xw.index.tolist()]
        xy_rows.append(np.full((nx, 2), np.nan))
        base_r = np.square(np.asarray(vn)[xb]) / sn
        links.add(_ids(xw, "xward"), xb, aux, "line", xw.num("r_ohm") / base_r,
                  xw.num("x_ohm") / base_r, 0.0, 0.0, 1.0, 0.0, 0.0, np.nan,
                  xw.flag("in_service", True), 0.0, None)
    vn_a = np.asarray(vn, float)
    sw = T["switch"]
    open_ids: set[str] = set()
    if len(sw):
        et = sw.text("et")
        closed = sw.flag("closed", True)
        sb = pos(sw, "bus")
        bb = et == "b"
        if bb.any():
            swb = Frame("switch", sw.index[bb], {k: v[bb] for k, v in sw.cols.items()})
            eb = pos(swb, "element")
            z = np.nan_to_num(swb.num("z_ohm", 0.0))
            rx = float(opts.get("switch_rx_ratio", 2.0))
            base_r = np.square(vn_a[sb[bb]]) / sn
            ids = _ids(swb, "switch")
            zero = z == 0
            if zero.any():
                links.add([i for i, k in zip(ids, zero) if k], sb[bb][zero], eb[zero],
                          "switch", 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, np.nan,
                          closed[bb][zero], 0.0, None)
            if (~zero).any():
                zr = z[~zero] / base_r[~zero]
                links.add([i for i, k in zip(ids, ~zero) if k], sb[bb][~zero], eb[~zero],
                          "line", zr * rx / np.sqrt(1 + rx ** 2), zr / np.sqrt(1 + rx ** 2),
                          0.0, 0.0, 1.0, 0.0, 0.0, np.nan, closed[bb][~zero], 0.0, None)
        prefix = {"l": ["line"], "t": ["trafo"], "t3": ["trafo3w"]}
        for k in np.flatnonzero(~bb & ~closed):
            kinds = prefix.get(et[k])
            if kinds is None:
                raise SchemaError(f"switch element type {et[k]!r} is not supported",
                                  path=path, obj_id=f"switch_{sw.index[k]}")
            el = int(sw.num("element")[k])
            if et[k] == "t3":
                side = _t3_side(t3, el, sb[k], pos)
                open_ids.add(f"trafo3w_{el}_{side}")
            else:
                open_ids.add(f"{kinds[0]}_{el}")
    ids = links.cat("ids")
    nl = len(ids)
    on = links.cat("on").astype(bool)
    if open_ids:
        on &= ~np.isin(np.asarray(ids, object), list(open_ids))
    f, t = links.cat("f").astype(np.int64), links.cat("t").astype(np.int64)
    node_on_a = np.asarray(node_on, bool)
    on &= node_on_a[f] & node_on_a[t] if nl else on
    xy_all = np.concatenate(xy_rows)
    geometry, offsets = _geometry(links.cat("geom"), f, t, xy_all)
    gens, gen_bus_types = _gens(T, pos, node_on_a, path)
    loads, gs, bs = _loads_and_shunts(T, pos, node_on_a, vn_a, path)
    btype = np.full(len(vn_a), PQ, np.int8)
    btype[gen_bus_types[0]] = PV
    btype[gen_bus_types[1]] = REF
    btype[~node_on_a] = ISOLATED
    n_all = len(vn_a)
    pad = n_all - nb
    vmax = np.concatenate([np.nan_to_num(bus.num("max_vm_pu"), nan=np.inf), np.full(pad, np.inf)])
    vmin = np.concatenate([np.nan_to_num(bus.num("min_vm_pu"), nan=0.0), np.zeros(pad)])
    zone = _obj(list(bus.obj("zone")) + [None] * pad)
    name_col = _obj(list(bus.text("name")) + [""] * pad)
    return PowerGrid(
        node_ids=_obj(node_ids), node_xy=xy_all,
        link_ids=_obj(ids), link_from=f, link_to=t, link_length=links.cat("length"),
        geometry_offsets=offsets, geometry_xy=geometry,
        node_vn_kv=vn_a, node_bus_type=btype, node_gs_mw=gs, node_bs_mvar=bs,
        node_vmax_pu=vmax, node_vmin_pu=vmin, node_in_service=node_on_a, node_zone=zone,
        link_type=_obj(links.cat("type")), link_r_pu=links.cat("r"), link_x_pu=links.cat("x"),
        link_b_pu=links.cat("b"), link_g_pu=links.cat("g"), link_tap=links.cat("tap"),
        link_shift_degree=links.cat("shift"), link_rate_mva=links.cat("rate"),
        link_max_i_ka=links.cat("max_i"), link_in_service=on,
        node_attributes=Attributes(n_all, {"name": name_col}),
        gens=gens, loads=loads, base_mva=sn, f_hz=f_hz)


def _symmetric(ga, ba, fr: Frame, path) -> None:
    bad = (np.abs(ga) > 0) | (np.abs(ba) > 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0]) % len(fr)
        raise SchemaError("leakage ratios other than 0.5 give an asymmetric pi model, which is "
                          "not supported", path=path, obj_id=f"{fr.name}_{fr.index[k]}")


def _t3_side(t3: Frame, el: int, bus_pos: int, pos) -> str:
    k = np.flatnonzero(t3.index == el)
    if not len(k):
        raise ReferenceError_(f"switch to unknown trafo3w {el}", obj_id=f"trafo3w_{el}")
    for s in ("hv", "mv", "lv"):
        if pos(t3, f"{s}_bus")[k[0]] == bus_pos:
            return s
    raise ReferenceError_("switch bus is not a bus of its trafo3w", obj_id=f"trafo3w_{el}")


def _geometry(geoms: list, f: np.ndarray, t: np.ndarray, xy: np.ndarray):
    """Return (geometry_xy, geometry_offsets): the given polylines, else the straight segment
    between the end buses when both have coordinates, else no vertices."""
    pts, offs = [], [0]
    for k, g in enumerate(geoms):
        a = None
        if g is not None:
            try:
                a = np.asarray(g, float).reshape(-1, 2) if len(g) else None
            except (TypeError, ValueError):
                a = None
        if a is None:
            seg = xy[[f[k], t[k]]]
            a = seg if np.isfinite(seg).all() else np.zeros((0, 2))
        pts.append(a)
        offs.append(offs[-1] + len(a))
    geometry = np.concatenate(pts) if pts else np.zeros((0, 2))
    return geometry.reshape(-1, 2), np.asarray(offs, np.int64)


def _gens(T, pos, node_on, path):
    """Return (PowerGens, (PV bus indices, REF bus indices))."""
    parts = []
    eg, gn, sg, xw, asg = T["ext_grid"], T["gen"], T["sgen"], T["xward"], T["asymmetric_sgen"]
    inf = np.inf
    if len(eg):
        parts.append((_ids(eg, "ext_grid"), pos(eg, "bus"), "ext_grid", np.zeros(len(eg)),
                      np.zeros(len(eg)), eg.num("vm_pu", 1.0), eg.num("va_degree", 0.0),
                      np.full(len(eg), inf), np.full(len(eg), -inf), eg.flag("in_service", True)))
    if len(gn):
        slack = gn.flag("slack", False)
        kinds = np.where(slack, "ext_grid", "gen")
        p = gn.num("p_mw") * gn.num("scaling", 1.0)
        parts.append((_ids(gn, "gen"), pos(gn, "bus"), kinds, p, np.zeros(len(gn)),
                      gn.num("vm_pu", 1.0), np.zeros(len(gn)),
                      np.nan_to_num(gn.num("max_q_mvar"), nan=inf),
                      np.nan_to_num(gn.num("min_q_mvar"), nan=-inf), gn.flag("in_service", True)))
    for fr, name, pcols, qcols in ((sg, "sgen", ["p_mw"], ["q_mvar"]),
                                   (asg, "asymmetric_sgen", ["p_a_mw", "p_b_mw", "p_c_mw"],
                                    ["q_a_mvar", "q_b_mvar", "q_c_mvar"])):
        if len(fr):
            s = fr.num("scaling", 1.0)
            p = sum(fr.num(c, 0.0) for c in pcols) * s
            q = sum(fr.num(c, 0.0) for c in qcols) * s
            parts.append((_ids(fr, name), pos(fr, "bus"), "sgen", p, q, np.ones(len(fr)),
                          np.zeros(len(fr)), np.nan_to_num(fr.num("max_q_mvar"), nan=inf),
                          np.nan_to_num(fr.num("min_q_mvar"), nan=-inf),
                          fr.flag("in_service", True)))
    if len(xw):
        nb0 = len(node_on) - len(xw)
        aux = np.arange(nb0, len(node_on))
        parts.append(([f"xward_{i}" for i in xw.index.tolist()], aux, "gen",
                      np.zeros(len(xw)), np.zeros(len(xw)), xw.num("vm_pu", 1.0),
                      np.zeros(len(xw)), np.full(len(xw), inf), np.full(len(xw), -inf),
                      xw.flag("in_service", True)))
    if not parts:
        raise ValueRangeError("the network has no slack (no ext_grid and no gen with "
                              "slack=True)", path=path)
    cols = list(zip(*parts))
    bus = np.concatenate(cols[1]).astype(np.int64)
    kind = np.concatenate([np.broadcast_to(np.asarray(k, object), (len(b),))
                           for k, b in zip(cols[2], cols[1])]).astype(object)
    on = np.concatenate(cols[9]).astype(bool) & node_on[bus]
    if not np.any(on & (kind == "ext_grid")):
        raise ValueRangeError("the network has no slack (no in-service ext_grid and no gen with "
                              "slack=True)", path=path)
    gens = PowerGens(
        ids=_obj([i for ids in cols[0] for i in ids]), bus=bus, kind=kind,
        p_mw=np.concatenate(cols[3]), q_mvar=np.concatenate(cols[4]),
        vm_pu=np.concatenate(cols[5]), va_degree=np.concatenate(cols[6]),
        q_max_mvar=np.concatenate(cols[7]), q_min_mvar=np.concatenate(cols[8]), in_service=on)
    return gens, (bus[on & (kind == "gen")], bus[on & (kind == "ext_grid")])


def _loads_and_shunts(T, pos, node_on, vn, path):
    """Return (PowerLoads, gs_mw (n,), bs_mvar (n,)): loads, storages, asymmetric loads and
    the constant-power part of wards as loads; shunts and the impedance part of wards as bus
    shunts."""
    n = len(node_on)
    rows = []
    ld = T["load"]
    if len(ld):
        s = ld.num("scaling", 1.0)
        kind = ld.text("kind", "")
        el = ld.obj("element") if ld.has("element") else np.full(len(ld), None, object)
        el = _obj([None if v is None or (isinstance(v, float) and v != v) else str(v)
                   for v in el.tolist()])
        rows.append((_named_ids(ld, "load"), pos(ld, "bus"), ld.num("p_mw") * s,
                     ld.num("q_mvar") * s, ld.flag("in_service", True), kind, el))
    for name, pcols, qcols, scaled in (
            ("storage", ["p_mw"], ["q_mvar"], True),
            ("asymmetric_load", ["p_a_mw", "p_b_mw", "p_c_mw"],
             ["q_a_mvar", "q_b_mvar", "q_c_mvar"], True),
            ("ward", ["ps_mw"], ["qs_mvar"], False), ("xward", ["ps_mw"], ["qs_mvar"], False)):
        fr = T[name]
        if len(fr):
            s = fr.num("scaling", 1.0) if scaled else 1.0
            rows.append((_ids(fr, name), pos(fr, "bus"),
                         sum(fr.num(c, 0.0) for c in pcols) * s,
                         sum(fr.num(c, 0.0) for c in qcols) * s, fr.flag("in_service", True),
                         np.full(len(fr), "", object), np.full(len(fr), None, object)))
    if rows:
        cols = list(zip(*rows))
        bus = np.concatenate(cols[1]).astype(np.int64)
        loads = PowerLoads(
            ids=_obj([i for ids in cols[0] for i in ids]), bus=bus,
            p_mw=np.concatenate(cols[2]), q_mvar=np.concatenate(cols[3]),
            in_service=np.concatenate(cols[4]).astype(bool) & node_on[bus],
            kind=_obj(list(np.concatenate(cols[5]))), element=_obj(list(np.concatenate(cols[6]))))
    else:
        loads = PowerLoads.empty()
    gs, bs = np.zeros(n), np.zeros(n)
    sh = T["shunt"]
    if len(sh):
        b = pos(sh, "bus")
        vs = sh.num("vn_kv")
        vs = np.where(np.isnan(vs), vn[b], vs)
        if np.any(sh.flag("step_dependency_table", False)):
            raise SchemaError("shunts with step dependency tables are not supported", path=path)
        k = np.square(vn[b] / vs) * sh.num("step", 1.0) * (sh.flag("in_service", True)
                                                          & node_on[b])
        gs += np.bincount(b, sh.num("p_mw", 0.0) * k, n)
        bs -= np.bincount(b, sh.num("q_mvar", 0.0) * k, n)
    for name in ("ward", "xward"):
        fr = T[name]
        if len(fr):
            b = pos(fr, "bus")
            on = fr.flag("in_service", True) & node_on[b]
            gs += np.bincount(b, fr.num("pz_mw", 0.0) * on, n)
            bs -= np.bincount(b, fr.num("qz_mvar", 0.0) * on, n)
    return loads, gs, bs
