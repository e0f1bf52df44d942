"""The power kernel as a runtime kernel: AC power flow of the city's grid for every member in one
batched solve, re-solved when an outage, a restoration or a coupled load changes.

``PowerProcess`` drives :class:`~twin.kernels.power.batch.PowerFlow`. A bus is energized when
its island holds a slack source (``ext_grid``); loads on dead buses are shed. It records per
member ``vm_pu`` and ``energized`` per power bus, ``loading`` per branch (%), and the totals
``load_mw`` (served), ``shed_mw``, ``buses_dark``, ``buildings_dark``, ``people_dark``
(residents of dark buildings) and ``signals_dark``.

Coupling (bus), from the loads' ``kind`` / ``element`` columns:

- publishes ``signal_power`` (road_node, 0/1): the bus of a signal controller's load is
  energized (nodes without a signal load: 1) — traffic reads it (dark → all-way stop);
- publishes ``pump_power`` (water_link, 0/1) for the water kernel (a dead pump stops), and
  ``building_power`` (building, 0/1), ``energized`` (power_node);
- reads ``pump_load`` (water_link, kW): the pumps' loads follow what the pumps draw;
- reads ``site_flooded`` (site, 0/1; optional, e.g. ``flood/site_flooded``): a flooded site
  whose id is a substation's ``node_zone`` trips that substation (the same buses as
  ``substation_outage``); it comes back when the site is no longer flooded. Each trip is
  logged in the ``outages`` table as kind ``flood``.

Events: ``outage`` (power_link: a line, transformer or switch out of service; back at the
end), ``bus_outage`` (power_node), ``substation_outage`` (substation, named by the buses'
``node_zone``: the zone's highest-voltage buses and the buses its transformers feed from
them go out — the feeders leaving them go dark unless another path supplies them), each for one member or all; ``restoration`` (target: the id of an
element out) ends every active outage of it. An outage already active is not applied twice.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from ...core.kernel import KPI, Draw, Kernel, LayerData, Spec, Table, register
from ...errors import ScenarioError
from . import kpis as _kpis
from .batch import PowerFlow

_BUS, _BRANCH = ("power_node",), ("power_link",)


@register("power")
class PowerProcess(Kernel):
    """AC (or DC) power flow of ``city.power_grid``.

    dt : s between runtime steps; method : "ac" or "dc"; load_tolerance_mw : a coupled load
    change smaller than this does not trigger a new solve; name : layer name.
    """

    batched = True
    event_kinds = {"outage": "power_link", "bus_outage": "power_node",
                   "substation_outage": "substation", "restoration": None}
    publishes = {"energized": Spec(_BUS, "1"), "signal_power": Spec(("road_node",), "1"),
                 "pump_power": Spec(("water_link",), "1"),
                 "building_power": Spec(("building",), "1")}
    reads = {"pump_load": Spec(("water_link",), "kW"), "site_flooded": Spec(("site",), "1")}
    outputs = {"vm_pu": Spec(_BUS, "p.u."), "energized": Spec(_BUS, "1"),
               "loading": Spec(_BRANCH, "%"), "load_mw": Spec((), "MW"),
               "shed_mw": Spec((), "MW"), "buses_dark": Spec((), "1"),
               "buildings_dark": Spec((), "1"), "people_dark": Spec((), "persons"),
               "signals_dark": Spec((), "1")}
    tables = {"outages": Table("outage", {
        "outage_kind": (str, "", ""), "outage_target": (str, "", ""),
        "outage_start_s": (np.float64, np.nan, "s"), "outage_end_s": (np.float64, np.nan, "s")})}
    #: how the viewer draws the layer
    draw = {"loading": Draw("power_link", cmap="YlOrRd", clim=(0, 120), label="loading",
                            worse="high"),
            "vm_pu": Draw("power_node", cmap="coolwarm_r", clim=(0.9, 1.1), label="voltage",
                          worse="low"),
            "energized": Draw("power_node", cmap="gray", clim=(0, 1), label="energized",
                              show=False)}

    def __init__(self, dt: float = 60.0, *, method: str = "ac",
                 load_tolerance_mw: float = 1e-4, name: str = "power"):
        self.name = name
        self.dt = float(dt)
        if method not in ("ac", "dc"):
            raise ScenarioError(f"power: method must be 'ac' or 'dc', not {method!r}")
        self.method = method
        self.load_tolerance_mw = float(load_tolerance_mw)

    def element_ids(self, city) -> dict:
        grid = city.power_grid
        if grid is None:
            return {"substation": np.zeros(0, object)}
        zones = [z for z in dict.fromkeys(grid.node_zone.tolist()) if z]
        return {"substation": np.array(zones, object)}

    # ---- setup -------------------------------------------------------------------------
    def init(self, ctx) -> None:
        grid = ctx.city.power_grid
        if grid is None or grid.n_nodes == 0:
            raise ScenarioError(f"{self.name}: the city has no power grid")
        self.grid = grid
        K = ctx.n_members
        self.pf = PowerFlow(grid)
        loads = grid.loads
        self.branch_out = np.zeros((K, grid.n_links), np.int32)
        self.bus_out = np.zeros((K, grid.n_nodes), np.int32)
        self.load_scale = np.ones((K, len(loads)))
        self.base_p = np.asarray(loads.p_mw, float)
        kind = np.asarray(loads.kind, object)
        elem = np.asarray(loads.element, object)
        city = ctx.city
        self.links = {}
        for name, ids in (("signal", city.roads.node_ids), ("pump", self._water_links(city)),
                          ("building", city.buildings.ids)):
            index = {str(k): i for i, k in enumerate(ids)}
            rows = np.flatnonzero(kind == name)
            where = np.array([index.get(str(e), -1) for e in elem[rows]], np.int64)
            ok = where >= 0
            self.links[name] = (rows[ok], where[ok], len(ids))
        self.residents = np.asarray(city.buildings.residents, float)
        self.zone = np.asarray(grid.node_zone, object)
        self.open_outages: dict[str, tuple] = {}
        self.done_outages: list[tuple] = []
        self._flood_sites(city, K)
        self.coords = {"power_node": grid.node_ids.astype(str),
                       "power_link": grid.link_ids.astype(str),
                       "bus_vn_kv": (_BUS, grid.node_vn_kv),
                       "branch_type": (_BRANCH, grid.link_type.astype(str)),
                       "node_x": (_BUS, grid.node_xy[:, 0]), "node_y": (_BUS, grid.node_xy[:, 1])}
        self.dirty = True
        self._solve()
        self._publish(ctx)

    def _flood_sites(self, city, K: int) -> None:
        """Sites whose id is a substation zone: (site index, zone) for ``site_flooded``."""
        sites = np.asarray(city.sites.ids, object).astype(str) if city.sites is not None \
            else np.zeros(0, str)
        zones = set(str(z) for z in self.zone.tolist() if z)
        self.flood_site = np.array([i for i, s in enumerate(sites) if s in zones], np.int64)
        self.flood_zone = [str(sites[i]) for i in self.flood_site]
        self.flood_buses = [self._substation_buses(z) for z in self.flood_zone]
        self.flood_trip = np.zeros((K, len(self.flood_site)), bool)

    @staticmethod
    def _water_links(city) -> np.ndarray:
        w = city.water_network
        return np.zeros(0, object) if w is None else w.link_ids

    def _solve(self) -> None:
        if not self.dirty:
            return
        try:
            self.res = self.pf.solve(self.branch_out > 0, self.bus_out > 0,
                                     self.load_scale, method=self.method, errors="raise")
        except Exception as e:
            from .errors import PowerFlowError

            if isinstance(e, PowerFlowError):
                raise ScenarioError(f"{self.name}: {e}") from e
            raise
        self.dirty = False

    def _element_power(self, name) -> np.ndarray:
        """(K, n elements) 1.0 where the element's load is served (elements without a load:
        1.0)."""
        rows, where, n = self.links[name]
        served = self.res["load_served"]
        out = np.ones((served.shape[0], n))
        if len(rows):
            out[:, where] = served[:, rows]
        return out

    def _publish(self, ctx) -> None:
        en = self.res["energized"].astype(float)
        bus = ctx.bus
        bus.publish(f"{self.name}/energized", en, dims=_BUS, units="1")
        bus.publish(f"{self.name}/signal_power", self._element_power("signal"),
                    dims=("road_node",), units="1")
        bus.publish(f"{self.name}/pump_power", self._element_power("pump"),
                    dims=("water_link",), units="1")
        bus.publish(f"{self.name}/building_power", self._element_power("building"),
                    dims=("building",), units="1")

    # ---- stepping ----------------------------------------------------------------------
    def step(self, t: float, dt: float, ctx):
        self._read_ports(ctx)
        self._solve()
        self._publish(ctx)
        if not ctx.record_due:
            return None
        r = self.res
        served = r["load_served"]
        p = self.base_p[None, :] * self.load_scale
        bld = self._element_power("building")
        sig = self._element_power("signal")
        return {"vm_pu": r["vm"], "energized": r["energized"].astype(np.int8),
                "loading": r["loading"], "load_mw": (p * served).sum(1),
                "shed_mw": (p * (1 - served)).sum(1),
                "buses_dark": (~r["energized"]).sum(1).astype(np.int64),
                "buildings_dark": (bld < 0.5).sum(1).astype(np.int64),
                "people_dark": (bld < 0.5) @ self.residents,
                "signals_dark": (sig[:, self.links["signal"][1]] < 0.5).sum(1)
                .astype(np.int64)}

    def _read_ports(self, ctx) -> None:
        self._read_flood(ctx)
        kw = ctx.read("pump_load")
        rows, where, _ = self.links["pump"]
        if kw is None or not len(rows):
            return
        p = np.asarray(kw, float)[:, where] / 1e3
        base = self.base_p[rows]
        scale = np.divide(p, base[None, :], out=np.zeros_like(p), where=base[None, :] > 0)
        delta = np.abs((scale - self.load_scale[:, rows]) * base[None, :])
        if (delta > self.load_tolerance_mw).any():
            self.load_scale[:, rows] = scale
            self.dirty = True

    def _read_flood(self, ctx) -> None:
        """Trip / restore the substations whose site ``site_flooded`` marks (>= 0.5)."""
        fl = ctx.read("site_flooded")
        if fl is None or not len(self.flood_site):
            return
        now = np.asarray(fl, float)[:, self.flood_site] >= 0.5
        for m, j in zip(*np.nonzero(now != self.flood_trip)):
            start = bool(now[m, j])
            self.bus_out[m, self.flood_buses[j]] += 1 if start else -1
            key = f"{m}|flood|{self.flood_zone[j]}"
            if start:
                self.open_outages[key] = ("flood", self.flood_zone[j], ctx.now, int(m))
            else:
                k, tg, t0, mm = self.open_outages.pop(key)
                self.done_outages.append((k, tg, t0, ctx.now, mm))
            self.dirty = True
        self.flood_trip = now

    # ---- events ------------------------------------------------------------------------
    def apply_event(self, ev, index, ctx):
        if ev.kind == "restoration":
            return self._restore(ev, ctx)
        start = ev.phase == "start"
        K = self.branch_out.shape[0]
        members = range(K) if ev.member is None else [int(ev.member)]
        keys = {m: f"{m}|{ev.kind}|{ev.target}" for m in members}
        # an outage already active (or already restored) changes nothing
        members = np.array([m for m, k in keys.items() if (k in self.open_outages) != start],
                           np.int64)
        if not len(members):
            return None
        step = 1 if start else -1
        if ev.kind == "outage":
            self.branch_out[members, index] += step
        else:
            if ev.kind == "bus_outage":
                buses = np.array([index])
            else:
                buses = self._substation_buses(str(ev.target))
            self.bus_out[np.ix_(members, buses)] += step
        self.dirty = True
        for m in members.tolist():
            if start:
                self.open_outages[keys[m]] = (ev.kind, str(ev.target), ctx.now, m)
            else:
                k, tg, t0, mm = self.open_outages.pop(keys[m])
                self.done_outages.append((k, tg, t0, ctx.now, mm))
        self._solve()
        self._publish(ctx)
        return {"buses_dark": int((~self.res["energized"][members[0]]).sum())}

    def _substation_buses(self, zone: str) -> np.ndarray:
        """The buses of substation ``zone``: its zone's highest-voltage buses and the buses
        its transformers feed from them."""
        g = self.grid
        inzone = np.flatnonzero(self.zone == zone)
        if not len(inzone):
            raise ScenarioError(f"substation_outage: no bus of {zone!r}")
        vn = np.nan_to_num(g.node_vn_kv[inzone])
        top = inzone[vn == vn.max()]
        trafo = (g.link_type == "trafo") & (np.isin(g.link_from, top) | np.isin(g.link_to, top))
        return np.union1d(top, np.concatenate([g.link_from[trafo], g.link_to[trafo]]))

    def _restore(self, ev, ctx) -> dict:
        """End every active outage of ``ev.target`` (of ``ev.member`` or all members)."""
        if ev.phase != "start":
            return None
        ended = []
        for kind, target, _, m in list(self.open_outages.values()):
            if kind == "flood":      # a flooded substation stays out while it is flooded
                continue
            if target == str(ev.target) and ev.member in (None, m):
                id_kind = self.event_kinds[kind]
                index = None if id_kind == "substation" else ctx.index(id_kind, target)
                self.apply_event(replace(ev, kind=kind, phase="end", member=m), index, ctx)
                ended.append(kind)
        return {"ended": sorted(set(ended))}

    # ---- checkpoints -------------------------------------------------------------------
    def on_checkpoint(self, final: bool, ctx) -> None:
        rows = list(self.done_outages)
        if final:
            rows += [(k, tg, t0, np.nan, m) for k, tg, t0, m in self.open_outages.values()]
        self.done_outages = []
        for k, tg, t0, t1, m in rows:
            ctx.table("outages").append(
                {"outage_kind": np.array([k]), "outage_target": np.array([tg]),
                 "outage_start_s": np.array([t0]), "outage_end_s": np.array([t1])}, member=m)

    def get_state(self) -> dict:
        return {"branch_out": self.branch_out, "bus_out": self.bus_out,
                "load_scale": self.load_scale, "flood_trip": self.flood_trip,
                "outages": json.dumps([list(self.open_outages.items()), self.done_outages],
                                      default=float)}

    def set_state(self, s: dict) -> None:
        for k in ("branch_out", "bus_out", "load_scale"):
            setattr(self, k, np.array(s[k], copy=True))
        if "flood_trip" in s:
            self.flood_trip = np.array(s["flood_trip"], bool)
        open_, done = json.loads(s["outages"])
        self.open_outages = {k: tuple(v) for k, v in open_}
        self.done_outages = [tuple(v) for v in done]
        self.dirty = True
        self._solve()

    # ---- KPIs --------------------------------------------------------------------------
    @classmethod
    def kpis(cls, layer: LayerData) -> list[KPI]:
        """Energy not served, buses, buildings and people without power, peak loading."""
        return _kpis.kpi_list(layer)

    @classmethod
    def series(cls, layer: LayerData) -> dict:
        return _kpis.series(layer)
