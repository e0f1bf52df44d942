"""Incidents: seeded Poisson generators by type and building use, and scripted incidents.

An incident has a **type** (:data:`INCIDENT_TYPES`: ``fire``, ``medical``, ``traffic_crash``,
``pipe_burst``, ``power_fault``, ``flooding``), a time (s from the scenario start), a place
(a building, a road link, a water pipe or a power line — always resolved to the road link a
unit drives to) and a priority (1 most urgent). :func:`generate_incidents` draws them for a
run as a non-homogeneous Poisson process with a piecewise-constant hourly rate: for each
type, hour and source (building, road link, pipe, line) the count is Poisson with mean
``rate × profile[hour] × seconds``, drawn for all sources and hours at once (a Poisson count
per hour, sources drawn by their share of the rate, times uniform within the hour), which
is the same process as independent Poisson arrivals per source. :func:`incident` makes a
scripted one.

Rates (events per year) — stated assumptions, each with the figure it rests on
------------------------------------------------------------------------------
``fire``: 2e-4 per resident (dwellings), 1e-4 per job (shops, offices, schools). China
records of the order of 0.75 M fires a year for 1.41 G people (national fire statistics of
the Ministry of Emergency Management, 2021: 74.8万 起), i.e. ~5e-4 per person, of which
dwellings are a large minority.
``medical``: 0.04 per resident, 0.005 per job. Assumption of the order of ambulance
dispatches per resident in large Chinese cities (tens per 1,000 residents a year; Western
EMS systems see 100–130 per 1,000).
``traffic_crash``: 0.3 per directed km of trunk/primary/secondary road, 0.1 on other roads
(crashes that need an ambulance; assumption).
``pipe_burst``: 0.1 per km of water main. Folkman (2018), *Water Main Break Rates in the USA
and Canada*, Utah State University: 14 breaks per 100 miles a year (0.087 per km).
``power_fault``: 0.03 per km of line (10 kV cable faults of a few per 100 km a year;
assumption).
``flooding``: 1e-4 per building (dry-weather flooding calls: burst service pipes, blocked
drains; assumption), times ``rain_factor`` on a rainy day.

Hourly profiles (mean 1 over the day) are assumptions shaped like published diurnal
curves: medical calls low at night and high 09:00–21:00, crashes peaking in the commuting
hours, fires in the evening (cooking); bursts, faults and flooding calls are flat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DispatchError

YEAR_S = 365.0 * 86400.0


@dataclass(frozen=True)
class IncidentType:
    """What an incident type asks of the responders.

    unit : kind of unit sent (``fire_engine``, ``ambulance``, ``water_crew``,
    ``power_crew``); priority : 1 most urgent (queued calls are served by priority, then
    time); processing_s : call taking before dispatch (s); turnout_s : from dispatch to
    the unit driving off (s); on_scene_s : median on-scene (or repair) time (s), lognormal
    with ``on_scene_sigma`` (0: exactly the median); transport : share of incidents whose
    patient is taken to hospital; handover_s : time at the hospital (s).
    """

    unit: str
    priority: int = 2
    processing_s: float = 60.0
    turnout_s: float = 60.0
    on_scene_s: float = 1200.0
    on_scene_sigma: float = 0.4
    transport: float = 0.0
    handover_s: float = 900.0


#: Default types. Call processing 60 s (NFPA 1221: 90 % of alarms within 64 s); turnout
#: 80 s for fire, 60 s for EMS (NFPA 1710); crews 10 min (assumption). On-scene medians:
#: assumptions (fire 30 min, EMS 15 min, a main repair 3 h, a cable joint 2 h).
INCIDENT_TYPES: dict[str, IncidentType] = {
    "fire": IncidentType("fire_engine", 1, 60.0, 80.0, 1800.0, 0.5),
    "medical": IncidentType("ambulance", 1, 60.0, 60.0, 900.0, 0.4, transport=0.7),
    "traffic_crash": IncidentType("ambulance", 2, 60.0, 60.0, 1200.0, 0.4, transport=0.5),
    "pipe_burst": IncidentType("water_crew", 2, 60.0, 600.0, 3 * 3600.0, 0.3),
    "power_fault": IncidentType("power_crew", 2, 60.0, 600.0, 2 * 3600.0, 0.3),
    "flooding": IncidentType("fire_engine", 3, 60.0, 80.0, 2400.0, 0.5),
}

#: Rates per year: {type: {"per_resident": {use: r}, "per_job": {use: r}, ...}} (see the
#: module docstring). Uses not named get the "*" entry.
RATES: dict[str, dict] = {
    "fire": {"per_resident": {"*": 2e-4}, "per_job": {"*": 1e-4}},
    "medical": {"per_resident": {"*": 0.04}, "per_job": {"*": 0.005}},
    "traffic_crash": {"per_road_km": {"trunk": 0.3, "primary": 0.3, "secondary": 0.3,
                                      "*": 0.1}},
    "pipe_burst": {"per_pipe_km": 0.1},
    "power_fault": {"per_line_km": 0.03},
    "flooding": {"per_building": {"*": 1e-4}},
}

_FLAT = np.ones(24)
#: Hourly profiles (hour 0 = midnight), normalised to mean 1 when used.
PROFILES: dict[str, np.ndarray] = {
    "medical": np.array([.55, .45, .4, .35, .35, .4, .6, .85, 1.1, 1.25, 1.3, 1.3, 1.25,
                         1.25, 1.25, 1.25, 1.25, 1.25, 1.25, 1.2, 1.15, 1.0, .85, .7]),
    "traffic_crash": np.array([.3, .2, .2, .2, .25, .4, .8, 1.6, 1.9, 1.3, 1.1, 1.1, 1.1,
                               1.1, 1.1, 1.2, 1.5, 1.9, 1.7, 1.2, .9, .7, .5, .4]),
    "fire": np.array([.6, .5, .45, .4, .4, .45, .6, .8, .9, 1.0, 1.1, 1.2, 1.3, 1.2, 1.1,
                      1.1, 1.2, 1.5, 1.6, 1.5, 1.3, 1.1, .9, .7]),
    "pipe_burst": _FLAT, "power_fault": _FLAT, "flooding": _FLAT,
}


@dataclass
class Incidents:
    """Incidents as columns, (n,) each, sorted by time: ``time`` (s), ``type`` (str),
    ``priority`` (int), ``building`` / ``water_link`` / ``power_link`` / ``road_link``
    (ids, "" when none; ``road_link`` is where the unit drives, "" = resolved from the
    others), ``scripted`` (bool), ``start_event`` (bool: the incident's lifeline event —
    burst, outage — is applied when it happens; False when the scenario applies it)."""

    time: np.ndarray
    type: np.ndarray
    priority: np.ndarray
    building: np.ndarray
    water_link: np.ndarray
    power_link: np.ndarray
    road_link: np.ndarray
    scripted: np.ndarray
    start_event: np.ndarray
    details: list = field(default_factory=list)

    COLUMNS = ("time", "type", "priority", "building", "water_link", "power_link",
               "road_link", "scripted", "start_event")

    def __len__(self) -> int:
        return int(self.time.size)

    @classmethod
    def empty(cls) -> Incidents:
        s = np.zeros(0, dtype=object)
        return cls(np.zeros(0), s, np.zeros(0, np.int64), s, s, s, s, np.zeros(0, bool),
                   np.zeros(0, bool), [])

    @classmethod
    def concat(cls, parts) -> Incidents:
        parts = [p for p in parts if p is not None]
        if not parts:
            return cls.empty()
        cols = {c: np.concatenate([getattr(p, c) for p in parts]) for c in cls.COLUMNS}
        details = [d for p in parts for d in (p.details or [{}] * len(p))]
        order = np.argsort(cols["time"], kind="stable")
        out = cls(**{c: v[order] for c, v in cols.items()}, details=[details[i]
                                                                   for i in order])
        for c in ("type", "building", "water_link", "power_link", "road_link"):
            setattr(out, c, getattr(out, c).astype(object))
        return out

    def counts(self) -> dict:
        """Return {type: number of incidents}."""
        t, n = np.unique(self.type.astype(str), return_counts=True)
        return dict(zip(t.tolist(), n.tolist()))


def incident(type: str, *, at: float, building: str | None = None,
             road_link: str | None = None, water_link: str | None = None,
             power_link: str | None = None, priority: int | None = None,
             start_event: bool = True, **details) -> Incidents:
    """Return one scripted incident of ``type`` at ``at`` s, at a building, a road link, a
    pipe (``water_link``: a ``pipe_burst``) or a line (``power_link``: a ``power_fault``).
    ``start_event=False``: the scenario applies the burst / outage itself (the crew only
    isolates and repairs it)."""
    if type not in INCIDENT_TYPES:
        raise DispatchError(f"incident: unknown type {type!r} (known: "
                          f"{', '.join(INCIDENT_TYPES)})")
    if not np.isfinite(at) or at < 0:
        raise DispatchError(f"incident {type!r}: time {at} must be finite and >= 0")
    if not any((building, road_link, water_link, power_link)):
        raise DispatchError(f"incident {type!r} at {at:g} s has no location (building=, "
                          f"road_link=, water_link= or power_link=)")
    if type == "pipe_burst" and not water_link:
        raise DispatchError("a pipe_burst incident needs water_link= (the pipe)")
    if type == "power_fault" and not power_link:
        raise DispatchError("a power_fault incident needs power_link= (the line)")
    prio = INCIDENT_TYPES[type].priority if priority is None else int(priority)
    o = lambda v: np.array([v or ""], dtype=object)  # noqa: E731
    return Incidents(np.array([float(at)]), o(type), np.array([prio], np.int64), o(building),
                     o(water_link), o(power_link), o(road_link), np.array([True]),
                     np.array([bool(start_event)]), [dict(details)])


def _rate_of(table: dict, keys: np.ndarray) -> np.ndarray:
    """Per-element rate from {key: rate, "*": default} for (n,) str keys."""
    out = np.full(keys.size, float(table.get("*", 0.0)))
    for k, r in table.items():
        if k != "*":
            out[keys == k] = float(r)
    return out


def source_rates(city, rates: dict | None = None, rain_factor: float = 1.0) -> dict:
    """Return {type: (kind, ids, rate per s)}: each type's sources (``building``,
    ``road_link``, ``water_link``, ``power_link``) and their mean rates (events/s)."""
    rates = RATES if rates is None else rates
    out = {}
    b = city.buildings
    use = b.use.astype(str) if b is not None and len(b) else np.zeros(0, str)
    for typ, spec in rates.items():
        if typ not in INCIDENT_TYPES:
            raise DispatchError(f"rates: unknown incident type {typ!r}")
        if {"per_resident", "per_job", "per_building"} & set(spec):
            r = np.zeros(use.size)
            if "per_resident" in spec:
                r += _rate_of(spec["per_resident"], use) * np.nan_to_num(b.residents)
            if "per_job" in spec:
                r += _rate_of(spec["per_job"], use) * np.nan_to_num(b.jobs)
            if "per_building" in spec:
                r += _rate_of(spec["per_building"], use)
            if typ == "flooding":
                r *= float(rain_factor)
            out[typ] = ("building", b.ids if b is not None else np.zeros(0, object), r)
        elif "per_road_km" in spec:
            rd = city.roads
            r = _rate_of(spec["per_road_km"], rd.link_class.astype(str)) * rd.link_length
            out[typ] = ("road_link", rd.link_ids, r / 1000.0)
        elif "per_pipe_km" in spec:
            w = city.water_network
            if w is None:
                continue
            pipe = w.link_type.astype(str) == "pipe"
            r = np.where(pipe, float(spec["per_pipe_km"]) * w.link_length / 1000.0, 0.0)
            out[typ] = ("water_link", w.link_ids, r)
        elif "per_line_km" in spec:
            g = city.power_grid
            if g is None:
                continue
            lt = getattr(g, "link_type", None)
            line = np.ones(g.n_links, bool) if lt is None else lt.astype(str) == "line"
            r = np.where(line, float(spec["per_line_km"]) * g.link_length / 1000.0, 0.0)
            out[typ] = ("power_link", g.link_ids, r)
        else:
            raise DispatchError(f"rates[{typ!r}]: no per_resident/per_job/per_building/"
                              f"per_road_km/per_pipe_km/per_line_km entry")
    for typ, (_, _, r) in out.items():
        if not np.isfinite(r).all() or (r < 0).any():
            raise DispatchError(f"rates[{typ!r}]: negative or non-finite rates")
        out[typ] = (out[typ][0], out[typ][1], r / YEAR_S)
    return out


def generate_incidents(city, duration_s: float, rng: np.random.Generator, *,
                       start_s: float = 0.0, scale: float = 1.0, types=None,
                       rates: dict | None = None, profiles: dict | None = None,
                       rain_factor: float = 1.0) -> Incidents:
    """Return Poisson incidents over ``[0, duration_s)`` s of a run starting at time of day
    ``start_s`` (s after midnight, for the hourly profiles).

    scale : × every rate (a busy day, a stress test); types : the types to draw (None: every
    type in ``rates``); rates : :data:`RATES`-like table; profiles : {type: (24,) hourly
    factors}, normalised to mean 1 (default :data:`PROFILES`); rain_factor : × the flooding
    rate. Draws from ``rng`` only (seed it from the scenario)."""
    if not np.isfinite(duration_s) or duration_s < 0:
        raise DispatchError(f"generate_incidents: duration {duration_s} s")
    if not np.isfinite(scale) or scale < 0:
        raise DispatchError(f"generate_incidents: scale {scale} must be >= 0")
    profiles = {**PROFILES, **(profiles or {})}
    src = source_rates(city, rates, rain_factor)
    if types is not None:
        unknown = set(types) - set(INCIDENT_TYPES)
        if unknown:
            raise DispatchError(f"generate_incidents: unknown types {sorted(unknown)}")
        src = {t: v for t, v in src.items() if t in set(types)}
    # piecewise-constant hours: boundaries at whole hours of the day
    t0 = float(start_s)
    edges = np.arange(np.floor(t0 / 3600.0) * 3600.0, t0 + duration_s + 3600.0, 3600.0)
    lo = np.clip(edges[:-1], t0, t0 + duration_s)
    hi = np.clip(edges[1:], t0, t0 + duration_s)
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    hour = (np.floor(lo / 3600.0).astype(np.int64)) % 24
    parts = []
    for typ in sorted(src):
        kind, ids, r = src[typ]
        total = float(r.sum()) * scale
        if total <= 0 or lo.size == 0:
            continue
        prof = np.asarray(profiles.get(typ, _FLAT), float)
        if prof.shape != (24,) or (prof < 0).any() or prof.sum() <= 0:
            raise DispatchError(f"profiles[{typ!r}] must be 24 non-negative hourly factors")
        prof = prof / prof.mean()
        n = rng.poisson(total * prof[hour] * (hi - lo))
        if n.sum() == 0:
            continue
        times = np.repeat(lo, n) + rng.random(n.sum()) * np.repeat(hi - lo, n) - t0
        times = np.round(times * 1000.0) / 1000.0          # the runtime's clock: 1 ms
        where = rng.choice(r.size, size=n.sum(), p=r / r.sum())
        m = int(n.sum())
        blank = np.full(m, "", dtype=object)
        loc = {"building": blank, "road_link": blank, "water_link": blank,
               "power_link": blank}
        loc[kind] = np.asarray(ids, dtype=object)[where]
        parts.append(Incidents(times, np.full(m, typ, dtype=object),
                               np.full(m, INCIDENT_TYPES[typ].priority, np.int64),
                               loc["building"], loc["water_link"], loc["power_link"],
                               loc["road_link"], np.zeros(m, bool), np.ones(m, bool),
                               [{} for _ in range(m)]))
    return Incidents.concat(parts)
