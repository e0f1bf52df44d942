"""The 1D storm-sewer solver: SWMM 5's dynamic wave on a :class:`cim.model.DrainageNetwork`,
for K members at once (the array kernel is :mod:`.drainage_kernel`).

:class:`Network1D` turns the network into static arrays; :class:`DrainageSim` holds the
state of K members and advances it; :func:`route` runs a network alone under its [INFLOWS]
(or given hydrographs) and returns an xarray Dataset. Coupling with the 2D surface is in
:class:`~twin.kernels.flood.sim.FloodSim` (``drainage=``): inlets capture surface water up to
their capacity, overflow from surcharged manholes returns to the surface, and outfalls
discharge into the lake and rivers.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import drainage_kernel as DK
from .errors import FloodError

#: SWMM's default minimum nodal surface area, 12.566 ft² (m²)
MIN_SURFAREA = 12.566 * 0.3048 ** 2
_OUT = {"free": DK.OUT_FREE, "normal": DK.OUT_NORMAL, "fixed": DK.OUT_FIXED,
        "tidal": DK.OUT_FREE, "timeseries": DK.OUT_FREE}


class DrainageError(FloodError):
    """A drainage network the solver cannot route (an unsupported link type or shape, a
    tabular storage unit…) naming the element, or bad inflows."""


class Network1D:
    """Static arrays of a drainage network for the kernel (SI; see :meth:`arrays`)."""

    def __init__(self, net, *, min_surfarea: float | None = None):
        self.net = net
        N, L = net.n_nodes, net.n_links
        if N == 0:
            raise DrainageError("the drainage network has no nodes")
        bad = np.flatnonzero(net.link_type != "conduit")
        if len(bad):
            raise DrainageError(f"link {net.link_ids[bad[0]]!r}: {net.link_type[bad[0]]}s are "
                                "not routed by the drainage solver (conduits only)")
        shp = np.array([DK.SHAPES.get(str(s), -1) for s in net.link_shape], np.int64)
        if (shp < 0).any():
            k = int(np.flatnonzero(shp < 0)[0])
            raise DrainageError(f"conduit {net.link_ids[k]!r}: shape {net.link_shape[k]!r} "
                                f"is not routed (use one of {', '.join(DK.SHAPES)})")
        st = net.node_type == "storage"
        if (st & (net.node_storage_shape != "functional")).any():
            i = int(np.flatnonzero(st & (net.node_storage_shape != "functional"))[0])
            raise DrainageError(f"storage {net.node_ids[i]!r}: only FUNCTIONAL storage is "
                                "routed")
        self.N, self.L = N, L
        geom = np.ascontiguousarray(net.link_geom, float)
        geom[shp == 4, 1] = np.where(geom[shp == 4, 1] > 0, geom[shp == 4, 1], geom[shp == 4, 0])
        self.inv = np.asarray(net.node_invert, float)
        off = np.stack([net.link_in_offset, net.link_out_offset], axis=1).astype(float)
        fr, to = np.asarray(net.link_from, np.int64), np.asarray(net.link_to, np.int64)
        length = np.asarray(net.link_length, float)
        if (length <= 0).any() or (geom[:, 0] <= 0).any():
            k = int(np.flatnonzero((length <= 0) | (geom[:, 0] <= 0))[0])
            raise DrainageError(f"conduit {net.link_ids[k]!r}: length and full depth must "
                                "be > 0")
        z1 = self.inv[fr] + off[:, 0]
        z2 = self.inv[to] + off[:, 1]
        crown = np.full(N, -np.inf)
        np.maximum.at(crown, fr, z1 + geom[:, 0])
        np.maximum.at(crown, to, z2 + geom[:, 0])
        crown = np.where(np.isfinite(crown), crown, self.inv)
        self.crown = crown
        md = np.asarray(net.node_max_depth, float)
        md = np.where(md > 0, md, crown - self.inv)
        self.full_depth = md
        isout = net.node_type == "outfall"
        self.isout = isout
        ymax = np.where(isout, 0.0, md + np.asarray(net.node_surcharge_depth, float))
        ymax = np.maximum(ymax, 1e-3)
        if min_surfarea is None:
            min_surfarea = _min_surfarea(net)
        amin = np.where(st | isout, 0.0, min_surfarea)
        # node → conduit ends (storage nodes keep their own area only, as in SWMM)
        ends_n = np.concatenate([fr, to])
        ends_l = np.concatenate([np.arange(L), np.arange(L)])
        ends_e = np.concatenate([np.zeros(L, np.int64), np.ones(L, np.int64)])
        keep = ~st[ends_n] & ~isout[ends_n]
        o = np.argsort(ends_n[keep], kind="stable")
        nptr = np.zeros(N + 1, np.int64)
        np.add.at(nptr, ends_n[keep] + 1, 1)
        nptr = np.cumsum(nptr)
        sto = np.full((N, 3), np.nan)
        sto[st] = net.node_storage_params[st]
        otype = np.array([_OUT.get(t, DK.OUT_FREE) if o_ else DK.OUT_NONE
                          for t, o_ in zip(net.node_outfall_type, isout)], np.int64)
        olink = np.full(N, -1, np.int64)
        oz = np.zeros(N)
        for e, ends in ((1, to), (0, fr)):  # a conduit ending at the outfall first
            for k in range(L):
                i = ends[k]
                if isout[i] and olink[i] < 0:
                    olink[i], oz[i] = k, off[k, e]
        flap = np.asarray(net.link_flap_gate, bool) | (isout[to] & np.asarray(
            net.node_flap_gate, bool)[to])
        slope = (z1 - z2) / length
        self.P = [self.inv, ymax, np.zeros(N), amin, isout, otype,
                  np.nan_to_num(np.asarray(net.node_outfall_stage, float), nan=0.0), olink, oz,
                  nptr, ends_l[keep][o], ends_e[keep][o], fr, to, shp, geom, length,
                  np.asarray(net.link_roughness, float), off,
                  np.asarray(net.link_barrels, float), slope, flap,
                  np.asarray(net.link_max_flow, float), sto, np.zeros(L)]
        vmax = np.array([self.volume(i, ymax[i]) for i in range(N)])
        self.P[2] = np.where(isout, 0.0, vmax)
        self.P = tuple(self.P)
        self.ymax, self.vmax = ymax, self.P[2]
        g = geom[:, 0]
        afull = np.array([DK.xs_area(shp[k], *geom[k], g[k]) for k in range(L)])
        rfull = np.array([DK.xs_radius(shp[k], *geom[k], g[k]) for k in range(L)])
        #: Manning full-flow capacity per conduit (m³/s, all barrels; bed slope ≥ 1e-4)
        self.capacity = afull * rfull ** (2 / 3) * np.sqrt(np.maximum(slope, 1e-4)) \
            / self.P[17] * self.P[19]
        self.afull = afull

    def volume(self, i: int, y: float) -> float:
        """Volume (m³) of node i at depth y."""
        P = self.P
        return DK.node_volume(i, float(y), P[3], P[0], P[9], P[10], P[11], P[14], P[15],
                              P[16], P[18], P[19], P[23])[0]

    def volumes(self, y) -> np.ndarray:
        """(K, N) node volumes of depths y (K, N)."""
        y = np.atleast_2d(y)
        return np.array([[0.0 if self.isout[i] else self.volume(i, v[i])
                          for i in range(self.N)] for v in y])

    def stable_dt(self, dt_max: float = 5.0) -> float:
        """A step (s) for the network: SWMM's Courant step at full flow, 0.75 L / (v + c),
        of the 5 % shortest-step conduits (very short pipes are carried by the implicit
        node update), between 1 s and ``dt_max``."""
        L = self.P[16]
        g0 = self.P[15][:, 0]
        v = self.capacity / np.maximum(self.afull * self.P[19], 1e-9)
        dt = 0.75 * L / (v + np.sqrt(DK.G * g0))
        return float(min(dt_max, max(1.0, np.percentile(dt, 5))))


def _min_surfarea(net) -> float:
    v = net.options.get("MIN_SURFAREA") if net.options else None
    try:
        a = float(v) if v is not None else 0.0
    except ValueError:
        a = 0.0
    if a <= 0:
        return MIN_SURFAREA
    return a * (0.3048 ** 2 if net.flow_units in ("CFS", "GPM", "MGD") else 1.0)


class DrainageSim:
    """K members of the 1D network ``net1d`` (:class:`Network1D`). State: ``y`` node depth
    (K, N) m, ``vol`` node volume (K, N) m³, ``q`` conduit flow per barrel (K, L) m³/s.
    Accumulators (K, N) m³: ``lateral`` in, ``outfall`` out, ``overflow`` out (flooding).
    trials, omega: Picard trials and under-relaxation per step."""

    def __init__(self, net1d: Network1D, members: int = 1, *, trials: int = 4,
                 omega: float = 0.5, parallel: bool | None = None):
        self.n = n = net1d
        K = int(members)
        net = n.net
        y0 = np.where(n.isout, 0.0, np.asarray(net.node_init_depth, float))
        self.K, self.trials, self.omega = K, int(trials), float(omega)
        self.y = np.tile(y0, (K, 1))
        self.vol = n.volumes(self.y)
        self.q = np.tile(np.asarray(net.link_init_flow, float) / net.link_barrels, (K, 1))
        self.aold = np.zeros((K, n.L))
        self.lateral = np.zeros((K, n.N))
        self.outfall = np.zeros((K, n.N))
        self.overflow = np.zeros((K, n.N))
        self.ypeak = self.y.copy()
        self.qpeak = np.abs(self.q)
        self.surcharged = np.zeros((K, n.N), bool)
        self.storage0 = self.storage()
        self._fl = np.zeros((K, n.N))
        self._vo = np.zeros((K, n.N))
        if parallel is None:
            parallel = K > 1
        self._step = DK.step_parallel if parallel else DK.step_serial

    def storage(self) -> np.ndarray:
        """(K,) m³ held in the network (nodes and their half pipes)."""
        return self.vol.sum(axis=1)

    def step(self, dt, lateral) -> np.ndarray:
        """Advance one step of ``dt`` s (scalar, or (K,) per member; 0 = stay) with
        ``lateral`` inflow (K, N) or (N,) m³/s (mean over the step). Return the overflow
        volume (K, N) m³ of this step (flooding)."""
        lat = np.ascontiguousarray(np.broadcast_to(np.asarray(lateral, float),
                                                   (self.K, self.n.N)))
        dt = np.ascontiguousarray(np.broadcast_to(np.asarray(dt, float), (self.K,)))
        self._fl[:] = 0.0
        self._vo[:] = 0.0
        self._step(self.y, self.vol, self.q, self.aold, lat, dt, self.trials,
                   self.omega, self.n.P, self._fl, self._vo)
        if not np.isfinite(self.y).all():
            k, i = np.argwhere(~np.isfinite(self.y))[0]
            raise DrainageError(f"node {self.n.net.node_ids[i]!r}: depth became non-finite "
                                f"(member {k}); use a smaller step")
        self.lateral += lat * dt[:, None]
        self.outfall += self._vo
        self.overflow += self._fl
        np.maximum(self.ypeak, self.y, out=self.ypeak)
        np.maximum(self.qpeak, np.abs(self.q) * self.n.P[19], out=self.qpeak)
        self.surcharged |= (self.y + self.n.inv + DK.FUDGE >= self.n.crown) & ~self.n.isout
        return self._fl.copy()

    def balance(self) -> dict:
        """(K,) m³: lateral in, outfall out, overflow out, storage, error, rel_error."""
        st = self.storage()
        lat, out, fl = (a.sum(axis=1) for a in (self.lateral, self.outfall, self.overflow))
        err = st - self.storage0 - (lat - out - fl)
        scale = np.max([lat, out, fl, st, self.storage0], axis=0)
        return {"lateral": lat, "outfall": out, "overflow": fl, "storage": st, "error": err,
                "rel_error": np.abs(err) / np.where(scale > 0, scale, np.inf)}


def series_flow(net, t: float) -> np.ndarray:
    """(N,) lateral inflow m³/s of the network's [INFLOWS] at time t (s; time series
    interpolated linearly, 0 outside them)."""
    out = np.zeros(net.n_nodes)
    for f in net.inflows:
        v = f.baseline
        if f.series is not None:
            if f.series not in net.timeseries:
                raise DrainageError(f"inflow at {net.node_ids[f.node]!r}: time series "
                                    f"{f.series!r} is not defined inline")
            ts, vs = net.timeseries[f.series]
            v += f.scale * float(np.interp(t, ts, vs, left=0.0, right=0.0))
        out[f.node] += v
    return out


def route(net, duration: float, *, dt: float | None = None, inflows=None,
          record_every: float = 60.0, trials: int = 4) -> xr.Dataset:
    """Route ``net`` (a DrainageNetwork, or a CityModel's) for ``duration`` s.

    inflows : None (the network's [INFLOWS]), a function t → (N,) or (K, N) m³/s, or a list
    of such functions (members). dt : step (s; default :meth:`Network1D.stable_dt`).
    Returns a Dataset: ``depth`` (time, [member,] node) m, ``flow`` (time, [member,] link)
    m³/s (all barrels), ``max_depth``, ``peak_flow``, ``surcharged`` (head reached the crown
    of the highest connecting conduit), ``flooding_m3``, ``outfall_m3`` per node, and the
    mass balance (``lateral_m3``, ``outfall_total_m3``, ``overflow_m3``, ``storage_m3``,
    ``mass_rel_error``)."""
    net = getattr(net, "drainage", net)
    if net is None:
        raise DrainageError("no drainage network")
    n1 = Network1D(net)
    fns = inflows if isinstance(inflows, (list, tuple)) else [inflows]
    K = len(fns)
    fns = [(lambda t: series_flow(net, t)) if f is None else f for f in fns]
    dt = n1.stable_dt() if dt is None else float(dt)
    sim = DrainageSim(n1, K, trials=trials)
    nsteps = int(np.ceil(duration / dt - 1e-9))
    every = max(1, int(round(record_every / dt)))
    rec_t, rec_y, rec_q = [], [], []

    def lat_at(t):
        return np.stack([np.broadcast_to(np.asarray(f(t), float), (n1.N,)) for f in fns])

    prev = lat_at(0.0)
    for s in range(1, nsteps + 1):
        t = min(s * dt, duration)
        cur = lat_at(t)
        sim.step(t - (s - 1) * dt, 0.5 * (prev + cur))
        prev = cur
        if s % every == 0 or s == nsteps:
            rec_t.append(t)
            rec_y.append(sim.y.copy())
            rec_q.append(sim.q * n1.P[19])
    b = sim.balance()
    nd, ld = ("time", "member", "node"), ("time", "member", "link")
    ds = xr.Dataset(
        {"depth": (nd, np.stack(rec_y), {"units": "m"}),
         "flow": (ld, np.stack(rec_q), {"units": "m3/s"}),
         "max_depth": (nd[1:], sim.ypeak, {"units": "m"}),
         "peak_flow": (ld[1:], sim.qpeak, {"units": "m3/s"}),
         "surcharged": (nd[1:], sim.surcharged),
         "flooding_m3": (nd[1:], sim.overflow, {"units": "m3"}),
         "outfall_m3": (nd[1:], sim.outfall, {"units": "m3"}),
         **{f"{k}_m3" if k not in ("rel_error",) else "mass_rel_error":
            (("member",), v) for k, v in b.items() if k != "outfall"},
         "outfall_total_m3": (("member",), b["outfall"])},
        coords={"time": np.asarray(rec_t), "node": np.asarray(net.node_ids, str),
                "link": np.asarray(net.link_ids, str), "member": np.arange(K)},
        attrs={"dt_s": dt, "scheme": "dynamic wave (SWMM 5 link-node), volume-conservative"})
    if not isinstance(inflows, (list, tuple)):
        ds = ds.isel(member=0, drop=True)
    return ds
