"""DC power flow (MATPOWER's / pandapower's ``rundcpp``): B' from series reactances and taps,
phase shifts as injections, the slack angles fixed; K members in one sparse solve."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from .compile import Compiled
from .errors import PowerFlowError
from .system import System


def dc_matrices(c: Compiled, s: System):
    """Return (Bbus (N, N) csr, Bf (M, N) csr, pfinj (M,), pbusinj (N,)) of all members, over
    the admittance branches ``s.lk``/``s.ll`` (p.u.)."""
    n = c.n_node
    f = s.labels[s.lk * n + c.f[s.ll]]
    t = s.labels[s.lk * n + c.t[s.ll]]
    b = c.b_dc[s.ll]
    m = len(b)
    i = np.concatenate([np.arange(m), np.arange(m)])
    bf = sp.csr_matrix((np.concatenate([b, -b]), (i, np.concatenate([f, t]))),
                       shape=(m, s.n_bus))
    pfinj = -b * c.shift[s.ll]
    nb = s.n_bus
    rows = np.concatenate([f, f, t, t, np.arange(nb)])
    cols = np.concatenate([f, t, f, t, np.arange(nb)])
    bbus = sp.csr_matrix((np.concatenate([b, -b, -b, b, np.zeros(nb)]), (rows, cols)),
                         shape=(nb, nb))
    pbusinj = np.bincount(f, pfinj, nb) - np.bincount(t, pfinj, nb)
    return bbus, bf, pfinj, pbusinj


def dc_angles(c: Compiled, s: System, gs: np.ndarray | None = None):
    """Return (va (N,) rad, NaN at de-energized buses; pf (M,) p.u. branch flows, from end).

    ``gs`` (N,) shunt conductance p.u. at each bus (consumed at 1 p.u.)."""
    bbus, bf, pfinj, pbusinj = dc_matrices(c, s)
    p = s.sbus.real - pbusinj - (gs if gs is not None else 0.0)
    va = np.full(s.n_bus, np.nan)
    va[s.ref] = s.vaset[s.ref]
    unk = np.flatnonzero(s.pv | s.pq)
    ref = np.flatnonzero(s.ref)
    if len(unk):
        a = bbus[unk][:, unk].tocsc()
        rhs = p[unk] - bbus[unk][:, ref] @ va[ref]
        try:
            x = sla.splu(a, permc_spec="MMD_AT_PLUS_A").solve(rhs)
        except RuntimeError as e:
            raise PowerFlowError(f"DC power flow: singular B matrix ({e})", grid=c.name) from e
        va[unk] = x
    vaf = np.nan_to_num(va)
    pf = bf @ vaf + pfinj
    return va, pf
