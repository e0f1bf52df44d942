"""The array kernel: explicit steps of the local-inertial shallow-water equations on a raster for
K members at once (numba; row blocks of all members in parallel), many steps per call.

Scheme (Bates, Horritt & Fewtrell 2010, J. Hydrol. 387:33–45, as LISFLOOD-FP; with the
θ-weighting of de Almeida, Bates, Freer & Souvignet 2012, WRR 48:W05528). For a face between
cells L and R (unit discharge q, m²/s, positive towards R):

    h_f   = max(η_L, η_R) − max(z_L, z_R)                       (flow depth at the face)
    q*    = θ q + (1 − θ)/2 (q_prev + q_next)                   (neighbouring faces, same axis)
    q_new = (q* − g h_f Δt (η_R − η_L)/Δx) / (1 + g Δt n² |q| / h_f^(7/3))

and q_new = 0 where h_f ≤ ``hmin``. h_f^(−7/3) comes from a bit-level first guess of h_f^(−1/3)
and Newton steps (relative error < 2e-9, no libm call). Continuity is solved on
volumes with porosity φ (the open fraction of a cell; φ = 0 blocks it):
φ A Δh = Δt (rain·A + Σ inflow − Σ outflow) − infiltration, in double precision.
**No negative depths**: the outflow of a cell in one step is scaled down to the volume it holds
(plus the step's rain) before it is applied — each face is scaled by its donor cell's factor,
so the step stays exactly conservative (both cells of a face apply the same double-precision
discharge). The step Δt_k = min(α Δx / sqrt(g h_max,k), dt_max) per member (Bates 2010 eq. 12)
from the running row maxima of the previous step's update.

One sweep per step: each block of rows computes the new face discharges, the outflow limiter
and the continuity update row after row (the fluxes lead by one row), from the previous
state into a second buffer — the row above and below a block are recomputed by it (halo), so
blocks share nothing and the result does not depend on the number of threads. The discharges
are stored in ``q_dtype`` (float32 by default: momentum only; the mass balance uses the
double-precision values of the step). The row loops are branch-free so that LLVM vectorises
them (numpy error model: no division checks); held and pervious cells are redone one by one
from per-row lists. Sums are grouped so that mirrored cells round alike.

Layout: ``h`` (K, ny, nx) depth (m) in the open part of the cell; ``qx`` (K, ny, nx+1) at
the west/east faces (face j between columns j−1 and j), positive east; ``qy`` (K, ny+1, nx)
at the north/south faces (face i between rows i−1 and i; row 0 is north), positive south.
"""

from __future__ import annotations

import types

import numba as nb
import numpy as np
from llvmlite import ir
from numba.extending import intrinsic

G = 9.80665

#: accumulator columns of ``acc`` (K, ny, NACC): volumes, m³
ACC_RAIN, ACC_INFIL, ACC_EDGE, ACC_FIXED, ACC_CLIP = range(5)
NACC = 5
#: cell flags: a held water-body cell, one counted in the step's h_max, a pervious cell
FIXED, CFL, PERV = 1, 2, 4
#: rows per block (about; see :func:`block_rows`)
BLOCK = 32


def block_rows(ny: int) -> int:
    """Rows per block for a grid of ``ny`` rows: ~BLOCK, an even number of blocks per member
    (two cores stay balanced); depends on ny only, so a member's arithmetic never depends on
    the batch or the threads."""
    nb_ = max(1, -(-ny // BLOCK))
    if nb_ > 1 and nb_ % 2:
        nb_ += 1
    return -(-ny // nb_)


@intrinsic
def _bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return nb.types.int64(nb.types.float64), codegen


@intrinsic
def _float(typingctx, i):
    """The float64 with the bits of an int64."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return nb.types.float64(nb.types.int64), codegen


@nb.njit(cache=True, inline="always", error_model="numpy")
def _rpow73(h):
    """h^(−7/3) for h > 0: r⁷ with r = h^(−1/3) from an exponent/3 first guess (≤ 3.5 % off)
    and three Newton steps r ← r (4 − h r³)/3 (relative error < 2e-9); no division and no
    library call, so it vectorises."""
    r = _float(0x553EF1A9FBE76C8C - np.int64(np.float64(_bits(h)) * (1.0 / 3.0)))
    r = r * (4.0 - h * r * r * r) * (1.0 / 3.0)
    r = r * (4.0 - h * r * r * r) * (1.0 / 3.0)
    r = r * (4.0 - h * r * r * r) * (1.0 / 3.0)
    r2 = r * r
    r3 = r2 * r
    return r3 * r3 * r


@nb.njit(cache=True, inline="always", error_model="numpy")
def _face(q, qp, qn, hl, hr, zl, zr, n2, w, dt, dx, theta, hmin):
    """Return the new unit discharge at one face of open width w (0: a wall) (see the module
    docstring). Branch-free (a select at the end), so that the row loops vectorise."""
    el = zl + hl
    er = zr + hr
    hf = max(el, er) - max(zl, zr)
    qs = theta * q + 0.5 * (1.0 - theta) * (qp + qn)
    num = qs - G * hf * dt * (er - el) / dx
    den = 1.0 + G * dt * n2 * abs(q) * _rpow73(max(hf, hmin))
    return num / den if (hf > hmin) & (w > 0.0) else 0.0


@nb.njit(cache=True, inline="always", error_model="numpy")
def _edge(q, hc, zc, n2, w, dt, dx, slope, hmin):
    """Outward discharge (≥ 0) of an open edge face; ``q`` taken positive outwards; the ghost
    cell beyond is lower by slope·dx."""
    v = _face(q, q, q, hc, hc, zc, zc - slope * dx, n2, w, dt, dx, 1.0, hmin)
    return max(v, 0.0) if hc > hmin else 0.0


@nb.njit(cache=True, error_model="numpy")
def _widths(i, f, phi, eo, wxr, wyr):
    """Open widths (fractions of dx; 0 = wall) of the x faces of row i into wxr (nx+1,) and
    of the y faces of face row f into wyr (nx,) (f < 0: none): the smaller porosity of the
    two cells; an edge face takes its cell's porosity where that edge is open (eo (4,): 1/0
    for west, east, north, south)."""
    ny, nx = phi.shape
    if i >= 0:
        p = phi[i]
        wxr[0] = eo[0] * p[0]
        wxr[nx] = eo[1] * p[nx - 1]
        for jj in range(nx - 1):
            j = jj + 1
            wxr[j] = min(p[j - 1], p[j])
    if f == 0 or f == ny:
        e = eo[2] if f == 0 else eo[3]
        p = phi[0 if f == 0 else ny - 1]
        for j in range(nx):
            wyr[j] = e * p[j]
    elif f > 0:
        p = phi[f - 1]
        p2 = phi[f]
        for j in range(nx):
            wyr[j] = min(p[j], p2[j])


@nb.njit(cache=True, error_model="numpy")
def _xfaces(k, i, H, QX, z, n2c, w, d, dx, theta, hmin, slope, out):
    """New (unlimited) discharges of the x faces of row i (open widths w) into out (nx+1,);
    n2c (ny, nx): Manning's n² of the cells (a face takes the mean of its two cells)."""
    nx = H.shape[2]
    h = H[k, i]
    q = QX[k, i]
    zi = z[i]
    n2 = n2c[i]
    out[0] = -_edge(-q[0], h[0], zi[0], n2[0], w[0], d, dx, slope, hmin)
    out[nx] = _edge(q[nx], h[nx - 1], zi[nx - 1], n2[nx - 1], w[nx], d, dx, slope, hmin)
    if nx == 1:
        return
    if nx == 2:
        out[1] = _face(q[1], q[1], q[1], h[0], h[1], zi[0], zi[1],
                       0.5 * (np.float64(n2[0]) + n2[1]), w[1], d, dx, theta, hmin)
        return
    out[1] = _face(q[1], q[1], q[2], h[0], h[1], zi[0], zi[1], 0.5 * (np.float64(n2[0]) + n2[1]),
                   w[1], d, dx, theta, hmin)
    for jj in range(nx - 3):  # (range(2, nx - 1) would not vectorise)
        j = jj + 2
        out[j] = _face(q[j], q[j - 1], q[j + 1], h[j - 1], h[j], zi[j - 1], zi[j],
                       0.5 * (np.float64(n2[j - 1]) + n2[j]), w[j], d, dx, theta, hmin)
    j = nx - 1
    out[j] = _face(q[j], q[j - 1], q[j], h[j - 1], h[j], zi[j - 1], zi[j],
                   0.5 * (np.float64(n2[j - 1]) + n2[j]), w[j], d, dx, theta, hmin)


@nb.njit(cache=True, error_model="numpy")
def _yfaces(k, f, H, QY, z, n2c, w, d, dx, theta, hmin, slope, out):
    """New (unlimited) discharges of the y faces of face row f (0..ny; open widths w) into
    out (nx,)."""
    ny, nx = H.shape[1], H.shape[2]
    q = QY[k, f]
    if f == 0 or f == ny:
        c = 0 if f == 0 else ny - 1
        h = H[k, c]
        zc = z[c]
        n2 = n2c[c]
        sg = -1.0 if f == 0 else 1.0
        for j in range(nx):
            out[j] = sg * _edge(sg * q[j], h[j], zc[j], n2[j], w[j], d, dx, slope, hmin)
        return
    qp = QY[k, f - 1] if f > 1 else q
    qn = QY[k, f + 1] if f < ny - 1 else q
    hu = H[k, f - 1]
    hd = H[k, f]
    zu = z[f - 1]
    zd = z[f]
    nu = n2c[f - 1]
    nd = n2c[f]
    for j in range(nx):
        out[j] = _face(q[j], qp[j], qn[j], hu[j], hd[j], zu[j], zd[j],
                       0.5 * (np.float64(nu[j]) + nd[j]), w[j], d, dx, theta, hmin)


@nb.njit(cache=True, error_model="numpy")
def _limit(k, i, H, fx, fyn, fys, phi, wx, wn, ws, s, sr, d, dx, out):
    """Write into out (nx,) the factor (≤ 1) by which each cell of row i must scale its
    outflow so that it does not exceed the volume it holds plus this step's rain (wx (nx+1,),
    wn, ws (nx,): open widths of the row's x faces and its north and south faces)."""
    nx = H.shape[2]
    A = dx * dx
    h = H[k, i]
    p = phi[i]
    for j in range(nx):  # (grouped so that mirrored cells round alike)
        a = fx[j]
        b = fx[j + 1]
        ox = (-a * wx[j] if a < 0.0 else 0.0) + (b * wx[j + 1] if b > 0.0 else 0.0)
        a = fyn[j]
        b = fys[j]
        oy = (-a * wn[j] if a < 0.0 else 0.0) + (b * ws[j] if b > 0.0 else 0.0)
        o = (ox + oy) * (d * dx)
        avail = p[j] * A * h[j] + d * sr * s[j] * A
        out[j] = 1.0 if o <= avail else avail / o


@nb.njit(cache=True, inline="always", error_model="numpy")
def _eff(q, rl, rr):
    """Discharge of a face after scaling by its donor cell's factor."""
    return q * rl if q > 0.0 else q * rr


@nb.njit(cache=True, error_model="numpy")
def _update(k, i, H, H2, QX2, QY2, fx, fyn, fys, rn, rc, rs, phi, wxi, wn, wsr, flags, spp,
            spc, fixed_h, lu, fpar, tw, s, ssum, sr, d, dx, acc, hmax, hpeak, buf):
    """Apply the limited fluxes, rain, infiltration and held levels to row i: write the new
    depths into H2, the limited discharges of the row's x faces and its south face (and face
    0 on row 0) into QX2/QY2; add the row's volumes to acc[k, i] and set hmax[k, i].

    The plain cells (neither held nor pervious) go through branch-free loops that vectorise;
    the held and pervious cells of the row (spc[spp[i]:spp[i+1]]) are then redone one by one.
    buf (4, nx+1): scratch."""
    ny, nx = H.shape[1], H.shape[2]
    A = dx * dx
    ddx = d * dx
    rain = d * sr * A
    qx = buf[0]
    qn = buf[1]
    qs = buf[2]
    vb = buf[3]
    h = H[k, i]
    h2 = H2[k, i]
    hp = hpeak[k, i]
    ph = phi[i]
    fl = flags[i]
    sv = s
    qx2 = QX2[k, i]
    qy2 = QY2[k, i + 1]
    # limited discharges: each face scaled by its donor cell's factor
    qx[0] = _eff(fx[0], 1.0, rc[0])
    qx[nx] = _eff(fx[nx], rc[nx - 1], 1.0)
    qx2[0] = qx[0]
    qx2[nx] = qx[nx]
    for jj in range(nx - 1):
        j = jj + 1
        v = _eff(fx[j], rc[j - 1], rc[j])
        qx[j] = v
        qx2[j] = v
    for j in range(nx):
        v = _eff(fys[j], rc[j], rs[j])
        qs[j] = v
        qy2[j] = v
    for j in range(nx):
        qn[j] = _eff(fyn[j], rn[j], rc[j])
    if i == 0:
        q0 = QY2[k, 0]
        for j in range(nx):
            q0[j] = qn[j]
    # continuity on volumes, plain cells (walls keep their 0)
    hmb = 0
    neg = 0
    for j in range(nx):
        p = ph[j]
        v = p * A * h[j] + rain * sv[j] \
            + ((qx[j] * wxi[j] - qx[j + 1] * wxi[j + 1]) + (qn[j] * wn[j] - qs[j] * wsr[j])) * ddx
        vb[j] = v
        plain = (fl[j] & (FIXED | PERV)) == 0
        hn = max(v, 0.0) / (p * A) if p > 0.0 else h[j]
        h2[j] = hn
        if plain and hn > hp[j]:
            hp[j] = hn
        hmb = max(hmb, (_bits(hn) & 0x7FFFFFFFFFFFFFFF) if plain else 0)  # NaN: above inf
        neg += (v < 0.0) & plain & (p > 0.0)
    hm = _float(hmb)
    edge_v = -qx[0] * wxi[0] * ddx + qx[nx] * wxi[nx] * ddx
    if i == 0:
        for j in range(nx):
            edge_v -= qn[j] * wn[j] * ddx
    if i == ny - 1:
        for j in range(nx):
            edge_v += qs[j] * wsr[j] * ddx
    clip_v = 0.0
    if neg:
        for j in range(nx):
            if vb[j] < 0.0 and (fl[j] & (FIXED | PERV)) == 0 and ph[j] > 0.0:
                clip_v -= vb[j]
    # held (water-body) and pervious cells
    inf_v = 0.0
    fix_v = 0.0
    for m in range(spp[i], spp[i + 1]):
        j = spc[m]
        v = vb[j]
        p = ph[j]
        f = fl[j]
        if f & FIXED:  # held at its level, the difference leaves
            hf = fixed_h[i, j]
            fix_v += v - p * A * hf
            h2[j] = hf
            if f & CFL and hf > hm:
                hm = hf
            continue
        if v > 0.0:
            c = lu[i, j]
            t = tw[k, i, j]
            rate = fpar[c, 1] + (fpar[c, 0] - fpar[c, 1]) * np.exp(-fpar[c, 2] * t)
            iv = min(rate * fpar[c, 3] * p * A * d, v)
            v -= iv
            inf_v += iv
            tw[k, i, j] = t + d
        if v < 0.0:
            clip_v -= v
            v = 0.0
        hn = v / (p * A)
        h2[j] = hn
        hm = max(hm, hn)
        hp[j] = max(hp[j], hn)
    acc[k, i, 0] += rain * ssum
    acc[k, i, 1] += inf_v
    acc[k, i, 2] += edge_v
    acc[k, i, 3] += fix_v
    acc[k, i, 4] += clip_v
    hmax[k, i] = hm


def _sweep(H, QX, QY, H2, QX2, QY2, z, n2c, phi, eo, flags, spp, spc, fixed_h, lu, fpar, tw,
           src, ssum, srate, dt, dx, theta, hmin, slope, acc, hmax, hpeak, B, ones):
    """One step of every member with dt[k] > 0 from (H, QX, QY) into (H2, QX2, QY2); members
    with dt[k] = 0 are copied. Rows in blocks of B; each block recomputes the fluxes and
    limiter of the rows next to it, so blocks write disjoint rows and faces."""
    K, ny, nx = H.shape
    nbm = (ny + B - 1) // B
    kf = src.shape[0]
    for p in nb.prange(K * nbm):
        k = p // nbm
        a = (p - k * nbm) * B
        b = min(a + B, ny)
        d = dt[k]
        if d <= 0.0:
            H2[k, a:b] = H[k, a:b]
            QX2[k, a:b] = QX[k, a:b]
            QY2[k, a + 1:b + 1] = QY[k, a + 1:b + 1]
            if a == 0:
                QY2[k, 0] = QY[k, 0]
            continue
        s = src[k if kf > 1 else 0]
        ss = ssum[k if kf > 1 else 0]
        sr = srate[k]
        fx = np.empty((3, nx + 1))   # ring buffers over rows: new x-face discharges,
        wx = np.empty((3, nx + 1))   # x-face widths,
        fy = np.empty((3, nx))       # new y-face discharges (face rows),
        wy = np.empty((3, nx))       # y-face widths,
        rr = np.empty((3, nx))       # limiter factors
        buf = np.empty((4, nx + 1))
        i0 = max(a - 1, 0)
        i1 = min(b, ny - 1)
        _widths(-1, i0, phi, eo, wx[0], wy[i0 % 3])
        _yfaces(k, i0, H, QY, z, n2c, wy[i0 % 3], d, dx, theta, hmin, slope, fy[i0 % 3])
        for i in range(i0, i1 + 1):
            c, n = i % 3, (i + 1) % 3
            _widths(i, i + 1, phi, eo, wx[c], wy[n])
            _xfaces(k, i, H, QX, z, n2c, wx[c], d, dx, theta, hmin, slope, fx[c])
            _yfaces(k, i + 1, H, QY, z, n2c, wy[n], d, dx, theta, hmin, slope, fy[n])
            _limit(k, i, H, fx[c], fy[c], fy[n], phi, wx[c], wy[c], wy[n], s[i], sr, d, dx,
                   rr[c])
            u = i - 1
            if u >= a:
                m = u % 3
                rn = rr[(u - 1) % 3] if u > 0 else ones
                _update(k, u, H, H2, QX2, QY2, fx[m], fy[m], fy[c], rn, rr[m], rr[c], phi,
                        wx[m], wy[m], wy[c], flags, spp, spc, fixed_h, lu, fpar, tw, s[u],
                        ss[u], sr, d, dx, acc, hmax, hpeak, buf)
        if i1 == b - 1:  # the grid's last row: nothing below
            u = b - 1
            m = u % 3
            rn = rr[(u - 1) % 3] if u > 0 else ones
            _update(k, u, H, H2, QX2, QY2, fx[m], fy[m], fy[b % 3], rn, rr[m], ones, phi,
                    wx[m], wy[m], wy[b % 3], flags, spp, spc, fixed_h, lu, fpar, tw, s[u],
                    ss[u], sr, d, dx, acc, hmax, hpeak, buf)


def _run(H, QX, QY, H2, QX2, QY2, z, n2c, phi, eo, flags, spp, spc, fixed_h, lu, fpar, tw,
         src, ssum, srate, t, steps, seg, dt, dx, theta, hmin, slope, alpha, dt_max, acc, hmax,
         hpeak, B, max_steps):
    """Step every member until one reaches its segment end seg[k] (s), all are there, or
    ``max_steps`` steps; t (K,) and steps (K,) advance in place, dt (K,) holds the last
    step's Δt (0 for members that did not step). Returns (swaps, bad): the
    number of buffer swaps (odd: the state is in H2/QX2/QY2) and the first member whose depth
    became non-finite (−1: none)."""
    K, ny, nx = H.shape
    ones = np.ones(nx)
    last = np.zeros(K, np.bool_)
    swaps = 0
    n = 0
    while n < max_steps:
        go = False
        for k in range(K):
            left = seg[k] - t[k]
            hm = 0.0
            for i in range(ny):
                if hmax[k, i] > hm:
                    hm = hmax[k, i]
            d = alpha * dx / np.sqrt(G * hm) if hm > 0.0 else dt_max
            d = min(d, dt_max)
            if left > 0.0:
                go = True
                d = min(d, left)
            else:
                d = 0.0
            dt[k] = d
            last[k] = left > 0.0 and left - d <= 1e-9 * max(1.0, seg[k])
        if not go:
            break
        _sweep_in(H, QX, QY, H2, QX2, QY2, z, n2c, phi, eo,  # noqa: F821 (_build)
                  flags, spp, spc, fixed_h, lu, fpar, tw, src, ssum, srate, dt, dx, theta,
                  hmin, slope, acc, hmax, hpeak, B, ones)
        H, H2 = H2, H
        QX, QX2 = QX2, QX
        QY, QY2 = QY2, QY
        swaps += 1
        n += 1
        hit = False
        for k in range(K):
            if last[k]:
                t[k] = seg[k]
                hit = True
            else:
                t[k] += dt[k]
            if dt[k] > 0.0:
                steps[k] += 1
            for i in range(ny):
                if not np.isfinite(hmax[k, i]):
                    return swaps, k
        if hit:
            break
    return swaps, -1


def _build(parallel: bool):
    """Compile (_sweep, _run) serial or parallel; distinct names keep numba's on-disk caches
    of the two builds apart."""
    tag = "par" if parallel else "ser"
    out = {}
    for f in (_sweep, _run):
        g = types.FunctionType(f.__code__, dict(f.__globals__), f"{f.__name__}_{tag}")
        g.__qualname__ = f"{f.__name__}_{tag}"
        out[f.__name__[1:]] = g
    sweep = nb.njit(cache=True, parallel=parallel, error_model="numpy")(out["sweep"])
    out["run"].__globals__["_sweep_in"] = sweep
    return {"sweep": sweep, "run": nb.njit(cache=True, error_model="numpy")(out["run"])}


SERIAL = _build(False)
PARALLEL = _build(True)


def kernels(parallel: bool) -> dict:
    """Return {"sweep", "run"}: the parallel or the serial build."""
    return PARALLEL if parallel else SERIAL


def storage(h, phi, dx, fixed_h) -> np.ndarray:
    """Return (K,) water volume (m³) on the grid outside the water-body cells."""
    free = np.isnan(fixed_h)
    return np.einsum("kij,ij->k", h, np.where(free, phi, 0.0)) * dx * dx
