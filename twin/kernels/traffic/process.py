"""The traffic kernel as a runtime process: network from the twin, trips from the demand.

``TrafficProcess`` builds :class:`twin.kernels.traffic.Network` arrays from the city's road
network (node positions, link lengths, lanes, free speeds; signal plans from
``city.roads.node_signal_plan``, phases by road: :func:`signal_plans`), turns the scenario's
demand into kernel trips (origin node → one of its outgoing links, destination node → one of
its incoming links, among the links the turn graph connects, spread round-robin over the
links in trip order; unroutable trips are dropped and counted in the layer attribute
``n_trips_unroutable``), steps the kernel every ``dt`` seconds and records, per link,
``link_flow`` (veh/h over the recording interval), ``link_speed`` (space-mean m/s, NaN when
empty), ``link_density`` (veh/m per lane), ``link_count`` (veh), ``queue_length`` (m), plus
the network totals (``in_network``, ``waiting``, ``arrived``, ``stuck``: removed with no
next link towards their destination), the static link table (``link_length``, ``link_lanes``,
``link_free_speed``, ``link_name``, ``link_from``/``link_to`` node indices) and a sample of
vehicle positions (``vehicle_x``/``vehicle_y`` in the
metric CRS, ``vehicle_link``, ``vehicle_speed``, ``vehicle_trip``; NaN / −1 padded to
``vehicle_slots``) for the viewer. At each checkpoint the trips done since the previous one
(and at the end the unfinished ones) are appended to the layer's trips table (dimension
``trip``, see :data:`TRIP_COLUMNS`), which the traffic KPIs read.

Events: ``closure`` (link closed to entering traffic, reopened at the end), ``capacity_drop``
(``details["factor"]`` × the link's outflow capacity), ``incident`` (``lanes_blocked`` of the
link's lanes lost from its capacity), ``signal_plan`` (``details["plan"]``: ``cycle_s``,
``green_s`` per phase, ``yellow_s``, ``offset_s``; the previous plan comes back at the end).

Demand: an ``agents.Trips`` (``depart_s``, ``origin_node``, ``destination_node``), or a dict /
structured array with ``depart_s`` (or ``depart``) and either ``origin_node`` /
``destination_node`` (or ``origin`` / ``destination``) node indices or ``origin_link`` /
``destination_link`` link indices.
"""

from __future__ import annotations

import json

import numpy as np

from cim.roads import CLASS_DEFAULTS

from .errors import ScenarioError
from .kernels import traffic
from .kernels._traffic_consts import ARRIVED, STUCK

_LANE_WIDTH_M = 3.5


class TrafficProcess:
    """A :class:`twin.Kernel` running :mod:`twin.kernels.traffic` on the scenario's city.

    dt : s between runtime steps (the coupling interval; events act at this resolution);
    substep : the kernel's own step, s (``dt`` must be a multiple; the kernel needs
    ``substep <= headway <= 2 substep``); params : TrafficParams; vehicle_slots : how many
    vehicles are recorded per record (those with the lowest trip ids); demand : trips to use
    instead of ``scenario.demand``; threads : at most this many numba threads for the kernel
    calls (None: numba's default); the kernel's step is parallel over members only, so this
    one-member process steps on one thread either way (:func:`traffic.advance`); name : layer
    name.
    """

    event_kinds = {"closure": "link", "capacity_drop": "link", "incident": "link",
                   "signal_plan": "node"}

    def __init__(self, dt: float = 1.0, *, substep: float = 1.0, params=None,
                 vehicle_slots: int = 1000, demand=None, threads: int | None = None,
                 name: str = "traffic"):
        self.name = name
        self.dt = float(dt)
        self.substep = float(substep)
        self.params = params or traffic.TrafficParams()
        self.vehicle_slots = int(vehicle_slots)
        self.demand = demand
        self.threads = threads
        self._ctx = None                            # set by init: the store is reached via it
        self.trip_rows = np.zeros(1, np.int64)      # rows of the trips table written
        self.trips_flushed = np.zeros(1)            # s: trips done by then are written

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
        try:
            self.net = traffic.Network(
                roads.node_xy, roads.link_from, roads.link_to, roads.link_length,
                np.clip(roads.link_lanes, 1, 16), roads.link_free_speed,
                signals=signal_plans(roads))
            dropped: dict = {}
            trips, _ = kernel_trips(
                self.demand if self.demand is not None else ctx.scenario.demand, roads,
                self.net, stats=dropped)
            self.state = traffic.init_state(self.net, trips, p, seed=ctx.seed, n_members=1)
        except traffic.TrafficError as e:
            raise ScenarioError(f"{self.name}: {e}") from e
        self.n_trips = int(trips.depart.size)
        self.flow_acc = np.zeros(roads.n_links)
        self.acc_time = np.zeros(1)
        self.saved_plans: dict[str, dict] = {}
        self.trip_rows = np.zeros(1, np.int64)      # rows of the trips table written
        self.trips_flushed = np.zeros(1)            # s: trips done by then are written
        self._ctx = ctx
        self._geometry(roads)
        self.coords = {"link": roads.link_ids.astype(str), "node": roads.node_ids.astype(str),
                       "vehicle_slot": np.arange(self.vehicle_slots),
                       "link_length": (("link",), roads.link_length),
                       "link_lanes": (("link",), roads.link_lanes.astype(np.int16)),
                       "link_free_speed": (("link",), roads.link_free_speed),
                       "link_name": (("link",), roads.link_name.astype(str)),
                       "link_from": (("link",), roads.link_from),
                       "link_to": (("link",), roads.link_to)}
        self.outputs = {
            "link_flow": (("link",), "veh/h"), "link_speed": (("link",), "m/s"),
            "link_density": (("link",), "veh/m/lane"), "link_count": (("link",), "veh"),
            "queue_length": (("link",), "m"), "link_open": (("link",), "1"),
            "in_network": ((), "veh"), "arrived": ((), "veh"), "waiting": ((), "veh"),
            "stuck": ((), "veh"), "vehicle_seconds": ((), "veh·s"),
            "vehicle_x": (("vehicle_slot",), "m"), "vehicle_y": (("vehicle_slot",), "m"),
            "vehicle_speed": (("vehicle_slot",), "m/s"),
            "vehicle_link": (("vehicle_slot",), "1"), "vehicle_trip": (("vehicle_slot",), "1"),
        }
        self.n_dropped, self.n_unroutable = dropped["dropped"], dropped["unroutable"]
        self.layer_attrs = {"n_trips": self.n_trips, "n_trips_dropped": self.n_dropped,
                            "n_trips_unroutable": self.n_unroutable,
                            "kernel_step_s": self.substep}
        self._publish(ctx, traffic.link_stats(self.net, self.state))

    def _geometry(self, roads) -> None:
        """Cumulative polyline distances, so vehicle offsets map to x/y in one searchsorted."""
        off = roads.geometry_offsets
        xy = roads.geometry_xy
        seg = np.hypot(*np.diff(xy, axis=0).T) if len(xy) > 1 else np.zeros(0)
        first = np.zeros(len(xy), bool)
        first[off[:-1][off[:-1] < len(xy)]] = True
        step = np.concatenate([[0.0], seg]) * ~first
        poly_len = np.add.reduceat(step, off[:-1]) if len(xy) else np.zeros(0)
        # scale each polyline to its link's length, then offset links one after another
        scale = roads.link_length / np.where(poly_len > 0, poly_len, 1.0)
        link_of_vertex = np.repeat(np.arange(roads.n_links), np.diff(off))
        base = np.concatenate([[0.0], np.cumsum(roads.link_length + 1.0)])[:-1]
        within = np.cumsum(step) - np.repeat(np.cumsum(step)[off[:-1]], np.diff(off))
        self._gcum = base[link_of_vertex] + within * scale[link_of_vertex]
        self._gbase = base
        self._gxy = xy

    # ---- stepping ------------------------------------------------------------------------------
    def step(self, t: float, dt: float, ctx):
        st = self.state
        st.time = float(t)
        if st.time >= st.next_reroute[0]:
            traffic.reroute(self.net, st)
        # one kernel call for the n_sub kernel steps: the flow counts the whole call
        if self.threads:
            import numba

            before = numba.get_num_threads()
            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
            try:
                traffic.advance(self.net, st, self.n_sub, self.substep)
            finally:
                numba.set_num_threads(before)
        else:
            traffic.advance(self.net, st, self.n_sub, self.substep)
        stats = traffic.link_stats(self.net, st)
        self.flow_acc += stats.flow[0]
        self.acc_time += dt
        self._publish(ctx, stats)
        if not ctx.record_due:
            return None
        flow_vph = self.flow_acc * (3600.0 / self.acc_time[0])
        self.flow_acc[:] = 0.0
        self.acc_time[:] = 0.0
        c = traffic.counts(st)
        out = {"link_flow": flow_vph, "link_speed": stats.mean_speed[0],
               "link_density": stats.density[0], "link_count": stats.count[0],
               "queue_length": stats.queue_length[0],
               "link_open": st.arrays["link_open"][0].astype(np.int8),
               "in_network": c["in_network"][0], "arrived": c["arrived"][0],
               "waiting": c["waiting"][0], "stuck": c["stuck"][0],
               "vehicle_seconds": float(st.veh_seconds[0])}
        out.update(self.vehicle_sample())
        return out

    def _publish(self, ctx, stats) -> None:
        bus = ctx.bus
        bus.publish(f"{self.name}/queue_length", stats.queue_length[0], dims=("link",),
                    units="m")
        bus.publish(f"{self.name}/link_speed", stats.mean_speed[0], dims=("link",),
                    units="m/s")
        bus.publish(f"{self.name}/link_count", stats.count[0], dims=("link",), units="veh")

    def vehicle_sample(self) -> dict:
        """Return up to ``vehicle_slots`` vehicles (lowest trip ids) as padded arrays."""
        pos = traffic.vehicle_positions(self.net, self.state)
        n = self.vehicle_slots
        order = np.argsort(pos["trip_id"], kind="stable")[:n]
        link, off = pos["link"][order], pos["offset"][order]
        lane = pos["lane"][order]
        x, y = self.positions(link, off, lane)
        out = {"vehicle_x": np.full(n, np.nan), "vehicle_y": np.full(n, np.nan),
               "vehicle_speed": np.full(n, np.nan), "vehicle_link": np.full(n, -1, np.int64),
               "vehicle_trip": np.full(n, -1, np.int64)}
        k = len(order)
        out["vehicle_x"][:k], out["vehicle_y"][:k] = x, y
        out["vehicle_speed"][:k] = pos["speed"][order]
        out["vehicle_link"][:k] = link
        out["vehicle_trip"][:k] = pos["trip_id"][order]
        return out

    def positions(self, link, offset, lane=None) -> tuple[np.ndarray, np.ndarray]:
        """Return x, y (metric CRS, m) of points ``offset`` m along links ``link``, shifted
        to the centre of ``lane`` (0 = rightmost) when given."""
        g = self._gbase[link] + np.clip(offset, 0.0, self.net.link_length[link])
        j = np.clip(np.searchsorted(self._gcum, g, side="right") - 1, 0, len(self._gcum) - 2)
        d = self._gcum[j + 1] - self._gcum[j]
        f = np.clip(np.where(d > 0, (g - self._gcum[j]) / np.where(d > 0, d, 1), 0), 0, 1)
        a, b = self._gxy[j], self._gxy[j + 1]
        xy = a + f[:, None] * (b - a)
        if lane is not None:
            v = b - a
            nrm = np.hypot(v[:, 0], v[:, 1])
            nrm = np.where(nrm > 0, nrm, 1.0)
            right = np.stack([v[:, 1], -v[:, 0]], axis=1) / nrm[:, None]
            xy = xy + right * ((np.asarray(lane) + 0.5) * _LANE_WIDTH_M)[:, None]
        return xy[:, 0], xy[:, 1]

    # ---- events ----------------------------------------------------------------------------------
    def apply_event(self, ev, index, ctx):
        net, st = self.net, self.state
        start = ev.phase == "start"
        if ev.kind == "closure":
            (traffic.close_link if start else traffic.open_link)(net, st, index)
        elif ev.kind == "capacity_drop":
            factor = float(ev.details.get("factor", 0.5))
            if not 0 <= factor <= 1:
                raise ScenarioError(f"capacity_drop on {ev.target}: factor {factor} not in 0..1")
            traffic.set_link_capacity(net, st, index, factor if start else None)
        elif ev.kind == "incident":
            lanes = int(net.link_lanes[index])
            blocked = min(int(ev.details.get("lanes_blocked", 1)), lanes)
            traffic.set_link_capacity(net, st, index,
                                      (lanes - blocked) / lanes if start else None)
        elif ev.kind == "signal_plan":
            return self._signal_plan(ev, index, start)
        return None

    def _signal_plan(self, ev, node, start):
        a = self.state.arrays
        key = str(ev.target)
        if start:
            nph = int(a["sig_nph"][0, node])
            old = {"cycle_s": float(a["sig_cycle"][0, node]),
                   "offset_s": float(a["sig_offset"][0, node]),
                   "green_s": a["sig_green"][0, node, :nph].tolist(),
                   "yellow_s": a["sig_yellow"][0, node, :nph].tolist(),
                   "kind": int(a["sig_kind"][0, node])}
            self.saved_plans.setdefault(key, old)
            plan = dict(ev.details.get("plan", {}))
        else:
            plan = self.saved_plans.pop(key, None)
            if plan is None:
                return None
            old = None
        nph = int(a["sig_nph"][0, node])
        green = np.asarray(plan.get("green_s", a["sig_green"][0, node, :nph]), float)
        yellow = np.broadcast_to(np.asarray(plan.get("yellow_s", 3.0), float),
                                 green.shape).copy()
        cycle = float(plan.get("cycle_s", (green + yellow).sum()))
        try:
            traffic.set_signal_plan(self.net, self.state, node, green=green, yellow=yellow,
                                    offset=float(plan.get("offset_s", 0.0)),
                                    cycle=max(cycle, float((green + yellow).sum())),
                                    kind=int(plan.get("kind", 1)))
        except traffic.TrafficError as e:
            raise ScenarioError(f"signal_plan on node {ev.target}: {e}") from e
        return {"previous_plan": old} if old is not None else None

    # ---- checkpoints -----------------------------------------------------------------------------
    def get_state(self) -> dict:
        # called at each checkpoint, after the records are flushed: the trips table takes the
        # trips done since the last one (and, at the end, the unfinished ones) in the same go
        self._flush_trips()
        st = self.state
        # the route tables are derived (from route_cost / route_open): set_state rebuilds
        # them, which keeps a checkpoint at a few MB instead of hundreds
        skip = set(self.net.kernel_arrays) | {"route_next"}
        return {"arrays": {k: v for k, v in st.arrays.items() if k not in skip},
                "time": float(st.time),
                "rngs": [json.dumps(g.bit_generator.state) for g in st.rngs],
                "flow_acc": self.flow_acc, "acc_time": self.acc_time,
                "saved_plans": json.dumps(self.saved_plans),
                "trip_rows": self.trip_rows, "trips_flushed": self.trips_flushed}

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
        self.flow_acc = np.array(s["flow_acc"], copy=True)
        self.acc_time = np.array(s["acc_time"], copy=True)
        self.saved_plans = json.loads(s["saved_plans"])
        # rows a killed run wrote after this checkpoint are overwritten and cut at the next
        self.trip_rows = np.array(s["trip_rows"], copy=True)
        self.trips_flushed = np.array(s["trips_flushed"], copy=True)

    # ---- trips table -----------------------------------------------------------------------------
    def _flush_trips(self) -> None:
        ctx = self._ctx
        store = None if ctx is None else ctx.store
        if ctx is None or store is None or self.name not in store.root:
            return
        final = ctx.now + self.n_sub * self.substep > float(ctx.scenario.duration) + 1e-9
        rows = trip_rows(self.state, self.trips_flushed[0], final)
        self.trip_rows[0] = write_trips(store.root[self.name], int(self.trip_rows[0]), rows)
        self.trips_flushed[0] = self.state.time

    # ---- KPIs ------------------------------------------------------------------------------------
    @staticmethod
    def kpis(ds) -> dict:
        """Return network KPIs from a recorded traffic layer: vehicle-km, vehicle-hours, mean
        speed (km/h), mean and max queue (m), trips arrived."""
        t = np.asarray(ds.time.values, float)
        if t.size == 0:
            return {}
        interval_h = np.diff(np.concatenate([[0.0], t])) / 3600.0
        length_km = np.asarray(ds.link_length.values, float) / 1000.0
        flow = np.nan_to_num(np.asarray(ds.link_flow.values, float))
        count = np.asarray(ds.link_count.values, float)
        veh_km = float((flow * interval_h[:, None] * length_km).sum())
        veh_h = float((count * interval_h[:, None]).sum())
        q = np.asarray(ds.queue_length.values, float)
        return {"vehicle_km": veh_km, "vehicle_hours": veh_h,
                "mean_speed_kmh": veh_km / veh_h if veh_h > 0 else float("nan"),
                "mean_queue_m": float(np.nanmean(q)), "max_queue_m": float(np.nanmax(q)),
                "trips_arrived": int(ds.arrived.values[-1])}


#: the trips table in the traffic layer, dimension ``trip``: column -> (dtype, fill, units).
#: ``trip`` (the coordinate) is the demand's row; links are indices into the layer's ``link``;
#: ``trip_arrival_s`` is NaN for trips not arrived, ``trip_stuck_s`` the time a vehicle was
#: removed with no next link towards its destination (NaN otherwise).
TRIP_COLUMNS = {
    "trip": (np.int64, -1, ""), "trip_origin_link": (np.int64, -1, ""),
    "trip_destination_link": (np.int64, -1, ""), "trip_depart_s": (np.float64, np.nan, "s"),
    "trip_enter_s": (np.float64, np.nan, "s"), "trip_arrival_s": (np.float64, np.nan, "s"),
    "trip_travel_time_s": (np.float64, np.nan, "s"), "trip_stuck_s": (np.float64, np.nan, "s"),
}


def trip_rows(state: traffic.TrafficState, after: float, final: bool) -> dict:
    """Return the trips table rows {column: (n,) array} (see :data:`TRIP_COLUMNS`) of the trips
    that arrived or got stuck after time ``after`` (s), in that order (then by trip id), and
    when ``final`` all the others after them (by trip id)."""
    a = state.arrays
    status, end, tid = a["v_status"], a["v_arrive"], a["v_trip_id"]
    sel = np.flatnonzero((status >= ARRIVED) & (end > after))
    sel = sel[np.lexsort((tid[sel], end[sel]))]
    if final:
        rest = np.flatnonzero(status < ARRIVED)
        sel = np.concatenate([sel, rest[np.argsort(tid[rest], kind="stable")]])
    arrived, stuck = status[sel] == ARRIVED, status[sel] == STUCK
    arrival = np.where(arrived, end[sel], np.nan)
    return {"trip": tid[sel], "trip_origin_link": a["v_orig"][sel],
            "trip_destination_link": a["dest_links"][a["v_dest"][sel]],
            "trip_depart_s": a["v_depart"][sel], "trip_enter_s": a["v_enter"][sel],
            "trip_arrival_s": arrival, "trip_travel_time_s": arrival - a["v_enter"][sel],
            "trip_stuck_s": np.where(stuck, end[sel], np.nan)}


def write_trips(group, n0: int, rows: dict) -> int:
    """Write ``rows`` (see :func:`trip_rows`) at row ``n0`` of the trips table in zarr group
    ``group`` (created on first use), cut the table there; return its new length."""
    n = n0 + len(rows["trip"])
    for name, (dtype, fill, units) in TRIP_COLUMNS.items():
        if name not in group:
            group.create_array(name, shape=(0,), chunks=(16384,), dtype=dtype,
                               fill_value=fill, dimension_names=("trip",),
                               attributes={"units": units} if units else {})
        arr = group[name]
        arr.resize((n,))
        if n > n0:
            arr[n0:n] = np.asarray(rows[name], dtype)
    return n


def class_rank(cls) -> int:
    """Return the rank of highway class ``cls`` (higher = more important), in the order of
    :data:`cim.roads.CLASS_DEFAULTS` (motorway first); ``<class>_link`` ranks just below its
    class, unknown classes as ``unclassified`` (as :func:`cim.roads.class_defaults`)."""
    base = [c for c in CLASS_DEFAULTS if not c.endswith("_link")]
    cls = str(cls)
    link = cls.endswith("_link")
    stem = cls[:-5] if link else cls
    if stem not in base:
        stem, link = "unclassified", False
    return 2 * (len(base) - base.index(stem)) - int(link)


def road_keys(roads) -> np.ndarray:
    """Return the road each link belongs to: its name, or its source road id when unnamed."""
    names = np.asarray(roads.link_name, object)
    source = getattr(roads, "link_source", None)
    source = np.asarray(roads.link_ids if source is None else source, object)
    return np.array([str(n) if n else str(s).rsplit(":", 1)[0]
                     for n, s in zip(names, source)], object)


def phase_roads(roads, node, keys=None) -> list[list[str]]:
    """Return the roads served by each phase of signalized node ``node``: the plan's
    ``phase_roads`` when given, else ``[[major road], [every other road]]`` where the major
    road is the one of highest :func:`class_rank` among the links at the node, then most
    lanes, then first by name (the convention of :mod:`cim.roads`)."""
    plan = roads.node_signal_plan[node] or {}
    if plan.get("phase_roads"):
        return [[str(r) for r in roads_] for roads_ in plan["phase_roads"]]
    keys = road_keys(roads) if keys is None else keys
    at = np.flatnonzero((roads.link_to == node) | (roads.link_from == node))
    best: dict[str, tuple] = {}
    for lnk in at:
        k = (class_rank(roads.link_class[lnk]), int(roads.link_lanes[lnk]))
        best[keys[lnk]] = max(best.get(keys[lnk], k), k)
    order = sorted(best, key=lambda r: (-best[r][0], -best[r][1], r))
    return [order[:1], order[1:]]


def signal_plans(roads) -> traffic.SignalPlan:
    """Return the kernel's fixed-time signal plans for ``roads``, phases mapped by road.

    Phase k gives green to the approaches (incoming links) of the roads in
    :func:`phase_roads` k: by default phase 0 the node's major road, phase 1 every other
    road. ``green_s`` has one green per phase, or two per road phase ([through, left], as the
    district generator's 4-phase plans): the kernel has no protected-left phase (an approach
    link has one phase, its left turns are permissive), so a road's through and left greens
    are merged into one green of through + yellow + left, which keeps the plan's cycle and
    adds no all-red. Approaches on roads no phase lists get the last phase. Defaults where
    the plan gives none: 42 s green per phase, 3 s yellow (SUMO's)."""
    sig = np.flatnonzero(np.asarray(roads.node_signal, bool))
    n_nodes, n_links = roads.n_nodes, roads.n_links
    keys = road_keys(roads)
    per_node = {i: phase_roads(roads, i, keys) for i in sig}
    P = max([2] + [len(r) for r in per_node.values()])  # the kernel checks P <= its maximum
    link_phase = np.full(n_links, -1, np.int64)
    kind = np.zeros(n_nodes, np.int64)
    green = np.zeros((n_nodes, P))
    yellow = np.zeros((n_nodes, P))
    cycle = np.ones(n_nodes)
    offset = np.zeros(n_nodes)
    n_phases = np.ones(n_nodes, np.int64)
    for i, roads_of in per_node.items():
        p = roads.node_signal_plan[i] or {}
        n = len(roads_of)
        where = {r: k for k in reversed(range(n)) for r in roads_of[k]}
        into = np.flatnonzero(roads.link_to == i)
        link_phase[into] = [where.get(keys[lnk], n - 1) for lnk in into]
        y = float(p["yellow_s"]) if p.get("yellow_s") is not None else 3.0
        g = [float(x) for x in (p.get("green_s") or [])]
        if not g:
            g = [42.0] * n
        elif len(g) == 1:
            g = g * n
        elif len(g) == 2 * n:  # [through, left] per road: one phase per road
            g = [g[2 * k] + y + g[2 * k + 1] for k in range(n)]
        elif len(g) != n:
            raise ScenarioError(f"signal plan of node {roads.node_ids[i]}: {len(g)} greens "
                                f"for {n} phases (roads {roads_of})")
        green[i, :n] = g
        yellow[i, :n] = y
        total = float(sum(g) + n * y)
        cycle[i] = max(float(p.get("cycle_s") or total), total)
        offset[i] = float(p.get("offset_s") or 0.0)
        kind[i] = 1
        n_phases[i] = n
    return traffic.SignalPlan(link_phase, kind, cycle, offset, green, yellow, n_phases,
                              np.full((n_nodes, P), 5.0), np.full((n_nodes, P), 60.0),
                              np.full(n_nodes, 3.0))


def routable_links(net: traffic.Network) -> tuple[np.ndarray, np.ndarray]:
    """Return (can_start, can_end), (n_links,) bool: the links from which the largest
    strongly connected part of ``net``'s turn graph (no U-turns) can be reached, and the links
    that can be reached from it. A trip from a ``can_start`` link to a ``can_end`` link always
    has a route (through that part)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    n = net.n_links
    can_start, can_end = np.zeros(n, bool), np.zeros(n, bool)
    if n == 0:
        return can_start, can_end
    turns = csr_matrix((np.ones(net.turn_from.size), (net.turn_from, net.turn_to_arr)),
                       shape=(n, n))
    _, label = connected_components(turns, directed=True, connection="strong")
    core = int(np.flatnonzero(label == np.bincount(label).argmax())[0])
    can_end[breadth_first_order(turns, core, directed=True, return_predecessors=False)] = True
    can_start[breadth_first_order(turns.T.tocsr(), core, directed=True,
                                  return_predecessors=False)] = True
    return can_start, can_end


def kernel_trips(demand, roads, net: traffic.Network | None = None,
                 stats: dict | None = None) -> tuple[traffic.Trips, int]:
    """Return (kernel Trips, number of trips dropped) for ``demand`` on ``roads``.

    Node trips start on an outgoing link of their origin node and end on an incoming link of
    their destination node, chosen among the links that :func:`routable_links` connects
    (round-robin over the node's links, in trip order), so that every trip has a route;
    trips whose node has no such link are dropped as unroutable, and so are those with
    origin == destination node. Link trips are dropped as unroutable when the turn graph has
    no path between their links. ``net``: the kernel network of ``roads`` (built when not
    given); ``stats``: a dict that receives ``dropped`` and ``unroutable`` counts."""
    stats = {} if stats is None else stats
    stats.update(dropped=0, unroutable=0)
    if demand is None:
        return traffic.Trips(np.zeros(0), np.zeros(0, int), np.zeros(0, int)), 0
    if net is None:
        net = traffic.Network(roads.node_xy, roads.link_from, roads.link_to,
                              roads.link_length, np.clip(roads.link_lanes, 1, 16),
                              roads.link_free_speed)
    can_start, can_end = routable_links(net)
    col = _columns(demand)
    depart = np.asarray(col("depart_s", "depart"), float)
    if "origin_link" in _names(demand):
        o = np.asarray(col("origin_link"), np.int64)
        d = np.asarray(col("destination_link"), np.int64)
        bad = (o < 0) | (o >= net.n_links) | (d < 0) | (d >= net.n_links)
        if bad.any():
            raise ScenarioError(f"demand: trip {np.flatnonzero(bad)[0]} names a link outside "
                                f"0..{net.n_links - 1}")
        keep = (can_start[o] & can_end[d]) | (o == d)
        for i in np.flatnonzero(~keep):  # off the main part: search the turn graph itself
            keep[i] = _reaches(net, o[i], d[i])
        n_bad = int((~keep).sum())
        stats.update(dropped=n_bad, unroutable=n_bad)
        return (traffic.Trips(depart[keep], o[keep], d[keep], trip_id=np.flatnonzero(keep)),
                n_bad)
    on = np.asarray(col("origin_node", "origin"), np.int64)
    dn = np.asarray(col("destination_node", "destination"), np.int64)
    n_nodes = roads.n_nodes
    bad = (on < 0) | (on >= n_nodes) | (dn < 0) | (dn >= n_nodes)
    if bad.any():
        raise ScenarioError(f"demand: trip {np.flatnonzero(bad)[0]} names a node outside "
                            f"0..{n_nodes - 1}")
    o = _pick_links(roads.link_from, on, n_nodes, can_start)
    d = _pick_links(roads.link_to, dn, n_nodes, can_end)
    has_o = _pick_links(roads.link_from, on, n_nodes) >= 0
    has_d = _pick_links(roads.link_to, dn, n_nodes) >= 0
    keep = (o >= 0) & (d >= 0) & (on != dn)
    stats.update(dropped=int((~keep).sum()),
                 unroutable=int(((on != dn) & has_o & has_d & ((o < 0) | (d < 0))).sum()))
    trip_id = np.flatnonzero(keep)
    return traffic.Trips(depart[keep], o[keep], d[keep], trip_id=trip_id), stats["dropped"]


def _reaches(net, origin: int, destination: int) -> bool:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    n = net.n_links
    turns = csr_matrix((np.ones(net.turn_from.size), (net.turn_from, net.turn_to_arr)),
                       shape=(n, n))
    return bool(np.isin(destination, breadth_first_order(turns, int(origin), directed=True,
                                                         return_predecessors=False)))


def _pick_links(link_node, nodes, n_nodes, ok=None) -> np.ndarray:
    """Return, per entry of ``nodes``, one link with ``ok`` whose ``link_node`` is that node
    (−1 if none), cycling through the node's links in entry order."""
    cand = np.arange(len(link_node)) if ok is None else np.flatnonzero(ok)
    order = cand[np.argsort(link_node[cand], kind="stable")]
    start = np.searchsorted(link_node[order], np.arange(n_nodes + 1))
    deg = np.diff(start)[nodes]
    seen = np.zeros(len(nodes), np.int64)
    if len(nodes):
        srt = np.argsort(nodes, kind="stable")
        grp = nodes[srt]
        first = np.searchsorted(grp, grp)
        seen[srt] = np.arange(len(nodes)) - first       # how many earlier trips share the node
    k = np.where(deg > 0, seen % np.maximum(deg, 1), 0)
    return np.where(deg > 0, order[np.minimum(start[nodes] + k, max(len(order) - 1, 0))], -1)


def _names(demand) -> set:
    if isinstance(demand, dict):
        return set(demand)
    if isinstance(demand, np.ndarray) and demand.dtype.names:
        return set(demand.dtype.names)
    return {k for k in ("depart_s", "depart", "origin_node", "destination_node", "origin",
                        "destination", "origin_link", "destination_link")
            if hasattr(demand, k)}


def _columns(demand):
    names = _names(demand)

    def col(*keys):
        for k in keys:
            if k in names:
                return demand[k] if isinstance(demand, (dict, np.ndarray)) else getattr(
                    demand, k)
        raise ScenarioError(f"demand has none of the columns {keys}; it has {sorted(names)}")

    return col
