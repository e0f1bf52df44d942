"""WaterNetwork (SI) → solver arrays in EPANET's internal units (ft, cfs, s).

The solver works in EPANET's internal US units so that every tolerance and coefficient
(HTOL 0.0005 ft, QTOL 1e-4 cfs, RQTOL 1e-7, CSMALL, CBIG, QZERO, the head-loss constants)
acts exactly as in EPANET 2.2; results are converted back to SI on output.

Codes: link types (``LT_*``) and statuses (``ST_*``) follow EPANET's enumerations, so that
"status <= ST_CLOSED" and "type > LT_PIPE" read as in EPANET.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .errors import HydraulicsError

FT = 0.3048                      # m per ft
CFS = FT ** 3                    # m³/s per cfs
HP = 745.699872                  # W per hp
MISSING = -1.0e10
QZERO, CBIG, CSMALL, TINY, BIG = 1.0e-6, 1.0e8, 1.0e-6, 1.0e-6, 1.0e10
HTOL, QTOL, RQTOL = 0.0005, 0.0001, 1.0e-7
VISCOS = 1.1e-5                  # ft²/s, water at 20 °C
MINPDIFF = 0.1                   # ft, smallest Preq - Pmin

LT_CV, LT_PIPE, LT_PUMP, LT_PRV, LT_PSV, LT_PBV, LT_FCV, LT_TCV, LT_GPV = range(9)
ST_XHEAD, ST_TEMPCLOSED, ST_CLOSED, ST_OPEN, ST_ACTIVE, ST_XFLOW, ST_XFCV, ST_XPRESSURE = \
    range(8)
PT_CONST_HP, PT_POWER, PT_CUSTOM, PT_NOCURVE = range(4)
HW, DW, CM = range(3)
#: control types (EPANET's)
CT_LOW, CT_HI, CT_TIMER, CT_TOD = range(4)

_LTYPE = {"pipe": LT_PIPE, "pump": LT_PUMP, "prv": LT_PRV, "psv": LT_PSV, "pbv": LT_PBV,
          "fcv": LT_FCV, "tcv": LT_TCV, "gpv": LT_GPV}


@dataclass
class Compiled:
    """Solver arrays (internal units ft, cfs). Nodes keep the network's dense order;
    ``row`` (n_nodes,) is a junction's matrix row before ordering (-1 for tanks and
    reservoirs). See :func:`compile_network`."""

    n_nodes: int
    n_links: int
    isj: np.ndarray            # (n_nodes,) bool junction
    junctions: np.ndarray      # (nj,) node indices of junctions
    fixed: np.ndarray          # (nf,) node indices of tanks and reservoirs
    el: np.ndarray             # (n_nodes,) ft elevation (reservoir: base head)
    n1: np.ndarray
    n2: np.ndarray
    ltype: np.ndarray          # (L,) int8 LT_*
    diam: np.ndarray           # ft
    R: np.ndarray              # resistance coefficient
    Km: np.ndarray             # minor loss coefficient, ft per cfs²
    Kc: np.ndarray             # DW roughness ft (pipes)
    status0: np.ndarray        # (L,) int8 initial status
    setting0: np.ndarray       # (L,) initial setting (MISSING where fixed)
    pump_of: np.ndarray        # (L,) pump index or -1
    ptype: np.ndarray          # (npump,) PT_*
    pH0: np.ndarray
    pR: np.ndarray
    pN: np.ndarray
    pHmax: np.ndarray
    pQ0: np.ndarray
    pcurve: np.ndarray         # (npump,) curve index (custom) or -1
    pump_links: np.ndarray     # (npump,) link index
    pump_pattern: np.ndarray   # (npump,) pattern index or -1
    pump_ecurve: np.ndarray    # (npump,) efficiency curve index or -1
    gpv_curve: np.ndarray      # (L,) curve index or -1
    cx: np.ndarray             # curves, padded (ncurve, maxpts), internal units
    cy: np.ndarray
    cn: np.ndarray             # (ncurve,) number of points
    tank_nodes: np.ndarray     # (nt,) node indices of tanks (A > 0)
    tHmin: np.ndarray
    tHmax: np.ndarray
    tH0: np.ndarray
    tA: np.ndarray
    tVmin: np.ndarray
    tVmax: np.ndarray
    tV0: np.ndarray
    tvcurve: np.ndarray        # (nt,) volume curve index or -1
    toverflow: np.ndarray      # (nt,) bool
    tank_of: np.ndarray        # (n_nodes,) tank index or -1
    res_nodes: np.ndarray      # reservoirs
    res_pattern: np.ndarray    # (nres,) pattern index or -1
    pat: np.ndarray            # (npat, maxlen) multipliers; pattern 0 = constant 1
    pat_len: np.ndarray
    dem_node: np.ndarray       # (ncat,) node
    dem_base: np.ndarray       # (ncat,) cfs
    dem_pat: np.ndarray        # (ncat,) pattern index
    Ke: np.ndarray             # (n_nodes,) emitter coefficient (ft per cfs^Qexp)
    formula: int
    hexp: float
    qexp: float
    viscos: float
    hacc: float
    maxiter: int
    extraiter: int
    checkfreq: int
    maxcheck: int
    damplimit: float
    headerror: float
    flowchange: float
    dmult: float
    spgrav: float
    epump: float               # global pump efficiency, %
    pda: bool
    pmin: float
    preq: float
    pexp: float
    ctrl: dict                 # simple controls, arrays (see _controls)
    hstep: int
    pstep: int
    pstart: int
    rstep: int
    rstart: int
    rulestep: int
    tstart: int
    duration: int


def emitter_ke(c_si, exponent: float):
    """Return EPANET's emitter head-loss coefficient (h_ft = Ke q_cfs^(1/e)) of an SI
    emitter coefficient C (q = C p^e, m³/s per m^e); 0 where C <= 0."""
    c = np.asarray(c_si, float)
    cp = c * FT ** exponent / CFS
    with np.errstate(divide="ignore"):
        return np.where(c > 0, np.power(np.where(c > 0, cp, 1.0), -1.0 / exponent), 0.0)


def _fit_power(h0, h1, h2, q1, q2):
    """EPANET's 3-point power-curve fit h = a - b q^c (returns a, b<0 as EPANET's -b, c)."""
    if h0 < TINY or h0 - h1 < TINY or h1 - h2 < TINY or q1 < TINY or q2 - q1 < TINY:
        return None
    h4, h5 = h0 - h1, h0 - h2
    c = np.log(h5 / h4) / np.log(q2 / q1)
    if c <= 0.0 or c > 20.0:
        return None
    b = -h4 / q1 ** c
    if b >= 0.0:
        return None
    return h0, b, c


def _curves(net):
    names = list(net.curves)
    idx = {n: i for i, n in enumerate(names)}
    m = max([len(net.curves[n].x) for n in names] + [1])
    cx, cy = np.zeros((len(names), m)), np.zeros((len(names), m))
    cn = np.zeros(len(names), np.int64)
    for i, n in enumerate(names):
        c = net.curves[n]
        x, y = np.asarray(c.x, float), np.asarray(c.y, float)
        if c.kind in ("pump", "headloss"):
            x, y = x / CFS, y / FT
        elif c.kind == "efficiency":
            x = x / CFS
        elif c.kind == "volume":
            x, y = x / FT, y / FT ** 3
        cx[i, :len(x)], cy[i, :len(y)], cn[i] = x, y, len(x)
    return idx, cx, cy, cn


def _patterns(net):
    names = list(net.patterns)
    idx = {n: i + 1 for i, n in enumerate(names)}
    m = max([len(net.patterns[n]) for n in names] + [1])
    pat = np.ones((len(names) + 1, m))
    plen = np.ones(len(names) + 1, np.int64)
    for n, i in idx.items():
        v = np.asarray(net.patterns[n], float)
        if len(v) == 0:
            v = np.ones(1)
        pat[i, :len(v)], plen[i] = v, len(v)
    return idx, pat, plen


def check_connected(net) -> None:
    """Raise HydraulicsError naming nodes when a connected part of the network (all links,
    whatever their status) holds no tank or reservoir."""
    n = len(net.node_ids)
    g = sp.coo_matrix((np.ones(len(net.link_from)), (net.link_from, net.link_to)), (n, n))
    nc, lab = connected_components(g, directed=False)
    fixed = np.isin(net.node_type, ["tank", "reservoir"])
    ok = np.zeros(nc, bool)
    ok[lab[fixed]] = True
    bad = np.flatnonzero(~ok[lab])
    if len(bad):
        ids = ", ".join(str(net.node_ids[i]) for i in bad[:20])
        more = f" (and {len(bad) - 20} more)" if len(bad) > 20 else ""
        raise HydraulicsError(f"{len(bad)} node(s) are not connected to any tank or "
                              f"reservoir: {ids}{more}")


def compile_network(net) -> Compiled:
    """Return the solver arrays of ``net`` (a cim WaterNetwork, SI)."""
    check_connected(net)
    opt, tim = net.options, net.times
    n, L = len(net.node_ids), len(net.link_ids)
    ntype = np.asarray(net.node_type, object)
    isj = ntype == "junction"
    el = np.asarray(net.node_elevation, float) / FT
    cidx, cx, cy, cn = _curves(net)
    pidx, pat, plen = _patterns(net)
    formula = {"H-W": HW, "D-W": DW, "C-M": CM}[str(opt.get("headloss", "H-W")).upper()]
    hexp = 1.852 if formula == HW else 2.0

    lt = np.array([_LTYPE[str(t)] for t in net.link_type], np.int8)
    stat_in = np.asarray(net.link_status, object)
    lt[(lt == LT_PIPE) & (stat_in == "cv")] = LT_CV
    d = np.asarray(net.link_diameter, float) / FT
    rough = np.asarray(net.link_roughness, float)
    length = np.asarray(net.link_length, float) / FT
    km_in = np.nan_to_num(np.asarray(net.link_minor_loss, float))
    ispipe = lt <= LT_PIPE
    R = np.where(lt == LT_PUMP, CBIG, CSMALL).astype(float)
    Kc = np.zeros(L)
    with np.errstate(all="ignore"):
        if formula == HW:
            rp = 4.727 * length / rough ** hexp / d ** 4.871
        elif formula == DW:
            rp = length / 2.0 / 32.2 / d / (np.pi * d ** 2 / 4.0) ** 2
            Kc = np.where(ispipe, rough / FT, 0.0)
        else:
            rp = (4.0 * rough / (1.49 * np.pi * d ** 2)) ** 2 * (d / 4.0) ** -1.333 * length
        Km = np.where(lt != LT_PUMP, 0.02517 * km_in / d ** 4, 0.0)
    R = np.where(ispipe, rp, R)
    Km = np.nan_to_num(Km)

    # initial status & setting (EPANET's input conventions)
    status0 = np.full(L, ST_OPEN, np.int8)
    status0[stat_in == "closed"] = ST_CLOSED
    setting = np.asarray(net.link_setting, float).copy()
    setting0 = np.full(L, MISSING)
    isv = lt >= LT_PRV
    fixed_v = isv & np.isin(stat_in, ["open", "closed"]) & (lt != LT_GPV)
    for t, f in ((LT_PRV, 1 / FT), (LT_PSV, 1 / FT), (LT_PBV, 1 / FT), (LT_FCV, 1 / CFS),
                 (LT_TCV, 1.0)):
        m = (lt == t) & ~fixed_v
        setting0[m] = np.nan_to_num(setting[m]) * f
    gpv_curve = np.full(L, -1, np.int64)
    for k in np.flatnonzero(lt == LT_GPV):
        gpv_curve[k] = cidx[net.link_curve[k]]
        setting0[k] = gpv_curve[k]
    status0[isv & ~fixed_v & (lt != LT_GPV) & (stat_in != "closed")] = ST_ACTIVE
    status0[(lt == LT_GPV) & (stat_in != "closed")] = ST_OPEN

    # pumps
    pump_links = np.flatnonzero(lt == LT_PUMP)
    npump = len(pump_links)
    pump_of = np.full(L, -1, np.int64)
    pump_of[pump_links] = np.arange(npump)
    ptype = np.zeros(npump, np.int64)
    pH0, pR, pN, pHmax, pQ0 = (np.zeros(npump) for _ in range(5))
    pcurve = np.full(npump, -1, np.int64)
    ppat = np.full(npump, -1, np.int64)
    pecurve = np.full(npump, -1, np.int64)
    power = np.asarray(net.link_power, float)
    for i, k in enumerate(pump_links):
        sp_ = setting[k]
        setting0[k] = 1.0 if np.isnan(sp_) else sp_
        if status0[k] == ST_CLOSED:
            setting0[k] = 0.0 if np.isnan(sp_) else setting0[k]
        if net.link_pattern[k] is not None:
            ppat[i] = pidx[net.link_pattern[k]]
        cname = net.link_curve[k]
        if cname is None and not np.isnan(power[k]):
            ptype[i], pH0[i], pR[i], pN[i] = PT_CONST_HP, 0.0, -8.814 * power[k] / HP, -1.0
            pHmax[i], pQ0[i] = BIG, 1.0
            continue
        if cname is None:
            ptype[i] = PT_NOCURVE
            continue
        c = cidx[cname]
        x, y = cx[c, :cn[c]], cy[c, :cn[c]]
        fit = None
        if len(x) == 1:
            fit = _fit_power(1.33334 * y[0], y[0], 0.0, x[0], 2.0 * x[0])
            q1 = x[0]
        elif len(x) == 3 and x[0] == 0.0:
            fit = _fit_power(y[0], y[1], y[2], x[1], x[2])
            q1 = x[1]
        if fit is not None:
            a, b, cc = fit
            ptype[i], pH0[i], pR[i], pN[i], pHmax[i], pQ0[i] = PT_POWER, -a, -b, cc, a, q1
        elif len(x) in (1, 3) and (len(x) == 1 or x[0] == 0.0):
            raise HydraulicsError(f"pump {net.link_ids[k]}: invalid pump curve {cname}")
        else:
            ptype[i], pcurve[i] = PT_CUSTOM, c
            pHmax[i], pQ0[i] = y[0], (x[0] + x[-1]) / 2.0

    # tanks & reservoirs
    tank_nodes = np.flatnonzero(ntype == "tank")
    nt = len(tank_nodes)
    tank_of = np.full(n, -1, np.int64)
    tank_of[tank_nodes] = np.arange(nt)
    lv = lambda a: np.asarray(a, float)[tank_nodes] / FT  # noqa: E731
    te = el[tank_nodes]
    tHmin, tHmax, tH0 = te + lv(net.node_min_level), te + lv(net.node_max_level), \
        te + lv(net.node_init_level)
    tA = np.pi * lv(net.node_diameter) ** 2 / 4.0
    vmin_in = np.nan_to_num(np.asarray(net.node_min_volume, float)[tank_nodes]) / FT ** 3
    tvcurve = np.array([cidx[c] if c is not None else -1
                        for c in np.asarray(net.node_volume_curve, object)[tank_nodes]],
                       np.int64)
    tVmin = np.where(vmin_in > 0, vmin_in, tA * (tHmin - te))
    tV0 = tVmin + (tH0 - tHmin) * tA
    tVmax = tVmin + (tHmax - tHmin) * tA
    for i in np.flatnonzero(tvcurve >= 0):
        c = tvcurve[i]
        x, y = cx[c, :cn[c]], cy[c, :cn[c]]
        tVmin[i], tV0[i], tVmax[i] = (np.interp(h - te[i], x, y)
                                      for h in (tHmin[i], tH0[i], tHmax[i]))
        tA[i] = (tVmax[i] - tVmin[i]) / max(tHmax[i] - tHmin[i], TINY)
    res_nodes = np.flatnonzero(ntype == "reservoir")
    res_pattern = np.array([pidx[p] if p is not None else -1
                            for p in np.asarray(net.node_pattern, object)[res_nodes]],
                           np.int64)

    # demands
    dflt = opt.get("pattern")
    if dflt is None and "1" in pidx:
        dflt = "1"
    dem = net.demands
    dpat = np.array([pidx.get(p if p is not None else dflt, 0) for p in dem.pattern],
                    np.int64)
    unb = str(opt.get("unbalanced", "stop")).lower().split()
    extra = -1 if unb[0] == "stop" else (int(unb[1]) if len(unb) > 1 else 0)
    qexp = 1.0 / float(opt.get("emitter_exponent", 0.5))
    ke = emitter_ke(np.asarray(net.node_emitter, float), 1.0 / qexp)
    ke[~isj] = 0.0
    energy_eff = float(opt.get("global_efficiency", 75.0))
    ti = lambda k: int(round(float(tim.get(k, 0.0))))  # noqa: E731
    return Compiled(
        n_nodes=n, n_links=L, isj=isj, junctions=np.flatnonzero(isj),
        fixed=np.flatnonzero(~isj), el=el, n1=np.asarray(net.link_from, np.int64),
        n2=np.asarray(net.link_to, np.int64), ltype=lt, diam=d, R=R, Km=Km, Kc=Kc,
        status0=status0, setting0=setting0, pump_of=pump_of, ptype=ptype, pH0=pH0, pR=pR,
        pN=pN, pHmax=pHmax, pQ0=pQ0, pcurve=pcurve, pump_links=pump_links,
        pump_pattern=ppat, pump_ecurve=pecurve, gpv_curve=gpv_curve, cx=cx, cy=cy, cn=cn,
        tank_nodes=tank_nodes, tHmin=tHmin, tHmax=tHmax, tH0=tH0, tA=tA, tVmin=tVmin,
        tVmax=tVmax, tV0=tV0, tvcurve=tvcurve,
        toverflow=np.asarray(net.node_overflow, bool)[tank_nodes], tank_of=tank_of,
        res_nodes=res_nodes, res_pattern=res_pattern, pat=pat, pat_len=plen,
        dem_node=np.asarray(dem.node, np.int64), dem_base=np.asarray(dem.base, float) / CFS,
        dem_pat=dpat, Ke=ke, formula=formula, hexp=hexp, qexp=qexp,
        viscos=VISCOS * float(opt.get("viscosity", 1.0)),
        hacc=min(max(float(opt.get("accuracy", 0.001)), 1e-5), 0.1), maxiter=int(opt.get("trials", 200)),
        extraiter=extra, checkfreq=int(opt.get("checkfreq", 2)),
        maxcheck=int(opt.get("maxcheck", 10)), damplimit=float(opt.get("damplimit", 0.0)),
        headerror=float(opt.get("headerror", 0.0)) / FT,
        flowchange=float(opt.get("flowchange", 0.0)) / CFS,
        dmult=float(opt.get("demand_multiplier", 1.0)),
        spgrav=float(opt.get("specific_gravity", 1.0)), epump=energy_eff,
        pda=str(opt.get("demand_model", "DDA")).upper() in ("PDA", "PDD"),
        pmin=float(opt.get("minimum_pressure", 0.0)) / FT,
        preq=float(opt.get("required_pressure", 0.1)) / FT,
        pexp=float(opt.get("pressure_exponent", 0.5)),
        ctrl=_controls(net, lt, el, isj, pump_of),
        hstep=ti("hydraulic_step") or 3600, pstep=ti("pattern_step") or 3600,
        pstart=ti("pattern_start"), rstep=ti("report_step") or 3600,
        rstart=ti("report_start"), rulestep=ti("rule_step") or 360,
        tstart=ti("start_clocktime"), duration=ti("duration"))


def setting_to_internal(ltype: int, value: float) -> float:
    """Convert an SI link setting (m, m³/s, speed, loss coefficient) to internal units."""
    if ltype in (LT_PRV, LT_PSV, LT_PBV):
        return value / FT
    if ltype == LT_FCV:
        return value / CFS
    return value


def _controls(net, lt, el, isj, pump_of):
    """Simple controls as arrays: link, type (CT_*), node (-1), grade (ft), time (s),
    status (ST_*), setting (internal, MISSING)."""
    cs = list(net.controls)
    m = len(cs)
    out = {"link": np.zeros(m, np.int64), "type": np.zeros(m, np.int64),
           "node": np.full(m, -1, np.int64), "grade": np.zeros(m), "time": np.zeros(m, np.int64),
           "status": np.zeros(m, np.int64), "setting": np.full(m, MISSING)}
    for i, c in enumerate(cs):
        k = int(c.link)
        t = lt[k]
        out["link"][i] = k
        cond = c.condition.lower()
        if cond in ("above", "below"):
            out["type"][i] = CT_HI if cond == "above" else CT_LOW
            out["node"][i] = c.node
            out["grade"][i] = el[c.node] + float(c.value) / FT
        else:
            out["type"][i] = CT_TIMER if cond == "time" else CT_TOD
            out["time"][i] = int(round(float(c.value)))
        if c.setting is None:
            s = ST_OPEN if str(c.status).lower() == "open" else ST_CLOSED
            x = MISSING
            if t == LT_PUMP:
                x = 1.0 if s == ST_OPEN else 0.0
        else:
            x = setting_to_internal(t, float(c.setting))
            if t == LT_PUMP:
                s = ST_CLOSED if x == 0.0 else ST_OPEN
            elif t <= LT_PIPE:
                s = ST_CLOSED if x == 0.0 else ST_OPEN
                x = MISSING
            else:
                s = ST_ACTIVE
        out["status"][i], out["setting"][i] = s, x
    return out
