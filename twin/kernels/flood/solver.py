"""The array kernel: one explicit step of the local-inertial shallow-water equations on a raster
for K members at once (numba, rows of all members in parallel).

Scheme (Bates, Horritt & Fewtrell 2010, J. Hydrol. 387:33–45, as LISFLOOD-FP; with the
θ-weighting of de Almeida, Bates, Freer & Souvignet 2012, WRR 48:W05528). For a face between
cells L and R (unit discharge q, m²/s, positive towards R):

    h_f   = max(η_L, η_R) − max(z_L, z_R)                       (flow depth at the face)
    q*    = θ q + (1 − θ)/2 (q_prev + q_next)                   (neighbouring faces, same axis)
    q_new = (q* − g h_f Δt (η_R − η_L)/Δx) / (1 + g Δt n² |q| / h_f^(7/3))

and q_new = 0 where h_f ≤ ``hmin``. h_f^(7/3) is evaluated in single precision (powf: a
relative error ~1e-7 in the friction term, far below the uncertainty of n; it makes the step
~30 % faster); everything else, and the mass balance, is double precision. Continuity is solved on volumes with porosity φ (the open
fraction of a cell; φ = 0 blocks it): φ A Δh = Δt (rain·A + Σ inflow − Σ outflow) − infiltration.
**No negative depths**: the outflow of a cell in one step is scaled down to the volume it holds
(plus the step's rain) before it is applied — each face is scaled by its donor cell's factor,
so the step stays exactly conservative. The step Δt is chosen per member by the caller
(``α Δx / sqrt(g h_max)``, Bates 2010 eq. 12).

Layout: ``h`` (K, ny, nx) depth (m) in the open part of the cell; ``qx`` (K, ny, nx+1) at
the west/east faces (face j between columns j−1 and j), positive east; ``qy`` (K, ny+1, nx)
at the north/south faces (face i between rows i−1 and i; row 0 is north), positive south.
"""

from __future__ import annotations

import numba as nb
import numpy as np

G = 9.80665

#: accumulator columns of ``acc`` (K, ny, NACC): volumes, m³
ACC_RAIN, ACC_INFIL, ACC_EDGE, ACC_FIXED, ACC_CLIP = range(5)
NACC = 5


@nb.njit(cache=True, inline="always")
def _face(q, qp, qn, hl, hr, zl, zr, n2, dt, dx, theta, hmin):
    """Return the new unit discharge at one face (see the module docstring)."""
    el = zl + hl
    er = zr + hr
    hf = max(el, er) - max(zl, zr)
    if hf <= hmin:
        return 0.0
    qs = theta * q + 0.5 * (1.0 - theta) * (qp + qn)
    num = qs - G * hf * dt * (er - el) / dx
    den = 1.0 + G * dt * n2 * abs(q) / np.float64(np.float32(hf) ** np.float32(7.0 / 3.0))
    return num / den


def _fluxes(h, qx, qy, qx_out, qy_out, z, n2, wx, wy, dt, dx, theta, hmin, edge_open, slope):
    """Write the new face discharges of every member with dt[k] > 0 into ``qx_out``/``qy_out``.

    wx (ny, nx+1), wy (ny+1, nx): face open width fractions (0 = wall); n2 (ny, nx): n²;
    edge_open (4,) bool for west, east, north, south; slope: bed slope of the free-outflow
    ghost cells (only outflow through an open edge)."""
    K, ny, nx = h.shape
    for p in nb.prange(K * ny):
        k = p // ny
        i = p - k * ny
        d = dt[k]
        if d <= 0.0:
            continue
        # x faces of row i
        for j in range(nx + 1):
            if wx[i, j] <= 0.0:
                qx_out[k, i, j] = 0.0
                continue
            q = qx[k, i, j]
            if j == 0 or j == nx:
                c = 0 if j == 0 else nx - 1
                hc = h[k, i, c]
                if hc <= hmin:
                    qx_out[k, i, j] = 0.0
                    continue
                # ghost cell lower by slope*dx: outward flow only
                qo = q if j == nx else -q
                v = _face(qo, qo, qo, hc, hc, z[i, c], z[i, c] - slope * dx, n2[i, c],
                          d, dx, 1.0, hmin)
                v = max(v, 0.0)
                qx_out[k, i, j] = v if j == nx else -v
                continue
            qp = qx[k, i, j - 1] if j > 1 else q
            qn = qx[k, i, j + 1] if j < nx - 1 else q
            qx_out[k, i, j] = _face(q, qp, qn, h[k, i, j - 1], h[k, i, j], z[i, j - 1], z[i, j],
                                    0.5 * (n2[i, j - 1] + n2[i, j]), d, dx, theta, hmin)
        # y faces: face i (north side of row i); the last row also does face ny
        for f in range(i, i + 1 + (1 if i == ny - 1 else 0)):
            for j in range(nx):
                if wy[f, j] <= 0.0:
                    qy_out[k, f, j] = 0.0
                    continue
                q = qy[k, f, j]
                if f == 0 or f == ny:
                    c = 0 if f == 0 else ny - 1
                    hc = h[k, c, j]
                    if hc <= hmin:
                        qy_out[k, f, j] = 0.0
                        continue
                    qo = q if f == ny else -q
                    v = _face(qo, qo, qo, hc, hc, z[c, j], z[c, j] - slope * dx, n2[c, j],
                              d, dx, 1.0, hmin)
                    v = max(v, 0.0)
                    qy_out[k, f, j] = v if f == ny else -v
                    continue
                qp = qy[k, f - 1, j] if f > 1 else q
                qn = qy[k, f + 1, j] if f < ny - 1 else q
                qy_out[k, f, j] = _face(q, qp, qn, h[k, f - 1, j], h[k, f, j], z[f - 1, j],
                                        z[f, j], 0.5 * (n2[f - 1, j] + n2[f, j]), d, dx,
                                        theta, hmin)


def _limiter(h, qx, qy, r, phi, wx, wy, src, srate, dt, dx):
    """Write into r (K, ny, nx) the factor (≤ 1) by which each cell's outflow must be scaled
    so that it does not exceed the volume it holds plus this step's rain."""
    K, ny, nx = h.shape
    A = dx * dx
    kf = src.shape[0]
    for p in nb.prange(K * ny):
        k = p // ny
        i = p - k * ny
        d = dt[k]
        if d <= 0.0:
            continue
        s = src[k if kf > 1 else 0, i]
        for j in range(nx):
            out = 0.0
            a = qx[k, i, j]
            if a < 0.0:
                out -= a * wx[i, j]
            a = qx[k, i, j + 1]
            if a > 0.0:
                out += a * wx[i, j + 1]
            a = qy[k, i, j]
            if a < 0.0:
                out -= a * wy[i, j]
            a = qy[k, i + 1, j]
            if a > 0.0:
                out += a * wy[i + 1, j]
            out *= d * dx
            avail = phi[i, j] * A * h[k, i, j] + d * srate[k] * s[j] * A
            r[k, i, j] = 1.0 if out <= avail else avail / out


@nb.njit(cache=True, inline="always")
def _eff(q, rl, rr):
    """Discharge of a face after scaling by its donor cell's factor."""
    return q * rl if q > 0.0 else q * rr


def _update(h, qx, qy, qx_w, qy_w, r, phi, wx, wy, src, srate, fixed_h, cfl, lu, fpar, tw, dt, dx,
           acc, hmax, hpeak):
    """Apply the limited fluxes, rain, infiltration and fixed water levels; write the scaled
    discharges of qx/qy into qx_w/qy_w; accumulate volumes per row into acc (K, ny, NACC) and the
    row maxima of h into hmax (K, ny) (water-body cells only where ``cfl``: those next to
    free cells) and the running maximum depth into hpeak (K, ny, nx).

    src (Kf, ny, nx) × srate (K,): rain rate (m/s over the full cell area, roof rain already
    routed to open cells); fixed_h (ny, nx): fixed depth of water-body cells (NaN elsewhere);
    lu (ny, nx) int: land-use class; fpar (n_class, 4): Horton f0, fc (m/s), decay k (1/s),
    pervious fraction; tw (K, ny, nx): time (s) each cell has been wet (Horton's clock)."""
    K, ny, nx = h.shape
    A = dx * dx
    kf = src.shape[0]
    for p in nb.prange(K * ny):
        k = p // ny
        i = p - k * ny
        d = dt[k]
        if d <= 0.0:
            continue
        s = src[k if kf > 1 else 0, i]
        rain_v = 0.0
        inf_v = 0.0
        edge_v = 0.0
        fix_v = 0.0
        clip_v = 0.0
        hm = 0.0
        for j in range(nx):
            rc = r[k, i, j]
            rw = r[k, i, j - 1] if j > 0 else 1.0
            re = r[k, i, j + 1] if j < nx - 1 else 1.0
            rn = r[k, i - 1, j] if i > 0 else 1.0
            rs = r[k, i + 1, j] if i < ny - 1 else 1.0
            qw = _eff(qx[k, i, j], rw, rc)
            qe = _eff(qx[k, i, j + 1], rc, re)
            qn = _eff(qy[k, i, j], rn, rc)
            qs = _eff(qy[k, i + 1, j], rc, rs)
            # each cell writes back its east and south faces (and the west/north edges)
            qx_w[k, i, j + 1] = qe
            qy_w[k, i + 1, j] = qs
            if j == 0:
                qx_w[k, i, 0] = qw
            if i == 0:
                qy_w[k, 0, j] = qn
            ph = phi[i, j]
            if ph <= 0.0:
                continue
            net = (qw * wx[i, j] - qe * wx[i, j + 1] + qn * wy[i, j] - qs * wy[i + 1, j]) * d * dx
            if j == 0:
                edge_v -= qw * wx[i, j] * d * dx
            if j == nx - 1:
                edge_v += qe * wx[i, j + 1] * d * dx
            if i == 0:
                edge_v -= qn * wy[i, j] * d * dx
            if i == ny - 1:
                edge_v += qs * wy[i + 1, j] * d * dx
            rv = d * srate[k] * s[j] * A
            rain_v += rv
            v = ph * A * h[k, i, j] + rv + net
            hf = fixed_h[i, j]
            if hf == hf:  # a water-body cell: held at its level, the difference leaves
                vf = ph * A * hf
                fix_v += v - vf
                h[k, i, j] = hf
                if cfl[i, j] and hf > hm:
                    hm = hf
                continue
            c = lu[i, j]
            perv = fpar[c, 3]
            if perv > 0.0 and v > 0.0:
                t = tw[k, i, j]
                f = fpar[c, 1] + (fpar[c, 0] - fpar[c, 1]) * np.exp(-fpar[c, 2] * t)
                iv = f * perv * ph * A * d
                if iv > v:
                    iv = v
                v -= iv
                inf_v += iv
                tw[k, i, j] = t + d
            if v < 0.0:
                clip_v -= v
                v = 0.0
            hn = v / (ph * A)
            h[k, i, j] = hn
            if hn > hm:
                hm = hn
            if hn > hpeak[k, i, j]:
                hpeak[k, i, j] = hn
        acc[k, i, 0] += rain_v
        acc[k, i, 1] += inf_v
        acc[k, i, 2] += edge_v
        acc[k, i, 3] += fix_v
        acc[k, i, 4] += clip_v
        hmax[k, i] = hm


#: the kernels compiled twice: serial (small grids, busy machines) and parallel over rows
SERIAL = {f.__name__[1:]: nb.njit(cache=True)(f) for f in (_fluxes, _limiter, _update)}
PARALLEL = {f.__name__[1:]: nb.njit(cache=True, parallel=True)(f)
            for f in (_fluxes, _limiter, _update)}


def kernels(parallel: bool) -> dict:
    """Return {"fluxes", "limiter", "update"}: the parallel or the serial build."""
    return PARALLEL if parallel else SERIAL


def storage(h, phi, dx, fixed_h) -> np.ndarray:
    """Return (K,) water volume (m³) on the grid outside the water-body cells."""
    free = np.isnan(fixed_h)
    return np.einsum("kij,ij->k", h, np.where(free, phi, 0.0)) * dx * dx
