"""Results of solved members: node voltages, bus injections, branch flows, loading, energized
buses and served loads, as (K, ...) arrays (pandapower's definitions)."""

from __future__ import annotations

import numpy as np

from .compile import Compiled
from .system import System


def branch_ends(c: Compiled, s: System):
    """(fb, tb) (M,) global buses of the admittance branches ``s.lk``/``s.ll``."""
    n = c.n_node
    return s.labels[s.lk * n + c.f[s.ll]], s.labels[s.lk * n + c.t[s.ll]]


def dc_injections(c: Compiled, s: System):
    """Return (pbusinj (N,), gs (N,)): the phase-shift injections B' adds and the shunt
    conductance at each bus (p.u.), so that P = Bbus va + pbusinj + gs."""
    fb, tb = branch_ends(c, s)
    pfinj = -c.b_dc[s.ll] * c.shift[s.ll]
    pbusinj = np.bincount(fb, pfinj, s.n_bus) - np.bincount(tb, pfinj, s.n_bus)
    kn, nn = np.nonzero(s.node_on)
    gs = np.bincount(s.labels[kn * c.n_node + nn], c.ysh[nn].real, s.n_bus)
    return pbusinj, gs


def results(c: Compiled, s: System, v: np.ndarray, conv: np.ndarray, iters: np.ndarray,
            dc: bool = False) -> dict:
    """Return the result arrays of :meth:`PowerFlow.solve` for voltages ``v`` (N,) complex
    (NaN where de-energized or not converged; for DC, vset exp(j va): as pandapower's
    rundcpp, magnitudes are the set points (1 at PQ buses) and currents |P| / vm)."""
    k, n, base = s.k, c.n_node, c.base_mva
    ok_bus = conv[s.bus_member] & s.energized
    v = np.where(ok_bus, v, np.nan)
    vz = np.nan_to_num(v)
    fb, tb = branch_ends(c, s)
    ll = s.ll
    vf, vt = vz[fb], vz[tb]
    if not dc:
        cf = c.yff[ll] * vf + c.yft[ll] * vt
        ct = c.ytf[ll] * vf + c.ytt[ll] * vt
        sf, st = vf * np.conj(cf), vt * np.conj(ct)
        af, at = np.abs(cf), np.abs(ct)
        sb = (np.bincount(fb, sf.real, s.n_bus) + np.bincount(tb, st.real, s.n_bus)
              + 1j * (np.bincount(fb, sf.imag, s.n_bus) + np.bincount(tb, st.imag, s.n_bus)))
    else:
        va = np.angle(vz)
        pf = c.b_dc[ll] * (va[fb] - va[tb] - c.shift[ll])
        sf, st = pf.astype(complex), -pf.astype(complex)
        with np.errstate(invalid="ignore", divide="ignore"):
            af, at = np.abs(pf) / np.abs(vf), np.abs(pf) / np.abs(vt)
        sb = (np.bincount(fb, pf, s.n_bus) - np.bincount(tb, pf, s.n_bus)).astype(complex)
    sb = np.where(ok_bus, sb, np.nan)
    live = ok_bus[fb]
    shape = (k, c.n_link)
    en_node = s.energized[s.labels].reshape(k, n)
    dead_end = ~en_node[:, c.f] | ~en_node[:, c.t]  # pandapower: NaN at isolated buses
    out = {}
    for name, a in (("p_from", sf.real * base), ("q_from", sf.imag * base),
                    ("p_to", st.real * base), ("q_to", st.imag * base),
                    ("i_from", af), ("i_to", at)):
        full = np.zeros(shape)
        full[s.lk, s.ll] = np.where(live, a, 0.0)
        full[~conv] = np.nan
        full[dead_end] = np.nan
        full[c.switch[None, :] & s.link_on] = np.nan
        out[name] = full
    with np.errstate(invalid="ignore"):
        out["loading"] = np.maximum(out["i_from"], out["i_to"]) / c.rate_pu[None, :] * 100.0
    vnode = v[s.labels].reshape(k, n)
    snode = sb[s.labels].reshape(k, n) * base
    energized = s.energized[s.labels].reshape(k, n)
    served = s.load_on & energized[:, c.load_bus]
    out.update(vm=np.abs(vnode), va=np.rad2deg(np.angle(vnode)), p=snode.real, q=snode.imag,
               energized=energized, load_served=served.astype(float),
               load_p=np.where(served, c.load_p[None, :] * s.load_scale, 0.0) * base,
               converged=conv, iterations=iters, v_node=vnode)
    return out
