"""Coupling of the 2D surface (:class:`~.sim.FloodSim`) with the 1D storm sewers
(:class:`~.drainage.DrainageSim`), exchanged after every 2D step of every member.

- **Inlet capture**: each node with street inlets (``node_inlet_capacity``) takes water from
  its grid cell at Q = min(capacity, n_inlets · C_w · P · h^1.5) (grate inlets as weirs,
  HEC-22: C_w = 1.66 m^½/s, perimeter P = 2 m), at most the water the cell holds, and
  nothing while the node is full to its rim (the pipes cannot take more: pipe capacity).
- **Surcharge**: water rising above a manhole's rim (its overflow) returns to its cell.
- **Outfalls** at water-body cells (the lake and rivers, held at their level; a fixed stage
  at that level) discharge into them; an outfall on a free cell pours onto the surface.
- The 1D network sub-steps inside each 2D step (≤ ``dt1d`` s).

Mass balance (m³, per member): surface + network storage change = rain − infiltration −
edge outflow − water-body inflow − drainage outfalls to water bodies; :meth:`amend` adds the
network's terms to :meth:`FloodSim.balance`.
"""

from __future__ import annotations

import numpy as np

from .drainage import DrainageSim, Network1D

C_WEIR, PERIMETER = 1.66, 2.0


class DrainageCoupling:
    """The 1D network ``net`` (DrainageNetwork) on the flood grid of the FloodSim it is
    attached to. dt1d : largest 1D sub-step (s; default the network's stable step)."""

    def __init__(self, net, *, dt1d: float | None = None, trials: int = 4):
        self.net, self.dt1d, self.trials = net, dt1d, int(trials)

    def attach(self, sim) -> None:
        g = sim.grid
        net = self.net
        r, c, inside = g.cell_of(net.node_xy[:, 0], net.node_xy[:, 1])
        self.r, self.c = r, c
        held = np.isfinite(g.fixed_h[r, c])
        isout = net.node_type == "outfall"
        # outfalls at a water body: held at its level (fixed stage)
        stage = np.asarray(net.node_outfall_stage, float).copy()
        otype = np.asarray(net.node_outfall_type, object).copy()
        wb = isout & held & inside
        stage[wb] = g.z[r[wb], c[wb]] + g.fixed_h[r[wb], c[wb]]
        otype[wb] = "fixed"
        from dataclasses import replace

        self.n1 = Network1D(replace(net, node_outfall_stage=stage, node_outfall_type=otype))
        self.to_water = isout & held & inside
        cap = np.asarray(net.node_inlet_capacity, float)
        self.inlet = np.isfinite(cap) & (cap > 0) & inside & ~isout & (g.phi[r, c] > 0) & ~held
        self.cap = np.where(self.inlet, cap, 0.0)
        self.weir = C_WEIR * PERIMETER * np.maximum(np.asarray(net.node_inlets, float), 1.0)
        self.ret = ~self.to_water & inside & (g.phi[r, c] > 0) & ~held
        self.cell = r * g.shape[1] + c
        self.area = g.phi[r, c] * g.dx * g.dx
        self.d = DrainageSim(self.n1, sim.K, trials=self.trials, parallel=sim.K > 1)
        self.dt1d = self.n1.stable_dt() if self.dt1d is None else float(self.dt1d)
        K = sim.K
        self.captured = np.zeros(K)      # surface → network
        self.returned = np.zeros(K)      # network → surface (overflow, surface outfalls)
        self.to_bodies = np.zeros(K)     # network → lake / rivers
        self.lost = np.zeros(K)          # overflow of nodes outside the grid

    def exchange(self, sim, dt) -> None:
        """After a 2D step of ``dt`` (K,) s: capture, route the network, return overflow."""
        dt = np.asarray(dt, float)
        K, ny, nx = sim.h.shape
        hflat = sim.h.reshape(K, ny * nx)
        idx = np.flatnonzero(self.inlet)
        lat = np.zeros((K, self.n1.N))
        if len(idx):
            cells = self.cell[idx]
            h = hflat[:, cells]
            q = np.minimum(self.cap[idx], self.weir[idx] * np.maximum(h, 0.0) ** 1.5)
            full = self.d.y[:, idx] >= self.n1.ymax[idx] - 1e-6
            q = np.where(full, 0.0, q)
            want = q * dt[:, None]
            avail = h * self.area[idx]
            # inlets sharing a cell share its water
            tot = np.zeros((K, ny * nx))
            for k in range(K):
                np.add.at(tot[k], cells, want[k])
            share = np.where(tot[:, cells] > avail, avail / np.maximum(tot[:, cells], 1e-300),
                             1.0)
            vol = want * share
            for k in range(K):
                np.subtract.at(hflat[k], cells, vol[k] / self.area[idx])
            hflat[:, cells] = np.maximum(hflat[:, cells], 0.0)  # round-off only
            lat[:, idx] = np.where(dt[:, None] > 0, vol / np.where(dt > 0, dt, 1.0)[:, None],
                                   0.0)
            self.captured += vol.sum(axis=1)
        nsub = np.ceil(dt / self.dt1d - 1e-9).astype(int)
        over = np.zeros((K, self.n1.N))
        vo0 = self.d.outfall.copy()
        for s in range(int(nsub.max(initial=0))):
            sub = np.where(s < nsub, dt / np.maximum(nsub, 1), 0.0)
            over += self.d.step(sub, lat)
        vout = self.d.outfall - vo0
        back = over + np.where(self.to_water, 0.0, np.where(self.n1.isout, vout, 0.0))
        self.to_bodies += np.where(self.to_water, vout, 0.0).sum(axis=1)
        ret = back * self.ret
        self.lost += (back * ~self.ret).sum(axis=1)
        self.returned += ret.sum(axis=1)
        j = np.flatnonzero(self.ret & (back > 0).any(axis=0))
        if len(j):
            cells = self.cell[j]
            for k in range(K):
                np.add.at(hflat[k], cells, ret[k, j] / self.area[j])
            rows = self.r[j]
            for k in range(K):
                np.maximum.at(sim.hmax[k], rows, hflat[k, cells])
                np.maximum.at(sim.hpeak[k].reshape(-1), cells, hflat[k, cells])

    def amend(self, b: dict) -> None:
        """Add the network's terms to a FloodSim balance dict (K,) and close it on the whole
        system (surface + network)."""
        st = self.d.storage()
        b["drainage_captured"] = self.captured.copy()
        b["drainage_returned"] = self.returned.copy()
        b["drainage_outfall"] = self.to_bodies + self.lost
        b["drainage_storage"] = st
        b["surcharged_nodes"] = self.d.surcharged.sum(axis=1)
        # b["error"] is the surface's Δstorage − (rain − infiltration − outflows), which now
        # also holds −captured + returned; the network closes it
        err = b["error"] + (st - self.d.storage0) + self.to_bodies + self.lost
        b["error"] = err
        scale = np.max([b["rain"], b["storage"] + st, np.abs(b["water_bodies"]),
                        np.abs(b["outflow"]), self.captured], axis=0)
        b["rel_error"] = np.abs(err) / np.where(scale > 0, scale, np.inf)

    def get_state(self) -> dict:
        d = self.d
        return {"y": d.y, "vol": d.vol, "q": d.q, "aold": d.aold, "lateral": d.lateral,
                "outfall": d.outfall, "overflow": d.overflow, "ypeak": d.ypeak,
                "qpeak": d.qpeak, "surcharged": d.surcharged, "storage0": d.storage0,
                "captured": self.captured, "returned": self.returned,
                "to_bodies": self.to_bodies, "lost": self.lost}

    def set_state(self, st: dict) -> None:
        for k in ("captured", "returned", "to_bodies", "lost"):
            setattr(self, k, np.array(st[k], copy=True))
        for k in ("y", "vol", "q", "aold", "lateral", "outfall", "overflow", "ypeak", "qpeak",
                  "surcharged", "storage0"):
            setattr(self.d, k, np.array(st[k], copy=True))
