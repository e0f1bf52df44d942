"""What the dispatch model does on a live, changing network (mixin of
:class:`~agents.responders.dispatch.DispatchModel`).

- **Calls added during the run** (:meth:`LiveMissions.add_calls`): flooding calls from depth
  (:mod:`.flood_calls`), appended to the calls and started as missions.
- **Flooded links avoided** (``strict``, set when the dispatcher reads a flood's
  ``speed_factor``/``capacity_factor``): a route never uses a link below
  :data:`~agents.responders.routing.IMPASSABLE`. A scene on such a link is served from the
  nearest passable link (:meth:`target`, the *staging* link); when no unit can reach it, or
  a unit cannot get home or to a hospital, it waits :data:`RETRY_S` s and tries again. A
  unit driving whose remaining route is cut by rising water is redirected at once
  (:meth:`_live_step`): its trip is cancelled where it is and a new one inserted from its
  current link by the live fastest route (the traffic kernel's ``cancel_trips`` then
  ``insert_trips``; ``call_reroutes`` counts them).
- **Units on their way home take calls** (``redirect``): the unit is available from the
  moment it leaves the scene or the hospital; chosen, its trip home is cancelled where it is
  (the call it served ends there: ``call_back_s`` = that time, ``call_redirected``) and it
  drives to the new call from its current link, with no turnout.
- **The links units enter** are logged (``legs``: trip, call, road link, time, the speed
  factor read then) for the ``unit_links`` table.
"""

from __future__ import annotations

import numpy as np

from .incidents import Incidents
from .stages import RETURNING, TIMES, TO_SCENE, WAIT

#: s between tries when the water cuts a unit off
RETRY_S = 60.0
#: m: a flooded scene is served from a passable link at most this far away
STAGING_M = 1000.0


class LiveMissions:
    """Mixin: dynamic calls, flood-avoiding routes, redirects (see the module docstring)."""

    def _live_init(self, redirect: bool, flood_calls) -> None:
        self.redirect = bool(redirect)
        self.flood_calls = flood_calls
        self.strict = (self.ctx.scenario.couplings.get(f"{self.ctx.name}/speed_factor")
                       is not None or self.ctx.scenario.couplings.get(
                           f"{self.ctx.name}/capacity_factor") is not None)
        self.legs: dict = {}              # trip id -> (call, route)
        self.leg_log: list = []           # (trip, call, unit, link, t, speed factor)
        self._last_link: dict = {}
        self._factor_seen = None

    def _call_rows(self, inc: Incidents, placed, z, u) -> dict:
        """The call arrays of incidents ``inc`` placed at (links, xy, zones), with (n,)
        standard normals ``z`` (on-scene times) and uniforms ``u`` (transport)."""
        n = len(inc)
        ty = [self.types[str(t)] for t in inc.type]
        med = np.array([t.on_scene_s for t in ty], float)
        sig = np.array([t.on_scene_sigma for t in ty], float)
        # lognormal with median ``med``, whole seconds (events land on the 1 ms clock)
        on_scene = np.maximum(np.round(med * np.exp(sig * np.asarray(z, float))), 1.0)
        transport = np.asarray(u, float) < np.array([t.transport for t in ty], float)
        for k, d in enumerate(inc.details):
            if "on_scene_s" in d:
                on_scene[k] = float(d["on_scene_s"])
            if "transport" in d:
                transport[k] = bool(d["transport"])
        links, xy, zones = placed
        xy = np.asarray(xy, float).reshape(-1, 2)
        return {
            "time": inc.time.astype(float), "priority": inc.priority.astype(np.int64),
            "link": np.asarray(links, np.int64), "scene": np.asarray(links, np.int64),
            "x": xy[:, 0].copy(), "y": xy[:, 1].copy(),
            "zone": np.asarray(zones, object),
            "unit_kind": np.array([t.unit for t in ty], object),
            "processing": np.array([t.processing_s for t in ty], float),
            "turnout": np.array([t.turnout_s for t in ty], float),
            "handover": np.array([t.handover_s for t in ty], float),
            "on_scene": on_scene, "transport": transport,
            "stage": np.full(n, WAIT, np.int64), "unit": np.full(n, -1, np.int64),
            "queued": np.zeros(n, bool), "req_seq": np.full(n, -1, np.int64),
            "est_travel": np.full(n, np.nan), "route_len": np.zeros(n, np.int64),
            "hospital": np.full(n, -1, np.int64), "trip": np.full(n, -1, np.int64),
            "trip_scene": np.full(n, -1, np.int64), "stuck": np.zeros(n, bool),
            "redirected": np.zeros(n, bool), "from_road": np.zeros(n, bool),
            "reroutes": np.zeros(n, np.int64),
            **{k: np.full(n, np.nan) for k in TIMES}}

    # ---- calls added during the run ------------------------------------------------------
    def add_calls(self, inc: Incidents, links, xy, zones, z) -> np.ndarray:
        """Append incidents ``inc`` (times >= now) placed at ``links``/``xy``/``zones``
        with on-scene normals ``z``; start their missions; return their call indices."""
        n0, m = len(self.incidents), len(inc)
        rows = self._call_rows(inc, (links, xy, zones), z, np.ones(m))
        for k, v in rows.items():
            self.calls[k] = np.concatenate([self.calls[k], v])
        old = self.incidents
        self.incidents = Incidents(
            **{c: np.concatenate([getattr(old, c), getattr(inc, c)]).astype(
                getattr(old, c).dtype if len(old) else getattr(inc, c).dtype)
               for c in Incidents.COLUMNS},
            details=list(old.details) + list(inc.details))
        self.flushed = np.concatenate([self.flushed, np.zeros(m, bool)])
        new = np.arange(n0, n0 + m)
        if self._env is not None:
            for c in new:
                self._env.process(self._mission(int(c)))
        return new

    def _flood_step(self) -> None:
        """Flooding calls from the depths on the bus (when a flood is coupled)."""
        if self.flood_calls is None:
            return
        got = self.flood_calls.check(self.ctx.now, self.ctx.read("building_depth"),
                                     self.ctx.read("speed_factor"))
        if got is not None:
            inc, links, xy, zones, z = got
            self.add_calls(inc, links, xy, zones, z)

    # ---- units: who can go, from where ---------------------------------------------------
    def candidates(self, kind) -> tuple[np.ndarray, np.ndarray]:
        """(units, origin links) that can take a call of unit ``kind`` now: the free ones
        at their station, and with ``redirect`` those on their way home (from the link they
        are on)."""
        C = self.calls
        mine = self.unit_kind == kind
        free = mine & (self.unit_call < 0)
        ret = np.zeros_like(free)
        if self.redirect:
            busy = mine & (self.unit_call >= 0)
            ret[busy] = C["stage"][self.unit_call[busy]] == RETURNING
        units = np.flatnonzero(free | ret)
        origins = self.unit_link[units].copy()
        back = np.flatnonzero(ret[units])
        if back.size:
            f = self._follow(C["trip"][self.unit_call[units[back]]])
            origins[back] = np.where(f["link"] >= 0, f["link"],
                                     np.where(f["status"] >= 3, origins[back], f["origin"]))
        return units, origins

    def _follow(self, trips) -> dict:
        return self.ctx.kernel(self.traffic).follow(np.asarray(trips, np.int64),
                                                    member=self.ctx.member or 0)

    def take_returning(self, u: int) -> bool:
        """End unit ``u``'s way home where it is (it takes another call); return True if it
        was still on the road (False: it had just arrived home)."""
        C = self.calls
        c = int(self.unit_call[u])
        tid = int(C["trip"][c])
        f = self._follow([tid])
        on_road = bool(f["status"][0] < 3)
        if on_road:
            self.ctx.kernel(self.traffic).cancel_trips([tid], member=self.ctx.member or 0)
            end = self.ctx.now
        else:
            end = float(f["arrival"][0]) if np.isfinite(f["arrival"][0]) else self.ctx.now
        C["redirected"][c] = on_road
        self.unit_call[u] = -1
        ev = self._watch.pop(tid, None)
        self.legs.pop(tid, None)
        self._last_link.pop(tid, None)
        if ev is not None:
            ev.succeed(float(end))
        return on_road

    # ---- where to go ---------------------------------------------------------------------
    def target(self, c: int, origins) -> int:
        """Road link to drive to for call ``c``: its own, or when the water has closed it
        (``strict``) the nearest passable link within :data:`STAGING_M` that one of
        ``origins`` reaches (its own when none)."""
        dest = int(self.calls["link"][c])
        r = self.router()
        if not self.strict or np.isfinite(r.tt[dest]):
            return dest
        geo = self._link_mid()
        d = np.hypot(*(geo - [self.calls["x"][c], self.calls["y"][c]]).T)
        ok = np.flatnonzero(np.isfinite(r.tt) & (d <= STAGING_M))
        for k in ok[np.argsort(d[ok], kind="stable")][:20]:
            if np.isfinite(r.times(origins, int(k))).any():
                return int(k)
        return dest

    def _link_mid(self) -> np.ndarray:
        mid = self.__dict__.get("_mid")
        if mid is None:
            rd = self.ctx.city.roads
            mid = self._mid = 0.5 * (rd.node_xy[rd.link_from, :2] + rd.node_xy[rd.link_to, :2])
        return mid

    # ---- while driving -------------------------------------------------------------------
    def _live_step(self) -> None:
        """Log the links units entered; redirect those whose route the water has cut."""
        if not self.legs:
            return
        ids = np.sort(np.fromiter(self.legs, np.int64))
        f = self._follow(ids)
        sf = self.ctx.read("speed_factor")
        for tid, lk in zip(ids.tolist(), f["link"].tolist()):
            if lk >= 0 and self._last_link.get(tid) != lk:
                self._last_link[tid] = lk
                c = self.legs.get(tid, (-1,))[0]
                self.leg_log.append((tid, c, int(self.calls["unit"][c]) if c >= 0 else -1,
                                     lk, self.ctx.now,
                                     float(sf[lk]) if sf is not None else 1.0))
        if not self.strict or not all(t in self._watch for t in ids.tolist()):
            return                        # (just resumed: the missions are not back yet)
        fac = self.ctx.read("speed_factor")
        cap = self.ctx.read("capacity_factor")
        key = tuple(None if x is None else np.asarray(x) for x in (fac, cap))
        if self._factor_seen is not None and all(
                (a is None and b is None) or (a is not None and b is not None
                                              and np.array_equal(a, b))
                for a, b in zip(key, self._factor_seen)):
            return                        # the water has not changed since last look
        self._factor_seen = tuple(None if x is None else x.copy() for x in key)
        r = self.router()
        for k, tid in enumerate(ids.tolist()):
            c, route = self.legs.get(tid, (-1, None))
            if c < 0 or route is None or not route.size or f["status"][k] >= 3:
                continue
            cur = int(f["link"][k]) if f["link"][k] >= 0 else int(route[0])
            at = np.flatnonzero(route == cur)
            ahead = route[(int(at[0]) + 1 if at.size else 0):]
            if np.isfinite(r.tt[ahead]).all():
                continue
            new = r.route(cur, int(route[-1]))
            if not new.size:
                continue                  # nowhere to go: it keeps to its route
            self._redirect(c, tid, cur, new, float(f["depart"][k]))

    def _redirect(self, c: int, tid: int, cur: int, route, depart: float) -> None:
        """Cancel trip ``tid`` of call ``c`` and send the unit on from link ``cur``."""
        tr = self.ctx.kernel(self.traffic)
        m = self.ctx.member or 0
        tr.cancel_trips([tid], member=m)
        ev = self._watch.pop(tid)
        self.legs.pop(tid, None)
        new = int(tr.insert_trips(cur, int(route[-1]), depart=max(depart, self.ctx.now),
                                  member=m, route=[list(map(int, route))])[0])
        C = self.calls
        C["trip"][c] = new
        if C["stage"][c] == TO_SCENE:
            C["trip_scene"][c] = new
        C["reroutes"][c] += 1
        self.legs[new] = (int(c), np.asarray(route, np.int64))
        self._watch[new] = ev

    def take_leg_rows(self) -> list:
        """The link entries logged since the last call."""
        rows, self.leg_log = self.leg_log, []
        return rows
