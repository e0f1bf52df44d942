"""Compile a :class:`cim.model.power.PowerGrid` into flat arrays (per unit on ``base_mva``),
and build the admittance matrices of K members at once.

Members: K copies of the grid, each with its own in-service masks, solved as ONE
block-diagonal system. Nodes of member k are numbered ``k * n_node + i`` ("node slots");
closed switches (links of type "switch", r = x = 0) fuse their end nodes into one bus
(connected components of the switch graph, all members at once), giving N "buses" in total,
numbered member after member (``bus_start`` (K + 1,) delimits member k's buses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .errors import PowerFlowError

EXT_GRID, GEN, SGEN = 0, 1, 2
_KIND = {"ext_grid": EXT_GRID, "gen": GEN, "sgen": SGEN}


@dataclass
class Compiled:
    """A grid as arrays. Nodes (n_node,): ``node_in`` bool, ``ysh`` complex shunt admittance
    p.u., ``vn_kv``, ``ids``. Links (n_link,): ``f``, ``t`` int64, ``link_in`` bool,
    ``switch`` bool (fused when closed), ``yff``/``yft``/``ytf``/``ytt`` complex p.u. (the
    pi-model's 2x2 admittance, MATPOWER's convention), ``b_dc`` float (1 / (x tap)),
    ``shift`` float rad, ``rate_pu`` float: the current rating in p.u. of base_mva / base kV
    (NaN = unlimited), ``ids``. Loads (n_load,): ``load_bus``, ``load_p``/``load_q`` p.u.,
    ``load_in``. Gens (n_gen,): ``gen_bus``, ``gen_kind`` (EXT_GRID, GEN, SGEN), ``gen_p``,
    ``gen_q`` p.u., ``gen_vm`` p.u., ``gen_va`` rad, ``gen_in``."""

    name: str
    base_mva: float
    node_ids: np.ndarray
    link_ids: np.ndarray
    node_in: np.ndarray
    ysh: np.ndarray
    vn_kv: np.ndarray
    f: np.ndarray
    t: np.ndarray
    link_in: np.ndarray
    switch: np.ndarray
    yff: np.ndarray
    yft: np.ndarray
    ytf: np.ndarray
    ytt: np.ndarray
    b_dc: np.ndarray
    shift: np.ndarray
    rate_pu: np.ndarray
    load_bus: np.ndarray
    load_p: np.ndarray
    load_q: np.ndarray
    load_in: np.ndarray
    gen_bus: np.ndarray
    gen_kind: np.ndarray
    gen_p: np.ndarray
    gen_q: np.ndarray
    gen_vm: np.ndarray
    gen_va: np.ndarray
    gen_in: np.ndarray

    @property
    def n_node(self) -> int:
        return len(self.node_ids)

    @property
    def n_link(self) -> int:
        return len(self.link_ids)


def grid_name(grid) -> str:
    """A name for errors: the grid's ``name`` attribute, else its size."""
    name = getattr(grid, "name", None)
    return str(name) if name else f"power grid of {grid.n_nodes} buses"


def compile_grid(grid, name: str | None = None) -> Compiled:
    """Return the :class:`Compiled` arrays of a PowerGrid."""
    base = float(grid.base_mva)
    r = np.asarray(grid.link_r_pu, float)
    x = np.asarray(grid.link_x_pu, float)
    typ = np.asarray(grid.link_type, object)
    switch = (typ == "switch") | ((r == 0) & (x == 0))
    bad = np.flatnonzero(switch & (typ != "switch") & np.asarray(grid.link_in_service, bool))
    tap = np.asarray(grid.link_tap, float).copy()
    tap[tap == 0] = 1.0
    shift = np.deg2rad(np.asarray(grid.link_shift_degree, float))
    if len(bad):
        k = bad[0]
        if tap[k] != 1.0 or shift[k] != 0.0:
            raise PowerFlowError(f"{typ[k]} {grid.link_ids[k]} has r = x = 0 and a tap ratio",
                                 grid=name or grid_name(grid))
    zs = np.where(switch, 1.0, r + 1j * x)
    ys = np.where(switch, 0.0, 1.0 / zs)
    bc = np.asarray(grid.link_g_pu, float) + 1j * np.asarray(grid.link_b_pu, float)
    bc = np.where(switch, 0.0, bc)
    ctap = tap * np.exp(1j * shift)
    ytt = ys + bc / 2
    yff = ytt / (ctap * np.conj(ctap))
    yft = -ys / np.conj(ctap)
    ytf = -ys / ctap
    with np.errstate(divide="ignore"):
        b_dc = np.where(switch | (x == 0), 0.0, 1.0 / (x * tap))
    f = np.asarray(grid.link_from, np.int64)
    t = np.asarray(grid.link_to, np.int64)
    vn = np.asarray(grid.node_vn_kv, float)
    imax = np.asarray(grid.link_max_i_ka, float)
    rate = np.asarray(grid.link_rate_mva, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        # a rating in p.u. current: I_ka = |I_pu| base / (sqrt3 vn_kv)
        rate_pu = np.where(np.isfinite(imax) & (imax > 0),
                           imax * np.sqrt(3.0) * vn[f] / base, rate / base)
    rate_pu = np.where(np.isfinite(rate_pu) & (rate_pu > 0), rate_pu, np.nan)
    g, ld = grid.gens, grid.loads
    kinds = np.asarray(g.kind, object)
    unknown = [k for k in set(kinds.tolist()) if k not in _KIND]
    if unknown:
        raise PowerFlowError(f"unknown generator kind {unknown[0]!r}",
                             grid=name or grid_name(grid))
    gk = np.array([_KIND[k] for k in kinds], np.int8) if len(kinds) else np.zeros(0, np.int8)
    return Compiled(
        name=name or grid_name(grid), base_mva=base,
        node_ids=np.asarray(grid.node_ids, object), link_ids=np.asarray(grid.link_ids, object),
        node_in=np.asarray(grid.node_in_service, bool).copy(),
        ysh=(np.asarray(grid.node_gs_mw, float) + 1j * np.asarray(grid.node_bs_mvar, float))
        / base, vn_kv=vn, f=f, t=t, link_in=np.asarray(grid.link_in_service, bool).copy(),
        switch=switch, yff=yff, yft=yft, ytf=ytf, ytt=ytt, b_dc=b_dc, shift=shift,
        rate_pu=rate_pu,
        load_bus=np.asarray(ld.bus, np.int64), load_p=np.asarray(ld.p_mw, float) / base,
        load_q=np.asarray(ld.q_mvar, float) / base, load_in=np.asarray(ld.in_service, bool),
        gen_bus=np.asarray(g.bus, np.int64), gen_kind=gk, gen_p=np.asarray(g.p_mw, float) / base,
        gen_q=np.nan_to_num(np.asarray(g.q_mvar, float)) / base,
        gen_vm=np.asarray(g.vm_pu, float), gen_va=np.deg2rad(np.asarray(g.va_degree, float)),
        gen_in=np.asarray(g.in_service, bool))


def _mask(a, shape, default):
    if a is None:
        return np.full(shape, default, bool)
    a = np.asarray(a, bool)
    if a.ndim == 1:
        a = a[None, :]
    if a.shape[1:] != shape[1:]:
        raise ValueError(f"mask of shape {a.shape} does not match {shape}")
    return a


def member_masks(c: Compiled, branch_out=None, bus_out=None, gen_out=None):
    """Return (node_on (K, n_node), link_on (K, n_link), gen_on (K, n_gen)) bool: the base
    in-service state less the outages (each (K, n) bool, or None); a link or gen at an
    out-of-service node is off."""
    shapes = [np.shape(a)[0] for a in (branch_out, bus_out, gen_out)
              if a is not None and np.ndim(a) == 2]
    k = max(shapes) if shapes else 1
    node_on = c.node_in[None, :] & ~_mask(bus_out, (k, c.n_node), False)
    link_on = c.link_in[None, :] & ~_mask(branch_out, (k, c.n_link), False)
    link_on = link_on & node_on[:, c.f] & node_on[:, c.t]
    gen_on = c.gen_in[None, :] & ~_mask(gen_out, (k, len(c.gen_bus)), False)
    gen_on = gen_on & node_on[:, c.gen_bus]
    k = max(node_on.shape[0], link_on.shape[0], gen_on.shape[0])
    return (np.broadcast_to(node_on, (k, c.n_node)), np.broadcast_to(link_on, (k, c.n_link)),
            np.broadcast_to(gen_on, (k, len(c.gen_bus))))


def fuse(c: Compiled, link_on: np.ndarray):
    """Fuse the nodes joined by closed switches, all K members at once.

    Returns (labels (K * n_node,) int64 bus of each node slot, bus_start (K + 1,) int64)."""
    k, n = link_on.shape[0], c.n_node
    sw = np.flatnonzero(c.switch)
    kk, ll = np.nonzero(link_on[:, sw]) if len(sw) else (np.zeros(0, int),) * 2
    if len(kk) == 0:
        labels = np.arange(k * n, dtype=np.int64)
        return labels, np.arange(k + 1, dtype=np.int64) * n
    ll = sw[ll]
    rows, cols = kk * n + c.f[ll], kk * n + c.t[ll]
    g = sp.coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(k * n, k * n))
    nb, labels = connected_components(g, directed=False)
    labels = labels.astype(np.int64)
    member = np.repeat(np.arange(k), n)
    bus_member = np.zeros(nb, np.int64)
    bus_member[labels] = member
    if np.any(np.diff(bus_member) < 0):  # keep members contiguous
        order = np.argsort(bus_member, kind="stable")
        inv = np.empty(nb, np.int64)
        inv[order] = np.arange(nb)
        labels, bus_member = inv[labels], bus_member[order]
    return labels, np.searchsorted(bus_member, np.arange(k + 1)).astype(np.int64)


def make_ybus(c: Compiled, labels: np.ndarray, n_bus: int, node_on: np.ndarray,
              link_on: np.ndarray):
    """Return (Ybus (N, N) csr, Yf (M, N) csr, Yt (M, N) csr, lk (M,), ll (M,)) of all
    members: M = the in-service non-switch links of all members (member ``lk``, link
    ``ll``); Yf/Yt give the from/to end currents. Shunts of in-service nodes sit on the
    diagonal, which is always stored (explicit zeros where there is nothing)."""
    n = c.n_node
    kk, ll = np.nonzero(link_on & ~c.switch[None, :])
    f = labels[kk * n + c.f[ll]]
    t = labels[kk * n + c.t[ll]]
    kn, nn = np.nonzero(node_on)
    ds = labels[kn * n + nn]
    diag = np.arange(n_bus)
    rows = np.concatenate([f, f, t, t, ds, diag])
    cols = np.concatenate([f, t, f, t, ds, diag])
    data = np.concatenate([c.yff[ll], c.yft[ll], c.ytf[ll], c.ytt[ll], c.ysh[nn],
                           np.zeros(n_bus, complex)])
    y = sp.csr_matrix((data, (rows, cols)), shape=(n_bus, n_bus))
    m = len(ll)
    i = np.concatenate([np.arange(m), np.arange(m)])
    ft = np.concatenate([f, t])
    yf = sp.csr_matrix((np.concatenate([c.yff[ll], c.yft[ll]]), (i, ft)), shape=(m, n_bus))
    yt = sp.csr_matrix((np.concatenate([c.ytf[ll], c.ytt[ll]]), (i, ft)), shape=(m, n_bus))
    return y, yf, yt, kk, ll
