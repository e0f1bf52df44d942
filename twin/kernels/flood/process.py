"""The flood kernel as a runtime kernel ("flood"): rain on the city's DEM for every member in
one batched :class:`~twin.kernels.flood.sim.FloodSim`, its impacts on roads, buildings and
sites, and the mass balance.

Input (``inputs={"flood": …}``, or one per member with ``twin.per_member``): a
:class:`~twin.kernels.flood.rain.Hyetograph` (``chicago(100, 3 * 3600)``, ``uniform(…)``), or
a dict ``{"rain": Hyetograph}``; None is a dry run.

Records per interval: ``depth``, ``u``, ``v`` rasters (y, x; float32, NaN in walls);
``road_depth`` (deepest cell under each road link, m; bridges and tunnels 0) and
``speed_factor``; ``building_depth`` (deepest open cell around each building);
``site_depth``; counts ``roads_closed`` (≥ 0.3 m), ``buildings_flooded``
(≥ ``building_depth_m``), ``substations_flooded`` and ``pumps_flooded`` (sites of kind
substation / pumping_station with ≥ ``site_depth_m``), ``flooded_area_km2`` (≥ 0.15 m); the
mass balance (m³ since the start): ``rain_m3``, ``infiltration_m3``, ``outflow_m3``,
``water_bodies_m3``, ``storage_m3``, ``mass_error_m3``, ``mass_rel_error``.

Publishes ``capacity_factor`` and ``speed_factor`` per road link (Pregnolato et al. 2017,
see :mod:`.impacts`) for the traffic kernel, ``site_depth`` and ``site_flooded`` per site
and ``building_depth`` per building.
"""

from __future__ import annotations

import numpy as np

from ...core.kernel import KPI, Draw, Kernel, LayerData, Spec, register
from ...errors import ScenarioError
from . import impacts as imp
from .errors import FloodError
from .grid import grid_from_city
from .rain import Hyetograph
from .sim import FloodSim

_R, _L, _B, _S = ("y", "x"), ("road_link",), ("building",), ("site",)
_STATE = ("h", "qx", "qy", "tw", "acc", "hpeak", "hmax", "t", "steps")


@register("flood")
class FloodProcess(Kernel):
    """2D surface flooding of ``city.terrain`` under each member's rain.

    dt : s between runtime steps (the solver sub-steps adaptively inside); cell : grid cell
    (m; default the DEM's); infiltration : "horton", "constant" or None; boundary : "open" /
    "closed"; building_depth_m, site_depth_m : flooding thresholds; float32 : record rasters
    as float32; solver : extra FloodSim options (theta, alpha, dt_max, hmin)."""

    batched = True
    publishes = {"capacity_factor": Spec(_L, "1"), "speed_factor": Spec(_L, "1"),
                 "site_depth": Spec(_S, "m"), "site_flooded": Spec(_S, "1"),
                 "building_depth": Spec(_B, "m")}
    outputs = {"depth": Spec(_R, "m"), "u": Spec(_R, "m/s"), "v": Spec(_R, "m/s"),
               "road_depth": Spec(_L, "m"), "speed_factor": Spec(_L, "1"),
               "building_depth": Spec(_B, "m"), "site_depth": Spec(_S, "m"),
               "roads_closed": Spec((), "1"), "buildings_flooded": Spec((), "1"),
               "substations_flooded": Spec((), "1"), "pumps_flooded": Spec((), "1"),
               "flooded_area_km2": Spec((), "km2"), "max_depth_m": Spec((), "m"),
               "rain_m3": Spec((), "m3"), "infiltration_m3": Spec((), "m3"),
               "outflow_m3": Spec((), "m3"), "water_bodies_m3": Spec((), "m3"),
               "storage_m3": Spec((), "m3"), "mass_error_m3": Spec((), "m3"),
               "mass_rel_error": Spec((), "1"),
               # storm sewers (0 without a drainage network): surface → sewers, sewers →
               # surface (overflow), sewers → lake/rivers, water in the sewers (m³ since the
               # start), manholes surcharged so far
               "drainage_captured_m3": Spec((), "m3"), "drainage_returned_m3": Spec((), "m3"),
               "drainage_outfall_m3": Spec((), "m3"), "drainage_storage_m3": Spec((), "m3"),
               "surcharged_nodes": Spec((), "1")}
    #: the viewer draws the water over the ground (dry cells hidden), the buildings by the depth
    #: around them (flooded from ``building_depth_m``, 0.15 m by default) and, on request, the
    #: roads by the depth on them
    draw = {"depth": Draw("raster", cmap="Blues", clim=(0, 1), label="flood depth",
                          hide_below=0.01, worse="high"),
            "building_depth": Draw("building", cmap="YlGnBu", clim=(0, 0.5),
                                   label="depth at buildings", worse="high"),
            "road_depth": Draw("road_link", cmap="Blues", clim=(0, 0.5), label="depth on roads",
                               show=False, worse="high")}

    def __init__(self, dt: float = 60.0, *, cell: float | None = None,
                 infiltration: str | None = "horton", boundary="open",
                 building_depth_m: float = 0.15, site_depth_m: float = 0.3,
                 float32: bool = True, solver: dict | None = None, name: str = "flood",
                 drainage: bool = True):
        self.name = name
        self.dt = float(dt)
        self.cell = cell
        self.infiltration = infiltration
        self.boundary = boundary
        self.building_depth_m = float(building_depth_m)
        self.site_depth_m = float(site_depth_m)
        self.float32 = bool(float32)
        self.solver = dict(solver or {})
        self.drainage = bool(drainage)  # couple city.drainage (storm sewers) when present

    # ---- setup -------------------------------------------------------------------------
    def init(self, ctx) -> None:
        city = ctx.city
        if city.terrain is None:
            raise ScenarioError(f"{self.name}: the city has no terrain (DEM)")
        try:
            self.grid = g = grid_from_city(city, cell=self.cell, infiltration=self.infiltration)
            dr = city.drainage if self.drainage and city.drainage is not None \
                and city.drainage.n_nodes else None
            self.sim = FloodSim(g, ctx.n_members, boundary=self.boundary, drainage=dr,
                                **self.solver)
        except FloodError as e:
            raise ScenarioError(f"{self.name}: {e}") from e
        self.rain = [self._rain(x) for x in ctx.inputs]
        self.walls = g.phi <= 0
        self.held = np.isfinite(g.fixed_h)
        roads = city.roads
        self.roads = imp.road_groups(g, roads)
        dry = np.zeros(roads.n_links, bool)
        for col in ("link_bridge", "link_tunnel"):
            v = getattr(roads, col, None)
            if v is not None and len(v) == roads.n_links:
                dry |= np.asarray(v, bool)
        self.road_dry = dry
        self.buildings = imp.building_groups(g, city.buildings)
        self.sites = imp.site_groups(g, city.sites)
        kind = np.asarray(city.sites.kind, object).astype(str)
        self.is_substation = kind == "substation"
        self.is_pump = kind == "pumping_station"
        self.coords = {"y": g.y, "x": g.x}
        wkt = "" if g.crs is None else g.crs.to_wkt()
        self.layer_attrs = {"crs": "" if g.crs is None else g.crs.to_string(), "crs_wkt": wkt,
                            "cell_size_m": g.dx,
                            "scheme": "local inertial (Bates et al. 2010)"}
        self._impacts()
        self._publish(ctx)

    def _rain(self, x):
        if x is None or isinstance(x, Hyetograph):
            hy = x
        elif isinstance(x, dict) and set(x) <= {"rain"}:
            hy = x.get("rain")
        else:
            raise ScenarioError(f"{self.name}: input is a Hyetograph or {{'rain': Hyetograph}}, "
                                f"not {type(x).__name__}")
        if hy is not None and hy.spatial and hy.rate.shape[1:] != self.grid.shape:
            raise ScenarioError(f"{self.name}: spatial rain has shape {hy.rate.shape[1:]}, "
                                f"the grid {self.grid.shape}")
        return hy

    # ---- stepping ----------------------------------------------------------------------
    def _impacts(self) -> None:
        h = np.where(self.held, 0.0, self.sim.h)
        road = self.roads.max(h)
        road[:, self.road_dry] = 0.0
        self.road_depth = road
        self.sf = imp.speed_factor(road)
        self.building_depth = self.buildings.max(h)
        self.site_depth = self.sites.max(h)

    def _publish(self, ctx) -> None:
        bus, n = ctx.bus, self.name
        bus.publish(f"{n}/capacity_factor", self.sf, dims=_L, units="1")
        bus.publish(f"{n}/speed_factor", self.sf, dims=_L, units="1")
        bus.publish(f"{n}/site_depth", self.site_depth, dims=_S, units="m")
        bus.publish(f"{n}/site_flooded", (self.site_depth >= self.site_depth_m).astype(float),
                    dims=_S, units="1")
        bus.publish(f"{n}/building_depth", self.building_depth, dims=_B, units="m")

    def step(self, t: float, dt: float, ctx):
        try:
            self.sim.advance(t + dt, self.rain)
        except FloodError as e:
            raise ScenarioError(f"{self.name}: {e}") from e
        self._impacts()
        self._publish(ctx)
        if not ctx.record_due:
            return None
        return self._record()

    def _record(self) -> dict:
        s = self.sim
        u, v = s.velocity()
        ft = np.float32 if self.float32 else np.float64
        b = s.balance()
        A = self.grid.dx ** 2
        free = ~self.held & ~self.walls
        site_fl = self.site_depth >= self.site_depth_m
        return {
            "depth": np.where(self.walls, np.nan, s.h).astype(ft), "u": u.astype(ft),
            "v": v.astype(ft), "road_depth": self.road_depth, "speed_factor": self.sf,
            "building_depth": self.building_depth, "site_depth": self.site_depth,
            "roads_closed": (self.road_depth >= imp.CLOSURE_DEPTH).sum(1).astype(np.int64),
            "buildings_flooded": (self.building_depth >= self.building_depth_m).sum(1)
            .astype(np.int64),
            "substations_flooded": site_fl[:, self.is_substation].sum(1).astype(np.int64),
            "pumps_flooded": site_fl[:, self.is_pump].sum(1).astype(np.int64),
            "flooded_area_km2": ((s.h >= 0.15) & free).sum((1, 2)) * A / 1e6,
            "max_depth_m": np.where(free, s.h, 0.0).max((1, 2)),
            "rain_m3": b["rain"], "infiltration_m3": b["infiltration"],
            "outflow_m3": b["outflow"], "water_bodies_m3": b["water_bodies"],
            "storage_m3": b["storage"], "mass_error_m3": b["error"],
            "mass_rel_error": b["rel_error"],
            **{f"{k}_m3": b.get(k, np.zeros(s.K)) for k in (
                "drainage_captured", "drainage_returned", "drainage_outfall",
                "drainage_storage")},
            "surcharged_nodes": np.asarray(b.get("surcharged_nodes", np.zeros(s.K)), np.int64)}

    # ---- checkpoints -------------------------------------------------------------------
    def get_state(self) -> dict:
        s = self.sim
        drain = {} if s.drain is None else {f"drain_{k}": v
                                            for k, v in s.drain.get_state().items()}
        return {k: getattr(s, k) for k in _STATE} | {"storage0": s.storage0} | drain

    def set_state(self, st: dict) -> None:
        for k in _STATE + ("storage0",):
            setattr(self.sim, k, np.array(st[k], copy=True))
        self.sim._qx2 = np.zeros_like(self.sim.qx)
        self.sim._qy2 = np.zeros_like(self.sim.qy)
        if self.sim.drain is not None:
            self.sim.drain.set_state({k[6:]: v for k, v in st.items() if k.startswith("drain_")})
        self._impacts()

    def config(self) -> dict:
        return {k: v for k, v in vars(self).items()
                if k in ("dt", "cell", "infiltration", "boundary", "building_depth_m",
                         "site_depth_m", "float32", "solver", "name", "drainage")}

    # ---- KPIs --------------------------------------------------------------------------
    @classmethod
    def kpis(cls, layer: LayerData) -> list[KPI]:
        """Peak flooded area, depth, closed roads, flooded buildings, substations and pumps;
        the final mass-balance error."""
        ds = layer.ds

        def peak(v):
            return float(ds[v].max()) if v in ds and ds[v].size else float("nan")

        def last(v):
            return float(ds[v].values[-1]) if v in ds and ds[v].size else float("nan")

        return [
            KPI("flooded_area_km2", peak("flooded_area_km2"), "km²", True,
                "peak area deeper than 0.15 m"),
            KPI("max_depth_m", peak("max_depth_m"), "m", True, "deepest water on land"),
            KPI("roads_closed", peak("roads_closed"), "links", True,
                "road links at ≥ 0.3 m (peak)", "{:,.0f}"),
            KPI("buildings_flooded", peak("buildings_flooded"), "buildings", True,
                "buildings with water at the walls (peak)", "{:,.0f}"),
            KPI("substations_flooded", peak("substations_flooded"), "sites", True,
                "substations flooded (peak)", "{:,.0f}"),
            KPI("pumps_flooded", peak("pumps_flooded"), "sites", True,
                "pumping stations flooded (peak)", "{:,.0f}"),
            KPI("rain_m3", last("rain_m3"), "m³", None, "rain on the grid"),
            KPI("mass_rel_error", last("mass_rel_error"), "1", True, "mass-balance error",
                "{:.2e}"),
        ]

    @classmethod
    def series(cls, layer: LayerData) -> dict:
        """{name: (label, unit, t, values)} for plots."""
        ds = layer.ds
        t = np.asarray(ds.time.values, float)
        out = {}
        for k, (label, unit) in {"flooded_area_km2": ("flooded area > 0.15 m", "km²"),
                                 "roads_closed": ("road links closed", ""),
                                 "buildings_flooded": ("buildings flooded", ""),
                                 "storage_m3": ("water on the surface", "m³")}.items():
            if k in ds:
                out[k] = (label, unit, t, np.asarray(ds[k].values, float))
        return out
