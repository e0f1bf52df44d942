"""The 1D storm-sewer array kernel: one dynamic-wave step of a link–node network for K members
(numba; members in parallel).

Scheme: SWMM 5's dynamic wave (Rossman 2017, SWMM Reference Manual Vol. II, ch. 3; dwflow.c):
for each conduit, with node heads H1, H2, end depths y1, y2 (clipped to the full depth),
mid-depth area a, hydraulic radius R, velocity v = q/a and inertial damping σ (1 below Froude
0.5, 0 above 1),

    q = (q_old − g a Δt (H2 − H1)/L + 2 v (a − a_old) σ + Δt v² (a2 − a1)/L σ)
        / (1 + Δt g n² |v| / R^(4/3))

limited to normal flow where the water surface is flatter than the bed or the flow is
supercritical (NORMAL_FLOW_LIMITED BOTH), ≥ 0 behind flap gates; a few Picard trials with
under-relaxation 0.5 per step.

Nodes hold **volume**, not depth: V(y) = A_min·y + Σ ½ L_k·A_k(y − offset_k) over the conduit
ends at the node (the half-lengths of pipe water SWMM assigns to nodes) + storage; the new
volume is V_old + Δt·(lateral + Σ ½(q_old + q_new)) and the depth is V⁻¹ (Newton). Outflow
of a node is scaled down to what it holds (no negative volume), so the network is exactly
conservative: Σ ΔV = Δt (lateral − outfalls − overflow). Water above the rim (plus the
surcharge depth) leaves the node as **overflow** (flooding) — the 2D surface takes it back.
Outfall depths: free (min of critical and normal depth of the outfall conduit), normal or
fixed stage, with SWMM's rule for offsets.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

G = 9.80665
FUDGE = 1e-4  # m
SHAPES = {"circular": 0, "force_main": 0, "rect_closed": 1, "rect_open": 2,
          "trapezoidal": 3, "triangular": 4}
OUT_NONE, OUT_FREE, OUT_NORMAL, OUT_FIXED = 0, 1, 2, 3


@nb.njit(cache=True, inline="always")
def xs_area(s, g0, g1, g2, g3, y):
    """Flow area (m²) of shape ``s`` with geometry g0..g3 at depth y (clipped to full)."""
    if y <= 0.0:
        return 0.0
    if y > g0:
        y = g0
    if s == 0:
        th = 2.0 * math.acos(1.0 - 2.0 * y / g0)
        return g0 * g0 / 8.0 * (th - math.sin(th))
    if s == 1 or s == 2:
        return g1 * y
    if s == 3:
        return y * (g1 + 0.5 * (g2 + g3) * y)
    sl = 0.5 * g1 / g0
    return sl * y * y


@nb.njit(cache=True, inline="always")
def xs_width(s, g0, g1, g2, g3, y):
    """Top width (m) at depth y; closed shapes use y ≤ 0.96 full (as SWMM)."""
    if s == 0:
        y = min(max(y, 0.0), 0.96 * g0)
        th = 2.0 * math.acos(1.0 - 2.0 * y / g0)
        return g0 * math.sin(0.5 * th)
    if s == 1 or s == 2:
        return g1
    y = min(max(y, 0.0), g0)
    if s == 3:
        return g1 + (g2 + g3) * y
    return g1 * y / g0


@nb.njit(cache=True, inline="always")
def xs_radius(s, g0, g1, g2, g3, y):
    """Hydraulic radius (m) at depth y."""
    if y <= 0.0:
        return 0.0
    full = y >= g0
    if full:
        y = g0
    a = xs_area(s, g0, g1, g2, g3, y)
    if s == 0:
        th = 2.0 * math.acos(1.0 - 2.0 * y / g0)
        p = 0.5 * g0 * th
    elif s == 1:
        p = 2.0 * (g1 + g0) if full else g1 + 2.0 * y
    elif s == 2:
        p = g1 + 2.0 * y
    elif s == 3:
        p = g1 + y * (math.sqrt(1.0 + g2 * g2) + math.sqrt(1.0 + g3 * g3))
    else:
        sl = 0.5 * g1 / g0
        p = 2.0 * y * math.sqrt(1.0 + sl * sl)
    return a / p if p > 0.0 else 0.0


@nb.njit(cache=True)
def _ynorm_ycrit(s, g, n, slope, q):
    """(normal depth, critical depth) in m of a conduit carrying q (m³/s, ≥ 0)."""
    if q <= 0.0:
        return 0.0, 0.0
    sq = math.sqrt(max(slope, 1e-6))
    lo, hi = 0.0, g[0]
    for _ in range(40):
        m = 0.5 * (lo + hi)
        a = xs_area(s, g[0], g[1], g[2], g[3], m)
        qn = a * xs_radius(s, g[0], g[1], g[2], g[3], m) ** (2.0 / 3.0) * sq / n
        if qn < q:
            lo = m
        else:
            hi = m
    yn = 0.5 * (lo + hi)
    lo, hi = 0.0, g[0]
    for _ in range(40):
        m = 0.5 * (lo + hi)
        a = xs_area(s, g[0], g[1], g[2], g[3], m)
        w = xs_width(s, g[0], g[1], g[2], g[3], m)
        if a * a * a < q * q * w / G:
            lo = m
        else:
            hi = m
    return yn, 0.5 * (lo + hi)


@nb.njit(cache=True)
def node_volume(i, y, amin, inv, nptr, nlink, nend, shp, geom, length, off, barrels, sto):
    """Volume (m³) of node i at depth y and its surface area dV/dy (m²)."""
    v = amin[i] * y
    area = amin[i]
    if sto[i, 0] == sto[i, 0]:  # functional storage A = a y^b + c
        a, b, c = sto[i, 0], sto[i, 1], sto[i, 2]
        if y > 0.0:
            v += a * y ** (b + 1.0) / (b + 1.0) + c * y
            area += a * y ** b + c
    for p in range(nptr[i], nptr[i + 1]):
        k = nlink[p]
        e = nend[p]
        yy = y - off[k, e]
        if yy <= 0.0:
            continue
        g = geom[k]
        half = 0.5 * length[k] * barrels[k]
        v += half * xs_area(shp[k], g[0], g[1], g[2], g[3], yy)
        if yy < g[0]:
            area += half * xs_width(shp[k], g[0], g[1], g[2], g[3], yy)
    return v, area


@nb.njit(cache=True)
def depth_of(i, vol, y0, ymax, amin, inv, nptr, nlink, nend, shp, geom, length, off,
             barrels, sto):
    """Depth (m) of node i holding ``vol`` (Newton from y0, bracketed bisection fallback)."""
    if vol <= 0.0:
        return 0.0
    lo, hi = 0.0, ymax
    y = min(max(y0, 0.0), ymax)
    for _ in range(30):
        v, a = node_volume(i, y, amin, inv, nptr, nlink, nend, shp, geom, length, off,
                           barrels, sto)
        f = v - vol
        if abs(f) <= 1e-10 * max(vol, 1.0):
            return y
        if f > 0.0:
            hi = y
        else:
            lo = y
        yn = y - f / max(a, 1e-9)
        if not (lo < yn < hi):
            yn = 0.5 * (lo + hi)
        if hi - lo < 1e-9:
            return yn
        y = yn
    return y


def _step(y, vol, q, aold, lat, dts, ntrials, omega, P, fl, vout):
    """Advance every member k one step of ``dts[k]`` s (0: member k does not move). y, vol (K, N); q, aold (K, L) per barrel;
    lat (K, N) lateral inflow m³/s (≥ 0 taken as given); P: the static arrays (tuple, see
    :func:`twin.kernels.flood.drainage.Network1D.arrays`); fl (K, N) out: overflow m³ this step;
    vout (K, N) out: volume that left through outfalls (m³, by outfall node)."""
    (inv, ymax, vmax, amin, isout, otype, ostage, olink, oz, nptr, nlink, nend,
     lfrom, lto, shp, geom, length, rough, off, barrels, slope, flap, qmax, sto, qcap) = P
    K, N = y.shape
    L = q.shape[1]
    for k in nb.prange(K):
        dt = dts[k]
        if dt <= 0.0:
            continue
        qold = q[k].copy()
        qe = q[k].copy()
        ye = y[k].copy()
        vnew = np.empty(N)
        amid = np.empty(L)
        r = np.ones(N)
        dqdh = np.zeros(N)
        for trial in range(ntrials):
            dqdh[:] = 0.0
            # outfall boundary depths
            for i in range(N):
                if otype[i] == OUT_NONE:
                    continue
                kk = olink[i]
                yo = 0.0
                if kk >= 0:
                    qq = abs(qe[kk])
                    yn, yc = _ynorm_ycrit(shp[kk], geom[kk], rough[kk], slope[kk], qq)
                    yc = min(yc, yn)
                    z = oz[i]
                    if otype[i] == OUT_FREE:
                        yo = 0.0 if z > 0.0 else yc
                    elif otype[i] == OUT_NORMAL:
                        yo = 0.0 if z > 0.0 else yn
                    else:
                        st = ostage[i]
                        if yc + z + inv[i] < st:
                            yo = st - inv[i]
                        elif z > 0.0:
                            yo = max(0.0, st - inv[i]) if st < inv[i] + z else z + yc
                        else:
                            yo = yc
                elif otype[i] == OUT_FIXED:
                    yo = max(ostage[i] - inv[i], 0.0)
                ye[i] = yo
            # link momentum
            for j in range(L):
                g = geom[j]
                s = shp[j]
                n1, n2 = lfrom[j], lto[j]
                z1 = inv[n1] + off[j, 0]
                z2 = inv[n2] + off[j, 1]
                h1 = max(inv[n1] + ye[n1], z1)
                h2 = max(inv[n2] + ye[n2], z2)
                y1 = min(max(h1 - z1, FUDGE), g[0])
                y2 = min(max(h2 - z2, FUDGE), g[0])
                ym = 0.5 * (y1 + y2)
                a1 = xs_area(s, g[0], g[1], g[2], g[3], y1)
                a2 = xs_area(s, g[0], g[1], g[2], g[3], y2)
                am = xs_area(s, g[0], g[1], g[2], g[3], ym)
                rm = xs_radius(s, g[0], g[1], g[2], g[3], ym)
                amid[j] = am
                if h1 - z1 <= FUDGE and h2 - z2 <= FUDGE:
                    qn = 0.0
                else:
                    v = qold[j] / am if am > 0.0 else 0.0
                    if v > 50.0:
                        v = 50.0
                    elif v < -50.0:
                        v = -50.0
                    wm = xs_width(s, g[0], g[1], g[2], g[3], ym)
                    fr = abs(v) / math.sqrt(G * am / wm) if wm > 0.0 else 0.0
                    sig = 1.0 if fr < 0.5 else (0.0 if fr >= 1.0 else 2.0 * (1.0 - fr))
                    # upstream weighting of area and radius (SWMM's rho)
                    rho = 1.0
                    if not (y1 >= g[0] and y2 >= g[0]) and qold[j] > 0.0 and h1 >= h2:
                        rho = sig
                    r1 = xs_radius(s, g[0], g[1], g[2], g[3], y1)
                    aw = a1 + (am - a1) * rho
                    rw = r1 + (rm - r1) * rho
                    dq1 = dt * G * rough[j] ** 2 / max(rw, 1e-6) ** (4.0 / 3.0) * abs(v)
                    dq2 = dt * G * aw * (h2 - h1) / length[j]
                    dq3 = 2.0 * v * (am - aold[k, j]) * sig
                    dq4 = dt * v * v * (a2 - a1) / length[j] * sig
                    qn = (qold[j] - dq2 + dq3 + dq4) / (1.0 + dq1)
                    dd = G * aw * dt / length[j] / (1.0 + dq1) * barrels[j]
                    dqdh[n1] += dd
                    dqdh[n2] += dd
                    if qn > 0.0:
                        w1 = xs_width(s, g[0], g[1], g[2], g[3], y1)
                        fr1 = (qn / a1) / math.sqrt(G * a1 / w1) if a1 > 0 and w1 > 0 else 0.0
                        if slope[j] > 0.0 and (h1 - h2 < z1 - z2 or fr1 >= 1.0):
                            r1 = xs_radius(s, g[0], g[1], g[2], g[3], y1)
                            qnorm = a1 * r1 ** (2.0 / 3.0) * math.sqrt(slope[j]) / rough[j]
                            if qn > qnorm:
                                qn = qnorm
                    if flap[j] and qn < 0.0:
                        qn = 0.0
                    if qmax[j] > 0.0 and abs(qn) > qmax[j]:
                        qn = math.copysign(qmax[j], qn)
                if trial > 0:
                    qn = (1.0 - omega) * qe[j] + omega * qn
                qe[j] = qn
            # node continuity on volumes: outflow limited to what a node holds
            for i in range(N):
                vnew[i] = vol[k, i] + dt * lat[k, i]
                r[i] = 0.0  # outflow volume of i
            for j in range(L):
                f = 0.5 * (qold[j] + qe[j]) * barrels[j] * dt
                if f > 0.0:
                    r[lfrom[j]] += f
                    vnew[lto[j]] += f
                else:
                    r[lto[j]] -= f
                    vnew[lfrom[j]] -= f
            for i in range(N):
                if isout[i]:
                    r[i] = 1.0
                    continue
                avail = vnew[i]
                out = r[i]
                r[i] = 1.0 if out <= avail else max(avail, 0.0) / out
            for i in range(N):
                vnew[i] = vol[k, i] + dt * lat[k, i]
            for j in range(L):
                f = 0.5 * (qold[j] + qe[j]) * barrels[j] * dt
                f = f * r[lfrom[j]] if f > 0.0 else f * r[lto[j]]
                vnew[lfrom[j]] -= f
                vnew[lto[j]] += f
            for i in range(N):
                if isout[i]:
                    continue
                vv = min(max(vnew[i], 0.0), vmax[i])
                # Newton–Jacobi on V(y) − V_old − Δt·net(y): the links' dq/dh keep a
                # surcharged node (tiny surface area) stable, as SWMM's surcharge algorithm
                ve, ae = node_volume(i, ye[i], amin, inv, nptr, nlink, nend, shp, geom, length,
                                     off, barrels, sto)
                yn = depth_of(i, vv, ye[i], ymax[i], amin, inv, nptr, nlink, nend, shp, geom,
                              length, off, barrels, sto)
                ynw = ye[i] + (vv - ve) / (ae + 0.5 * dt * dqdh[i])
                if ynw < yn and yn > ye[i] or ynw > yn and yn < ye[i]:
                    yn = ynw  # the damped step, between the old and the plain estimate
                ye[i] = yn if trial == 0 else (1.0 - omega) * ye[i] + omega * yn
        # accept: volumes exact, depths from volumes, flows as limited
        for j in range(L):
            f = 0.5 * (qold[j] + qe[j])
            lim = r[lfrom[j]] if f > 0.0 else r[lto[j]]
            q[k, j] = qe[j] * lim
            aold[k, j] = amid[j]
        for i in range(N):
            if isout[i]:
                vout[k, i] = vnew[i]  # all that reached the outfall leaves the network
                y[k, i] = ye[i]
                continue
            v = vnew[i]
            if v > vmax[i]:
                fl[k, i] = v - vmax[i]
                v = vmax[i]
            else:
                fl[k, i] = 0.0
            vol[k, i] = v  # may be -1e-16: round-off, kept to stay conservative
            y[k, i] = depth_of(i, v, ye[i], ymax[i], amin, inv, nptr, nlink, nend, shp, geom,
                               length, off, barrels, sto)


step_serial = nb.njit(cache=True)(_step)
step_parallel = nb.njit(cache=True, parallel=True)(_step)
