"""The fused member kernel of the fast path: for each member (in parallel over members, or
serially for one), its in-service masks, energized islands (a search from the slack buses),
bus types, set points and injections, the start voltage, Newton-Raphson (or the DC angles)
and every result, written straight into the (K, ...) output arrays — no (K * n) temporaries.

It reproduces :func:`.system.build_system`, :meth:`.batch.PowerFlow._start`, the fast
solvers and :func:`.results.results` member by member (same definitions, same arithmetic).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .compile import EXT_GRID, GEN, SGEN
from .fast import contrib
from .nrfast import OK, dc_one, newton_one

WARM, DC_START, FLAT, DC_MEAN = 0, 1, 2, 3
#: members per dynamically scheduled chunk of the parallel member loop
CHUNK = 4


@nb.njit(cache=True)
def _member(m, pat, grid, gens, loads, bro, buo, geo, lsc, init, dc, vbw, tol, max_iter,
            base, vm_o, va_o, p_o, q_o, en_o, vn_o, fl_o, ls_o, lp_o, conv_o, it_o):
    (yr, yc, ybase, bbase, fpos, cpos, nbus, cp, ri, rp, rk, rpos, iperm, tg, nf,
     aptr, abus, alink) = pat
    (labels, node_in, f, t, fb, tb, link_in, switch, base_on, yff, yft, ytf, ytt, b_dc, shift,
     rate, ysh) = grid
    gen_bus, gen_kind, gen_p, gen_q, gen_vm, gen_va, gen_in = gens
    load_bus, load_p, load_q, load_in = loads
    n, nl, ng, nld = len(labels), len(f), len(gen_bus), len(load_bus)
    mb = m * np.int64(bro.shape[0] > 1)
    mn = m * np.int64(buo.shape[0] > 1)
    mg = m * np.int64(geo.shape[0] > 1)
    ml = m * np.int64(lsc.shape[0] > 1)
    # masks and the member's admittances (the base less what is off)
    node_on = np.empty(n, np.bool_)
    bus_on = np.zeros(nbus, np.bool_)
    for i in range(n):
        node_on[i] = node_in[i] and not buo[mn, i]
        if node_on[i]:
            bus_on[labels[i]] = True
    link_on = np.empty(nl, np.bool_)
    for li in range(nl):
        link_on[li] = (link_in[li] and not bro[mb, li] and node_on[f[li]] and node_on[t[li]])
    gen_on = np.empty(ng, np.bool_)
    for g in range(ng):
        gen_on[g] = gen_in[g] and not geo[mg, g] and node_on[gen_bus[g]]
    ydata = ybase.copy()
    bd = bbase.copy()
    for it in range(nl + n):
        if not base_on[it]:
            continue
        on = (link_on[it] and not switch[it]) if it < nl else node_on[it - nl]
        if on:
            continue
        for q in range(4):
            if cpos[it, q] >= 0:
                y, b = contrib(it, q, nl, yff, yft, ytf, ytt, b_dc, ysh)
                ydata[cpos[it, q]] -= y
                bd[cpos[it, q]] -= b
    # slack buses, energized islands (search from the slacks), bus types
    ref = np.zeros(nbus, np.bool_)
    for g in range(ng):
        if gen_on[g] and gen_kind[g] == EXT_GRID:
            ref[labels[gen_bus[g]]] = True
    energized = np.zeros(nbus, np.bool_)
    stack = np.empty(nbus, np.int64)
    top = 0
    for b in range(nbus):
        if ref[b] and bus_on[b]:
            energized[b] = True
            stack[top] = b
            top += 1
    while top > 0:
        top -= 1
        b = stack[top]
        for p in range(aptr[b], aptr[b + 1]):
            u = abus[p]
            if not energized[u] and link_on[alink[p]]:
                energized[u] = True
                stack[top] = u
                top += 1
    pv = np.zeros(nbus, np.bool_)
    for g in range(ng):
        if gen_on[g] and gen_kind[g] == GEN:
            pv[labels[gen_bus[g]]] = True
    fa = np.zeros(nbus)
    fm = np.zeros(nbus)
    for b in range(nbus):
        ref[b] = ref[b] and energized[b]
        pv[b] = pv[b] and energized[b] and not ref[b]
        if energized[b] and not ref[b]:
            fa[b] = 1.0
            if not pv[b]:
                fm[b] = 1.0
    # set points (ext_grid over gen, the first gen of a bus wins) and injections
    vset = np.ones(nbus)
    vaset = np.zeros(nbus)
    for kind in (GEN, EXT_GRID):
        for g in range(ng - 1, -1, -1):
            if gen_on[g] and gen_kind[g] == kind:
                vset[labels[gen_bus[g]]] = gen_vm[g]
                if kind == EXT_GRID:
                    vaset[labels[gen_bus[g]]] = gen_va[g]
    vsum, vcnt = 0.0, 0
    for g in range(ng):  # pandapower's "auto" start magnitude: the mean set point
        if gen_on[g] and gen_kind[g] != SGEN:
            vsum += gen_vm[g]
            vcnt += 1
    vmean = vsum / vcnt if vcnt else 1.0
    pg = np.zeros(nbus)
    qg = np.zeros(nbus)
    for g in range(ng):
        if gen_on[g]:
            b = labels[gen_bus[g]]
            pg[b] += 0.0 if gen_kind[g] == EXT_GRID else gen_p[g]
            qg[b] += gen_q[g] if gen_kind[g] == SGEN else 0.0
    pl = np.zeros(nbus)
    ql = np.zeros(nbus)
    load_on = np.empty(nld, np.bool_)
    for j in range(nld):
        load_on[j] = load_in[j] and node_on[load_bus[j]]
        if load_on[j]:
            b = labels[load_bus[j]]
            pl[b] += load_p[j] * lsc[ml, j]
            ql[b] += load_q[j] * lsc[ml, j]
    sbus = np.empty(nbus, np.complex128)
    for b in range(nbus):
        sbus[b] = (pg[b] - pl[b]) + 1j * (qg[b] - ql[b])
    # DC angles (the DC method, or the start of Newton-Raphson)
    va = np.zeros(nbus)
    ok = True
    if dc or init == DC_START or init == DC_MEAN:
        pinj_f = np.zeros(nbus)
        pinj_t = np.zeros(nbus)
        for li in range(nl):
            if link_on[li] and not switch[li]:
                pfinj = -b_dc[li] * shift[li]
                pinj_f[fb[li]] += pfinj
                pinj_t[tb[li]] += pfinj
        gs = np.zeros(nbus)
        for i in range(n):
            if node_on[i]:
                gs[labels[i]] += ysh[i].real
        pdc = np.empty(nbus)
        va0 = np.empty(nbus)
        for b in range(nbus):
            pdc[b] = sbus[b].real - (pinj_f[b] - pinj_t[b]) - gs[b]
            va0[b] = vaset[b] if ref[b] else 0.0
        ok = dc_one(yr, yc, bd, fpos, nbus, cp, ri, rp, rk, rpos, iperm, tg, pdc, va0, fa, nf, va)
        for b in range(nbus):
            if not energized[b]:
                va[b] = np.nan
    v = np.empty(nbus, np.complex128)
    iters = 0
    if dc:
        for b in range(nbus):
            v[b] = vset[b] * np.exp(1j * va[b])
    else:
        for b in range(nbus):
            if init == WARM:
                a = vaset[b] if ref[b] else np.angle(vbw[b])
                mag = abs(vbw[b]) if fm[b] > 0 else vset[b]
            elif init == FLAT:
                a = vaset[b] if ref[b] else 0.0
                mag = 1.0 if fm[b] > 0 else vset[b]
            else:
                a = va[b] if np.isfinite(va[b]) else 0.0
                mag = (vmean if init == DC_MEAN else 1.0) if fm[b] > 0 else vset[b]
            v[b] = mag * np.exp(1j * a)
        mis = np.empty(nbus, np.complex128)
        st, iters, _ = newton_one(yr, yc, ydata, fpos, nbus, cp, ri, rp, rk, rpos, iperm, tg, sbus,
                                  v, fa, fm, tol, max_iter, nf, mis)
        ok = st == OK
    conv_o[m] = ok
    it_o[m] = iters
    # results
    nan = np.nan
    for b in range(nbus):
        if not (ok and energized[b]):
            v[b] = nan
    sb = np.zeros(nbus, np.complex128)
    for li in range(nl):
        if not ok or not energized[fb[li]] or not energized[tb[li]] or (
                switch[li] and link_on[li]):
            for a in range(7):
                fl_o[a, m, li] = nan
            continue
        if not link_on[li] or switch[li]:
            for a in range(6):
                fl_o[a, m, li] = 0.0
            fl_o[6, m, li] = 0.0 / rate[li] * 100.0
            continue
        vf, vt = v[fb[li]], v[tb[li]]
        if dc:
            pf = b_dc[li] * (np.angle(vf) - np.angle(vt) - shift[li])
            sf = pf + 0j
            sto = -pf + 0j
            af, at = abs(pf) / abs(vf), abs(pf) / abs(vt)
        else:
            cf = yff[li] * vf + yft[li] * vt
            ct = ytf[li] * vf + ytt[li] * vt
            sf, sto = vf * np.conj(cf), vt * np.conj(ct)
            af, at = abs(cf), abs(ct)
        fl_o[0, m, li], fl_o[1, m, li] = sf.real * base, sf.imag * base
        fl_o[2, m, li], fl_o[3, m, li] = sto.real * base, sto.imag * base
        fl_o[4, m, li], fl_o[5, m, li] = af, at
        mx = nan if (np.isnan(af) or np.isnan(at)) else max(af, at)
        fl_o[6, m, li] = mx / rate[li] * 100.0
        sb[fb[li]] += sf
        sb[tb[li]] += sto
    for i in range(n):
        b = labels[i]
        en_o[m, i] = energized[b]
        vn_o[m, i] = v[b]
        if ok and energized[b]:
            vm_o[m, i] = abs(v[b])
            va_o[m, i] = np.rad2deg(np.angle(v[b]))
            p_o[m, i] = sb[b].real * base
            q_o[m, i] = sb[b].imag * base
        else:
            vm_o[m, i] = va_o[m, i] = p_o[m, i] = q_o[m, i] = nan
    for j in range(nld):
        served = load_on[j] and energized[labels[load_bus[j]]]
        ls_o[m, j] = 1.0 if served else 0.0
        lp_o[m, j] = load_p[j] * lsc[ml, j] * base if served else 0.0


@nb.njit(cache=True, parallel=True)
def _members_par(pat, grid, gens, loads, bro, buo, geo, lsc, init, dc, vbw, tol,
                 max_iter, base, vm_o, va_o, p_o, q_o, en_o, vn_o, fl_o, ls_o, lp_o, conv_o,
                 it_o):
    for m in nb.prange(len(conv_o)):
        _member(np.int64(m), pat, grid, gens, loads, bro, buo, geo, lsc, init, dc, vbw, tol,
                max_iter, base, vm_o, va_o, p_o, q_o, en_o, vn_o, fl_o, ls_o, lp_o, conv_o,
                it_o)


@nb.njit(cache=True)
def _members_ser(pat, grid, gens, loads, bro, buo, geo, lsc, init, dc, vbw, tol,
                 max_iter, base, vm_o, va_o, p_o, q_o, en_o, vn_o, fl_o, ls_o, lp_o, conv_o,
                 it_o):
    """:func:`_members_par` without a parallel region (one member)."""
    for m in range(len(conv_o)):
        _member(np.int64(m), pat, grid, gens, loads, bro, buo, geo, lsc, init, dc, vbw, tol,
                max_iter, base, vm_o, va_o, p_o, q_o, en_o, vn_o, fl_o, ls_o, lp_o, conv_o,
                it_o)


def _rows(a, n: int, dtype) -> np.ndarray:
    """A member array as (1 or K, n) contiguous ``dtype`` (None: one row of zeros)."""
    if a is None:
        return np.zeros((1, n), dtype)
    a = np.asarray(a, dtype)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != n:
        raise ValueError(f"member array of shape {a.shape} does not match (K, {n})")
    return np.ascontiguousarray(a)


def fused_inputs(fp, branch_out, bus_out, gen_out, load_scale):
    """The member arrays of :func:`solve_members` and K, or None when some member changes
    the fusion of nodes by closed switches (the fast path does not apply)."""
    c = fp.c
    bro = _rows(branch_out, c.n_link, np.bool_)
    buo = _rows(bus_out, c.n_node, np.bool_)
    geo = _rows(gen_out, len(c.gen_bus), np.bool_)
    lsc = np.ones((1, len(c.load_bus))) if load_scale is None else _rows(
        load_scale, len(c.load_bus), np.float64)
    ks = {a.shape[0] for a in (bro, buo, geo, lsc)} - {1}
    if len(ks) > 1:
        raise ValueError(f"member arrays have different numbers of members {sorted(ks)}")
    sw = fp.closed_switches
    if len(sw) and (bro[:, sw].any() or buo[:, c.f[sw]].any() or buo[:, c.t[sw]].any()):
        return None
    return bro, buo, geo, lsc, (ks.pop() if ks else 1)


def solve_members(fp, inputs, init: str, dc: bool, v_base, tol: float, max_iter: int) -> dict:
    """Solve the members of ``inputs`` (from :func:`fused_inputs`) on the fast pattern
    ``fp``: ``init`` "warm" (from ``v_base`` (n_node,) complex), "dc", "dc_mean" or "flat";
    ``dc`` the DC method. Returns the result dict of :meth:`.batch.PowerFlow.solve`."""
    c = fp.c
    bro, buo, geo, lsc, k = inputs
    n, nl, nld = c.n_node, c.n_link, len(c.load_bus)
    mode = {"warm": WARM, "dc": DC_START, "dc_mean": DC_MEAN}.get(init, FLAT)
    vbw = np.ones(fp.nb, np.complex128)
    if mode == WARM:
        vbw[fp.labels[::-1]] = v_base[::-1]
        vbw = np.where(np.isfinite(vbw), vbw, 1.0)
    vm, va, p, q = (np.empty((k, n)) for _ in range(4))
    en = np.empty((k, n), np.bool_)
    vn = np.empty((k, n), np.complex128)
    fl = np.empty((7, k, nl))
    ls, lp = np.empty((k, nld)), np.empty((k, nld))
    conv = np.empty(k, np.bool_)
    iters = np.zeros(k, np.int64)
    args = (fp.pat, fp.grid_arrays, fp.gen_arrays, fp.load_arrays, bro, buo, geo, lsc, mode,
            dc, vbw, float(tol), int(max_iter), float(c.base_mva), vm, va, p, q, en, vn, fl,
            ls, lp, conv, iters)
    if k == 1:
        _members_ser(*args)
    else:  # dynamic chunks of a few members: a thread held up on a shared machine lags less
        old = nb.set_parallel_chunksize(CHUNK)
        try:
            _members_par(*args)
        finally:
            nb.set_parallel_chunksize(old)
    out = dict(zip(("p_from", "q_from", "p_to", "q_to", "i_from", "i_to", "loading"), fl))
    out.update(vm=vm, va=va, p=p, q=q, energized=en, load_served=ls, load_p=lp,
               converged=conv, iterations=iters, v_node=vn)
    return out


def _key_cache_on_sources():
    """Key numba's on-disk cache of the power kernels on the source of every module they
    compile in: numba keys a cached function on its own file only, so an edit of a callee
    (the LU of :mod:`.sparselu` inlined in :mod:`.nrfast`) would otherwise leave a stale
    kernel. numba's cache class is private API: if it changes, the default cache stays."""
    import hashlib
    from pathlib import Path

    from . import fast, nrfast, ordering, results, sparselu

    mods = (sparselu, ordering, nrfast, fast, results)
    try:
        from numba.core.caching import FunctionCache

        digest = hashlib.sha256(Path(__file__).read_bytes() + b"".join(
            Path(m.__file__).read_bytes() for m in mods)).hexdigest()

        class _SourceCache(FunctionCache):
            def _index_key(self, sig, codegen):
                return super()._index_key(sig, codegen) + (digest,)

        for ns in [vars(m) for m in mods] + [globals()]:
            for f in list(ns.values()):
                if isinstance(f, nb.core.registry.CPUDispatcher) and f._cache is not None \
                        and f.__module__ == ns["__name__"]:
                    f._cache = _SourceCache(f.py_func)
    except Exception:  # pragma: no cover
        pass


_key_cache_on_sources()
