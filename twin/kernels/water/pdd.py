"""Pressure-dependent demand (Wagner), as EPANET 2.2 implements it: a demand is delivered
through a fictitious outflow whose "head loss" is dp (d/dfull)^(1/pexp) with barrier
functions below zero and above the full demand; units ft, cfs."""

from __future__ import annotations

import numba as nb
import numpy as np

from .compile import CBIG, MINPDIFF, QTOL, RQTOL


@nb.njit(cache=True, inline="always")
def demand_headloss(d, dfull, dp, n):
    """Return (hloss, hgrad) of delivering demand ``d`` of full demand ``dfull`` (cfs) over
    the pressure range ``dp`` (ft) with exponent ``n`` = 1 / pexp."""
    r = d / dfull
    if r <= 0.0:
        return CBIG * d, CBIG
    if r < 1.0:
        hgrad = n * dp * r ** (n - 1.0) / dfull
        if hgrad < RQTOL:
            return RQTOL * d, RQTOL
        return hgrad * d / n, hgrad
    return dp + CBIG * (d - dfull), CBIG


@nb.njit(cache=True, inline="always")
def pressure_range(pmin, preq):
    """Return EPANET's pressure range of the demand function (ft)."""
    return max(preq - pmin, MINPDIFF)


@nb.njit(cache=True)
def pda_converged(junctions, H, el, D, DF, pmin, preq, pexp):
    """Return True when every junction's delivered demand DF matches the demand
    function at its pressure within QTOL (cfs)."""
    dp = preq - pmin
    for i in junctions:
        if D[i] <= 0.0:
            continue
        p = H[i] - el[i]
        if p <= pmin:
            q = 0.0
        elif p >= preq:
            q = D[i]
        else:
            q = D[i] * ((p - pmin) / dp) ** pexp
        if np.abs(q - DF[i]) > QTOL:
            return False
    return True


def wagner(p, pmin: float, preq: float, pexp: float):
    """Return the delivered fraction of demand at pressure ``p`` (any units consistent
    with pmin/preq): 0 below pmin, 1 above preq, ((p-pmin)/(preq-pmin))^pexp between."""
    p = np.asarray(p, float)
    r = np.clip((p - pmin) / max(preq - pmin, 1e-12), 0.0, 1.0)
    return r ** pexp
