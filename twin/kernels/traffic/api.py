"""Microscopic traffic kernel: vehicles on lanes, signals, routing — vectorized and batched.

Plain arrays in, plain arrays out; no runtime needed::

    net = traffic.Network(node_xy, link_from, link_to, link_length, link_lanes,
                          link_free_speed, signals=traffic.two_phase_plan(...))
    trips = traffic.Trips(depart, origin_link, destination_link, member=member)
    state = traffic.init_state(net, trips, traffic.TrafficParams(), seed=[1, 2, 3])
    stats = traffic.step(net, state, t=0.0, dt=1.0)     # one step; stats.flow (B, n_links)
    result = traffic.run(net, trips, params, until=7200.0)

Model
-----
*Lanes as arrays.* Every lane is a slot range holding the indices of its vehicles sorted front
to back; vehicles of all **members** (independent runs on the same network: other seeds, other
demand, other events) live in one set of vehicle arrays, lanes and signals carry a leading
member axis, and one compiled pass moves them all.

*Car following*: Newell's simplified car-following model (G. F. Newell, "A simplified
car-following theory: a lower order model", Transp. Res. B 36, 2002) with bounded acceleration
(J. A. Laval and L. Leclercq, Transp. Res. B 42, 2008), plus the Krauss safe speed
(S. Krauss, "Microscopic modeling of traffic flow", DLR report 98-08, 1998; SUMO's default
model) for comfortable braking towards standing obstacles. Its fundamental diagram is exactly
triangular: free speed ``u`` (the link's), jam spacing ``s_j = vehicle_length + min_gap``,
backward wave speed ``w = s_j / headway`` and capacity ``u / (s_j + u * headway)`` per lane —
2,070 veh/h/lane at 13.9 m/s with the defaults (:func:`fundamental_diagram`). The update is
collision free by construction, and vehicles never move backwards.

*Intersections*: a vehicle's next link is known when it enters a link (next-hop tables), and it
enters the lane of that link that serves its following turn (right turns: rightmost lane, left
turns: leftmost, through: any), choosing the one with most room. At the stop line it may cross
when its approach has green (or yellow and it cannot stop with ``yellow_decel``), the next link
is open, the link's outflow capacity allows it, it need not give way (permissive left turns
yield to opposing through and right traffic; at unsignalized nodes lower-priority approaches
yield to higher ones) and the chosen lane downstream has room; transfers are resolved in
priority order, so merging vehicles never overlap.

*Signals*: fixed-time plans (cycle, per-phase green and yellow, offset per node; arrays,
changeable at run time with :func:`set_signal_plan`) and actuated plans (min/max green and
gap-out on presence detectors of ``detector_length`` m before the stop line; a phase ends only
when another phase has a call).

*Demand and routing*: trips enter at the upstream end of their origin link, through a FIFO
entry queue when it is full (never lost), and leave at the downstream end of their destination
link. Routes are next-hop tables from batched Dijkstra on the turn graph
(:mod:`twin.kernels.traffic.routing`) with link costs = current travel times; every
``reroute_period`` s a share ``reroute_share`` of the drivers in the network (drawn from the
member's seeded generator) adopts the new table. A vehicle at the head of its lane with no
next link towards its destination (none in the current table: the destination cannot be
reached from there, e.g. behind a closure) is removed and counted as ``stuck`` (status
``STUCK``, ``v_arrive`` = removal time) instead of blocking its lane for good — as SUMO
teleports vehicles. Trips should be routable (callers pick origin and destination links that
the turn graph connects: :func:`twin.traffic_process.kernel_trips`). A trip may come with its
route (``Trips.route``: e.g. a SUMO route), followed until its driver re-routes.

*Deadlocks*: the front vehicle of a lane that has stood for ``time_to_teleport`` s (300, as
SUMO) is teleported ahead along its route to the next link with room (:mod:`._kteleport`),
counted per vehicle and member, so no run ends with vehicles frozen for ever.

*Connections*: a network built with lane-to-lane connections (SUMO's) takes its turns, turn
kinds and the lanes serving each turn from them (multi-lane turns), counting only the lanes
open to the simulated vehicles (no bus lanes).

Units are SI throughout (m, s, m/s); shapes are given as ``(n_members, n_links)`` etc.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from . import kernel as _k
from ._kstate import state_arrays
from .network import Network, SignalPlan, two_phase_plan
from .params import TrafficParams, fundamental_diagram
from .routing import close_link, init_tables, kernel_tables, open_link, rebuild_tables, reroute

__all__ = [
    "TrafficError", "NetworkError", "TripError", "InvariantError",
    "Network", "SignalPlan", "two_phase_plan", "TrafficParams", "Trips", "TrafficState",
    "StepStats", "RunResult", "fundamental_diagram",
    "init_state", "step", "advance", "run", "reroute", "rebuild_tables",
    "close_link", "open_link", "set_link_capacity", "set_link_speed", "set_signal_plan",
    "link_stats", "vehicle_positions", "completed_trips", "counts",
]

from .network import InvariantError, NetworkError, TrafficError, TripError  # noqa: E402

#: columns of :attr:`Trips.vehicle` (SUMO vType attributes length, minGap, accel, decel,
#: maxSpeed)
VEHICLE_COLUMNS = ("length", "min_gap", "accel", "decel", "max_speed")


@dataclass
class Trips:
    """Trips to simulate (struct of arrays, one row a vehicle).

    Attributes
    ----------
    depart : (n,) float64, s
        Scheduled departure time.
    origin, destination : (n,) int
        Link indices: the vehicle enters at the upstream end of ``origin`` and arrives at the
        downstream end of ``destination``.
    member : (n,) int, optional
        Batch member of each trip (0..B-1); all 0 when omitted.
    trip_id : (n,) int64, optional
        Caller's ids, echoed in outputs; ``arange(n)`` when omitted.
    route : list of n link-index sequences or None, optional
        A given route per trip (None: routed by the next-hop tables): origin first,
        destination last, consecutive links joined by turns. Followed until the driver
        re-routes (:func:`~twin.kernels.traffic.routing.reroute`); checked by
        :func:`init_state` (TripError naming the trip).
    vehicle : (n, 5) float64, optional
        Each trip's vehicle type (SUMO's vType), columns :data:`VEHICLE_COLUMNS`: length,
        min_gap (m), accel, decel (m/s^2), max_speed (m/s); NaN (or no array): the
        :class:`TrafficParams` value (max_speed: none).
    """

    depart: np.ndarray
    origin: np.ndarray
    destination: np.ndarray
    member: np.ndarray | None = None
    trip_id: np.ndarray | None = None
    route: list | None = None
    vehicle: np.ndarray | None = None

    def __post_init__(self):
        self.depart = np.asarray(self.depart, dtype=np.float64).ravel()
        n = self.depart.size
        self.origin = np.asarray(self.origin, dtype=np.int64).ravel()
        self.destination = np.asarray(self.destination, dtype=np.int64).ravel()
        self.member = (np.zeros(n, np.int64) if self.member is None
                       else np.asarray(self.member, dtype=np.int64).ravel())
        self.trip_id = (np.arange(n, dtype=np.int64) if self.trip_id is None
                        else np.asarray(self.trip_id, dtype=np.int64).ravel())
        if self.route is not None:
            self.route = list(self.route)
            if len(self.route) != n:
                raise TripError(f"trips: 'route' has {len(self.route)} entries, 'depart' has {n}")
        if self.vehicle is not None:
            self.vehicle = np.asarray(self.vehicle, np.float64).reshape(n, len(VEHICLE_COLUMNS))
            bad = ~(np.isnan(self.vehicle) | (self.vehicle > 0))
            bad[:, 1] = ~(np.isnan(self.vehicle[:, 1]) | (self.vehicle[:, 1] >= 0))
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise TripError(f"trips: trip {self.trip_id[r]} has vehicle "
                                f"{VEHICLE_COLUMNS[c]} {self.vehicle[r, c]!r}")
        for name in ("origin", "destination", "member", "trip_id"):
            if getattr(self, name).size != n:
                raise TripError(f"trips: '{name}' has {getattr(self, name).size} entries, "
                                f"'depart' has {n}")
        bad = ~np.isfinite(self.depart) | (self.depart < 0)
        if bad.any():
            raise TripError(f"trips: departure time of trip {self.trip_id[bad][0]} is "
                            f"{self.depart[bad][0]!r} (must be finite and >= 0)")
        if n and self.member.min() < 0:
            raise TripError(f"trips: negative member index for trip "
                            f"{self.trip_id[self.member < 0][0]}")

    @classmethod
    def concat(cls, parts: list[Trips]) -> Trips:
        """Return the trips of ``parts`` as one batch, part k becoming member k."""
        routes = None
        if any(p.route is not None for p in parts):
            routes = [r for p in parts
                      for r in (p.route if p.route is not None else [None] * p.depart.size)]
        veh = None
        if any(p.vehicle is not None for p in parts):
            veh = np.concatenate([p.vehicle if p.vehicle is not None else np.full(
                (p.depart.size, len(VEHICLE_COLUMNS)), np.nan) for p in parts])
        return cls(np.concatenate([p.depart for p in parts]),
                   np.concatenate([p.origin for p in parts]),
                   np.concatenate([p.destination for p in parts]),
                   np.concatenate([np.full(p.depart.size, k) for k, p in enumerate(parts)]),
                   np.concatenate([p.trip_id for p in parts]), routes, veh)


@dataclass
class TrafficState:
    """All mutable arrays of a (batched) simulation; see ``twin.kernels.traffic.kernel.ARG_NAMES``.

    Vehicle arrays ``v_*`` have shape (n_vehicles,) in internal order (sorted by member, then
    departure); ``v_member`` and ``v_trip_id`` map back. Per-member arrays have a leading
    ``n_members`` axis. ``time`` is the simulated time (s) reached.
    """

    n_members: int
    time: float
    params: TrafficParams
    rngs: list
    arrays: dict = field(repr=False)

    def __getattr__(self, name):
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class StepStats:
    """Per-link aggregates of the last step (or of the last :func:`advance` call).

    Attributes (all shape (n_members, n_links))
    ----------
    flow : int32, veh
        Vehicles that crossed the downstream end of the link (including arrivals) during the
        call.
    count : int32, veh
        Vehicles on the link at the end.
    mean_speed : float64, m/s
        Space-mean speed of those vehicles (NaN where the link is empty).
    density : float64, veh/m/lane
    queue_length : float64, m
        Length of the queue of slow vehicles contiguous from the stop line (longest lane).
    """

    flow: np.ndarray
    count: np.ndarray
    mean_speed: np.ndarray
    density: np.ndarray
    queue_length: np.ndarray


@dataclass
class RunResult:
    """Outcome of :func:`run`: the final state, completed trips and totals per member."""

    state: TrafficState
    trips: dict
    veh_seconds: np.ndarray
    end_time: float
    counts: dict


def _member_rngs(seed, n_members):
    if seed is None or np.isscalar(seed):
        if n_members == 1:
            return [np.random.default_rng(seed)]
        return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_members)]
    seeds = list(seed)
    if len(seeds) != n_members:
        raise TripError(f"{len(seeds)} seeds given for {n_members} members")
    return [np.random.default_rng(s) for s in seeds]


def init_state(net: Network, trips: Trips, params: TrafficParams | None = None, seed=0,
               n_members: int | None = None, t0: float = 0.0, route_cache=None
               ) -> TrafficState:
    """Return the initial state for simulating ``trips`` on ``net`` from time ``t0`` (s).

    ``seed`` is an int (one member: ``default_rng(seed)``; several: spawned children of
    ``SeedSequence(seed)``) or one seed per member, so that member ``b`` of a batch started
    with ``seed=[s_0, ..., s_B-1]`` reproduces a single run with ``seed=s_b`` bit for bit.
    ``route_cache``: a folder where the first route tables are kept for the next state made
    from the same network, trips' destinations and costs (:func:`.routing.init_tables`).
    """
    params = params or TrafficParams()
    a = state_arrays(net, trips, params, n_members)
    B = a["counters"].shape[0]
    state = TrafficState(B, float(t0), params, _member_rngs(seed, B), a)
    init_tables(net, state, route_cache)
    state.arrays["next_reroute"] = np.array([t0 + params.reroute_period])
    return state


def _kernel_args(state):
    a = state.arrays
    return tuple(kernel_tables(a) if name == "route_next" else a[name] for name in _k.ARG_NAMES)


def _raise_kernel_error(state, err):
    code, rest = divmod(int(err), 2**40)
    member, idx = divmod(rest, 2**20)
    what = {_k.ERR_OVERLAP: "vehicle overlaps its leader",
            _k.ERR_BACKWARDS: "vehicle moved backwards",
            _k.ERR_CONSERVATION: "vehicle count not conserved (entered != in network + "
                                 "arrived + waiting + stuck)",
            _k.ERR_LANE_FULL: "lane slot overflow"}.get(code, f"error {code}")
    who = "" if code == _k.ERR_CONSERVATION else f", trip {state.v_trip_id[idx]}"
    raise InvariantError(f"traffic kernel at t={state.time:.1f} s, member {member}{who}: {what}")


def advance(net: Network, state: TrafficState, n_steps: int, dt: float = 1.0) -> None:
    """Advance ``state`` by ``n_steps`` steps of ``dt`` s (no re-routing inside the call).

    ``state.agg_flow`` then counts crossings over the whole call; the other aggregates
    describe the end of the call.
    """
    p = state.params
    if not (dt <= p.headway + 1e-12 and p.headway <= 2 * dt + 1e-12):
        raise TrafficError(f"dt={dt} s: the kernel needs dt <= headway <= 2 dt "
                           f"(headway={p.headway} s)")
    if n_steps <= 0:
        return
    # the compiled pass is parallel over members only: threads beyond n_members have no work,
    # and waking them costs more than a small network's whole step (7.5 ms vs 0.02 ms per
    # call on a 24-link grid with 2 threads instead of 1)
    threads = numba.get_num_threads()
    if state.n_members < threads:
        numba.set_num_threads(max(1, state.n_members))
    try:
        err = _k.advance(*_kernel_args(state), state.par, float(state.time), float(dt),
                         int(n_steps), bool(p.debug))
    finally:
        numba.set_num_threads(threads)
    state.time = float(state.time) + n_steps * dt
    if err:
        _raise_kernel_error(state, err)


def step(net: Network, state: TrafficState, t: float | None = None, dt: float = 1.0
         ) -> StepStats:
    """Advance by one step from time ``t`` (s, default ``state.time``) and return its stats.

    Re-routes first when the re-routing period has elapsed.
    """
    if t is not None:
        state.time = float(t)
    if state.time >= state.next_reroute[0]:
        reroute(net, state)
    advance(net, state, 1, dt)
    return link_stats(net, state)


def run(net: Network, trips: Trips, params: TrafficParams | None = None,
        until: float = 86400.0, dt: float = 1.0, seed=0, n_members: int | None = None,
        on_step=None, stop_when_done: bool = True, chunk: float = 60.0,
        state: TrafficState | None = None) -> RunResult:
    """Simulate until ``until`` s (or until every trip has arrived) and return the result.

    ``on_step(state, stats)`` is called after every step when given (slower: one kernel call
    per step); otherwise the kernel advances ``chunk`` s per call.
    """
    params = params or TrafficParams()
    if state is None:
        state = init_state(net, trips, params, seed=seed, n_members=n_members)
    n_total = state.v_status.size
    while state.time < until - 1e-9:
        if state.time >= state.next_reroute[0]:
            reroute(net, state)
        if on_step is not None:
            stats = step(net, state, dt=dt)
            on_step(state, stats)
        else:
            horizon = min(until, state.next_reroute[0], state.time + chunk)
            n = max(1, int(round((horizon - state.time) / dt)))
            advance(net, state, n, dt)
        if stop_when_done and state.counters[:, [_k.C_ARRIVED, _k.C_STUCK]].sum() == n_total:
            break
    return RunResult(state, completed_trips(state), state.veh_seconds.copy(), state.time,
                     counts(state))


def _members(state, member):
    return np.arange(state.n_members) if member is None else np.atleast_1d(member)


def set_link_capacity(net: Network, state: TrafficState, link, factor, member=None) -> None:
    """Limit the outflow of link(s) to ``factor`` x its lanes' capacity (``None``: no limit).

    Models a capacity drop (incident, works): vehicles leave the link at most at that rate.
    """
    a = state.arrays
    links = np.atleast_1d(link)
    m = _members(state, member)
    if factor is None:
        a["link_out_cap"][np.ix_(m, links)] = np.inf
        return
    if not np.all(np.asarray(factor) >= 0):
        raise TrafficError(f"capacity factor must be >= 0, got {factor!r}")
    p = state.params
    u = net.link_free_speed[links]
    cap = net.link_lanes[links] * u / (p.jam_spacing + u * p.headway)
    a["link_out_cap"][np.ix_(m, links)] = np.asarray(factor) * cap
    a["link_credit"][np.ix_(m, links)] = 0.0


def set_link_speed(net: Network, state: TrafficState, link, factor, member=None) -> None:
    """Set the speed limit of link(s) to ``factor`` x their free speed (``None``: the free speed).

    Models a speed restriction (works, weather, a lowered limit) in member(s) ``member`` (all
    by default): from the next step on, vehicles on the link drive at most ``factor *
    net.link_free_speed`` (the desired speed of car following; departures enter the link at
    it). The limits are ``state.link_vmax`` (n_members, n_links), m/s. Route choice follows
    the measured travel times, as before. ``factor`` is a scalar or one value per link given,
    finite and > 0.
    """
    a = state.arrays
    links = np.atleast_1d(np.asarray(link, dtype=np.int64))
    if links.size and (links.min() < 0 or links.max() >= net.n_links):
        raise TrafficError(f"set_link_speed: link {links[(links < 0) | (links >= net.n_links)][0]}"
                           f" outside 0..{net.n_links - 1}")
    m = _members(state, member)
    if m.size and (m.min() < 0 or m.max() >= state.n_members):
        raise TrafficError(f"set_link_speed: member {m[(m < 0) | (m >= state.n_members)][0]} "
                           f"outside 0..{state.n_members - 1}")
    free = net.link_free_speed[links]
    if factor is None:
        a["link_vmax"][np.ix_(m, links)] = free
        return
    f = np.asarray(factor, dtype=np.float64)
    if not np.all(np.isfinite(f) & (f > 0)):
        raise TrafficError(f"speed factor must be finite and > 0, got {factor!r}")
    a["link_vmax"][np.ix_(m, links)] = f * free


def set_signal_plan(net: Network, state: TrafficState, node, *, green=None, yellow=None,
                    offset=None, cycle=None, kind=None, min_green=None, max_green=None,
                    gap=None, member=None) -> None:
    """Change the signal plan of node(s) at run time (values in s; ``kind`` 0/1/2 = none,
    fixed-time, actuated). Per-phase arrays have shape (n_phases,) or (n_nodes_given,
    n_phases). The cycle defaults to the sum of green and yellow times."""
    a = state.arrays
    nodes = np.atleast_1d(node)
    m = _members(state, member)
    ix2 = np.ix_(m, nodes)
    for name, val in (("sig_green", green), ("sig_yellow", yellow),
                      ("sig_min_green", min_green), ("sig_max_green", max_green)):
        if val is not None:
            val = np.asarray(val, dtype=float)
            P = val.shape[-1]
            if P > a[name].shape[2]:
                raise TrafficError(f"signal plan: {P} phases, at most {a[name].shape[2]}")
            a[name][np.ix_(m, nodes, np.arange(P))] = val
            if name == "sig_green":
                a["sig_nph"][ix2] = P
    for name, val in (("sig_offset", offset), ("sig_gap", gap), ("sig_kind", kind)):
        if val is not None:
            a[name][ix2] = val
    if cycle is not None:
        a["sig_cycle"][ix2] = cycle
    elif green is not None or yellow is not None:
        P = a["sig_green"].shape[2]
        on = np.arange(P)[None, None, :] < a["sig_nph"][ix2][..., None]
        tot = ((a["sig_green"][ix2] + a["sig_yellow"][ix2]) * on).sum(-1)
        a["sig_cycle"][ix2] = tot
    bad = (a["sig_kind"] == 1) & ~(a["sig_cycle"] > 0)
    if bad.any():
        raise TrafficError(f"signal plan: node {np.argwhere(bad)[0][1]} has no positive cycle")
    a["act_phase"][ix2] = np.minimum(a["act_phase"][ix2], a["sig_nph"][ix2] - 1).clip(0)


def link_stats(net: Network, state: TrafficState) -> StepStats:
    """Return the per-link aggregates of the last step (see :class:`StepStats`)."""
    a = state.arrays
    cnt = a["agg_count"]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_speed = np.where(cnt > 0, a["agg_speed_sum"] / cnt, np.nan)
    density = cnt / (net.link_length * net.link_lanes)[None, :]
    return StepStats(a["agg_flow"].copy(), cnt.copy(), mean_speed, density,
                     a["agg_queue"].copy())


def vehicle_positions(net: Network, state: TrafficState) -> dict:
    """Return the vehicles now in the network as arrays of shape (n_active,).

    Keys: ``member``, ``trip_id``, ``link``, ``lane`` (0 = rightmost lane of the link),
    ``offset`` (m, front bumper from the link's upstream end), ``speed`` (m/s).
    """
    a = state.arrays
    act = a["v_status"] == _k.ACTIVE
    lnk = a["v_link"][act]
    return {"member": a["v_member"][act], "trip_id": a["v_trip_id"][act], "link": lnk,
            "lane": a["v_lane"][act] - net.link_lane0[lnk], "offset": a["v_pos"][act],
            "speed": a["v_speed"][act]}


def completed_trips(state: TrafficState) -> dict:
    """Return the completed trips as arrays of shape (n_done,).

    Keys: ``member``, ``trip_id``, ``depart`` (scheduled, s), ``enter`` (entered the first
    link, s), ``arrival`` (s), ``travel_time`` (arrival - enter, s: time in the network, as
    SUMO's tripinfo duration), ``entry_delay`` (enter - depart, s), ``teleports`` (times the
    vehicle was teleported out of a deadlock, :mod:`._kteleport`).
    """
    a = state.arrays
    done = a["v_status"] == _k.ARRIVED
    enter, arr = a["v_enter"][done], a["v_arrive"][done]
    return {"member": a["v_member"][done], "trip_id": a["v_trip_id"][done],
            "depart": a["v_depart"][done], "enter": enter, "arrival": arr,
            "travel_time": arr - enter, "entry_delay": enter - a["v_depart"][done],
            "teleports": a["v_tele"][done].copy()}


def counts(state: TrafficState) -> dict:
    """Return per-member vehicle counts, each (n_members,) int64: ``released`` (departure time
    reached), ``waiting`` (in an entry queue), ``in_network``, ``arrived``, ``stuck`` (removed
    at a stop line with no next link towards their destination), and ``teleported``
    (teleports out of deadlocks so far, :mod:`._kteleport`; the vehicles stay in the counts
    above). Always ``released == waiting + in_network + arrived + stuck``."""
    c = state.counters
    return {"released": c[:, _k.C_RELEASED].copy(), "waiting": c[:, _k.C_WAITING].copy(),
            "in_network": c[:, _k.C_ACTIVE].copy(), "arrived": c[:, _k.C_ARRIVED].copy(),
            "stuck": c[:, _k.C_STUCK].copy(), "teleported": state.teleports.copy()}
