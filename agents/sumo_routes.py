"""SUMO route files (``.rou.xml``, ``.trips.xml``) as trips: :func:`read_sumo_routes`.

Read (children of ``<routes>``; parsed entity-safe, as the city readers do):

- ``vType``: ``length``, ``minGap``, ``accel``, ``decel`` (m, m/s²), ``maxSpeed`` (m/s),
  ``vClass``; SUMO's defaults where not given (passenger car: 5 m, 2.5 m, 2.6, 4.5,
  55.56 m/s). ``DEFAULT_VEHTYPE`` always exists;
- ``route`` (named, ``edges``), ``vehicle`` (with ``route=`` a named route or a ``<route>``
  child), ``trip`` (``from``/``to`` edges; ``via`` kept in the route-less trip's
  ``meta``), ``flow`` (with a route or from/to) expanded deterministically as SUMO does:
  ``period`` (or ``vehsPerHour`` → period 3600/vph) from ``begin`` while before ``end``
  (default 24 h) and at most ``number``; ``number`` with ``end`` alone → equal spacing; the
  random forms (``probability``, ``period="exp(r)"``) draw from ``seed``. Vehicle ids of a
  flow are ``<flow id>.<k>``, as in SUMO.
- ``vTypeDistribution`` / ``routeDistribution`` (members with ``probability``): each
  vehicle draws its type / route from ``seed``;
- persons, containers, stops, … are counted in ``meta["not_read"]``.

Edges are road link ids (a network read from the same SUMO ``.net.xml``). A trip's origin
and destination are its first and last link; they are not required to lie in the largest
strongly connected part of the network (a real cut-out is entered and left through one-way
dead ends), since the route, or the link pair, says where the vehicle goes. Routes are
checked: consecutive edges must be joined by a connection of the network (or, without a
connection table, by a shared node).

Bad input raises :class:`~agents.errors.DemandError` naming the file, the line and the
element (``vehicle 'v3': route edge 'x' is not a road link of the city``); malformed XML too.

Speed: a file is first read without building a tree or keeping lines, its routes mapped and
checked in one compiled pass (:mod:`agents._sumo_routes_links`); only a file with something
amiss (an error, a DOCTYPE, malformed XML) is read again the line-keeping way, from the same
random state, so that results and errors are those of one careful read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

import numpy as np

from cim.errors import CIMError
from cim.formats import Source

from ._sumo_routes_links import RouteLinks, collect, collect_fast, route_strings
from .errors import DemandError
from .profiles import parse_clock
from .sampling import as_generator
from .trips import GIVEN, Trips

#: SUMO's default vehicle type (passenger car)
DEFAULT_VTYPE = {"length": 5.0, "minGap": 2.5, "accel": 2.6, "decel": 4.5,
                 "maxSpeed": 55.56, "vClass": "passenger"}
_VT_NUM = ("length", "minGap", "accel", "decel", "maxSpeed")
_EXTRA = ("origin_link", "destination_link", "route", "vtype", "length", "min_gap", "accel",
          "decel", "max_speed", "vclass")
_EXP = re.compile(r"exp\(\s*([0-9.eE+-]+)\s*\)")
DAY_S = 86400.0
_VEHICLES = ("vehicle", "trip", "flow")
_DEFINITIONS = frozenset(("vType", "route", "vTypeDistribution", "routeDistribution"))


@dataclass
class SumoTrips(Trips):
    """:class:`~agents.trips.Trips` read from a SUMO route file, with per-row extras:

    ``origin_link`` / ``destination_link`` int64 link indices into ``city.roads``;
    ``route`` object: an int64 array of link indices (origin first, destination last) or
    None (trips with from/to only: routed by the twin); ``vtype`` object str; ``length``,
    ``min_gap`` (m), ``accel``, ``decel`` (m/s²), ``max_speed`` (m/s) float64; ``vclass``
    object str. ``vtypes`` (not per row): {type id: its attributes}.
    """

    origin_link: np.ndarray | None = None
    destination_link: np.ndarray | None = None
    route: np.ndarray | None = None
    vtype: np.ndarray | None = None
    length: np.ndarray | None = None
    min_gap: np.ndarray | None = None
    accel: np.ndarray | None = None
    decel: np.ndarray | None = None
    max_speed: np.ndarray | None = None
    vclass: np.ndarray | None = None
    vtypes: dict | None = None

    def __post_init__(self):
        super().__post_init__()
        n = len(self.trip_id)
        for name in ("origin_link", "destination_link"):
            v = getattr(self, name)
            setattr(self, name, np.full(n, -1, np.int64) if v is None
                    else np.asarray(v, np.int64))
        for name in ("route", "vtype", "vclass"):
            v = getattr(self, name)
            a = np.empty(n, object)
            if v is not None:
                a[:] = list(v)
            setattr(self, name, a)
        for name in ("length", "min_gap", "accel", "decel", "max_speed"):
            v = getattr(self, name)
            setattr(self, name, np.full(n, np.nan) if v is None else np.asarray(v, float))

    def select(self, mask) -> SumoTrips:
        base = Trips.select(self, mask)
        idx = np.asarray(mask)
        kw = {f.name: getattr(base, f.name) for f in fields(Trips)}
        return SumoTrips(**kw, **{k: getattr(self, k)[idx] for k in _EXTRA},
                         vtypes=self.vtypes)

    def routes(self) -> list:
        """Return the routes as a list (link index arrays or None), e.g. for
        ``traffic.add_trips(routes=...)``."""
        return list(self.route)


def _num(a, key, what, path, line, default=None, minimum=None, positive=False):
    v = a.get(key)
    if v is None:
        if default is None:
            raise DemandError(f"{what} has no '{key}'", path=path, line=line)
        return default
    try:
        x = float(v)
    except ValueError:
        raise DemandError(f"{what}: '{key}' is not a number", path=path, line=line,
                          value=v) from None
    if not math.isfinite(x) or (minimum is not None and x < minimum) or (positive and x <= 0):
        raise DemandError(f"{what}: '{key}' must be finite and "
                          f"{'> 0' if positive else f'>= {minimum:g}'}", path=path, line=line,
                          value=v)
    return x


def _depart(a, what, path, line):
    d = a.get("depart")
    if d is None:
        raise DemandError(f"{what} has no 'depart'", path=path, line=line)
    if d in ("triggered", "containerTriggered", "split", "begin"):
        raise DemandError(f"{what}: depart={d!r} is not supported (give a time in s)",
                          path=path, line=line, value=d)
    return _num(a, "depart", what, path, line, minimum=0.0)


def _flow_departs(a, what, path, line, rng):
    begin = _num(a, "begin", what, path, line, default=0.0, minimum=0.0)
    end = _num(a, "end", what, path, line, default=DAY_S, minimum=begin)
    number = a.get("number")
    n_max = None if number is None else int(_num(a, "number", what, path, line, minimum=0))
    per = a.get("period")
    if a.get("vehsPerHour") is not None:
        per = 3600.0 / _num(a, "vehsPerHour", what, path, line, positive=True)
    elif a.get("probability") is not None:
        p = _num(a, "probability", what, path, line, minimum=0.0)
        if p > 1:
            raise DemandError(f"{what}: 'probability' must be <= 1", path=path, line=line,
                              value=p)
        t = begin + np.flatnonzero(rng.random(int(np.ceil(end - begin))) < p)
        return t[:n_max] if n_max is not None else t
    if isinstance(per, str):
        m = _EXP.fullmatch(per.strip())
        if m:  # Poisson arrivals with rate r per s
            rate = float(m.group(1))
            if not rate > 0:
                raise DemandError(f"{what}: exp() rate must be > 0", path=path, line=line,
                                  value=per)
            gaps = rng.exponential(1.0 / rate, int((end - begin) * rate * 2 + 20))
            t = begin + np.cumsum(gaps)
            t = t[t < end]
            return t[:n_max] if n_max is not None else t
        per = _num(a, "period", what, path, line, positive=True)
    if per is None:
        if n_max is None:
            raise DemandError(f"{what} needs one of 'period', 'vehsPerHour', 'probability' "
                              "or 'number'", path=path, line=line)
        if a.get("end") is None:
            raise DemandError(f"{what}: 'number' alone needs 'end'", path=path, line=line)
        return begin + np.arange(n_max) * ((end - begin) / max(n_max, 1))
    k = int(np.ceil((end - begin) / per - 1e-9))
    if n_max is not None:
        k = min(k, n_max) if a.get("end") is not None else n_max
    return begin + np.arange(max(k, 0)) * per


def read_sumo_routes(path, city, *, start="00:00", begin: float = 0.0, seed=0,
                     lenient: bool = False) -> SumoTrips:
    """Return the vehicles, trips and flows of a SUMO route file as :class:`SumoTrips`,
    sorted by departure (see the module docstring).

    start : scenario start clock time (metadata, ``trips.start_s``).
    begin : SUMO time (s) of the scenario start: ``depart_s = depart - begin``; vehicles
        departing before it are dropped (counted in ``meta["before_begin"]``).
    seed : for the random flow forms only.
    lenient : skip bad elements (listed in ``meta["skipped"]``) instead of raising.
    """
    path = str(path)
    t0 = parse_clock(start, what="start")
    rng = as_generator(seed)
    links = RouteLinks(city.roads, path)
    fast = collect_fast(path)
    if fast is not None:
        # a clean file is read without lines; anything amiss in it is read again, with the
        # lines its errors name (from the same random state)
        state = rng.bit_generator.state
        try:
            return _read(path, city, *fast, links, t0, begin, rng, None)
        except DemandError:
            rng.bit_generator.state = state
    return _read(path, city, *collect(path), links, t0, begin, rng, lenient)


def _plain_vehicles(items, vtypes, dists, links):
    """Return the rows (ids, departs, routes, origin links, destination links, vtypes) of a
    file whose vehicles all are ``<vehicle>`` with a ``<route>`` child, a plain type and a
    depart in s, as the loop in :func:`_read` makes them; None for any other file. Raises a
    DemandError, without a line, where one of them is bad."""
    veh = [a for tag, a, _, child in items if tag in _VEHICLES]
    kids = [child for tag, _, _, child in items if tag == "vehicle" and child is not None]
    if len(kids) != len(veh):
        return None
    bad = DemandError("a bad vehicle")
    ids = [a.get("id") for a in veh]
    typs = [a.get("type", "DEFAULT_VEHTYPE") for a in veh]
    if not all(ids) or any(t not in vtypes or t in dists for t in set(typs)):
        raise bad
    try:
        dep = [float(a["depart"]) for a in veh]
    except (KeyError, ValueError):
        raise bad from None
    d = np.array(dep, float)
    if not (np.isfinite(d) & (d >= 0)).all():
        raise bad
    rts = list(map(links.cache.get, kids))
    for k in [k for k, r in enumerate(rts) if r is None]:   # not mapped in advance
        rts[k] = links.route(kids[k], "vehicle", None)
    return ids, dep, rts, [r[0] for r in rts], [r[-1] for r in rts], typs


def _read(path, city, items, other, links, t0, begin, rng, lenient) -> SumoTrips:
    """Return the trips of the elements ``items`` of :func:`collect` (see read_sumo_routes;
    ``lenient`` None: a clean file read fast, every error raised without a line)."""
    links.prepare(route_strings(items))
    skipped: list[str] = []

    def fail(e):
        if not lenient:
            raise e
        skipped.append(str(e))

    vtypes = {"DEFAULT_VEHTYPE": dict(DEFAULT_VTYPE)}
    routes: dict[str, np.ndarray] = {}
    dists: dict[str, tuple[list, np.ndarray]] = {}  # distribution id -> (members, p)

    def vtype(a, line):
        what = f"vType {a.get('id')!r}"
        if not a.get("id"):
            raise DemandError("vType has no 'id'", path=path, line=line)
        vt = dict(DEFAULT_VTYPE)
        vt.update({k: v for k, v in a.items() if k not in _VT_NUM})
        for k in _VT_NUM:
            vt[k] = _num(a, k, what, path, line, default=DEFAULT_VTYPE[k],
                         minimum=0.0, positive=k != "minGap")
        vtypes[a["id"]] = vt
        return a["id"]

    for tag, a, line, kids in [it for it in items if it[0] in _DEFINITIONS]:
        try:
            if tag == "vType":
                vtype(a, line)
            elif tag == "route" and a.get("id"):
                routes[a["id"]] = links.route(a.get("edges", ""), f"route {a['id']!r}", line)
            elif tag in ("vTypeDistribution", "routeDistribution"):
                what = f"{tag} {a.get('id')!r}"
                if tag == "vTypeDistribution":
                    members = [vtype(k, ln) for k, ln in kids]
                else:
                    members = [links.route(k.get("edges", ""), what, ln) for k, ln in kids]
                p = np.array([_num(k, "probability", what, path, ln, default=1.0, minimum=0.0)
                              for k, ln in kids], float)
                if not members or not p.sum() > 0:
                    raise DemandError(f"{what} has no members with probability > 0",
                                      path=path, line=line)
                dists[a.get("id", "")] = (members, p / p.sum())
        except DemandError as e:
            fail(e)

    def draw(name, n):
        members, p = dists[name]
        return [members[k] for k in rng.choice(len(members), size=n, p=p)]
    # one entry per vehicle: id, depart, route or None, origin and destination link, vtype
    plain = _plain_vehicles(items, vtypes, dists, links) if lenient is None else None
    ids, dep, rts, org, dst, typs = plain or ([], [], [], [], [], [])
    for tag, a, line, child in ([] if plain else items):
        if tag not in _VEHICLES:
            continue
        vid = a.get("id")
        what = f"{tag} {vid!r}"
        try:
            if not vid:
                raise DemandError(f"{tag} has no 'id'", path=path, line=line)
            typ = a.get("type", "DEFAULT_VEHTYPE")
            if typ not in vtypes and typ not in dists:
                raise DemandError(f"{what}: unknown vType", path=path, line=line, value=typ)
            rname = a.get("route") if tag != "trip" else None
            o = d = -1
            if child is not None:
                r = links.route(child, what, line)
            elif rname and rname in routes:
                r = routes[rname]
            elif rname and rname in dists:
                r = "dist"
            elif rname:
                raise DemandError(f"{what}: unknown route", path=path, line=line, value=rname)
            elif a.get("from") and a.get("to"):
                r = None
                o = int(links.route(a["from"], what, line)[0])
                d = int(links.route(a["to"], what, line)[0])
            else:
                raise DemandError(f"{what} needs a route (or 'from' and 'to' edges); "
                                  "vehicles defined by stops alone are not read",
                                  path=path, line=line)
            if tag != "flow":        # one vehicle (the common case: no lists)
                x = _depart(a, what, path, line)
                rr = draw(rname, 1)[0] if isinstance(r, str) else r
                tt = draw(typ, 1)[0] if typ in dists else typ
                if rr is not None:
                    o, d = int(rr[0]), int(rr[-1])
                ids.append(vid)
                dep.append(x)
                rts.append(rr)
                org.append(o)
                dst.append(d)
                typs.append(tt)
                continue
            t = _flow_departs(a, what, path, line, rng)
            k = len(t)
            rs = draw(rname, k) if isinstance(r, str) else [r] * k
            ids.extend(f"{vid}.{j}" for j in range(k))
            dep.extend(t.tolist())
            rts.extend(rs)
            org.extend(o if rr is None else int(rr[0]) for rr in rs)
            dst.extend(d if rr is None else int(rr[-1]) for rr in rs)
            typs.extend(draw(typ, k) if typ in dists else [typ] * k)
        except DemandError as e:
            fail(e)
    if len(set(ids)) != len(ids):
        seen: set = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise DemandError("duplicate vehicle id", path=path, value=dup)
    depart = np.array(dep, float) - begin
    keep = depart >= 0
    order = np.flatnonzero(keep)
    order = order[np.argsort(depart[order], kind="stable")].tolist()
    n = len(order)
    roads = city.roads
    o = np.array(org, np.int64)[order]
    d = np.array(dst, np.int64)[order]
    typs = [typs[k] for k in order]
    names = list(dict.fromkeys(typs))           # the vType attributes, taken per type
    code = np.fromiter(map({t: k for k, t in enumerate(names)}.__getitem__, typs), np.int64,
                       n)

    def col(key, dtype):
        v = np.empty(len(names), dtype)
        v[:] = [vtypes[t][key] for t in names]
        return v[code]
    return SumoTrips(
        np.array(ids, object)[order].reshape(-1), depart[order],
        roads.link_from[o], roads.link_to[d], np.full(n, -1), np.full(n, -1),
        np.full(n, GIVEN, np.int8), roads.node_ids, city.buildings.ids, t0,
        {"source": path, "skipped": skipped, "before_begin": int((~keep).sum()),
         "not_read": other, "vehicles": n},
        origin_link=o, destination_link=d, route=[rts[k] for k in order],
        vtype=typs, length=col("length", float), min_gap=col("minGap", float),
        accel=col("accel", float), decel=col("decel", float),
        max_speed=col("maxSpeed", float), vclass=col("vClass", object), vtypes=vtypes)


def is_sumo_routes(path) -> bool:
    """True when ``path`` names a SUMO route file (by name, else by its first bytes)."""
    name = str(path).lower()
    for suffix in (".gz", ".bz2"):
        name = name.removesuffix(suffix)
    if name.endswith((".rou.xml", ".trips.xml", ".xml")):
        return True
    try:
        head = Source.open_path(path).head[:4096]
    except CIMError:
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and b"<routes" in head
