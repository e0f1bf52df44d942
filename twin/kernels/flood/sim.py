"""FloodSim: the state of K members on one flood grid, advanced with an adaptive step.

Each member keeps its own clock and step Δt_k = min(α Δx / sqrt(g h_max,k), dt_max) (Bates et
al. 2010, eq. 12; h_max over free cells and the water-body cells next to them), clipped to the
next synchronisation time (rain interval edges and the caller's targets). A member therefore
takes exactly the steps it would take alone: member k of a batch is bit-identical to the same
rain run alone.

All the steps up to the next synchronisation time run inside one compiled call
(:func:`.solver.kernels` ``run``): no Python per step, except with storm sewers, which
exchange with the surface after every step. The state is double-buffered (``h``/``_h2``,
``qx``/``_qx2``, ``qy``/``_qy2``); the attributes always name the current buffers.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import solver as S
from .errors import FloodError
from .grid import FloodGrid

_SIDES = ("west", "east", "north", "south")


def _sides(boundary) -> np.ndarray:
    if isinstance(boundary, str):
        if boundary not in ("open", "closed"):
            raise FloodError(f"boundary must be 'open', 'closed' or a dict, not {boundary!r}")
        return np.full(4, boundary == "open")
    unknown = set(boundary) - set(_SIDES)
    if unknown:
        raise FloodError(f"unknown boundary sides {sorted(unknown)} (use {_SIDES})")
    return np.array([boundary.get(s, "closed") == "open" for s in _SIDES])


class FloodSim:
    """K members of the local-inertial model on ``grid`` (:class:`FloodGrid`).

    boundary : "closed" (walls), "open" (free outflow with bed slope ``slope`` in the ghost
    cells) or {side: "open"|"closed"}; theta : de Almeida's weighting (1 = Bates 2010);
    alpha : Courant factor; hmin : depth (m) below which a face carries no flow; dt_max : s;
    h0 : initial depth (ny, nx) or (K, ny, nx), m (water-body cells start at their level);
    parallel : row blocks on all cores (numba threads); default when K·ny·nx ≥ 250,000
    cells. Results are the same either way (blocks share nothing). q_dtype : storage of the
    face discharges (float32: momentum only, the mass balance stays double precision).
    """

    def __init__(self, grid: FloodGrid, members: int = 1, *, boundary="closed",
                 slope: float = 1e-3, theta: float = 0.9, alpha: float = 0.7,
                 hmin: float = 1e-4, dt_max: float = 10.0, h0=None, parallel=None,
                 drainage=None, q_dtype=np.float32):
        self.grid = g = grid
        K = int(members)
        if K < 1:
            raise FloodError("members must be ≥ 1")
        ny, nx = g.shape
        self.K, self.theta, self.alpha, self.hmin = K, float(theta), float(alpha), float(hmin)
        self.dt_max, self.slope = float(dt_max), float(slope)
        self.edge_open = _sides(boundary)
        phi = g.phi
        fixed = np.isfinite(g.fixed_h)
        self.cfl = ~fixed | ndimage.binary_dilation(~fixed & (phi > 0)) & fixed
        h = np.zeros((K, ny, nx))
        if h0 is not None:
            h[:] = np.broadcast_to(np.asarray(h0, float), (K, ny, nx))
            if (h < 0).any() or not np.isfinite(h).all():
                raise FloodError("initial depths must be finite and ≥ 0")
        h[:, phi <= 0] = 0.0
        h[:, fixed] = g.fixed_h[fixed]
        self.h = h
        self.q_dtype = np.dtype(q_dtype)
        self.qx = np.zeros((K, ny, nx + 1), self.q_dtype)
        self.qy = np.zeros((K, ny + 1, nx), self.q_dtype)
        self._h2 = np.zeros_like(h)
        self._qx2 = np.zeros_like(self.qx)
        self._qy2 = np.zeros_like(self.qy)
        self.tw = np.zeros_like(h)
        self.acc = np.zeros((K, ny, S.NACC))
        self.hpeak = h.copy()
        self.hmax = np.where(self.cfl, h, 0.0).max(axis=2)
        self.t = np.zeros(K)
        self.steps = np.zeros(K, np.int64)
        self.storage0 = self.storage()
        if parallel is None:
            parallel = K * ny * nx >= 250_000
        self._k = S.kernels(bool(parallel))
        self._zero_src = (np.zeros((1, ny, nx)), np.zeros(K))
        self._catch = g.catch()
        # storm sewers: a DrainageNetwork (or a .coupling.DrainageCoupling) under the grid
        self.drain = None
        if drainage is not None:
            from .coupling import DrainageCoupling

            self.drain = drainage if isinstance(drainage, DrainageCoupling) \
                else DrainageCoupling(drainage)
            self.drain.attach(self)

    # ---- rain ------------------------------------------------------------------------------
    def sources(self, rain, times):
        """Return (src (Kf, ny, nx), srate (K,)) of ``rain`` (list of K Hyetograph or None)
        in the interval holding each member's time ``times[k]``."""
        if rain is None:
            return self._zero_src
        rates = []
        for hy, t in zip(rain, times):
            i = -1 if hy is None else hy.interval(float(t))
            rates.append(None if i < 0 else hy.rate[i])
        if all(r is None or np.ndim(r) == 0 for r in rates):
            srate = np.array([0.0 if r is None else float(r) for r in rates])
            return self._catch[None], srate
        src = np.zeros((self.K,) + self.grid.shape)
        for k, r in enumerate(rates):
            if r is not None:
                src[k] = self.grid.catch(np.broadcast_to(r, self.grid.shape))
        return src, np.ones(self.K)

    # ---- stepping --------------------------------------------------------------------------
    def _statics(self) -> tuple:
        """The kernel's static arrays, rebuilt when the grid's arrays or ``cfl`` change:
        (z, n2 (float32), phi, edge_open (4,) 1/0, flags, spp, spc, fixed_h, lu, fpar);
        spp/spc: CSR lists of the held and pervious cells of each row."""
        g = self.grid
        key = (g.z, g.phi, g.n, g.fixed_h, g.lu, g.fpar, self.cfl)
        old = getattr(self, "_skey", None)
        if old is not None and all(a is b for a, b in zip(old, key)):
            return self._spack
        ny, nx = g.shape
        fixed = np.isfinite(g.fixed_h)
        lu = np.ascontiguousarray(g.lu, np.int64)
        fpar = np.ascontiguousarray(g.fpar, float)
        flags = (fixed * S.FIXED + self.cfl * S.CFL
                 + (~fixed & (fpar[lu, 3] > 0) & (g.phi > 0)) * S.PERV).astype(np.uint8)
        special = (flags & (S.FIXED | S.PERV)) > 0
        spp = np.zeros(ny + 1, np.int64)
        spp[1:] = np.cumsum(special.sum(axis=1))
        spc = np.nonzero(special)[1].astype(np.int64)
        c = np.ascontiguousarray
        self._spack = (c(g.z, float), c(g.n ** 2, np.float32), c(g.phi, float),
                       self.edge_open.astype(float), flags, spp, spc,
                       c(np.where(fixed, g.fixed_h, 0.0)), lu, fpar)
        self._skey = key
        return self._spack

    def _spares(self) -> None:
        """Second buffers of h, qx, qy (the step writes into them), matching the state."""
        for a, b in (("h", "_h2"), ("qx", "_qx2"), ("qy", "_qy2")):
            x, y = getattr(self, a), getattr(self, b, None)
            if y is None or y.shape != x.shape or y.dtype != x.dtype or y is x:
                setattr(self, b, np.empty_like(x))

    def advance(self, t_end: float, rain=None) -> None:
        """Advance every member to ``t_end`` (s) under ``rain`` (list of K Hyetograph, or
        None). A member's steps never straddle one of its own rain interval edges; all steps
        between two edges run inside one compiled call (one step per call with drainage,
        which exchanges with the sewers after every step)."""
        if rain is not None and len(rain) != self.K:
            raise FloodError(f"rain has {len(rain)} members, the model {self.K}")
        b = float(t_end)
        edges = [np.array([b]) if hy is None else
                 np.append(np.asarray(hy.edges, float)[hy.edges < b], b)
                 for hy in (rain or [None] * self.K)]
        g = self.grid
        st = self._statics()
        self._spares()
        B = S.block_rows(g.shape[0])
        most = 1 if self.drain is not None else 1 << 62
        dt = np.zeros(self.K)
        old = None
        while True:
            seg = np.array([e[np.searchsorted(e, t, side="right")] if t < b else b
                            for e, t in zip(edges, self.t)])
            if not (seg > self.t).any():
                break
            if old is None or (seg != old).any():
                old = seg
                src, srate = self.sources(rain, self.t)
                src = np.ascontiguousarray(src, float)
                s32 = src.astype(np.float32)
                if np.array_equal(s32, src):  # exact in single precision: half the traffic
                    src = s32
                ssum = src.sum(axis=2)
            for a in ("h", "qx", "qy", "tw", "acc", "hmax", "hpeak", "t", "steps"):
                if not getattr(self, a).flags.c_contiguous:
                    setattr(self, a, np.ascontiguousarray(getattr(self, a)))
            swaps, bad = self._k["run"](
                self.h, self.qx, self.qy, self._h2, self._qx2, self._qy2, *st, self.tw,
                src, ssum, np.ascontiguousarray(srate, float), self.t,
                self.steps, seg, dt, g.dx, self.theta, self.hmin, self.slope, self.alpha,
                self.dt_max, self.acc, self.hmax, self.hpeak, B, most)
            if swaps % 2:
                self.h, self._h2 = self._h2, self.h
                self.qx, self._qx2 = self._qx2, self.qx
                self.qy, self._qy2 = self._qy2, self.qy
            if bad >= 0:
                cells = np.argwhere(~np.isfinite(self.h[bad]))
                raise FloodError("the depth became non-finite (unstable step)", member=int(bad),
                                 cell=tuple(int(v) for v in cells[0]) if len(cells) else None)
            if self.drain is not None and swaps:
                self.drain.exchange(self, dt)

    # ---- results ---------------------------------------------------------------------------
    def storage(self) -> np.ndarray:
        """(K,) m³ on the grid outside the water-body cells."""
        return S.storage(self.h, self.grid.phi, self.grid.dx, self.grid.fixed_h)

    def balance(self) -> dict:
        """Mass balance per member (K,) arrays, m³: rain, infiltration, outflow (open edges),
        water_bodies (net into the held lake/river cells), storage, storage change, the
        error (change − rain + infiltration + outflows) and ``rel_error`` (|error| / the largest
        of rain, initial and final storage, and the outflows; 0 when all are 0)."""
        a = self.acc.sum(axis=1)
        st = self.storage()
        d = st - self.storage0
        err = d - (a[:, S.ACC_RAIN] - a[:, S.ACC_INFIL] - a[:, S.ACC_EDGE] - a[:, S.ACC_FIXED])
        scale = np.max([a[:, S.ACC_RAIN], self.storage0, st, np.abs(a[:, S.ACC_FIXED]),
                        np.abs(a[:, S.ACC_EDGE])], axis=0)
        scale = np.where(scale > 0, scale, np.inf)
        b = {"rain": a[:, S.ACC_RAIN], "infiltration": a[:, S.ACC_INFIL],
             "outflow": a[:, S.ACC_EDGE], "water_bodies": a[:, S.ACC_FIXED],
             "storage": st, "storage_change": d, "clipped": a[:, S.ACC_CLIP],
             "error": err, "rel_error": np.abs(err) / scale}
        if self.drain is not None:  # adds drainage_* terms; error over surface + sewers
            self.drain.amend(b)
        return b

    def velocity(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (u east, v north) (K, ny, nx) m/s at cell centres (0 where h < 1 mm)."""
        qx = 0.5 * (self.qx[:, :, :-1] + self.qx[:, :, 1:])
        qy = 0.5 * (self.qy[:, :-1, :] + self.qy[:, 1:, :])
        wet = self.h > 1e-3
        hh = np.where(wet, self.h, 1.0)
        return np.where(wet, qx / hh, 0.0), np.where(wet, -qy / hh, 0.0)

    def set_level(self, cells, level) -> None:
        """Hold ``cells`` (boolean (ny, nx) mask) at water level ``level`` (m, scalar or per
        cell), e.g. a time-varying water-level boundary; NaN frees them."""
        g = self.grid
        m = np.asarray(cells, bool) & (g.phi > 0)
        lvl = np.broadcast_to(np.asarray(level, float), g.shape)[m]
        fh = g.fixed_h.copy()
        fh[m] = np.where(np.isfinite(lvl), np.maximum(lvl - g.z[m], 0.0), np.nan)
        was = np.isfinite(g.fixed_h)
        fixed = np.isfinite(fh)
        # a cell that joins (leaves) the held cells takes its water out of (into) the storage
        vol = (self.h * np.where(fixed & ~was, g.phi, 0.0)).sum(axis=(1, 2)) \
            - (self.h * np.where(was & ~fixed, g.phi, 0.0)).sum(axis=(1, 2))
        self.acc[:, 0, S.ACC_FIXED] += vol * g.dx * g.dx
        g.fixed_h = fh
        self.cfl = ~fixed | ndimage.binary_dilation(~fixed & (g.phi > 0)) & fixed
