"""Results of solved members: node voltages, bus injections, branch flows, loading, energized
buses and served loads, as (K, ...) arrays (pandapower's definitions)."""

from __future__ import annotations

import numba as nb
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


@nb.njit(cache=True, parallel=True)
def _flows(labels, n, f, t, yff, yft, ytf, ytt, b_dc, shift, switch, link_on, v, conv,
           en_node, dc, base):
    """End flows (6 arrays (K, n_link): p/q from, p/q to MW / Mvar, |I| from / to p.u.) and
    the bus injections (N,) complex p.u. (sum of the flows out of each bus)."""
    k, nl = link_on.shape
    out = np.zeros((6, k, nl))
    sb = np.zeros(len(v), np.complex128)
    for m in nb.prange(k):
        for li in range(nl):
            if not conv[m] or not en_node[m, f[li]] or not en_node[m, t[li]]:
                for a in range(6):
                    out[a, m, li] = np.nan
                continue
            if switch[li] and link_on[m, li]:
                for a in range(6):
                    out[a, m, li] = np.nan
                continue
            if not link_on[m, li] or switch[li]:
                continue
            fb = labels[m * n + f[li]]
            tb = labels[m * n + t[li]]
            vf, vt = v[fb], v[tb]
            if dc:
                pf = b_dc[li] * (np.angle(vf) - np.angle(vt) - shift[li])
                sf = pf + 0j
                st = -pf + 0j
                af, at = abs(pf) / abs(vf), abs(pf) / abs(vt)
            else:
                cf = yff[li] * vf + yft[li] * vt
                ct = ytf[li] * vf + ytt[li] * vt
                sf, st = vf * np.conj(cf), vt * np.conj(ct)
                af, at = abs(cf), abs(ct)
            out[0, m, li], out[1, m, li] = sf.real * base, sf.imag * base
            out[2, m, li], out[3, m, li] = st.real * base, st.imag * base
            out[4, m, li], out[5, m, li] = af, at
            sb[fb] += sf
            sb[tb] += st
    return out, sb


def results(c: Compiled, s: System, v: np.ndarray, conv: np.ndarray, iters: np.ndarray,
            dc: bool = False) -> dict:
    """Return the result arrays of :meth:`PowerFlow.solve` for voltages ``v`` (N,) complex
    (NaN where de-energized or not converged; for DC, vset exp(j va): as pandapower's
    rundcpp, magnitudes are the set points (1 at PQ buses) and currents |P| / vm)."""
    k, n, base = s.k, c.n_node, c.base_mva
    ok_bus = conv[s.bus_member] & s.energized
    v = np.where(ok_bus, v, np.nan)
    en_node = s.energized[s.labels].reshape(k, n)
    arrs, sb = _flows(s.labels, n, c.f, c.t, c.yff, c.yft, c.ytf, c.ytt, c.b_dc, c.shift,
                      c.switch, np.ascontiguousarray(s.link_on), v, conv, en_node, dc, base)
    sb = np.where(ok_bus, sb, np.nan)
    out = dict(zip(("p_from", "q_from", "p_to", "q_to", "i_from", "i_to"), arrs))
    with np.errstate(invalid="ignore"):
        out["loading"] = np.maximum(out["i_from"], out["i_to"]) / c.rate_pu[None, :] * 100.0
    vnode = v[s.labels].reshape(k, n)
    snode = sb[s.labels].reshape(k, n) * base
    energized = en_node
    served = s.load_on & energized[:, c.load_bus]
    out.update(vm=np.abs(vnode), va=np.rad2deg(np.angle(vnode)), p=snode.real, q=snode.imag,
               energized=energized, load_served=served.astype(float),
               load_p=np.where(served, c.load_p[None, :] * s.load_scale, 0.0) * base,
               converged=conv, iterations=iters, v_node=vnode)
    return out
