"""The crowd kernel: people walking on a walkway network, vectorized over all people of all
members (a mesoscopic queue model).

Each person is a row of arrays: the link it walks (``link``), the node it walks to
(``head``), its distance from the link's start (``pos``, m). Per step of ``dt`` s:

1. every link's density is ρ = n / (length · width) (P/m², queue included); each person
   walks at v((n − 1) / area) (the density of the others: a person alone walks at v0, also
   on a short link) from the speed–density relation
   (:class:`~twin.kernels.crowd.fd.Weidmann`);
2. people reaching the end of their link wait there (the link's queue) for the transfer to
   their next link, given by the shortest path to their destination (:func:`~.net.routes_to`);
3. transfers are limited, first-come first-served, by the sending link's capacity
   width × J_max and by the receiving link's capacity width × supply(ρ) (J_max below the
   critical density, J(ρ) above, counted when people queue at its end: a jam backs up),
   and by its storage ρ_max × area;
   capacities accumulate over steps so that fractional flows per step are exact on average.

Route switching (``reroute=True``; RiMEA test 11): every ``reroute_every`` s the expected
travel time from each node to each destination is found (Dijkstra, per member) with link
times from the current state: a link without a queue takes length / v(ρ); a link with a
queue at its end takes length / v0 plus (people on it) / (its measured discharge rate, a
moving average over ``rate_tau`` s while queued, starting at its capacity) — the time for
those ahead to pass the bottleneck. People waiting at a node for their next link (or at
their start) then take the destination among their ``options`` with the least expected
time when it beats their current one by more than ``switch_margin`` s, and follow the
least-time tree. Deterministic; without ``reroute`` routes are the static shortest paths.

People are never removed: each is home (``HOME``, before its departure), walking
(``WALKING``), ``ARRIVED`` at its destination node, or ``NO_ROUTE`` (its start cannot reach
a destination). Members share the network; link arrays have a leading member axis (K, L).
Counter-flow is not modelled (both directions share a link's density).
"""

from __future__ import annotations

import numpy as np

from .errors import CrowdError
from .fd import Weidmann
from .net import WalkNet

HOME, WALKING, ARRIVED, NO_ROUTE = 0, 1, 2, 3
STATUS_NAMES = {HOME: "home", WALKING: "walking", ARRIVED: "arrived", NO_ROUTE: "no_route"}


def _rank(group, *keys) -> np.ndarray:
    """Rank (0, 1, …) of each row within its ``group``, ordered by ``keys`` (last first)."""
    order = np.lexsort(keys[::-1] + (group,)) if keys else np.argsort(group, kind="stable")
    g = group[order]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    rk = np.arange(g.size) - np.repeat(start, np.diff(np.r_[start, g.size]))
    out = np.empty(g.size, np.int64)
    out[order] = rk
    return out


class CrowdSim:
    """People walking from their start nodes to destinations on ``net`` (:class:`WalkNet`).

    ``start`` (P,) start node; ``depart`` (P,) s (time they step onto the network);
    ``dest`` (P,) index into ``next_node`` (D, N) (:func:`~.net.routes_to`) and
    ``dest_node`` (D,) (-1: never arrives, e.g. a ring); ``member`` (P,) in 0..K-1;
    ``fd`` the speed–density relation; ``dt`` s the step. ``next_node`` may also be given
    per node without destinations for rings: a (1, N) table with ``dest_node`` [-1].
    ``v_min`` (m/s): people on a link walk at least this fast towards its end (a link
    loaded beyond jam density still empties from its front, at the capacities above).
    ``reroute``: route switching under congestion (module docstring); ``options`` (P, D)
    bool the destinations each person may switch to (default: all with a node);
    ``reroute_every`` s, ``switch_margin`` s, ``rate_tau`` s.
    """

    def __init__(self, net: WalkNet, start, depart, dest, next_node, dest_node, *,
                 member=None, n_members: int = 1, fd: Weidmann | None = None,
                 dt: float = 0.5, t0: float = 0.0, v_min: float = 0.05,
                 reroute: bool = False, options=None, reroute_every: float = 1.0,
                 switch_margin: float = 2.0, rate_tau: float = 5.0):
        self.net = net
        self.v_min = float(v_min)
        self.fd = fd or Weidmann()
        self.dt = float(dt)
        if not self.dt > 0:
            raise CrowdError(f"crowd: dt must be > 0 (got {dt})")
        self.start = np.asarray(start, np.int64).ravel()
        P = self.start.size
        self.depart = np.broadcast_to(np.asarray(depart, np.float64), (P,)).copy()
        self.dest = np.broadcast_to(np.asarray(dest, np.int64), (P,)).copy()
        self.member = (np.zeros(P, np.int64) if member is None else
                       np.broadcast_to(np.asarray(member, np.int64), (P,)).copy())
        self.K = int(n_members)
        self.next_node = np.asarray(next_node, np.int64)
        self.dest_node = np.asarray(dest_node, np.int64).ravel()
        if P and (self.member.min() < 0 or self.member.max() >= self.K):
            raise CrowdError(f"crowd: members must be in 0..{self.K - 1}")
        if P and (self.dest.min() < 0 or self.dest.max() >= self.next_node.shape[0]):
            raise CrowdError("crowd: a destination index is out of the routing table")
        if P and (self.start.min() < 0 or self.start.max() >= net.n_nodes):
            raise CrowdError("crowd: a start node is not on the walkway network")
        if not np.isfinite(self.depart).all():
            raise CrowdError("crowd: departure times must be finite")
        self.pid = np.arange(P, dtype=np.int64)
        # side of the street: by the person's index within its member (a member's run does
        # not depend on the others in the batch)
        self.pick = _rank(self.member, self.pid) if P else self.pid
        self.status = np.full(P, HOME, np.int8)
        self.link = np.full(P, -1, np.int64)
        self.head = self.start.copy()
        self.pos = np.zeros(P)
        self.reach = np.full(P, np.inf)
        self.arrive = np.full(P, np.nan)
        self.entered = np.full(P, np.nan)
        self.t = float(t0)
        L = net.n_links
        rc, self.jmax = self.fd.critical()
        self.cap_out = net.width * self.jmax               # P/s per link
        self.acc_out = np.zeros((self.K, L))
        self.acc_in = np.zeros((self.K, L))
        self.room = np.floor(self.fd.rho_max * net.area * 0.999).astype(np.int64)
        self.count = np.zeros((self.K, L), np.int64)
        self.queue = np.zeros((self.K, L), np.int64)
        self.steps = 0
        self.reroute = bool(reroute)
        self.switch_margin = float(switch_margin)
        self.rate_tau = float(rate_tau)
        self.reroute_every = max(int(round(float(reroute_every) / self.dt)), 1)
        self.rate = np.tile(self.cap_out, (self.K, 1))      # (K, L) P/s discharge while queued
        self.tt = np.zeros((0,))                            # (K, D, N) s expected time to d
        self.tnext = np.zeros((0,), np.int64)               # (K, D, N) next node on the tree
        if self.reroute:
            D = self.next_node.shape[0]
            ok = self.dest_node >= 0
            opt = (np.broadcast_to(ok, (P, D)) if options is None else
                   np.asarray(options, np.bool_).reshape(P, D) & ok)
            self.options = np.ascontiguousarray(opt)
            if P and not self.options[self.pid, self.dest].all():
                raise CrowdError("crowd: a person's destination is not among its options")
            self.STATE = CrowdSim.STATE + ("dest", "rate", "tt", "tnext")

    # ---- state -----------------------------------------------------------------------
    STATE = ("status", "link", "head", "pos", "reach", "arrive", "entered", "acc_out",
             "acc_in", "count", "queue")

    def get_state(self) -> dict:
        return {k: getattr(self, k).copy() for k in self.STATE} | {
            "t": np.float64(self.t), "steps": np.int64(self.steps)}

    def set_state(self, st: dict) -> None:
        for k in self.STATE:
            setattr(self, k, np.array(st[k], copy=True))
        self.t, self.steps = float(st["t"]), int(st["steps"])

    def density(self) -> np.ndarray:
        """(K, L) people per m² on each link."""
        return self.count / self.net.area

    # ---- stepping --------------------------------------------------------------------
    def advance(self, t_end: float) -> None:
        """Step until ``t_end`` (s)."""
        while self.t < t_end - 1e-9:
            self.step(min(self.dt, t_end - self.t))

    def step(self, dt: float) -> None:
        net, fd, t = self.net, self.fd, self.t
        L = net.n_links
        # 1. departures: people leaving home wait at their start node to enter a link
        go = (self.status == HOME) & (self.depart < t + dt)
        if go.any():
            i = np.flatnonzero(go)
            self.status[i] = WALKING
            self.reach[i] = np.maximum(self.depart[i], t)
            self.entered[i] = self.reach[i]
        walking = self.status == WALKING
        on = walking & (self.link >= 0)
        g = self.member * L + np.maximum(self.link, 0)
        n = np.bincount(g[on], minlength=self.K * L)
        # 2. speed from density and walking
        area = np.tile(net.area, self.K)
        v = fd.speed(np.maximum(n - 1, 0) / area)
        mv = on & ~np.isfinite(self.reach)
        if mv.any():
            i = np.flatnonzero(mv)
            vi = np.maximum(v[g[i]], self.v_min)
            p = self.pos[i] + vi * dt
            end = net.length[self.link[i]]
            done = p >= end
            self.reach[i[done]] = t + (end[done] - self.pos[i[done]]) / vi[done]
            self.pos[i] = np.minimum(p, end)
        # 3. transfers at link ends (and entries at start nodes)
        # a link takes in less only when it is jammed from downstream (people wait at its
        # end): then at J(ρ); else at J_max (a short link's integer count would jitter)
        rho = np.where(self.queue.reshape(-1) > 0, n / area, 0.0)
        sup = fd.supply(rho) * np.tile(net.width, self.K)
        ao = self.acc_out.reshape(-1)
        ai = self.acc_in.reshape(-1)
        co = np.tile(self.cap_out, self.K) * dt
        ao[:] = np.minimum(ao + co, co + 1.0)
        ci = sup * dt
        ai[:] = np.minimum(ai + ci, ci + 1.0)
        cand = np.flatnonzero(walking & np.isfinite(self.reach) & (self.reach < t + dt))
        self._out = np.zeros(self.K * L if self.reroute else 0)
        if self.reroute and (self.tt.size == 0 or self.steps % self.reroute_every == 0):
            self._travel_times(n, v)
        if cand.size:
            self._transfer(cand, n, v, t, dt)
        if self.reroute:   # discharge rate of the links that had a queue this step
            qd = self.queue.reshape(-1) > 0
            r = self.rate.reshape(-1)
            r[qd] += min(dt / self.rate_tau, 1.0) * (self._out[qd] / dt - r[qd])
        gq = self.member * L + np.maximum(self.link, 0)
        w = (self.status == WALKING) & (self.link >= 0)
        self.count = np.bincount(gq[w], minlength=self.K * L).reshape(self.K, L)
        self.queue = np.bincount(gq[w & np.isfinite(self.reach)],
                                 minlength=self.K * L).reshape(self.K, L)
        self.t = t + dt
        self.steps += 1

    def _transfer(self, cand, n, v, t, dt) -> None:
        net, L = self.net, self.net.n_links
        head, d = self.head[cand], self.dest[cand]
        # arrivals: at the destination node (no capacity limit at the shelter door)
        dn = self.dest_node[d]
        arr = head == dn
        if arr.any():
            i = cand[arr]
            self.status[i] = ARRIVED
            self.arrive[i] = self.reach[i]
            self.link[i] = -1
            self.reach[i] = np.inf
        cand, head, d = cand[~arr], head[~arr], d[~arr]
        if self.reroute:
            d = self._switch(cand, head, d)
            nn = self.tnext[self.member[cand], d, head]
        else:
            nn = self.next_node[d, head]
        nl = net.link_between(head, nn, self.pick[cand])
        lost = nl < 0
        if lost.any():
            i = cand[lost]
            self.status[i] = NO_ROUTE
            self.link[i] = -1
            self.reach[i] = np.inf
            cand, head, nn, nl = cand[~lost], head[~lost], nn[~lost], nl[~lost]
        if not cand.size:
            return
        m = self.member[cand]
        src = np.where(self.link[cand] >= 0, m * L + self.link[cand], -1)
        dst = m * L + nl
        reach = self.reach[cand]
        ao, ai = self.acc_out.reshape(-1), self.acc_in.reshape(-1)
        # sending capacity (entries from a start node have none)
        r1 = _rank(np.where(src >= 0, src, -1 - self.pid[cand]), reach, self.pid[cand])
        ok1 = (src < 0) | (r1 < np.floor(ao[np.maximum(src, 0)] + 1e-9))
        c1 = cand[ok1]
        dst1, src1, reach1 = dst[ok1], src[ok1], reach[ok1]
        r2 = _rank(dst1, reach1, self.pid[c1])
        room = np.maximum(self.room[dst1 % L] - n[dst1], 0)
        ok2 = r2 < np.minimum(np.floor(ai[dst1] + 1e-9), room)
        moved, dstm, srcm = c1[ok2], dst1[ok2], src1[ok2]
        if moved.size:
            np.subtract.at(ai, dstm, 1.0)
            s = srcm >= 0
            np.subtract.at(ao, srcm[s], 1.0)
            if self.reroute:
                self._out += np.bincount(srcm[s], minlength=self._out.size)
            nlm = dstm % L
            hm = self.head[moved]
            self.head[moved] = np.where(net.a[nlm] == hm, net.b[nlm], net.a[nlm])
            self.link[moved] = nlm
            late = np.maximum(t + dt - np.maximum(self.reach[moved], t), 0.0)
            self.pos[moved] = np.minimum(late * v[dstm], net.length[nlm])
            full = self.pos[moved] >= net.length[nlm]
            self.reach[moved] = np.inf
            self.reach[moved[full]] = t + dt
        # the others keep waiting at their link end (reach stays: first come, first served)

    def _travel_times(self, n, v) -> None:
        """Expected times (K, D, N) s from each node to each destination, and the next node
        on the least-time tree, from the links' current loads (module docstring)."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        net, K, L, N = self.net, self.K, self.net.n_links, self.net.n_nodes
        D = self.dest_node.size
        n = n.reshape(K, L)
        walk = net.length / np.maximum(v.reshape(K, L), self.v_min)
        wait = net.length / self.fd.v0 + n / np.maximum(self.rate, 1e-6)
        c = np.where(self.queue > 0, wait, walk)
        npair = net.pair_key.size
        self.tt = np.full((K, D, N), np.inf)
        self.tnext = np.full((K, D, N), -1, np.int64)
        dn = self.dest_node
        has = np.flatnonzero(dn >= 0)
        for k in range(K):    # one Dijkstra per member, from all destinations at once
            w = np.full(npair, np.inf)
            np.minimum.at(w, net.pair_of_link, c[k])
            g = csr_matrix((np.r_[w, w], (np.r_[net.pair_a, net.pair_b],
                                          np.r_[net.pair_b, net.pair_a])), shape=(N, N))
            if has.size:
                dist, pred = dijkstra(g, directed=False, indices=dn[has],
                                      return_predecessors=True)
                self.tt[k, has] = dist
                self.tnext[k, has] = np.where(pred < 0, -1, pred)

    def _switch(self, cand, head, d) -> np.ndarray:
        """New destinations (n,) of people ``cand`` waiting at nodes ``head``: the option of
        least expected time where it beats the current one by ``switch_margin`` s."""
        m = self.member[cand]
        T = self.tt[m, :, head]                                   # (n, D)
        T = np.where(self.options[cand], T, np.inf)
        best = np.argmin(T, axis=1)
        tb = T[np.arange(cand.size), best]
        tc = self.tt[m, d, head]
        sw = tb < tc - self.switch_margin
        d = np.where(sw, best, d)
        self.dest[cand] = d
        return d

    def summary(self) -> dict:
        """Counts by status for each member: {name: (K,) int}."""
        return {name: np.bincount(self.member[self.status == code], minlength=self.K)
                for code, name in STATUS_NAMES.items()}
