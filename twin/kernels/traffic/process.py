"""The traffic kernel as a runtime kernel: network from the city, trips from the input.

``TrafficProcess`` builds :class:`~twin.kernels.traffic.api.Network` arrays from the city's
road network (signal plans from ``city.roads.node_signal_plan``, phases by road:
:func:`~twin.kernels.traffic.plans.signal_plans`), turns each member's demand into kernel
trips (:func:`~twin.kernels.traffic.demand.kernel_trips`), steps every member in one batched
kernel call every ``dt`` seconds and records, per road link and member, ``link_flow`` (veh/h
over the recording interval), ``link_speed`` (space-mean m/s, NaN when empty),
``link_density`` (veh/m per lane), ``link_count`` (veh), ``queue_length`` (m), ``link_open``,
the network totals (``in_network``, ``waiting``, ``arrived``, ``stuck``, ``teleported``,
``vehicle_seconds``),
the static link table (``link_length``, ``link_lanes``, ``link_free_speed``, ``link_name``,
``link_from``/``link_to``) and a sample of vehicle positions for the viewer. At each
checkpoint the trips done since the previous one (and at the last one the unfinished ones)
go to the layer's trips table (:data:`~twin.kernels.traffic.trips.TRIP_COLUMNS`).

Coupling (read ports, bound by the scenario's ``couplings``):

- ``signal_power`` (road_node, 0..1): a signalized node whose power is below 0.5 goes dark
  and works as an all-way stop: unsignalized, each approach metered to one vehicle every
  :data:`ALL_WAY_STOP_HEADWAY_S` s (the base departure headway of all-way stop control in the
  HCM); it switches back to its plan when the power returns;
- ``capacity_factor`` (road_link): × each link's outflow capacity (e.g. from flood depth);
- ``speed_factor`` (road_link): × each link's free speed.

Published: ``traffic/queue_length``, ``traffic/link_speed``, ``traffic/link_count``.

Events: ``closure`` (closed to entering traffic, reopened at the end), ``capacity_drop``
(``details["factor"]`` × the outflow capacity), ``incident`` (``lanes_blocked`` lanes lost
from the capacity), ``signal_plan`` (``details["plan"]``; the previous plan comes back at the
end), each for one member or all.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from ...core.kernel import KPI, Draw, Kernel, LayerData, Spec, Table, register
from ...errors import ScenarioError
from . import api as traffic
from . import kpis as _kpis
from ._process_trips import TripInsertion
from .demand import kernel_network, kernel_trips
from .geometry import LinkGeometry
from .plans import signal_plans
from .trips import TRIP_COLUMNS, trip_rows

#: s between vehicles leaving one approach of a dark signal (all-way stop), HCM 2010 ch. 20
ALL_WAY_STOP_HEADWAY_S = 4.0

_LINK = ("road_link",)


@register("traffic")
class TrafficProcess(TripInsertion, Kernel):
    """The traffic kernel (:mod:`twin.kernels.traffic.api`) on the scenario's city.

    dt : s between runtime steps (the coupling interval; events act at this resolution);
    substep : the kernel's own step, s (``dt`` must be a multiple; the kernel needs
    ``substep <= headway <= 2 substep``); params : TrafficParams; vehicle_slots : how many
    vehicles are recorded per member and record (those with the lowest trip ids); demand :
    trips to use instead of the scenario's input (one value, or one per member); threads :
    at most this many numba threads for the kernel calls (None: numba's default);
    route_cache : a folder where the first route tables are kept and read back by a run on the
    same network and destinations (None: always solved; neither changes results); name :
    layer name.
    """

    batched = True
    event_kinds = {"closure": "road_link", "capacity_drop": "road_link",
                   "incident": "road_link", "signal_plan": "road_node"}
    publishes = {"queue_length": Spec(_LINK, "m"), "link_speed": Spec(_LINK, "m/s"),
                 "link_count": Spec(_LINK, "veh")}
    reads = {"signal_power": Spec(("road_node",), "1"),
             "capacity_factor": Spec(_LINK, "1"), "speed_factor": Spec(_LINK, "1")}
    outputs = {
        "link_flow": Spec(_LINK, "veh/h"), "link_speed": Spec(_LINK, "m/s"),
        "link_density": Spec(_LINK, "veh/m/lane"), "link_count": Spec(_LINK, "veh"),
        "queue_length": Spec(_LINK, "m"), "link_open": Spec(_LINK, "1"),
        "in_network": Spec((), "veh"), "arrived": Spec((), "veh"), "waiting": Spec((), "veh"),
        "stuck": Spec((), "veh"), "teleported": Spec((), "veh"),
        "vehicle_seconds": Spec((), "veh·s"),
        "vehicle_x": Spec(("vehicle_slot",), "m"), "vehicle_y": Spec(("vehicle_slot",), "m"),
        "vehicle_speed": Spec(("vehicle_slot",), "m/s"),
        "vehicle_link": Spec(("vehicle_slot",), "1"),
        "vehicle_trip": Spec(("vehicle_slot",), "1"),
    }
    tables = {"trips": Table("trip", TRIP_COLUMNS)}
    #: how the viewer draws the layer (the first of a geometry is shown when it opens)
    draw = {
        "link_speed": Draw("road_link", cmap="RdYlGn", clim=(0, 60), units="km/h",
                           scale=3.6, label="speed", worse="low"),
        "link_flow": Draw("road_link", cmap="viridis", clim=(0, 2000), label="flow",
                          show=False),
        "link_density": Draw("road_link", cmap="magma_r", clim=(0, 0.15), label="density",
                             show=False),
        "queue_length": Draw("road_link", cmap="Reds", clim=(0, 200), label="queue",
                             show=False, worse="high"),
        "vehicle_speed": Draw("points", cmap="plasma", clim=(0, 60), units="km/h", scale=3.6,
                              x="vehicle_x", y="vehicle_y", label="vehicles"),
    }

    def __init__(self, dt: float = 1.0, *, substep: float = 1.0, params=None,
                 vehicle_slots: int = 1000, demand=None, threads: int | None = None,
                 route_cache=None, name: str = "traffic"):
        self.name = name
        self.dt = float(dt)
        self.substep = float(substep)
        self.params = params or traffic.TrafficParams()
        self.vehicle_slots = int(vehicle_slots)
        self.demand = demand
        self.threads = threads
        self.route_cache = route_cache

    def config(self) -> dict:
        """Return what determines the results (``threads`` and ``route_cache`` do not)."""
        return {"dt": self.dt, "substep": self.substep, "vehicle_slots": self.vehicle_slots,
                "params": dataclasses.asdict(self.params), "demand": self.demand}

    # ---- setup -------------------------------------------------------------------------------
    def init(self, ctx) -> None:
        roads = ctx.city.roads
        if roads.n_links == 0:
            raise ScenarioError(f"{self.name}: the city has no road links")
        dt = ctx.scenario.kernel_dt(self)
        n_sub = dt / self.substep
        if abs(n_sub - round(n_sub)) > 1e-9 or round(n_sub) < 1:
            raise ScenarioError(f"{self.name}: dt = {dt:g} s is not a multiple of the kernel "
                                f"step {self.substep:g} s")
        p = self.params
        if not (self.substep <= p.headway + 1e-12 and p.headway <= 2 * self.substep + 1e-12):
            raise ScenarioError(f"{self.name}: kernel step {self.substep:g} s must satisfy "
                                f"step <= headway ({p.headway:g} s) <= 2 step")
        self.n_sub = int(round(n_sub))
        self.step_dt = dt
        # every time the kernel reaches is exact (multiples of 1/1024 s): k steps in one
        # call add up to the same times as k calls
        self._multi = all(float(x * 1024).is_integer() for x in (dt, self.substep))
        K = ctx.n_members
        demands = self._member_demands(ctx)
        try:
            self.net = kernel_network(roads, signal_plans(roads))
            parts, dropped, unroutable, self.rejected = [], [], [], []
            for d in demands:
                stats: dict = {}
                self.rejected.append([])
                trips, _ = kernel_trips(d, roads, self.net, stats, self.rejected[-1])
                parts.append(trips)
                dropped.append(stats["dropped"])
                unroutable.append(stats["unroutable"])
            self.state = traffic.init_state(self.net, traffic.Trips.concat(parts), p,
                                            seed=list(ctx.seeds), n_members=K,
                                            route_cache=self.route_cache)
        except traffic.TrafficError as e:
            raise ScenarioError(f"{self.name}: {e}") from e
        L = roads.n_links
        self.flow_acc = np.zeros((K, L))
        self.acc_time = np.zeros(1)
        self.saved_plans: dict[str, dict] = {}
        self.trips_flushed = np.zeros(1)            # s: trips done by then are in the table
        self.cap_event = np.ones((K, L))            # capacity factors from events
        self.cap_coupled = np.ones((K, L))          # … from the capacity_factor port
        self.speed_coupled = np.ones((K, L))        # speed factors from the speed_factor port
        self.dark = np.zeros((K, roads.n_nodes), bool)
        self.plan_kind = self.state.arrays["sig_kind"][0].copy()
        self.geometry = LinkGeometry(roads)
        lanes = self.net.link_lanes
        u = self.net.link_free_speed
        lane_cap = u / (p.jam_spacing + u * p.headway)
        self.stop_factor = np.minimum(1.0, 1.0 / (ALL_WAY_STOP_HEADWAY_S * lanes * lane_cap))
        self.coords = {"road_link": roads.link_ids.astype(str),
                       "road_node": roads.node_ids.astype(str),
                       "vehicle_slot": np.arange(self.vehicle_slots),
                       "link_length": (_LINK, roads.link_length),
                       "link_lanes": (_LINK, roads.link_lanes.astype(np.int16)),
                       "link_free_speed": (_LINK, roads.link_free_speed),
                       "link_name": (_LINK, roads.link_name.astype(str)),
                       "link_from": (_LINK, roads.link_from),
                       "link_to": (_LINK, roads.link_to)}
        self.layer_attrs = {"n_trips": [int(t.depart.size) for t in parts],
                            "n_trips_dropped": dropped, "n_trips_unroutable": unroutable,
                            "kernel_step_s": self.substep, "trips_rejected": [
                                [m, r, why] for m, rej in enumerate(self.rejected)
                                for r, why in rej]}
        self.lane_length = (self.net.link_length * self.net.link_lanes)[None, :]  # m
        stats = traffic.link_stats(self.net, self.state)
        self._publish(ctx, stats.queue_length, stats.mean_speed, stats.count)

    def _member_demands(self, ctx) -> list:
        from ...core.scenario import PerMember

        if self.demand is None:
            return ctx.inputs
        if isinstance(self.demand, PerMember):
            if len(self.demand) != ctx.n_members:
                raise ScenarioError(f"{self.name}: {len(self.demand)} demands for "
                                    f"{ctx.n_members} members")
            return list(self.demand)
        return [self.demand] * ctx.n_members

    # ---- stepping ------------------------------------------------------------------------------
    @property
    def multi_step(self) -> bool:
        """True when ``step(t, k·dt)`` equals k steps of dt (the runtime then batches steps
        when nothing acts on the kernel in between): after :meth:`init`, when dt and the
        kernel step are multiples of 1/1024 s."""
        return bool(self.__dict__.get("_multi", False))

    def step(self, t: float, dt: float, ctx):
        st = self.state
        st.time = float(t)
        self._read_ports(ctx)
        k = max(1, int(round(float(dt) / self.step_dt)))   # runtime steps in this call
        while k > 0:
            if st.time >= st.next_reroute[0]:
                traffic.reroute(self.net, st)
            n = min(k, self._steps_to(st.next_reroute[0]))
            self._advance(n * self.n_sub)
            self.flow_acc += st.arrays["agg_flow"]
            k -= n
        a = st.arrays
        count, queue = a["agg_count"].copy(), a["agg_queue"].copy()
        speed = np.empty(count.shape)                   # space-mean m/s, NaN when empty
        moving = count > 0
        np.divide(a["agg_speed_sum"], count, out=speed, where=moving)
        speed[~moving] = np.nan
        self.acc_time += dt
        self._publish(ctx, queue, speed, count)
        if not ctx.record_due:
            return None
        flow_vph = self.flow_acc * (3600.0 / self.acc_time[0])
        self.flow_acc[:] = 0.0
        self.acc_time[:] = 0.0
        c = traffic.counts(st)
        out = {"link_flow": flow_vph, "link_speed": speed,
               "link_density": count / self.lane_length, "link_count": count,
               "queue_length": queue,
               "link_open": st.arrays["link_open"].astype(np.int8),
               "in_network": c["in_network"], "arrived": c["arrived"],
               "waiting": c["waiting"], "stuck": c["stuck"], "teleported": c["teleported"],
               "vehicle_seconds": st.veh_seconds.copy()}
        out.update(self.vehicle_sample())
        return out

    def _steps_to(self, t_next: float) -> int:
        """Return how many runtime steps from now reach the first step start >= ``t_next``
        (s; at least 1; a large number when ``t_next`` is not finite)."""
        now, dt = self.state.time, self.step_dt
        if not np.isfinite(t_next):
            return 1 << 40
        j = max(1, int(np.ceil((t_next - now) / dt)))
        while j > 1 and now + (j - 1) * dt >= t_next:
            j -= 1
        while now + j * dt < t_next:
            j += 1
        return j

    def _advance(self, n_steps: int) -> None:
        """Advance the kernel ``n_steps`` kernel steps (with ``threads`` numba threads)."""
        if not self.threads:
            traffic.advance(self.net, self.state, n_steps, self.substep)
            return
        import numba

        before = numba.get_num_threads()
        numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        try:
            traffic.advance(self.net, self.state, n_steps, self.substep)
        finally:
            numba.set_num_threads(before)

    def _publish(self, ctx, queue, speed, count) -> None:
        bus = ctx.bus
        bus.publish(f"{self.name}/queue_length", queue, dims=_LINK, units="m")
        bus.publish(f"{self.name}/link_speed", speed, dims=_LINK, units="m/s")
        bus.publish(f"{self.name}/link_count", count, dims=_LINK, units="veh")

    def _read_ports(self, ctx) -> None:
        """Apply what the coupled kernels published: dark signals, capacity and speed."""
        power = ctx.read("signal_power")
        if power is not None:
            dark = (np.asarray(power) < 0.5) & (self.plan_kind > 0)[None, :]
            changed = dark != self.dark
            if changed.any():
                self._set_dark(dark, changed)
        cap = ctx.read("capacity_factor")
        if cap is not None and not np.array_equal(cap, self.cap_coupled):
            cap = np.clip(np.asarray(cap, float), 0.0, 1.0)
            m, lnk = np.nonzero(cap != self.cap_coupled)
            self.cap_coupled = cap.copy()
            self._apply_capacity(m, lnk)
        speed = ctx.read("speed_factor")
        if speed is not None and not np.array_equal(speed, self.speed_coupled):
            speed = np.clip(np.asarray(speed, float), 0.05, 1.0)
            for m in np.flatnonzero((speed != self.speed_coupled).any(1)):
                lnk = np.flatnonzero(speed[m] != self.speed_coupled[m])
                traffic.set_link_speed(self.net, self.state, lnk, speed[m, lnk], member=m)
            self.speed_coupled = speed.copy()

    def _set_dark(self, dark, changed) -> None:
        """Switch the nodes where ``changed`` (member, node) to all-way stop or back."""
        a = self.state.arrays
        for m, node in zip(*np.nonzero(changed)):
            kind = 0 if dark[m, node] else int(self.plan_kind[node])
            traffic.set_signal_plan(self.net, self.state, node, kind=kind, member=m)
            a["node_phase"][m, node] = -1 if kind == 0 else a["node_phase"][m, node]
        self.dark = dark.copy()
        m, node = np.nonzero(changed)
        into = [(mm, lnk) for mm, nd in zip(m, node)
                for lnk in np.flatnonzero(self.net.link_to == nd)]
        if into:
            mm, ll = np.array(into).T
            self._apply_capacity(mm, ll)

    def _apply_capacity(self, members, links) -> None:
        """Set the outflow capacity of (member, link) pairs to the product of their event,
        coupled and dark-signal factors."""
        dark_in = self.dark[members, self.net.link_to[links]]
        f = (self.cap_event[members, links] * self.cap_coupled[members, links]
             * np.where(dark_in, self.stop_factor[links], 1.0))
        for m in np.unique(members):
            sel = members == m
            lnk, fm = links[sel], f[sel]
            limited = fm < 1.0
            if limited.any():
                traffic.set_link_capacity(self.net, self.state, lnk[limited], fm[limited],
                                          member=m)
            if (~limited).any():
                traffic.set_link_capacity(self.net, self.state, lnk[~limited], None, member=m)

    def vehicle_sample(self) -> dict:
        """Return up to ``vehicle_slots`` vehicles per member (lowest trip ids), (K, slots)
        arrays padded with NaN / −1."""
        pos = traffic.vehicle_positions(self.net, self.state)
        K, n = self.state.n_members, self.vehicle_slots
        out = {"vehicle_x": np.full((K, n), np.nan), "vehicle_y": np.full((K, n), np.nan),
               "vehicle_speed": np.full((K, n), np.nan),
               "vehicle_link": np.full((K, n), -1, np.int64),
               "vehicle_trip": np.full((K, n), -1, np.int64)}
        order = np.lexsort((pos["trip_id"], pos["member"]))
        mem = pos["member"][order]
        start = np.searchsorted(mem, np.arange(K + 1))
        for m in range(K):
            sel = order[start[m]:min(start[m + 1], start[m] + n)]
            x, y = self.geometry.positions(pos["link"][sel], pos["offset"][sel],
                                           pos["lane"][sel])
            k = len(sel)
            out["vehicle_x"][m, :k], out["vehicle_y"][m, :k] = x, y
            out["vehicle_speed"][m, :k] = pos["speed"][sel]
            out["vehicle_link"][m, :k] = pos["link"][sel]
            out["vehicle_trip"][m, :k] = pos["trip_id"][sel]
        return out

    # ---- events ----------------------------------------------------------------------------------
    def apply_event(self, ev, index, ctx):
        net, st = self.net, self.state
        start = ev.phase == "start"
        members = np.arange(st.n_members) if ev.member is None else np.array([ev.member])
        if ev.kind == "closure":
            for m in members:
                (traffic.close_link if start else traffic.open_link)(net, st, index, member=m)
            return None
        if ev.kind == "signal_plan":
            out = None
            for m in members:
                out = self._signal_plan(ev, index, start, int(m)) or out
            return out
        lanes = int(net.link_lanes[index])
        if ev.kind == "capacity_drop":
            factor = float(ev.details.get("factor", 0.5))
            if not 0 <= factor <= 1:
                raise ScenarioError(f"capacity_drop on {ev.target}: factor {factor} not in 0..1")
        else:  # incident
            blocked = min(int(ev.details.get("lanes_blocked", 1)), lanes)
            factor = (lanes - blocked) / lanes
        self.cap_event[members, index] = factor if start else 1.0
        self._apply_capacity(members, np.full(len(members), index))
        return None

    def _signal_plan(self, ev, node, start, m):
        a = self.state.arrays
        key = f"{m}:{ev.target}"
        nph = int(a["sig_nph"][m, node])
        if start:
            old = {"cycle_s": float(a["sig_cycle"][m, node]),
                   "offset_s": float(a["sig_offset"][m, node]),
                   "green_s": a["sig_green"][m, node, :nph].tolist(),
                   "yellow_s": a["sig_yellow"][m, node, :nph].tolist(),
                   "kind": int(self.plan_kind[node])}
            self.saved_plans.setdefault(key, old)
            plan = dict(ev.details.get("plan", {}))
        else:
            plan = self.saved_plans.pop(key, None)
            if plan is None:
                return None
            old = None
        green = np.asarray(plan.get("green_s", a["sig_green"][m, node, :nph]), float)
        yellow = np.broadcast_to(np.asarray(plan.get("yellow_s", 3.0), float),
                                 green.shape).copy()
        cycle = float(plan.get("cycle_s", (green + yellow).sum()))
        kind = int(plan.get("kind", 1))
        try:
            traffic.set_signal_plan(self.net, self.state, node, green=green, yellow=yellow,
                                    offset=float(plan.get("offset_s", 0.0)),
                                    cycle=max(cycle, float((green + yellow).sum())),
                                    kind=0 if self.dark[m, node] else kind, member=m)
        except traffic.TrafficError as e:
            raise ScenarioError(f"signal_plan on node {ev.target}: {e}") from e
        return {"previous_plan": old} if old is not None else None

    # ---- checkpoints and the trips table ---------------------------------------------------------
    def on_checkpoint(self, final: bool, ctx) -> None:
        rows, members = trip_rows(self.state, self.trips_flushed[0], final)
        ctx.table("trips").append(rows, member=members)
        self.trips_flushed[0] = self.state.time

    def get_state(self) -> dict:
        st = self.state
        # the route tables are derived (from route_cost / route_open): set_state rebuilds
        # them, which keeps a checkpoint at a few MB instead of hundreds
        skip = set(self.net.kernel_arrays) | {"route_next"}
        return {"arrays": {k: v for k, v in st.arrays.items() if k not in skip},
                "time": float(st.time),
                "rngs": [json.dumps(g.bit_generator.state) for g in st.rngs],
                "flow_acc": self.flow_acc, "acc_time": self.acc_time,
                "saved_plans": json.dumps(self.saved_plans),
                "trips_flushed": self.trips_flushed, "cap_event": self.cap_event,
                "cap_coupled": self.cap_coupled, "speed_coupled": self.speed_coupled,
                "dark": self.dark}

    def set_state(self, s: dict) -> None:
        st = self.state
        arrays = dict(self.net.kernel_arrays)
        arrays.update({k: np.array(v, copy=True) for k, v in s["arrays"].items()})
        st.arrays = arrays
        st.time = float(s["time"])
        if "route_next" not in arrays:
            traffic.rebuild_tables(self.net, st)
        for g, js in zip(st.rngs, s["rngs"]):
            g.bit_generator.state = json.loads(js)
        for k in ("flow_acc", "acc_time", "trips_flushed", "cap_event", "cap_coupled",
                  "speed_coupled", "dark"):
            setattr(self, k, np.array(s[k], copy=True))
        self.saved_plans = json.loads(s["saved_plans"])

    # ---- KPIs ------------------------------------------------------------------------------------
    @staticmethod
    def _computed(layer: LayerData):
        if "traffic" not in layer.cache:
            layer.cache["traffic"] = _kpis.compute_from(_kpis.load_traffic(layer))
        return layer.cache["traffic"]

    @classmethod
    def kpis(cls, layer: LayerData) -> list[KPI]:
        """Return the traffic KPIs of one member (:mod:`twin.kernels.traffic.kpis`)."""
        return _kpis.kpi_list(cls._computed(layer))

    @classmethod
    def series(cls, layer: LayerData) -> dict:
        """Return {name: (label, unit, time s, values)} for plots."""
        k = cls._computed(layer)
        t = k.series["time"]
        return {name: (label, unit, t, k.series[name])
                for name, (label, unit) in _kpis.SERIES.items()}

    @classmethod
    def report(cls, layer: LayerData) -> str:
        """Return the worst links of one member as text."""
        return _kpis.worst_links_text(cls._computed(layer))
