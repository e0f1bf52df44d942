"""The crowd kernel as a runtime kernel ("crowd"): an evacuation of households to shelters,
on foot on the walkway network (:class:`~twin.kernels.crowd.sim.CrowdSim`, all members in
one pass) and by car in the traffic kernel (``TrafficProcess.insert_trips`` / ``follow``).

Input (``inputs={"crowd": …}``, or one per member): an object with ``draw(city, rng)``
(:class:`agents.evacuation.Evacuation`) or its result, a dict of (P,) person arrays
``household``, ``building``, ``x``, ``y`` (m), ``depart_s`` (s), ``mode`` ("walk"/"car")
and optionally ``shelters`` (site ids). Shelters are the city's sites of kind "shelter"
(capacity in persons; NaN: unlimited), outside the input's ``zone`` when it has one. Each
household goes to the nearest shelter (walking distance) with room left, in order of
departure; a household finding none, or whose home cannot reach one, is not evacuated.

Walkways: ``city.walkways`` when it has links, else sidewalks built from the streets
(:func:`cim.model.walkway.walkways_from_roads`). People step onto the nearest walkway node
after walking the straight distance from their door at the free speed.

Records: ``evacuated_share``, ``evacuated``, ``home``, ``walking``, ``driving``,
``not_evacuated`` (given up: no room, no route, stuck car), ``max_density`` (P/m²), per
walkway link ``link_peds``, ``link_density``, ``link_queue`` (people waiting at its end).
Tables: ``evacuees`` (one row per person: :data:`EVAC_COLUMNS`), ``bottlenecks`` (the
``n_bottlenecks`` links of highest peak density). KPIs: :mod:`.kpis`.
"""

from __future__ import annotations

import numpy as np

from ...core.kernel import Draw, Kernel, LayerData, Spec, Table, register
from ...errors import ScenarioError
from . import kpis as _kpis
from .assign import assign_shelters
from .errors import CrowdError
from .fd import Weidmann
from .net import WalkNet, routes_to
from .sim import ARRIVED, HOME, NO_ROUTE, WALKING, CrowdSim

_W = ("walkway_link",)
#: the evacuees table: column -> (dtype, fill, units); times in s from the warning
EVAC_COLUMNS = {
    "evac_household": (str, "", ""), "evac_building": (str, "", ""),
    "evac_mode": (str, "", ""), "evac_shelter": (str, "", ""),
    "evac_start_s": (np.float64, np.nan, "s"), "evac_arrival_s": (np.float64, np.nan, "s"),
    "evac_travel_s": (np.float64, np.nan, "s"), "evac_status": (str, "", ""),
}
BOTTLENECK_COLUMNS = {
    "bn_link": (str, "", ""), "bn_max_density": (np.float64, np.nan, "P/m2"),
    "bn_max_queue": (np.int64, 0, "1"), "bn_time_s": (np.float64, np.nan, "s"),
    "bn_width_m": (np.float64, np.nan, "m"),
}


def walk_network(city, segment_m=50.0, width=None):
    """Return the walkway network of ``city``: its own, or sidewalks from its streets."""
    w = getattr(city, "walkways", None)
    if w is not None and w.n_links:
        return w
    from cim.model.walkway import walkways_from_roads

    return walkways_from_roads(city.roads, width=width, segment_m=segment_m)


@register("crowd")
class CrowdProcess(Kernel):
    """Evacuation of an affected zone (see the module docstring).

    dt : s between runtime steps; substep : s of the walking step inside; traffic : name of
    the traffic kernel for car households; fd : Weidmann parameters {v0, gamma, rho_max};
    max_access_m : farthest a shelter may be from the walkway network (m); segment_m,
    sidewalk_width : for sidewalks built from streets; n_bottlenecks : rows of the
    bottlenecks table; route_switch : walkers switch, under congestion, to a shelter without
    a capacity limit that is faster (:class:`~.sim.CrowdSim` ``reroute``; off by default)."""

    batched = True
    outputs = {"evacuated_share": Spec((), "1"), "evacuated": Spec((), "1"),
               "home": Spec((), "1"), "walking": Spec((), "1"), "driving": Spec((), "1"),
               "not_evacuated": Spec((), "1"), "max_density": Spec((), "P/m2"),
               "link_peds": Spec(_W, "1"), "link_density": Spec(_W, "P/m2"),
               "link_queue": Spec(_W, "1")}
    tables = {"evacuees": Table("evacuee", EVAC_COLUMNS),
              "bottlenecks": Table("bottleneck", BOTTLENECK_COLUMNS)}
    #: the viewer draws the walkways (the city's own: sidewalks the kernel makes from the
    #: streets are not in the city, and the viewer says so) by crowd density, or by people
    #: and queues on request; people are not recorded one by one, so not drawn as dots
    draw = {"link_density": Draw("walkway_link", cmap="magma_r", clim=(0, 4),
                                 label="crowd density", worse="high"),
            "link_peds": Draw("walkway_link", cmap="viridis", clim=(0, 50), label="walkers",
                              show=False),
            "link_queue": Draw("walkway_link", cmap="Reds", clim=(0, 20), label="queued",
                               show=False, worse="high")}

    def __init__(self, dt: float = 1.0, *, substep: float = 0.5, traffic: str = "traffic",
                 fd: dict | None = None, max_access_m: float = 300.0,
                 segment_m: float | None = 50.0, sidewalk_width=None,
                 n_bottlenecks: int = 10, route_switch: bool = False, name: str = "crowd"):
        self.name = name
        self.dt = float(dt)
        self.substep = float(substep)
        self.traffic = traffic
        self.fd = dict(fd or {})
        self.max_access_m = float(max_access_m)
        self.segment_m = segment_m
        self.sidewalk_width = sidewalk_width
        self.n_bottlenecks = int(n_bottlenecks)
        self.route_switch = bool(route_switch)

    def element_ids(self, city) -> dict:
        w = getattr(city, "walkways", None)
        if w is not None and w.n_links:
            return {}  # the city's own walkway ids
        self._walk = walk_network(city, self.segment_m, self.sidewalk_width)
        return {"walkway_link": np.asarray(self._walk.link_ids, object).astype(str)}

    # ---- setup -------------------------------------------------------------------------
    def init(self, ctx) -> None:
        try:
            self._init(ctx)
        except CrowdError as e:
            raise ScenarioError(f"{self.name}: {e}") from e

    def _init(self, ctx) -> None:
        city = ctx.city
        walk = getattr(self, "_walk", None) or walk_network(city, self.segment_m,
                                                             self.sidewalk_width)
        self.net = net = WalkNet.from_network(walk)
        self.coords = {"walkway_link": net.ids}
        sites = city.sites
        kind = np.asarray(sites.kind, object).astype(str)
        people, sh = [], []
        for k, inp in enumerate(ctx.inputs):
            p, shelters = self._people(inp, city, ctx.rngs[k], kind)
            p["member"] = np.full(p["x"].size, k, np.int64)
            people.append(p)
            sh.append(shelters)
        sel = np.unique(np.concatenate(sh))
        self.shelter_ids = np.asarray(sites.ids, object).astype(str)[sel]
        sxy = np.asarray(sites.xyz, np.float64)[sel, :2]
        snode, sgap = net.nearest_node(sxy)
        far = sgap > self.max_access_m
        if far.any():
            j = int(np.flatnonzero(far)[0])
            raise CrowdError(f"shelter {str(self.shelter_ids[j])!r} is {sgap[j]:.0f} m from the "
                             f"nearest walkway node (at most {self.max_access_m:.0f} m): it is "
                             f"off the walkway network")
        cap = np.asarray(sites.capacity, np.float64)[sel]
        cap = np.where(np.isfinite(cap), np.maximum(cap, 0), np.inf)
        self.next_node, dist = routes_to(net, snode)
        P = {c: np.concatenate([p[c] for p in people]) for c in people[0]}
        start, gap = net.nearest_node(np.c_[P["x"], P["y"]])
        v_free = Weidmann(**self.fd).v0
        depart_net = P["depart_s"] + gap / v_free
        allowed = np.stack([np.isin(sel, s) for s in sh])          # (K, S)
        shelter = assign_shelters(P["household"], P["member"], depart_net, dist[:, start].T,
                                  cap, allowed)
        self.P = P
        self.shelter = shelter                                      # (P,) index or -1
        reach = shelter >= 0
        self.status = np.where(reach, "", np.where(np.isfinite(dist[:, start]).any(0),
                                                   "not_evacuated:no_room",
                                                   "not_evacuated:no_route")).astype(object)
        walk_i = np.flatnonzero(reach & (P["mode"] == "walk"))
        self.walk_i = walk_i
        # switching only to unlimited shelters (a limited one's room was assigned above)
        opts = None
        if self.route_switch:
            opts = allowed[P["member"][walk_i]] & np.isinf(cap)
            opts[np.arange(walk_i.size), shelter[walk_i]] = True
        self.sim = CrowdSim(net, start[walk_i], depart_net[walk_i], shelter[walk_i],
                            self.next_node, snode, member=P["member"][walk_i],
                            n_members=ctx.n_members, fd=Weidmann(**self.fd),
                            dt=min(self.substep, self.dt), reroute=self.route_switch,
                            options=opts)
        self._cars(ctx, city, snode, start, reach)
        L = net.n_links
        self.peak = np.zeros((ctx.n_members, L))
        self.peak_q = np.zeros((ctx.n_members, L), np.int64)
        self.peak_t = np.full((ctx.n_members, L), np.nan)
        self.layer_attrs = {"n_people": int(P["x"].size), "n_shelters": int(sel.size),
                            "fd": "Weidmann 1993", "walkway_links": int(L)}
        self._done = False

    def _people(self, inp, city, rng, kind):
        if hasattr(inp, "draw"):
            try:
                p = dict(inp.draw(city, rng))
            except Exception as e:  # the agents' typed errors, named as the crowd's input
                if type(e).__name__ in ("AgentsError", "CrowdError"):
                    raise CrowdError(str(e)) from e
                raise
        elif isinstance(inp, dict):
            p = dict(inp)
        else:
            raise CrowdError("input is an Evacuation (agents.evacuation) or a dict of person "
                             "arrays, not " + type(inp).__name__)
        need = ("x", "y", "depart_s")
        if any(c not in p for c in need):
            raise CrowdError(f"input lacks {[c for c in need if c not in p]}")
        n = np.asarray(p["x"]).size
        if n == 0:
            raise CrowdError("the evacuation zone contains no household")
        out = {"x": np.asarray(p["x"], np.float64), "y": np.asarray(p["y"], np.float64),
               "depart_s": np.asarray(p["depart_s"], np.float64)}
        for c, fill in (("household", None), ("building", ""), ("mode", "walk")):
            v = p.get(c)
            out[c] = (np.arange(n).astype(str) if fill is None else np.full(n, fill)
                      ) if v is None else np.asarray(v).astype(str)
        if not (np.isfinite(out["x"]).all() and np.isfinite(out["y"]).all()
                and np.isfinite(out["depart_s"]).all()):
            raise CrowdError("person positions and departure times must be finite")
        bad = ~np.isin(out["mode"], ("walk", "car"))
        if bad.any():
            raise CrowdError(f"unknown mode {str(out['mode'][bad][0])!r} (walk or car)")
        ids = np.asarray(city.sites.ids, object).astype(str)
        names = p.get("shelters")
        if names is None:
            idx = np.flatnonzero(kind == "shelter")
            if not idx.size:
                raise CrowdError("the city has no site of kind 'shelter'")
        else:
            m = {s: i for i, s in enumerate(ids)}
            unknown = [s for s in names if s not in m]
            if unknown:
                raise CrowdError(f"unknown shelter site {unknown[0]!r}")
            idx = np.array([m[s] for s in names], np.int64)
        zone = getattr(inp, "zone", None)
        if zone is not None and idx.size:
            idx = idx[~zone.contains(np.asarray(city.sites.xyz)[idx, :2])]
            if not idx.size:
                raise CrowdError("every shelter lies inside the evacuation zone")
        return out, idx

    def _cars(self, ctx, city, snode, start, reach) -> None:
        P = self.P
        car = reach & (P["mode"] == "car")
        # one car per household: its first person drives, the others ride
        _, first = np.unique(np.char.add(P["member"].astype(str),
                                         np.char.add("|", P["household"])), return_index=True)
        lead = np.zeros(car.size, bool)
        lead[first] = True
        self.car_i = np.flatnonzero(car & lead)
        hh_key = np.char.add(P["member"].astype(str), np.char.add("|", P["household"]))
        self.car_of = np.full(car.size, -1, np.int64)
        if not self.car_i.size:
            self.trip_ids = np.zeros(0, np.int64)
            return
        try:
            tr = ctx.kernel(self.traffic)
        except KeyError:
            raise CrowdError(f"{self.car_i.size} households drive, but the scenario has no "
                             f"traffic kernel {self.traffic!r}") from None
        roads = city.roads
        from scipy.spatial import cKDTree

        tree = cKDTree(np.asarray(roads.node_xy, np.float64))
        _, home_node = tree.query(np.c_[P["x"], P["y"]][self.car_i])
        _, shel_node = tree.query(self.net.xy[snode])
        lf, lt = np.asarray(roads.link_from), np.asarray(roads.link_to)
        out_link = np.full(roads.n_nodes, -1, np.int64)
        in_link = np.full(roads.n_nodes, -1, np.int64)
        out_link[lf[::-1]] = np.arange(lf.size)[::-1]
        in_link[lt[::-1]] = np.arange(lt.size)[::-1]
        o = out_link[home_node]
        d = in_link[shel_node[self.shelter[self.car_i]]]
        if (o < 0).any() or (d < 0).any():
            raise CrowdError("a car household's home or shelter has no road link nearby")
        m = P["member"][self.car_i]
        self.trip_ids = np.zeros(self.car_i.size, np.int64)
        for k in np.unique(m):
            s = m == k
            self.trip_ids[s] = tr.insert_trips(o[s], d[s], depart=P["depart_s"][self.car_i][s],
                                               member=int(k))
        pos = {h: j for j, h in enumerate(hh_key[self.car_i])}
        self.car_of[car] = [pos[h] for h in hh_key[car]]

    # ---- stepping ----------------------------------------------------------------------
    def _car_state(self, ctx):
        """(n_cars,) arrival time (NaN: not yet) and stuck flag."""
        n = self.car_i.size
        if not n:
            return np.zeros(0), np.zeros(0, bool)
        tr = ctx.kernel(self.traffic)
        m = self.P["member"][self.car_i]
        arr, stuck = np.full(n, np.nan), np.zeros(n, bool)
        for k in np.unique(m):
            s = np.flatnonzero(m == k)
            f = tr.follow(self.trip_ids[s], member=int(k))
            arr[s], stuck[s] = f["arrival"], np.isfinite(f["stuck"])
        return arr, stuck

    def step(self, t: float, dt: float, ctx):
        s = self.sim
        s.advance(t + dt)
        dens = s.density()
        up = dens > self.peak
        self.peak = np.where(up, dens, self.peak)
        self.peak_t = np.where(up, t + dt, self.peak_t)
        self.peak_q = np.maximum(self.peak_q, s.queue)
        if not ctx.record_due:
            return None
        return self._record(ctx, t + dt)

    def _person_times(self, ctx):
        """(P,) arrival time (NaN: not arrived) and given-up flag of every person."""
        P = self.P
        n = P["x"].size
        arr, gone = np.full(n, np.nan), self.status != ""
        s = self.sim
        arr[self.walk_i] = s.arrive
        gone[self.walk_i] |= s.status == NO_ROUTE
        carr, stuck = self._car_state(ctx)
        c = self.car_of >= 0
        arr[c] = carr[self.car_of[c]]
        gone[c] |= stuck[self.car_of[c]]
        return arr, gone

    def _record(self, ctx, now) -> dict:
        K, P = ctx.n_members, self.P
        arr, gone = self._person_times(ctx)
        m = P["member"]
        cnt = lambda mask: np.bincount(m[mask], minlength=K)  # noqa: E731
        total = cnt(np.ones(m.size, bool))
        ev = cnt(np.isfinite(arr))
        home = cnt(~gone & ~np.isfinite(arr) & (P["depart_s"] > now))
        walking = np.bincount(self.sim.member[self.sim.status == WALKING], minlength=K)
        ng = cnt(gone)
        dens = self.sim.density()
        return {"evacuated_share": ev / np.maximum(total, 1), "evacuated": ev, "home": home,
                "walking": walking, "driving": np.maximum(total - ev - home - walking - ng, 0),
                "not_evacuated": ng, "max_density": dens.max(1) if dens.size else
                np.zeros(K), "link_peds": self.sim.count, "link_density": dens,
                "link_queue": self.sim.queue}

    # ---- tables ------------------------------------------------------------------------
    def on_checkpoint(self, final: bool, ctx) -> None:
        if not final or self._done:
            return
        self._done = True
        P, s = self.P, self.sim
        arr, gone = self._person_times(ctx)
        start = P["depart_s"].copy()
        status = self.status.copy()
        status[(status == "") & np.isfinite(arr)] = "arrived"
        w = self.walk_i
        status[w[s.status == NO_ROUTE]] = "not_evacuated:no_route"
        c = self.car_of >= 0
        status[(status == "") & c & gone] = "not_evacuated:car_stuck"
        status[(status == "") & ~np.isfinite(arr) & (P["depart_s"] > ctx.now)] = (
            "not_evacuated:still_home")
        status[status == ""] = "not_evacuated:en_route"
        shel = self.shelter.copy()
        shel[w] = s.dest                                 # walkers may have switched
        sh = np.where(shel >= 0, self.shelter_ids[np.maximum(shel, 0)], "")
        for k in range(ctx.n_members):
            i = np.flatnonzero(P["member"] == k)
            ctx.table("evacuees").append({
                "evac_household": P["household"][i], "evac_building": P["building"][i],
                "evac_mode": P["mode"][i], "evac_shelter": sh[i], "evac_start_s": start[i],
                "evac_arrival_s": arr[i], "evac_travel_s": arr[i] - start[i],
                "evac_status": status[i]}, member=k)
            top = np.argsort(-self.peak[k], kind="stable")[:self.n_bottlenecks]
            top = top[self.peak[k, top] > 0]
            ctx.table("bottlenecks").append({
                "bn_link": self.net.ids[top], "bn_max_density": self.peak[k, top],
                "bn_max_queue": self.peak_q[k, top], "bn_time_s": self.peak_t[k, top],
                "bn_width_m": self.net.width[top]}, member=k)

    def config(self) -> dict:
        return {k: getattr(self, k) for k in ("dt", "substep", "traffic", "fd", "max_access_m",
                                              "segment_m", "sidewalk_width", "n_bottlenecks",
                                              "route_switch", "name")}

    @classmethod
    def kpis(cls, layer: LayerData):
        return _kpis.kpis(layer)

    @classmethod
    def series(cls, layer: LayerData) -> dict:
        return _kpis.series(layer)

    @classmethod
    def report(cls, layer: LayerData) -> str:
        return _kpis.report(layer)


__all__ = ["CrowdProcess", "EVAC_COLUMNS", "walk_network", "HOME", "ARRIVED"]
