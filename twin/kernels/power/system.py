"""The block-diagonal system of K members: fused buses, admittances, bus types, injections
and the energized (slack-connected) islands of all members, built in one vectorized pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .compile import EXT_GRID, GEN, SGEN, Compiled, fuse, make_ybus, member_masks


@dataclass
class System:
    """K members as one system of N buses (member k's buses: ``bus_start[k]:bus_start[k+1]``).

    ``labels`` (K * n_node,) bus of each node slot; ``bus_on`` (N,) some in-service node;
    ``energized`` (N,) in an island with a slack; ``ref``, ``pv``, ``pq`` (N,) bool (energized
    buses only); ``sbus`` (N,) complex specified injection p.u.; ``vset`` (N,) voltage
    magnitude set points (1 elsewhere), ``vaset`` (N,) slack angle rad; ``y``/``yf``/``yt``
    admittances, ``lk``/``ll`` (M,) member and link of each admittance branch;
    ``node_on``/``link_on``/``gen_on``/``load_on`` (K, n) masks; ``load_scale`` (K, n_load)."""

    k: int
    n_bus: int
    labels: np.ndarray
    bus_start: np.ndarray
    bus_member: np.ndarray
    bus_on: np.ndarray
    energized: np.ndarray
    ref: np.ndarray
    pv: np.ndarray
    pq: np.ndarray
    sbus: np.ndarray
    vset: np.ndarray
    vaset: np.ndarray
    y: sp.csr_matrix
    yf: sp.csr_matrix
    yt: sp.csr_matrix
    lk: np.ndarray
    ll: np.ndarray
    node_on: np.ndarray
    link_on: np.ndarray
    gen_on: np.ndarray
    load_on: np.ndarray
    load_scale: np.ndarray


def build_system(c: Compiled, branch_out=None, bus_out=None, gen_out=None,
                 load_scale=None, with_y: bool = True) -> System:
    """Return the :class:`System` of K members: ``branch_out`` (K, n_link), ``bus_out``
    (K, n_node), ``gen_out`` (K, n_gen) bool outage masks and ``load_scale`` (K, n_load)
    factors (each may be None; K = the largest leading size, 1 when all are None);
    ``with_y`` False skips the admittance matrices (``y``, ``yf``, ``yt`` None)."""
    node_on, link_on, gen_on = member_masks(c, branch_out, bus_out, gen_out)
    k = node_on.shape[0]
    if load_scale is not None:
        load_scale = np.asarray(load_scale, float)
        if load_scale.ndim == 1:
            load_scale = load_scale[None, :]
        if load_scale.shape[0] not in (1, k):
            if k == 1:
                k = load_scale.shape[0]
                node_on, link_on, gen_on = (np.broadcast_to(a, (k,) + a.shape[1:])
                                            for a in (node_on, link_on, gen_on))
            else:
                raise ValueError(f"load_scale has {load_scale.shape[0]} members, masks {k}")
        load_scale = np.broadcast_to(load_scale, (k, len(c.load_bus)))
    else:
        load_scale = np.ones((k, len(c.load_bus)))
    n = c.n_node
    labels, bus_start = fuse(c, link_on)
    nbus = int(bus_start[-1])
    bus_member = np.repeat(np.arange(k), np.diff(bus_start))
    bus_on = np.zeros(nbus, bool)
    bus_on[labels[np.flatnonzero(node_on.ravel())]] = True
    if with_y:
        y, yf, yt, lk, ll = make_ybus(c, labels, nbus, node_on, link_on)
    else:
        y = yf = yt = None
        lk, ll = np.nonzero(link_on & ~c.switch[None, :])
    # slack buses and energized islands
    gk, gi = np.nonzero(gen_on)
    gbus = labels[gk * n + c.gen_bus[gi]]
    kind = c.gen_kind[gi]
    ref = np.zeros(nbus, bool)
    ref[gbus[kind == EXT_GRID]] = True
    f = labels[lk * n + c.f[ll]]
    t = labels[lk * n + c.t[ll]]
    g = sp.coo_matrix((np.ones(len(f), np.int8), (f, t)), shape=(nbus, nbus))
    ncomp, comp = connected_components(g, directed=False)
    has_slack = np.zeros(ncomp, bool)
    has_slack[comp[ref]] = True
    energized = has_slack[comp] & bus_on
    ref &= energized
    pv = np.zeros(nbus, bool)
    pv[gbus[kind == GEN]] = True
    pv &= energized & ~ref
    pq = energized & ~ref & ~pv
    # set points: ext_grid over gen; the first gen of a bus wins
    vset = np.ones(nbus)
    vaset = np.zeros(nbus)
    sel = np.flatnonzero(kind == GEN)[::-1]
    vset[gbus[sel]] = c.gen_vm[gi[sel]]
    sel = np.flatnonzero(kind == EXT_GRID)[::-1]
    vset[gbus[sel]] = c.gen_vm[gi[sel]]
    vaset[gbus[sel]] = c.gen_va[gi[sel]]
    # specified injections
    pg = np.where(kind == EXT_GRID, 0.0, c.gen_p[gi])
    qg = np.where(kind == SGEN, c.gen_q[gi], 0.0)
    load_on = c.load_in[None, :] & node_on[:, c.load_bus]
    lk2, li = np.nonzero(load_on)
    lbus = labels[lk2 * n + c.load_bus[li]]
    sc = load_scale[lk2, li]
    p = (np.bincount(gbus, pg, nbus) - np.bincount(lbus, c.load_p[li] * sc, nbus))
    q = (np.bincount(gbus, qg, nbus) - np.bincount(lbus, c.load_q[li] * sc, nbus))
    return System(k=k, n_bus=nbus, labels=labels, bus_start=bus_start, bus_member=bus_member,
                  bus_on=bus_on, energized=energized, ref=ref, pv=pv, pq=pq, sbus=p + 1j * q,
                  vset=vset, vaset=vaset, y=y, yf=yf, yt=yt, lk=lk, ll=ll, node_on=node_on,
                  link_on=link_on, gen_on=gen_on, load_on=load_on, load_scale=load_scale)
