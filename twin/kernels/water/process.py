"""The water kernel as a runtime kernel: EPANET's hydraulics on the city's water network, every
member in one batched solve.

``WaterProcess`` drives :class:`~twin.kernels.water.sim.WaterSim` (extended-period GGA with
tanks, controls, rules, pumps and valves as EPANET treats them; pressure-dependent demand by
default, so that cut-off nodes get no water instead of impossible pressures) and advances it
to the end of every runtime step. It records per member: ``pressure`` and ``demand``
(delivered, m³/s) per water node, ``flow`` per water link, ``unserved`` per building (m³/s:
required − delivered, shared among the building's demand categories) and ``unserved_share``
(its share of the building's required demand), ``tank_level``,
``pump_power`` (kW) and the totals ``unserved_total`` (m³/s), ``min_pressure`` (m, over
junctions with demand) and ``nodes_below`` (junctions with demand under
``pressure_threshold``).

Coupling (bus):

- reads ``pump_power`` (water_link, 0..1): a pump whose power is below 0.5 stops (the power
  kernel publishes it from its pump loads' buses);
- reads ``site_flooded`` (site, 0/1; optional, e.g. ``flood/site_flooded``): a flooded
  ``pumping_station`` site stops its pumps. Once at init each pump (located at the midpoint
  of its two nodes) is given the nearest pumping_station site within ``pump_site_m``
  (default 300 m); pumps with none there are not affected. They run again when the site
  dries (unless an event or the power keeps them off);
- publishes ``pump_load`` (water_link, kW): the power each pump draws, for the power kernel;
- publishes ``pressure`` (water_node, m) and ``capacity_factor`` (road_link, 0..1): a burst
  pipe under a street takes one lane from the road links within ``road_buffer_m`` of it (the
  traffic kernel reads it).

Events (target ``water_link``; start/end, for one member or all):

- ``burst``: a leak as an emitter at both ends of the pipe, q = C p^0.5 per end with
  C = ``details["coefficient"]`` (m³/s per m^0.5) or from ``details["area_m2"]`` (default
  ``burst_area_share`` of the pipe's cross-section) as C = 0.6 A √(2g) / 2; the end repairs it;
- ``closure``: the link is closed (reopened at the end);
- ``isolation``: the crew closes the isolation valves around the pipe's segment
  (:mod:`.segments`): the boundary valves' pipes and the segment's own links close; the
  segment's nodes are cut off (reopened at the end);
- ``pump_outage``: the pump stops (back at the end);
- ``fire_flow`` (target: a junction): a hydrant opened as an emitter drawing
  ``details["flow_lps"]`` (default 30 L/s) at the pressure it meets; closed at the end;
- ``repair`` (target: a water link id): ends every active event on that link (the burst is
  fixed, the valves reopen, the pump runs). An event already active is not applied twice.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import scipy.sparse as sparse

from ...core.kernel import KPI, Draw, Kernel, LayerData, Spec, Table, register
from ...errors import ScenarioError
from . import kpis as _kpis
from .segments import isolate, segment_labels
from .sim import WaterSim

G = 9.81
_NODE, _LINK = ("water_node",), ("water_link",)


@register("water")
class WaterProcess(Kernel):
    """Water hydraulics of ``city.water_network``.

    dt : s between runtime steps (EPANET's own steps happen inside, at controls, tank
    events and pattern changes); pdd : pressure-dependent demand settings (dict with
    ``minimum_pressure``, ``required_pressure`` m, ``exponent``), None for the network's own
    demand model, or "network"; pressure_threshold : m, the service level counted in
    ``nodes_below``; burst_area_share : default burst opening ÷ pipe cross-section;
    road_buffer_m : how near a road link a burst must be to take a lane; spin_up : run the
    network from midnight (its time 0) to the scenario's start time of day first, so that
    patterns, clock-time controls and tank levels are those of that hour; name : layer name.
    """

    batched = True
    event_kinds = {"burst": "water_link", "closure": "water_link",
                   "isolation": "water_link", "pump_outage": "water_link",
                   "fire_flow": "water_node", "repair": None}
    publishes = {"pressure": Spec(_NODE, "m"), "pump_load": Spec(_LINK, "kW"),
                 "capacity_factor": Spec(("road_link",), "1")}
    reads = {"pump_power": Spec(_LINK, "1"), "site_flooded": Spec(("site",), "1")}
    outputs = {"pressure": Spec(_NODE, "m"), "demand": Spec(_NODE, "m3/s"),
               "flow": Spec(_LINK, "m3/s"), "unserved": Spec(("building",), "m3/s"),
               "unserved_share": Spec(("building",), "1"),
               "tank_level": Spec(("tank",), "m"), "pump_power": Spec(("pump",), "kW"),
               "unserved_total": Spec((), "m3/s"), "leak_flow": Spec((), "m3/s"),
               "min_pressure": Spec((), "m"),
               "nodes_below": Spec((), "1")}
    tables = {"isolations": Table("isolation", {
        "isolation_link": (str, "", ""), "isolation_valves": (np.int64, 0, ""),
        "isolation_nodes": (np.int64, 0, ""), "isolation_start_s": (np.float64, np.nan, "s"),
        "isolation_end_s": (np.float64, np.nan, "s")})}
    #: how the viewer draws the layer
    draw = {"pressure": Draw("water_node", cmap="RdYlBu", clim=(0, 60), label="pressure",
                             worse="low"),
            "flow": Draw("water_link", cmap="Blues", clim=(0, 50), units="L/s", scale=1000,
                         abs=True, label="pipe flow"),
            "unserved_share": Draw("building", cmap="Reds", clim=(0, 1),
                                   label="water unserved", show=False, worse="high")}

    def __init__(self, dt: float = 300.0, *, pdd=None, pressure_threshold: float = 20.0,
                 burst_area_share: float = 0.1, road_buffer_m: float = 15.0,
                 spin_up: bool = True, pump_site_m: float = 300.0, name: str = "water"):
        self.name = name
        self.dt = float(dt)
        self.pdd = {"minimum_pressure": 0.0, "required_pressure": 20.0,
                    "exponent": 0.5} if pdd is None else pdd
        self.pressure_threshold = float(pressure_threshold)
        self.burst_area_share = float(burst_area_share)
        self.road_buffer_m = float(road_buffer_m)
        self.spin_up = bool(spin_up)
        self.pump_site_m = float(pump_site_m)

    # ---- setup -------------------------------------------------------------------------
    def init(self, ctx) -> None:
        net = ctx.city.water_network
        if net is None or net.n_nodes == 0:
            raise ScenarioError(f"{self.name}: the city has no water network")
        self.net = net
        K = ctx.n_members
        self.sim = WaterSim(net, members=K, pdd=None if self.pdd == "network" else self.pdd)
        self.pumps = net.links_of("pump")
        self.tanks = net.nodes_of("tank")
        self.junction = net.node_type == "junction"
        self._building_demands(ctx.city)
        self.burst_c = np.zeros((K, net.n_nodes))          # emitter C added by bursts
        self.closed = np.zeros((K, net.n_links), np.int32)  # closure/isolation counts
        self.pump_ok = np.ones((K, len(self.pumps)), bool)
        self.pump_events = np.zeros((K, len(self.pumps)), np.int32)
        self.pump_powered = np.ones((K, len(self.pumps)), bool)
        self.pump_dry = np.ones((K, len(self.pumps)), bool)
        self.pump_site = self._pump_sites(ctx.city)
        self._city_roads = ctx.city.roads
        self.road_cut = np.zeros((K, ctx.city.roads.n_links), np.int32)
        self.lanes = np.maximum(np.asarray(ctx.city.roads.link_lanes, float), 1.0)
        self.active: dict[str, dict] = {}                   # "member|kind|target" -> info
        self.open_isolations: dict[str, tuple] = {}
        self.done_isolations: list[tuple] = []
        self._labels = None
        self._road_index = None
        self.coords = {"water_node": net.node_ids.astype(str),
                       "water_link": net.link_ids.astype(str),
                       "building": ctx.city.buildings.ids.astype(str),
                       "tank": net.node_ids[self.tanks].astype(str),
                       "pump": net.link_ids[self.pumps].astype(str),
                       "node_type": (_NODE, net.node_type.astype(str)),
                       "link_type": (_LINK, net.link_type.astype(str)),
                       "node_x": (_NODE, net.node_xy[:, 0]), "node_y": (_NODE, net.node_xy[:, 1]),
                       "node_elevation": (_NODE, net.node_elevation),
                       "building_residents": (("building",), ctx.city.buildings.residents)}
        self.layer_attrs = {"pressure_threshold_m": self.pressure_threshold}
        # the network's clock starts at midnight: run it up to the scenario's time of day, so
        # that patterns, clock-time controls and tank levels are those of that hour
        st = ctx.scenario.start
        self.t0 = float(st.hour * 3600 + st.minute * 60 + st.second) if self.spin_up else 0.0
        if self.t0 > 0:
            self.sim.run_until(self.t0)
        self.snap = self.sim.snapshot()
        self._publish(ctx)

    def _building_demands(self, city) -> None:
        """Map demand categories named by building id to buildings (unmatched: none)."""
        d = self.net.demands
        bmap = city.buildings.id_map()
        idx = np.array([bmap.get(str(c), -1) if c else -1 for c in d.category], np.int64)
        self.dem_rows = np.flatnonzero(idx >= 0)
        self.dem_building = idx[self.dem_rows]
        self.dem_node = d.node[self.dem_rows]
        self.dem_base = np.asarray(d.base, float)[self.dem_rows]
        self.n_buildings = len(city.buildings)
        rows = len(self.dem_rows)
        self.dem_matrix = sparse.csr_matrix((np.ones(rows), (self.dem_building, np.arange(rows))),
                                        shape=(self.n_buildings, rows))
        self.node_base = np.bincount(d.node, weights=np.asarray(d.base, float),
                                     minlength=self.net.n_nodes)
        has = np.zeros(self.net.n_nodes, bool)
        has[d.node[np.asarray(d.base, float) > 0]] = True
        self.served = has & self.junction

    # ---- stepping ----------------------------------------------------------------------
    def step(self, t: float, dt: float, ctx):
        self._read_ports(ctx)
        self.sim.run_until(self.t0 + t + dt)
        self.snap = s = self.sim.snapshot()
        self._publish(ctx)
        if not ctx.record_due:
            return None
        pressure = s["pressure"]
        req, got = s["demand_required"], s["demand"]
        short = np.clip(req - got, 0.0, None)
        frac = np.divide(short, req, out=np.zeros_like(short), where=req > 0)
        K = frac.shape[0]
        unserved = np.zeros((K, self.n_buildings))
        share = np.zeros((K, self.n_buildings))
        if len(self.dem_rows):
            need = self.dem_base[None, :] * self._pattern_now(s)
            # (buildings × categories) sums over every member at once
            unserved = (self.dem_matrix @ (frac[:, self.dem_node] * need).T).T
            total = (self.dem_matrix @ need.T).T
            np.divide(unserved, total, out=share, where=total > 0)
        sp = np.where(self.served[None, :], pressure, np.inf)
        return {"pressure": pressure, "demand": got, "flow": s["flow"],
                "unserved": unserved, "unserved_share": share, "tank_level": s["tank_level"],
                "pump_power": s["pump_power"] / 1e3,
                "unserved_total": short[:, self.junction].sum(1),
                "leak_flow": s["emitter_flow"].sum(1),
                "min_pressure": np.where(np.isfinite(sp.min(1)), sp.min(1), np.nan),
                "nodes_below": (sp < self.pressure_threshold).sum(1).astype(np.int64)}

    def _pattern_now(self, s) -> np.ndarray:
        """(K, rows) the factor that turns base demands into required demands now: each
        node's required ÷ base demand (the node's patterns and multiplier), applied alike
        to its categories."""
        base = self.node_base[None, :]
        f = np.divide(s["demand_required"], base, out=np.zeros_like(s["demand_required"]),
                      where=base > 0)
        return f[:, self.dem_node]

    def _publish(self, ctx) -> None:
        s = self.snap
        K = s["pressure"].shape[0]
        load = np.zeros((K, self.net.n_links))
        load[:, self.pumps] = s["pump_power"] / 1e3
        lanes_left = np.maximum(self.lanes[None, :] - self.road_cut, 0.0)
        ctx.bus.publish(f"{self.name}/pressure", s["pressure"], dims=_NODE, units="m")
        ctx.bus.publish(f"{self.name}/pump_load", load, dims=_LINK, units="kW")
        ctx.bus.publish(f"{self.name}/capacity_factor", lanes_left / self.lanes[None, :],
                        dims=("road_link",), units="1")

    def _pump_sites(self, city) -> np.ndarray:
        """(n pumps,) index of the nearest pumping_station site within ``pump_site_m`` of
        each pump's midpoint, -1 where none."""
        out = np.full(len(self.pumps), -1, np.int64)
        sites = city.sites
        if sites is None or not len(self.pumps):
            return out
        st = np.flatnonzero(np.asarray(sites.kind, object) == "pumping_station")
        if not len(st):
            return out
        xy = self.net.node_xy
        mid = 0.5 * (xy[self.net.link_from[self.pumps]] + xy[self.net.link_to[self.pumps]])
        d = np.hypot(*(mid[:, None, :] - np.asarray(sites.xyz)[None, st, :2]).transpose(2, 0, 1))
        near = d.argmin(1)
        ok = d[np.arange(len(mid)), near] <= self.pump_site_m
        out[ok] = st[near[ok]]
        return out

    def _read_ports(self, ctx) -> None:
        power = ctx.read("pump_power")
        flood = ctx.read("site_flooded")
        if (power is None and flood is None) or not len(self.pumps):
            return
        if power is not None:
            self.pump_powered = np.asarray(power)[:, self.pumps] >= 0.5
        has = self.pump_site >= 0
        if flood is not None and has.any():
            f = np.asarray(flood, float)[:, np.where(has, self.pump_site, 0)] >= 0.5
            self.pump_dry = ~(f & has[None, :])
        ok = self.pump_powered & self.pump_dry & (self.pump_events == 0)
        if not np.array_equal(ok, self.pump_ok):
            for m in np.flatnonzero((ok != self.pump_ok).any(1)):
                ch = np.flatnonzero(ok[m] != self.pump_ok[m])
                for avail in (True, False):
                    sel = ch[ok[m, ch] == avail]
                    if len(sel):
                        self.sim.set_pump_available(np.array([m]), self.pumps[sel], avail)
            self.pump_ok = ok

    # ---- events ------------------------------------------------------------------------
    def apply_event(self, ev, index, ctx):
        if ev.kind == "repair":
            return self._repair(ev, ctx)
        start = ev.phase == "start"
        K = self.burst_c.shape[0]
        members = range(K) if ev.member is None else [int(ev.member)]
        keys = {m: f"{m}|{ev.kind}|{ev.target}" for m in members}
        # an event already active (or already repaired) changes nothing
        members = np.array([m for m, k in keys.items() if (k in self.active) != start],
                           np.int64)
        if not len(members):
            return None
        if ev.kind == "fire_flow":
            return self._fire_flow(ev, members, keys, index, start, ctx)
        kind = str(self.net.link_type[index])
        if ev.kind == "pump_outage" and kind != "pump":
            raise ScenarioError(f"pump_outage on {ev.target}: a {kind}, not a pump")
        if ev.kind == "burst" and kind != "pipe":
            raise ScenarioError(f"burst on {ev.target}: a {kind}, not a pipe")
        if start:
            info = {"t": ctx.now}
            if ev.kind == "burst":
                info["c"] = self._burst_coefficient(ev, index)
            for m in members.tolist():
                self.active[keys[m]] = info
        else:
            info = [self.active.pop(keys[m]) for m in members.tolist()][0]
        if ev.kind == "pump_outage":
            j = int(np.flatnonzero(self.pumps == index)[0])
            self.pump_events[members, j] += 1 if start else -1
            ok = self.pump_powered[members, j] & self.pump_dry[members, j] \
                & (self.pump_events[members, j] == 0)
            self.pump_ok[members, j] = ok
            for m, o in zip(members, ok):
                self.sim.set_pump_available(np.array([m]), np.array([index]), bool(o))
            return {"available": bool(ok[0])}
        if ev.kind == "closure":
            return self._close(members, np.array([index]), start)
        if ev.kind == "burst":
            return self._burst(members, index, start, info["c"])
        return self._isolate(ev, members, index, start, ctx)

    def _fire_flow(self, ev, members, keys, node, start, ctx) -> dict:
        """Open a hydrant at junction ``node``: an emitter sized to draw
        ``details["flow_lps"]`` (default 30 L/s, a fire flow of GB 50974) at the node's
        pressure now (at least 10 m); as the pressure falls, so does the flow."""
        if not self.junction[node]:
            raise ScenarioError(f"fire_flow at {ev.target}: not a junction")
        if start:
            q = float(ev.details.get("flow_lps", 30.0)) / 1e3
            p = np.maximum(self.snap["pressure"][members, node], 10.0)
            cs = q / np.sqrt(p)
            for m, c in zip(members.tolist(), cs.tolist()):
                self.active[keys[m]] = {"t": ctx.now, "c": c}
        else:
            cs = np.array([self.active.pop(keys[m])["c"] for m in members.tolist()])
        sign = 1.0 if start else -1.0
        for m, c in zip(members.tolist(), cs.tolist()):
            self.burst_c[m, node] = max(self.burst_c[m, node] + sign * c, 0.0)
            self.sim.set_emitter(np.array([m]), np.array([node]), self.burst_c[m, [node]])
        return {"coefficient": float(cs[0])}

    def _repair(self, ev, ctx) -> dict:
        """End every active event on ``ev.target`` (of ``ev.member`` or all members)."""
        if ev.phase != "start":
            return None
        ended = []
        for key in list(self.active):
            m, kind, target = key.split("|", 2)
            if target == str(ev.target) and ev.member in (None, int(m)):
                index = ctx.index("water_node" if kind == "fire_flow" else "water_link",
                                  target)
                self.apply_event(replace(ev, kind=kind, phase="end", member=int(m)), index,
                                 ctx)
                ended.append(kind)
        return {"ended": sorted(set(ended))}

    def _close(self, members, links, start) -> dict:
        for m in members:
            self.closed[m, links] += 1 if start else -1
            np.maximum(self.closed[m], 0, out=self.closed[m])
            shut = self.closed[m, links] > 0
            for closed in (True, False):
                if (shut == closed).any():
                    self.sim.set_link_closed(np.array([m]), links[shut == closed], closed)
        return {"links_closed": int(len(links))}

    def _burst_coefficient(self, ev, index) -> float:
        """C (m³/s per m^0.5) at each end of the burst pipe."""
        c = ev.details.get("coefficient")
        if c is None:
            d = float(self.net.link_diameter[index])
            area = float(ev.details.get("area_m2", self.burst_area_share * np.pi * d * d / 4))
            c = 0.6 * area * np.sqrt(2 * G) / 2
        return float(c)

    def _burst(self, members, index, start, c) -> dict:
        ends = np.array([self.net.link_from[index], self.net.link_to[index]])
        ends = ends[self.junction[ends]]        # a leak next to a tank or reservoir: one end
        sign = 1.0 if start else -1.0
        for m in members:
            self.burst_c[m, ends] = np.maximum(self.burst_c[m, ends] + sign * c, 0.0)
            self.sim.set_emitter(np.array([m]), ends, self.burst_c[m, ends])
        roads = self._roads_near(index)
        self.road_cut[np.ix_(members, roads)] += 1 if start else -1
        np.maximum(self.road_cut, 0, out=self.road_cut)
        return {"coefficient": c,
                "road_links": [str(r) for r in self._city_roads.link_ids[roads]]}

    def _isolate(self, ev, members, index, start, ctx) -> dict:
        if self._labels is None:
            self._labels = segment_labels(self.net)
        iso = isolate(self.net, index, self._labels)
        self._close(members, iso.close_links, start)
        for m in members.tolist():
            key = f"{m}|{ev.target}"
            if start:
                self.open_isolations[key] = (str(ev.target), len(iso.valves), len(iso.nodes),
                                             ctx.now, m)
            elif key in self.open_isolations:
                row = self.open_isolations.pop(key)
                self.done_isolations.append(row[:4] + (ctx.now, row[4]))
        return {"valves": [int(v) for v in iso.valves], "nodes_cut": int(len(iso.nodes)),
                "links_closed": int(len(iso.close_links))}

    def _roads_near(self, link) -> np.ndarray:
        """Road link indices within ``road_buffer_m`` of water link ``link``."""
        import shapely

        if self._road_index is None:
            roads = self._city_roads
            geoms = [shapely.LineString(roads.link_geometry(k)) for k in range(roads.n_links)]
            self._road_index = shapely.STRtree(geoms)
        line = shapely.LineString(self.net.link_geometry(link))
        if not line.is_valid or line.length == 0 or not np.isfinite(line.length):
            return np.zeros(0, np.int64)
        return np.sort(self._road_index.query(line, predicate="dwithin",
                                              distance=self.road_buffer_m)).astype(np.int64)

    # ---- checkpoints -------------------------------------------------------------------
    def on_checkpoint(self, final: bool, ctx) -> None:
        rows = list(self.done_isolations)
        if final:
            rows += [r[:4] + (np.nan, r[4]) for r in self.open_isolations.values()]
        self.done_isolations = []
        for r in rows:
            ctx.table("isolations").append(
                {"isolation_link": np.array([r[0]]),
                 "isolation_valves": np.array([r[1]]), "isolation_nodes": np.array([r[2]]),
                 "isolation_start_s": np.array([r[3]]), "isolation_end_s": np.array([r[4]])},
                member=r[5])

    def get_state(self) -> dict:
        return {"sim": self.sim.get_state(), "burst_c": self.burst_c, "closed": self.closed,
                "pump_ok": self.pump_ok, "pump_events": self.pump_events,
                "pump_powered": self.pump_powered, "pump_dry": self.pump_dry,
                "road_cut": self.road_cut, "active": json.dumps(self.active),
                "isolations": json.dumps([list(self.open_isolations.items()),
                                          self.done_isolations], default=float)}

    def set_state(self, s: dict) -> None:
        self.sim.set_state(s["sim"])
        for k in ("burst_c", "closed", "pump_ok", "pump_events", "pump_powered", "road_cut"):
            setattr(self, k, np.array(s[k], copy=True))
        if "pump_dry" in s:
            self.pump_dry = np.array(s["pump_dry"], bool)
        self.active = json.loads(s["active"])
        open_, done = json.loads(s["isolations"])
        self.open_isolations = {k: tuple(v) for k, v in open_}
        self.done_isolations = [tuple(v) for v in done]
        self.snap = self.sim.snapshot()

    # ---- KPIs --------------------------------------------------------------------------
    @classmethod
    def kpis(cls, layer: LayerData) -> list[KPI]:
        """Unserved demand (m³, people-hours), minimum pressure, nodes below the threshold."""
        return _kpis.kpi_list(layer)

    @classmethod
    def series(cls, layer: LayerData) -> dict:
        return _kpis.series(layer)
