"""Per-unit branch parameters of pandapower elements, computed as pandapower builds its internal
case (``pandapower.build_branch``): lines, two-winding transformers (tap changers, T model ->
pi), three-winding transformers (three equivalent two-winding ones around a star bus) and
impedances. All functions are vectorised over the elements; voltages in kV, powers in MVA,
``sn`` the system base (``net.sn_mva``).
"""

from __future__ import annotations

import numpy as np

from ..errors import SchemaError
from ._pp_tables import Frame

_SIDES = ("hv", "mv", "lv")


def line_pu(ln: Frame, vn_from: np.ndarray, sn: float, f_hz: float):
    """Return r, x, b, g (p.u., (n,) each) of pandapower lines: ohm/km × length / base
    impedance of the from bus, divided (r, x) or multiplied (b, g) by ``parallel``."""
    length = ln.num("length_km")
    par = ln.num("parallel", 1.0)
    base_r = np.square(vn_from) / sn
    r = ln.num("r_ohm_per_km") * length / base_r / par
    x = ln.num("x_ohm_per_km") * length / base_r / par
    b = 2 * f_hz * np.pi * ln.num("c_nf_per_km", 0.0) * 1e-9 * base_r * length * par
    g = ln.num("g_us_per_km", 0.0) * 1e-6 * base_r * length * par
    return r, x, b, g


def trafo_dict(tr: Frame) -> dict:
    """Return the columns of a trafo table that :func:`trafo_pu` uses, as arrays; the tap
    changer kind ("Ratio", "Symmetrical", "Ideal" or "") from ``tap_changer_type`` (3.x) or
    ``tap_phase_shifter`` (2.x)."""
    if np.any(tr.flag("tap_dependency_table", False)):
        k = int(np.flatnonzero(tr.flag("tap_dependency_table", False))[0])
        raise SchemaError("transformers with tap dependency tables (trafo_characteristic_table)"
                          " are not supported", obj_id=f"{tr.name}_{tr.index[k]}")
    d = {c: tr.num(c) for c in ("sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent")}
    d["pfe_kw"] = tr.num("pfe_kw", 0.0)
    d["i0_percent"] = tr.num("i0_percent", 0.0)
    d["shift_degree"] = tr.num("shift_degree", 0.0)
    d["parallel"] = tr.num("parallel", 1.0)
    d["r_ratio"] = tr.num("leakage_resistance_ratio_hv", 0.5)
    d["x_ratio"] = tr.num("leakage_reactance_ratio_hv", 0.5)
    d["taps"] = []
    for t in ("", "2"):
        if not tr.has(f"tap{t}_pos"):
            continue
        tap = {k: tr.num(f"tap{t}_{k}") for k in ("pos", "neutral", "step_percent",
                                                   "step_degree")}
        tap["side"] = tr.text(f"tap{t}_side")
        if tr.has(f"tap{t}_changer_type"):
            tap["kind"] = tr.text(f"tap{t}_changer_type")
        elif tr.has(f"tap{t}_phase_shifter"):
            ideal = tr.flag(f"tap{t}_phase_shifter", False)
            tap["kind"] = np.where(ideal, "Ideal", "Ratio").astype(object)
        else:
            tap["kind"] = np.full(len(tr), "Ratio", object)
        d["taps"].append(tap)
    return d


def _asin_deg(v):
    return np.rad2deg(np.arcsin(v))


def _tap_voltages(d: dict, angles: bool):
    """Return (vn_hv, vn_lv, shift) after the tap changers (pandapower's
    ``_calc_tap_from_dataframe``)."""
    vnh, vnl = d["vn_hv_kv"].copy(), d["vn_lv_kv"].copy()
    shift = d["shift_degree"].copy() if angles else np.zeros(len(vnh))
    for tap in d["taps"]:
        diff = tap["pos"] - tap["neutral"]
        pct, deg = tap["step_percent"], tap["step_degree"]
        ideal = tap["kind"] == "Ideal"
        cplx = (tap["kind"] == "Ratio") | (tap["kind"] == "Symmetrical")
        for side, vn, direction in (("hv", vnh, 1.0), ("lv", vnl, -1.0)):
            m = ideal & (tap["side"] == side)
            if m.any():
                deg_set = np.nan_to_num(deg[m]) != 0
                if np.any(deg_set & (np.nan_to_num(pct[m]) != 0)):
                    raise SchemaError("both tap_step_degree and tap_step_percent set for an "
                                      "ideal phase shifter")
                with np.errstate(invalid="ignore"):
                    shift[m] += np.where(deg_set, direction * diff[m] * deg[m],
                                         direction * 2 * _asin_deg(diff[m] * pct[m] / 200))
            m = cplx & (tap["side"] == side)
            if m.any():
                steps = np.nan_to_num(pct[m] * diff[m] / 100)
                ang = np.deg2rad(np.nan_to_num(deg[m]))
                u1 = vn[m]
                du = u1 * steps
                vn[m] = np.sqrt((u1 + du * np.cos(ang)) ** 2 + (du * np.sin(ang)) ** 2)
                shift[m] += np.rad2deg(np.arctan(direction * du * np.sin(ang)
                                                 / (u1 + du * np.cos(ang))))
    return vnh, vnl, shift


def trafo_pu(d: dict, vn_hv_bus: np.ndarray, vn_lv_bus: np.ndarray, sn: float, *,
             model: str = "t", angles: bool = True):
    """Return r, x, g, b, g_asym, b_asym, ratio, shift of two-winding transformers (p.u. on
    ``sn`` and the lv bus voltage; g/b the total shunt admittance, split half per end; the
    ``_asym`` parts what the to end has more), as pandapower's
    ``_calc_branch_values_from_trafo_df`` computes them; ``model`` "t" converts the T model to
    the equivalent pi."""
    vnh, vnl, shift = _tap_voltages(d, angles)
    ratio = (vnh / vnl) / (vn_hv_bus / vn_lv_bus)
    par = d["parallel"]
    tap_lv = np.square(vnl / vn_lv_bus) * sn
    z = d["vk_percent"] / 100.0 / d["sn_mva"] * tap_lv
    r = d["vkr_percent"] / 100.0 / d["sn_mva"] * tap_lv
    x = np.sign(z) * np.sqrt(z ** 2 - r ** 2)
    r, x = r / par, x / par
    base_z = np.square(vn_lv_bus) / sn
    pfe = d["pfe_kw"] * 1e-3
    ym = d["i0_percent"] / 100 * d["sn_mva"]
    b2 = np.maximum(np.square(ym) - np.square(pfe), 0.0)
    scale = base_z * par / np.square(d["vn_lv_kv"]) / np.square(vnl / d["vn_lv_kv"])
    g, b = pfe * scale, -np.sqrt(b2) * scale
    g_asym, b_asym = np.zeros_like(g), np.zeros_like(b)
    if model == "t":
        r, x, g, b, g_asym, b_asym = _t_to_pi(r, x, g, b, d["r_ratio"], d["x_ratio"])
    elif model != "pi":
        raise SchemaError(f"unknown trafo_model {model!r} (expected 't' or 'pi')")
    return r, x, g, b, g_asym, b_asym, ratio, shift


def _t_to_pi(r, x, g, b, r_ratio, x_ratio):
    """Convert the T model (series impedance split by the leakage ratios, magnetising
    admittance g + jb at the middle) to the pi model (pandapower's ``_wye_delta``)."""
    r, x, g, b = r.copy(), x.copy(), g.copy(), b.copy()
    g_asym, b_asym = np.zeros_like(g), np.zeros_like(b)
    m = (g != 0) | (b != 0)
    if not m.any():
        return r, x, g, b, g_asym, b_asym
    za = r[m] * r_ratio[m] + 1j * x[m] * x_ratio[m]
    zb = r[m] * (1 - r_ratio[m]) + 1j * x[m] * (1 - x_ratio[m])
    zc = 1 / (g + 1j * b)[m]
    zsum = za * zb + za * zc + zb * zc
    zab, zac, zbc = zsum / zc, zsum / zb, zsum / za
    r[m], x[m] = zab.real, zab.imag
    yf, yt = 1 / zac, 1 / zbc
    g[m], b[m] = yf.real * 2, yf.imag * 2
    g_asym[m] = 2 * yt.real - g[m]
    b_asym[m] = 2 * yt.imag - b[m]
    return r, x, g, b, g_asym, b_asym


def _to_bus(z, s):
    return s[0] * np.array([z[0] / np.minimum(s[0], s[1]), z[1] / np.minimum(s[1], s[2]),
                            z[2] / np.minimum(s[0], s[2])])


def _wye(z, s):
    return 0.5 * s / s[0] * np.array([z[0] + z[2] - z[1], z[1] + z[0] - z[2],
                                      z[2] + z[1] - z[0]])


def trafo3w_dicts(t3: Frame, loss_default: str = "hv") -> dict:
    """Return the three equivalent two-winding transformers of each three-winding one, as a
    :func:`trafo_dict`-like dict of (3n,) arrays ordered hv…, mv…, lv… (pandapower's
    ``_trafo_df_from_trafo3w``), plus ``side`` (3n,) object."""
    n = len(t3)
    if np.any(t3.flag("tap_dependency_table", False)):
        raise SchemaError("three-winding transformers with tap dependency tables are not "
                          "supported", obj_id=f"trafo3w_{t3.index[0]}")
    vk = np.stack([t3.num(f"vk_{s}_percent") for s in _SIDES])
    vkr = np.stack([t3.num(f"vkr_{s}_percent") for s in _SIDES])
    sn = np.stack([t3.num(f"sn_{s}_mva") for s in _SIDES])
    vk_d, vkr_d = _to_bus(vk, sn), _to_bus(vkr, sn)
    vki_d = np.sqrt(vk_d ** 2 - vkr_d ** 2)
    vkr2, vki2 = _wye(vkr_d, sn), _wye(vki_d, sn)
    vk2 = np.sign(vki2) * np.sqrt(vki2 ** 2 + vkr2 ** 2)
    if np.any(vk2 == 0):
        raise SchemaError("three-winding transformer with a zero-impedance equivalent",
                          obj_id=f"trafo3w_{t3.index[0]}")
    loss = t3.text("loss_side", loss_default) if t3.has("loss_side") else \
        np.full(n, loss_default, object)
    if np.any(loss == "star"):
        raise SchemaError("trafo3w losses at the star point are not supported",
                          obj_id=f"trafo3w_{t3.index[int(np.flatnonzero(loss == 'star')[0])]}")
    zeros = np.zeros(n)
    cat = np.concatenate
    d = {"vk_percent": vk2.reshape(-1), "vkr_percent": vkr2.reshape(-1),
         "sn_mva": sn.reshape(-1),
         "i0_percent": cat([np.where(loss == s, t3.num("i0_percent", 0.0), zeros)
                            for s in _SIDES]),
         "pfe_kw": cat([np.where(loss == s, t3.num("pfe_kw", 0.0), zeros) for s in _SIDES]),
         "vn_hv_kv": cat([t3.num("vn_hv_kv")] * 3),
         "vn_lv_kv": cat([t3.num(f"vn_{s}_kv") for s in _SIDES]),
         "shift_degree": cat([zeros, t3.num("shift_mv_degree", 0.0),
                              t3.num("shift_lv_degree", 0.0)]),
         "parallel": np.ones(3 * n), "r_ratio": np.full(3 * n, 0.5),
         "x_ratio": np.full(3 * n, 0.5), "side": np.repeat(np.array(_SIDES, object), n)}
    # tap changers: on the equivalent trafo of the tapped side (pandapower's
    # _calculate_3w_tap_changers), moved to the star point side when tap_at_star_point
    tside = t3.text("tap_side", "")
    star = t3.flag("tap_at_star_point", False)
    tap = {k: np.full((3, n), np.nan) for k in ("pos", "neutral", "step_percent",
                                                 "step_degree")}
    side_arr = np.full((3, n), "", object)
    for k, s in enumerate(_SIDES):
        m = tside == s
        for var in tap:
            tap[var][k, m] = t3.num(f"tap_{var}")[m]
        side_arr[k, m] = "hv" if s == "hv" else "lv"
        ms = m & star
        if ms.any():
            tc = tap["step_percent"][k, ms] * np.exp(1j * np.deg2rad(tap["step_degree"][k, ms]))
            dpos = tap["pos"][k, ms] - tap["neutral"][k, ms]
            tcor = 100 * tc / (100 + tc * dpos)
            tap["step_percent"][k, ms] = np.abs(tcor)
            side_arr[k, ms] = "lv" if s == "hv" else "hv"
            tap["step_degree"][k, ms] = np.rad2deg(np.angle(tcor)) - 180
    if t3.has("tap_changer_type"):
        kind = t3.text("tap_changer_type")
    elif t3.has("tap_phase_shifter"):
        kind = np.where(t3.flag("tap_phase_shifter", False), "Ideal", "Ratio").astype(object)
    else:
        kind = np.full(n, "Ratio", object)
    d["taps"] = [{**{k: v.reshape(-1) for k, v in tap.items()}, "side": side_arr.reshape(-1),
                  "kind": cat([kind] * 3)}]
    return d


def impedance_pu(imp: Frame, sn: float):
    """Return r, x, g, b (p.u.) of pandapower impedances; SchemaError for an asymmetric one
    (rft != rtf, xft != xtf or from/to shunts that differ), which the model cannot hold."""
    s_imp = imp.num("sn_mva")
    r_f, x_f = imp.num("rft_pu") / s_imp * sn, imp.num("xft_pu") / s_imp * sn
    r_t = imp.num("rtf_pu", np.nan) / s_imp * sn
    x_t = imp.num("xtf_pu", np.nan) / s_imp * sn
    r_t = np.where(np.isnan(r_t), r_f, r_t)
    x_t = np.where(np.isnan(x_t), x_f, x_t)
    g_f = 2 * imp.num("gf_pu", 0.0) * s_imp / sn
    b_f = 2 * imp.num("bf_pu", 0.0) * s_imp / sn
    g_t = 2 * imp.num("gt_pu", 0.0) * s_imp / sn
    b_t = 2 * imp.num("bt_pu", 0.0) * s_imp / sn
    asym = ~np.isclose(r_f, r_t, rtol=1e-12, atol=0) | ~np.isclose(x_f, x_t, rtol=1e-12, atol=0) \
        | (g_f != g_t) | (b_f != b_t)
    if asym.any():
        k = int(np.flatnonzero(asym)[0])
        raise SchemaError("asymmetric impedance (from and to values differ) is not supported",
                          obj_id=f"impedance_{imp.index[k]}")
    return r_f, x_f, g_f, b_f
