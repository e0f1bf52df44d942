"""The dispatch centre: a mesa model whose units are simpy resources and drive in traffic.

:class:`DispatchModel` (a ``mesa.Model``) holds the calls of a run (Poisson and scripted
incidents, drawn at the start from the scenario's generator), a :class:`DispatchCentre`
agent that makes the decisions, and one :class:`Unit` agent per vehicle. Time is kept by a
``simpy.Environment`` (s) that the model advances with the runtime: at each step at time
``t`` (after the traffic kernel reached ``t``) it first hands the trips that arrived to
the missions waiting for them, then runs its clock to ``t + dt`` — decisions falling in
``[t, t + dt)`` are made on the network as it is at ``t``, and their trips are inserted
with their exact departure times, which the traffic kernel has not yet reached.

Each call is a simpy process (its *mission*): the call is received; after the call
processing time the centre requests a unit of the incident type's kind from that kind's
``simpy.PriorityResource`` (capacity: the number of such units) with the call's priority,
so that when no unit is free the most urgent waiting call (then the earliest) gets the
next unit freed. When granted, the centre picks, among the free units of that kind, the
one with the least **live** travel time to the incident (:mod:`.routing`: current link
speeds, closed and flooded links removed), and the unit drives off after its turnout time
along that fastest route, as a vehicle of the traffic kernel
(``TrafficProcess.insert_trips(..., route=...)``), in the same queues as everyone else; its
arrival is the kernel's (``follow``). Then: on-scene time; for a medical call, transport to
the hospital with the least live time, and handover; the drive back to its station, where
the unit is free again (by default a unit returning is not yet available: an assumption;
with ``redirect`` it is, and is sent from the road: :mod:`.live`). With a flood coupled,
routes avoid impassable links and units wait rather than drive through water (:mod:`.live`).

Lifelines (when the scenario has a kernel that handles the event kind): a ``pipe_burst``
bursts the pipe when it happens (``burst``), its crew closes the segment's valves when it
arrives (``isolation``, at the crew's arrival time) and ends both when the repair is done
(``repair``); a ``power_fault`` takes the line out (``outage``) and its crew puts it back
(``restoration``) after the repair; a ``traffic_crash`` blocks a lane of its road link
(``incident``) until the ambulance leaves the scene.

The model keeps its state in arrays (:attr:`DispatchModel.calls`, unit arrays); the simpy
clock, resources and processes are rebuilt from them after a checkpoint is restored
(:meth:`DispatchModel.__setstate__`), so that the model pickles.
"""

from __future__ import annotations

import mesa
import numpy as np
import simpy

from .errors import DispatchError
from .incidents import INCIDENT_TYPES, Incidents
from .live import RETRY_S, LiveMissions
from .routing import LiveRouter, link_times
from .stages import (
    DONE,
    HANDOVER,
    ON_SCENE,
    PROCESSING,
    QUEUED,
    RETURNING,
    TO_HOSPITAL,
    TO_SCENE,
    WAIT,
)

#: lifeline events: incident type -> (when it happens, when the crew arrives, when done)
LIFELINE = {"pipe_burst": ("burst", "isolation", "repair"),
            "power_fault": ("outage", None, "restoration"),
            "traffic_crash": ("incident", None, "incident:end")}


class Unit(mesa.Agent):
    """One vehicle: ``index`` into the model's unit arrays (kind, home link, call)."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = int(index)

    @property
    def busy(self) -> bool:
        return self.model.unit_call[self.index] >= 0


class DispatchCentre(mesa.Agent):
    """Chooses units and hospitals by live travel time (see the module docstring)."""

    def best(self, origins: np.ndarray, dest: int) -> tuple[int, float, np.ndarray]:
        """Return (position in ``origins`` of the fastest, its live time s, its route);
        position -1 when no origin reaches ``dest`` and the model avoids flooded links."""
        m = self.model
        times = m.router().times(origins, dest)
        router = m.router()
        if not np.isfinite(times).any():
            if m.strict:                   # flooded: wait rather than drive through water
                return -1, np.inf, np.zeros(0, np.int64)
            router = m.router(live=False)  # destination cut off: route as if all open
            times = router.times(origins, dest)
        k = int(np.argmin(times))          # ties: the first (lowest unit index)
        return k, float(times[k]), router.route(int(origins[k]), dest)

    def choose_unit(self, c: int) -> int:
        """The unit for call ``c`` (-1: none can reach it now); sets the model's
        ``_route`` and ``_origin`` (the link the unit starts from)."""
        m = self.model
        units, origins = m.candidates(m.calls["unit_kind"][c])
        dest = m.target(c, origins)
        k, tt, route = self.best(origins, dest)
        if k < 0:
            return -1
        m.calls["link"][c] = dest
        m.calls["est_travel"][c] = tt
        m.calls["route_len"][c] = route.size
        m._route, m._origin = route, int(origins[k])
        return int(units[k])


class DispatchModel(LiveMissions, mesa.Model):
    """Calls, units and the dispatch centre of one member (see the module docstring).

    ctx : the runtime context (``ctx.kernel(traffic)`` inserts and follows the trips);
    incidents : :class:`~agents.responders.incidents.Incidents`; placed : (links, xy,
    zones) of the incidents; fleet : :class:`~agents.responders.places.Fleet`; hospitals :
    road links of the hospitals; types : {type: IncidentType}; dt : s between steps;
    traffic : name of the traffic kernel; hospital_xy : (n_hospitals, 2) positions (m).
    """

    def __init__(self, ctx, incidents: Incidents, placed, fleet, hospitals, *, types=None,
                 dt: float = 1.0, traffic: str = "traffic", hospital_xy=None,
                 redirect: bool = False, flood_calls=None):
        super().__init__(seed=ctx.seed)
        self.ctx = ctx
        self.traffic = traffic
        self.dt = float(dt)
        self.types = dict(INCIDENT_TYPES if types is None else types)
        n = len(incidents)
        unknown = set(incidents.type.astype(str)) - set(self.types)
        if unknown:
            raise DispatchError(f"dispatch: no IncidentType for {sorted(unknown)}")
        rng = ctx.rng
        z = rng.standard_normal(n)
        u = rng.random(n)
        self.incidents = incidents
        self.calls = self._call_rows(incidents, placed, z, u)
        if not set(self.calls["unit_kind"]) <= set(fleet.kind):
            missing = sorted(set(self.calls["unit_kind"]) - set(fleet.kind))
            raise DispatchError(f"dispatch: calls need units of kind {missing} and the fleet "
                              f"has none")
        self.fleet = fleet
        self.unit_kind = fleet.kind.astype(object)
        self.unit_link = np.asarray(fleet.link, np.int64)
        self.unit_call = np.full(len(fleet), -1, np.int64)
        self.unit_busy_s = np.zeros(len(fleet))
        self.hospitals = np.asarray(hospitals, np.int64)
        self.hospital_xy = (np.zeros((len(self.hospitals), 2)) if hospital_xy is None
                            else np.asarray(hospital_xy, float).reshape(-1, 2))
        self.req_count = 0
        self.flushed = np.zeros(n, bool)
        self._live_init(redirect, flood_calls)
        self.centre = DispatchCentre(self)
        self.units = [Unit(self, i) for i in range(len(fleet))]
        self._layers = _event_layers(ctx)
        self._rebuild(0.0)

    # ---- pickling: the simpy objects are rebuilt from the arrays ----------------------------
    def __getstate__(self):
        d = dict(self.__dict__)
        for k in ("_env", "_pools", "_req", "_watch", "_routers", "_route", "_origin"):
            d.pop(k, None)
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)
        self._env = None

    def _rebuild(self, now: float) -> None:
        """Make the simpy clock, resources and missions from the call arrays at ``now``."""
        env = self._env = simpy.Environment(initial_time=float(now))
        self._pools = {k: simpy.PriorityResource(env, capacity=int((self.unit_kind == k).sum()))
                       for k in sorted(set(self.unit_kind))}
        self._req, self._watch, self._routers, self._route = {}, {}, {}, None
        C = self.calls
        st = C["stage"]
        # units held by calls on their way: re-acquired first (granted at once); with
        # redirects a returning unit is available, so its call holds none
        held = (st > QUEUED) & (st < DONE)
        if self.redirect:
            held &= st != RETURNING
        for c in np.flatnonzero(held):
            self._req[c] = self._pools[C["unit_kind"][c]].request(priority=-(1 << 40))
        # waiting calls: requested again in their original order (priority, then request)
        q = np.flatnonzero(st == QUEUED)
        for c in q[np.lexsort((C["req_seq"][q], C["priority"][q]))]:
            self._req[c] = self._pools[C["unit_kind"][c]].request(priority=int(C["priority"][c]))
        for c in np.flatnonzero(st < DONE):
            env.process(self._mission(int(c)))

    # ---- the live network ----------------------------------------------------------------
    def router(self, live: bool = True) -> LiveRouter:
        """The router on the network as it is now (cached for this step)."""
        key = (self.ctx.now, live)
        r = self._routers.get(key)
        if r is None:
            tr = self.ctx.kernel(self.traffic)
            m = self.ctx.member or 0
            a = tr.state.arrays
            length = tr.net.link_length
            if live:
                speed = np.asarray(self.ctx.bus.get(f"{self.traffic}/link_speed"))
                tt = link_times(length, speed, a["link_vmax"][m], a["link_open"][m],
                                self.ctx.read("speed_factor"), self.ctx.read("capacity_factor"))
            else:
                tt = length / np.maximum(a["link_vmax"][m], 1e-3)
            r = LiveRouter.of(tr.net)
            r.set_times(tt)
            self._routers = {k: v for k, v in self._routers.items() if k[0] == key[0]}
            self._routers[key] = r
        return r

    # ---- stepping -----------------------------------------------------------------------
    def step(self) -> None:
        now = self.ctx.now
        if self._env is None:
            self._rebuild(now)
        if self._watch:
            # by trip id (creation order), so that a resumed run hands them on in the same order
            ids = np.sort(np.fromiter(self._watch, np.int64))
            f = self.ctx.kernel(self.traffic).follow(ids, member=self.ctx.member or 0)
            done = f["status"] >= 3                   # arrived or stuck
            end = np.where(np.isfinite(f["arrival"]), f["arrival"], f["stuck"])
            stuck = ids[done & np.isfinite(f["stuck"])]
            if stuck.size:    # removed with no way on: flagged, the mission goes on
                self.calls["stuck"][np.isin(self.calls["trip"], stuck)] = True
            for tid, t in zip(ids[done].tolist(), end[done].tolist()):
                self._watch.pop(tid).succeed(float(t))
                self.legs.pop(tid, None)
                self._last_link.pop(tid, None)
        self._live_step()
        self._flood_step()
        self._env.run(until=now + self.dt)

    def _drive(self, c: int, origin: int, dest: int, depart: float, route) -> simpy.Event:
        """Insert the unit's trip; return the event that the step succeeds on arrival."""
        tr = self.ctx.kernel(self.traffic)
        if route is None or not len(route):
            route = None
        tid = int(tr.insert_trips(origin, dest, depart=depart, member=self.ctx.member or 0,
                                  route=None if route is None else [list(map(int, route))]
                                  )[0])
        self.calls["trip"][c] = tid
        self.legs[tid] = (int(c), np.asarray(route if route is not None else [], np.int64))
        ev = self._watch[tid] = self._env.event()
        return ev

    def _watch_trip(self, c: int) -> simpy.Event:
        ev = self._watch[int(self.calls["trip"][c])] = self._env.event()
        return ev

    def _lifeline(self, c: int, phase: int, at: float) -> None:
        """Apply the lifeline event of call ``c`` for ``phase`` (0 happens, 1 crew arrives,
        2 done) at time ``at`` (s; now when not in the future)."""
        from twin import Event

        typ = str(self.incidents.type[c])
        if typ not in LIFELINE or (phase == 0 and not self.incidents.start_event[c]):
            return
        kind = LIFELINE[typ][phase]
        if kind is None:
            return
        kind, _, end = kind.partition(":")
        layer = self._layers.get(kind)
        if layer is None:
            return
        if typ == "pipe_burst":
            target = str(self.incidents.water_link[c])
        elif typ == "power_fault":
            target = str(self.incidents.power_link[c])
        else:
            target = self.ctx.kernel(self.traffic).coords["road_link"][self.calls["link"][c]]
        details = {"call": int(c)}
        if kind == "incident":
            details["lanes_blocked"] = 1
        ev = Event(kind, str(target), at=round(float(at) * 1000.0) / 1000.0, layer=layer,
                   details=details,
                   phase="end" if end else "start")
        self.ctx.schedule(ev)

    def _wait_until(self, t: float):
        return self._env.timeout(max(0.0, float(t) - self._env.now))

    def _mission(self, c: int):
        """The simpy process of call ``c``, from whatever stage it is at."""
        C, env = self.calls, self._env
        if C["stage"][c] == WAIT:
            yield self._wait_until(C["time"][c])
            self._lifeline(c, 0, C["time"][c])
            C["stage"][c] = PROCESSING
        if C["stage"][c] == PROCESSING:
            yield self._wait_until(C["time"][c] + C["processing"][c])
            C["requested"][c] = env.now
            pool = self._pools[C["unit_kind"][c]]
            C["queued"][c] = pool.count >= pool.capacity or len(pool.queue) > 0
            C["req_seq"][c] = self.req_count
            self.req_count += 1
            self._req[c] = pool.request(priority=int(C["priority"][c]))
            C["stage"][c] = QUEUED
        if C["stage"][c] == QUEUED:
            yield self._req[c]
            u = self.centre.choose_unit(c)
            while u < 0:                   # no unit can reach the scene now: retry
                yield self._env.timeout(RETRY_S)
                u = self.centre.choose_unit(c)
            route, self._route = self._route, None
            origin = self._origin
            on_road = False
            if self.unit_call[u] >= 0:     # a unit on its way home takes the call
                on_road = C["from_road"][c] = self.take_returning(u)
            self.unit_call[u] = c
            C["unit"][c] = u
            C["dispatched"][c] = env.now
            C["departed"][c] = env.now + (0.0 if on_road else C["turnout"][c])
            C["stage"][c] = TO_SCENE
            arrival = self._drive(c, origin, C["link"][c], C["departed"][c], route)
            C["trip_scene"][c] = C["trip"][c]
        elif C["stage"][c] == TO_SCENE:
            arrival = self._watch_trip(c)
        u = int(C["unit"][c])
        if C["stage"][c] == TO_SCENE:
            C["arrived"][c] = yield arrival
            self._lifeline(c, 1, C["arrived"][c])
            C["cleared"][c] = C["arrived"][c] + C["on_scene"][c]
            self._lifeline(c, 2, C["cleared"][c])
            C["stage"][c] = ON_SCENE
        if C["stage"][c] == ON_SCENE:
            yield self._wait_until(C["cleared"][c])
            if C["transport"][c] and self.hospitals.size:
                k, _, route = self._to_hospital(c)
                while self.strict and not route.size:   # cut off by water: wait
                    yield self._env.timeout(RETRY_S)
                    k, _, route = self._to_hospital(c)
                C["hospital"][c] = k
                C["stage"][c] = TO_HOSPITAL
                arrival = self._drive(c, C["link"][c], self.hospitals[k], env.now, route)
            else:
                route = yield from self._route_wait(C["link"][c], u)
                C["stage"][c] = RETURNING
                arrival = self._drive(c, C["link"][c], self.unit_link[u], env.now, route)
        elif C["stage"][c] in (TO_HOSPITAL, RETURNING):
            arrival = self._watch_trip(c)
        if C["stage"][c] == TO_HOSPITAL:
            C["at_hospital"][c] = yield arrival
            C["stage"][c] = HANDOVER
        if C["stage"][c] == HANDOVER:
            yield self._wait_until(C["at_hospital"][c] + C["handover"][c])
            h = self.hospitals[C["hospital"][c]]
            route = yield from self._route_wait(h, u)
            C["stage"][c] = RETURNING
            arrival = self._drive(c, h, self.unit_link[u], env.now, route)
        if C["stage"][c] == RETURNING:
            if self.redirect and c in self._req:   # on its way home the unit is available
                self._pools[C["unit_kind"][c]].release(self._req.pop(c))
            C["back"][c] = yield arrival
            C["stage"][c] = DONE
            if not C["redirected"][c]:
                self.unit_call[u] = -1
            self.unit_busy_s[u] += C["back"][c] - C["dispatched"][c]
            req = self._req.pop(c, None)
            if req is not None:
                self._pools[C["unit_kind"][c]].release(req)

    def _to_hospital(self, c: int):
        """(hospital position, time, route) of the hospital with the least live time."""
        m = self.calls["link"][c]
        best = None
        for k, h in enumerate(self.hospitals):
            tt = self.router().times([m], int(h))[0]
            if best is None or tt < best[1]:
                best = (k, tt)
        k = best[0]
        return k, best[1], self.router().route(int(m), int(self.hospitals[k]))

    def _route_home(self, origin: int, u: int):
        r = self.router().route(int(origin), int(self.unit_link[u]))
        if r.size or self.strict:
            return r
        return self.router(live=False).route(int(origin), int(self.unit_link[u]))

    def _route_wait(self, origin: int, u: int):
        """Generator: the route home from ``origin``, waiting while the water cuts it."""
        route = self._route_home(origin, u)
        while self.strict and not route.size:
            yield self._env.timeout(RETRY_S)
            route = self._route_home(origin, u)
        return route

    # ---- records ------------------------------------------------------------------------
    def unit_stage(self) -> np.ndarray:
        """(n_units,) stage of each unit's call (0: free at its station)."""
        out = np.zeros(len(self.unit_call), np.int64)
        busy = self.unit_call >= 0
        out[busy] = self.calls["stage"][self.unit_call[busy]]
        return out

    def unit_positions(self) -> np.ndarray:
        """(n_units, 2) where each unit is (m): on its trip's link while driving, else at
        its station, the scene or the hospital."""
        C = self.calls
        xy = np.asarray(self.fleet.xy, float).copy()
        busy = np.flatnonzero(self.unit_call >= 0)
        if not busy.size:
            return xy
        c = self.unit_call[busy]
        st = C["stage"][c]
        scene = np.c_[C["x"][c], C["y"][c]]
        hxy = self.hospital_xy[np.maximum(C["hospital"][c], 0)] if len(self.hospital_xy) \
            else scene
        after_h = np.isfinite(C["at_hospital"][c])
        at_scene = (st == ON_SCENE) | ((st >= TO_HOSPITAL) & ~after_h)
        at = np.where(at_scene[:, None], scene,
                      np.where(((st >= HANDOVER) & after_h)[:, None], hxy, xy[busy]))
        drive = np.isin(st, (TO_SCENE, TO_HOSPITAL, RETURNING)) & (C["trip"][c] >= 0)
        if drive.any():
            f = self.ctx.kernel(self.traffic).follow(C["trip"][c[drive]],
                                                     member=self.ctx.member or 0)
            on = np.isfinite(f["x"])
            at[np.flatnonzero(drive)[on]] = np.c_[f["x"][on], f["y"][on]]
        xy[busy] = at
        return xy

    def record(self) -> dict:
        st = self.calls["stage"]
        xy = self.unit_positions()
        return {"units_busy": np.int64((self.unit_call >= 0).sum()),
                "calls_queued": np.int64((st == QUEUED).sum()),
                "calls_open": np.int64(((st > WAIT) & (st < ON_SCENE)).sum()),
                "unit_stage": self.unit_stage(), "unit_x": xy[:, 0], "unit_y": xy[:, 1]}


def _event_layers(ctx) -> dict:
    """{event kind: name of the first scenario kernel that handles it}."""
    from twin.core.kernel import declared

    out: dict = {}
    for k in ctx.scenario.kernels:
        for kind in declared(k, "event_kinds"):
            out.setdefault(kind, k.name)
    return out
