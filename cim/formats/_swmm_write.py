"""Write a :class:`cim.model.drainage.DrainageNetwork` as a SWMM 5 .inp (its flow units;
SI columns converted back) plus the ``<stem>.inlets.csv`` sidecar."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._swmm_parse import SECTIONS, Units, fmt, inlets_sidecar_path
from ._swmm_read import LINK_SECTIONS, geom_lengths
from .source import write_bytes

#: options written when the network has none (a new network built in code)
DEFAULT_OPTIONS = {"FLOW_UNITS": "CMS", "INFILTRATION": "HORTON", "FLOW_ROUTING": "DYNWAVE",
                   "LINK_OFFSETS": "DEPTH", "START_DATE": "01/01/2024", "START_TIME": "00:00:00",
                   "REPORT_START_DATE": "01/01/2024", "REPORT_START_TIME": "00:00:00",
                   "END_DATE": "01/01/2024", "END_TIME": "06:00:00", "REPORT_STEP": "00:05:00",
                   "WET_STEP": "00:01:00", "DRY_STEP": "01:00:00", "ROUTING_STEP": "0:00:05",
                   "ALLOW_PONDING": "NO", "INERTIAL_DAMPING": "PARTIAL",
                   "NORMAL_FLOW_LIMITED": "BOTH", "MIN_SURFAREA": "0"}


def _row(*fields) -> str:
    return " ".join(f"{f:<16}" if i < len(fields) - 1 else str(f)
                    for i, f in enumerate(fields)).rstrip()


def _q(s) -> str:
    s = str(s)
    return f'"{s}"' if (not s or any(c.isspace() for c in s) or s.startswith(";")) else s


def write_swmm(net, path: Path) -> Path:
    """Write ``net`` to ``path`` (.gz allowed) and its inlets sidecar; return ``path``."""
    opts = dict(net.options) if net.options else dict(DEFAULT_OPTIONS)
    opts["FLOW_UNITS"] = net.flow_units
    u = Units(net.flow_units)
    L = u.length
    out: dict[str, list[str]] = {}
    out["TITLE"] = list(net.title)
    out["OPTIONS"] = [_row(k, v) for k, v in opts.items()]
    elev_off = opts.get("LINK_OFFSETS", "DEPTH").upper().startswith("ELEV")
    nt = net.node_type
    ids = [_q(i) for i in net.node_ids]
    inv = net.node_invert
    rows = {"JUNCTIONS": [], "OUTFALLS": [], "STORAGE": [], "DIVIDERS": []}
    for i in range(net.n_nodes):
        t = nt[i]
        if t == "junction":
            rows["JUNCTIONS"].append(_row(
                ids[i], fmt(inv[i] / L), fmt(net.node_max_depth[i] / L),
                fmt(net.node_init_depth[i] / L), fmt(net.node_surcharge_depth[i] / L),
                fmt(net.node_ponded_area[i] / u.area)))
        elif t == "outfall":
            typ = (net.node_outfall_type[i] or "free").upper()
            f = [ids[i], fmt(inv[i] / L), typ]
            if typ == "FIXED":
                f.append(fmt(net.node_outfall_stage[i] / L))
            elif typ in ("TIDAL", "TIMESERIES"):
                f.append(_q(net.node_outfall_series[i]))
            f.append("YES" if net.node_flap_gate[i] else "NO")
            if net.node_route_to[i]:
                f.append(_q(net.node_route_to[i]))
            rows["OUTFALLS"].append(_row(*f))
        elif t == "storage":
            shape = (net.node_storage_shape[i] or "functional").upper()
            f = [ids[i], fmt(inv[i] / L), fmt(net.node_max_depth[i] / L),
                 fmt(net.node_init_depth[i] / L), shape]
            a, b, c = net.node_storage_params[i]
            if shape == "TABULAR":
                f.append(_q(net.node_storage_curve[i]))
            elif shape == "FUNCTIONAL":
                f += [fmt(a / u.area * L ** b), fmt(b), fmt(c / u.area)]
            else:
                f += [fmt(a), fmt(b), fmt(c)]
            f += list(net.node_extra[i] or ())
            rows["STORAGE"].append(_row(*f))
        else:
            rows["DIVIDERS"].append(_row(ids[i], fmt(inv[i] / L), *(net.node_extra[i] or ())))
    out.update(rows)
    lids = [_q(k) for k in net.link_ids]
    fr, to = net.link_from, net.link_to
    by_type = {v: [] for v in LINK_SECTIONS.values()}
    xs, losses = [], []
    for k in range(net.n_links):
        t = net.link_type[k]
        if t == "conduit":
            o1, o2 = net.link_in_offset[k], net.link_out_offset[k]
            if elev_off:
                o1, o2 = o1 + inv[fr[k]], o2 + inv[to[k]]
            by_type[t].append(_row(lids[k], ids[fr[k]], ids[to[k]],
                                   fmt(net.link_length[k] / L), fmt(net.link_roughness[k]),
                                   fmt(o1 / L), fmt(o2 / L), fmt(net.link_init_flow[k] / u.flow),
                                   fmt(net.link_max_flow[k] / u.flow)))
        else:
            by_type[t].append(_row(lids[k], ids[fr[k]], ids[to[k]],
                                   *(net.link_params[k] or ())))
        shape = net.link_shape[k]
        if shape:
            S = shape.upper()
            g = net.link_geom[k]
            if S == "CUSTOM":
                f = [fmt(g[0] / L), _q(net.link_shape_ref[k])]
            elif S in ("IRREGULAR", "STREET"):
                f = [_q(net.link_shape_ref[k])]
            else:
                dw = opts.get("FORCE_MAIN_EQUATION", "H-W").upper() == "D-W"
                gg = np.where(geom_lengths(S, dw), g / L, g)
                f = [fmt(v) for v in gg]
            f.append(str(int(net.link_barrels[k])))
            if net.link_culvert[k]:
                f.append(str(net.link_culvert[k]))
            xs.append(_row(lids[k], S, *f))
        lo = net.link_losses[k]
        if (lo != 0).any() or net.link_flap_gate[k] or net.link_seepage[k]:
            f = (0.0254 if u.us else 1e-3) / 3600.0
            losses.append(_row(lids[k], *(fmt(v) for v in lo),
                               "YES" if net.link_flap_gate[k] else "NO",
                               fmt(net.link_seepage[k] / f)))
    for sec, t in LINK_SECTIONS.items():
        out[sec] = by_type[t]
    out["XSECTIONS"] = xs
    out["LOSSES"] = losses
    sc = net.subcatchments
    if len(sc):
        out["SUBCATCHMENTS"] = [_row(
            _q(sc.ids[i]), _q(sc.raingage[i]), _q(sc.outlet[i]), fmt(sc.area[i] / u.land),
            fmt(sc.imperv[i] * 100), fmt(sc.width[i] / L), fmt(sc.slope[i] * 100),
            fmt(sc.curb_length[i]), *([_q(sc.snowpack[i])] if sc.snowpack[i] else []))
            for i in range(len(sc))]
        dep = 0.0254 if u.us else 1e-3
        sa = []
        for i in range(len(sc)):
            v = sc.subareas[i].copy()
            if not np.isfinite(v).all():
                continue
            v[2:4] /= dep
            f = [fmt(x) for x in v] + [sc.route_to[i] or "OUTLET"]
            if np.isfinite(sc.pct_routed[i]):
                f.append(fmt(sc.pct_routed[i]))
            sa.append(_row(_q(sc.ids[i]), *f))
        out["SUBAREAS"] = sa
        out["POLYGONS"] = [_row(_q(sc.ids[i]), fmt(x), fmt(y)) for i in range(len(sc))
                           for x, y in sc.polygons[i]]
    xy = net.node_xy
    out["COORDINATES"] = [_row(ids[i], fmt(xy[i, 0]), fmt(xy[i, 1]))
                          for i in range(net.n_nodes) if np.isfinite(xy[i]).all()]
    verts = []
    off = net.geometry_offsets
    for k in range(net.n_links):
        for x, y in net.geometry_xy[off[k] + 1:off[k + 1] - 1]:
            verts.append(_row(lids[k], fmt(x), fmt(y)))
    out["VERTICES"] = verts
    for sec, lines in net.sections.items():
        out[sec] = list(lines)
    order = [s for s in net.order if s in out] + [s for s in SECTIONS
                                                  if s in out and s not in net.order]
    text = []
    for sec in order:
        if not out[sec] and sec not in ("TITLE", "OPTIONS"):
            continue
        text.append(f"[{sec}]")
        text += out[sec]
        text.append("")
    path = Path(path)
    write_bytes(path, ("\n".join(text) + "\n").encode("utf-8"))
    _write_inlets(net, path)
    return path


def _write_inlets(net, path: Path) -> None:
    side = inlets_sidecar_path(path)
    has = np.isfinite(net.node_inlet_capacity)
    if not has.any():
        if side.exists():
            side.unlink()
        return
    lines = ["node,capacity_m3s,inlets"]
    for i in np.flatnonzero(has):
        lines.append(f"{net.node_ids[i]},{net.node_inlet_capacity[i]:.6g},"
                     f"{int(net.node_inlets[i])}")
    side.write_text("\n".join(lines) + "\n", encoding="utf-8")
