"""Travel demand generated from the city model: seeded, vectorised vehicle trips.

:func:`generate_trips` builds the car trips of a scenario window from the buildings' residents,
jobs and commercial floor area:

1. **Trip production** (person trips per day, per resident): commuters
   (``workers_per_resident``) make one home→work and one work→home trip a day; every resident
   makes ``other_trips_per_resident`` other trips (shopping, errands, leisure), half of them
   from home and half back home. Only the share of each purpose's day that falls in the
   window (its time-of-day :class:`~agents.profiles.Profile`) is generated.
2. **Mode and occupancy**: person trips × ``car_share`` / ``occupancy`` = vehicle trips; only
   those go to the traffic kernel. Counts are drawn by stochastic rounding of the expectation,
   homes by a multinomial draw proportional to residents.
3. **Destination choice** (singly constrained gravity model): P(d | home h) ∝ A_d ·
   exp(−β · dist(h, d)), with A = jobs for commuting and commercial floor area for other trips,
   dist the straight-line distance between footprint centroids, β = ``beta_per_km``.
   Destinations on the home's own access node are excluded (such a trip never enters the
   network). Sampling is vectorised per block of homes through row-wise cumulative sums.
4. **Through traffic**: ``through_veh_per_h`` vehicles per hour (a constant rate, uniform
   departures) between main-road boundary nodes on opposite sides (west↔east, south↔north,
   each direction equally likely, nodes uniform within a side).

Buildings attach to their nearest routable node (largest strongly connected component), so
every trip has a route; see :mod:`agents.network`.

Defaults — **assumptions** for a Wuxi district, not calibrated figures (no public Wuxi travel
survey table was found): ``car_share`` 0.30 (Chinese cities of Wuxi's size report roughly a
quarter to a third of person trips by car, with e-bikes, buses and metro carrying most of the
rest), ``occupancy`` 1.3 persons per car, ``workers_per_resident`` 0.55, ``other_trips_per_
resident`` 1.0 (together 2.1 person trips per resident per day, within the 2–2.8 range usually
reported for Chinese cities), ``beta_per_km`` 0.4, no through traffic. Trips to and from places
outside the district other than through traffic are not modelled.
"""

from __future__ import annotations

import numpy as np

from .errors import DemandError
from .network import attach_buildings, boundary_nodes
from .profiles import Profile, default_profiles, format_clock, parse_clock
from .sampling import as_generator, stochastic_round
from .trips import OTHER, THROUGH, TO_HOME, TO_WORK, Trips

CAR_SHARE = 0.30
OCCUPANCY = 1.3
WORKERS_PER_RESIDENT = 0.55
OTHER_TRIPS_PER_RESIDENT = 1.0
BETA_PER_KM = 0.4
#: building use -> weight of its floor area as an attractor of other (non-commute) trips
COMMERCIAL_USE_WEIGHT = {"commercial": 1.0, "retail": 1.0, "mixed": 0.5}

_CHUNK_CELLS = 1_000_000  # origins × destinations evaluated per block of the gravity model


def _check_param(name, value, lo, hi=np.inf):
    v = float(value)
    if not (np.isfinite(v) and lo <= v <= hi):
        raise DemandError(f"parameter {name} must lie in [{lo:g}, {hi:g}]", value=value)
    return v


def _building_column(city, name) -> np.ndarray:
    b = city.buildings
    v = np.asarray(getattr(b, name), float)
    bad = np.flatnonzero(~np.isfinite(v) | (v < 0))
    if len(bad):
        i = int(bad[0])
        raise DemandError(f"building {b.ids[i]!r} has an invalid {name} ({len(bad)} buildings "
                          "in all)", value=v[i])
    return v


def attractors(city) -> dict[str, np.ndarray]:
    """Return the (n_buildings,) weights: ``residents``, ``jobs`` and ``commercial`` (floor
    area m² × :data:`COMMERCIAL_USE_WEIGHT`; jobs when the city has no commercial floor)."""
    res = _building_column(city, "residents")
    jobs = _building_column(city, "jobs")
    area = _building_column(city, "floor_area")
    use = np.asarray(city.buildings.use).astype(str)
    w = np.zeros(len(use))
    for u, k in COMMERCIAL_USE_WEIGHT.items():
        w[use == u] = k
    commercial = area * w
    if not commercial.sum() > 0:
        commercial = jobs
    return {"residents": res, "jobs": jobs, "commercial": commercial}


def gravity_destinations(rng: np.random.Generator, homes: np.ndarray, weight: np.ndarray,
                         xy: np.ndarray, node: np.ndarray, beta_per_km: float) -> np.ndarray:
    """Return (n,) int64 destination buildings for trips from buildings ``homes`` (n,):
    P(d | h) ∝ weight[d] · exp(−β · |xy[d] − xy[h]| / 1000), d on another node than h.
    −1 where a home has no admissible destination."""
    out = np.full(len(homes), -1, np.int64)
    cand = np.flatnonzero((weight > 0) & (node >= 0))
    if len(homes) == 0 or len(cand) == 0:
        return out
    u = rng.random(len(homes))
    order = np.argsort(homes, kind="stable")
    uniq, first, count = np.unique(homes[order], return_index=True, return_counts=True)
    beta = beta_per_km / 1000.0
    cxy, cnode, cw = xy[cand], node[cand], weight[cand]
    m = len(cand)
    block = max(1, _CHUNK_CELLS // m)
    for b0 in range(0, len(uniq), block):
        h = uniq[b0:b0 + block]
        k = len(h)
        dist = np.hypot(xy[h, 0][:, None] - cxy[:, 0], xy[h, 1][:, None] - cxy[:, 1])
        same = node[h][:, None] == cnode[None, :]
        # shift by each row's nearest admissible distance: same probabilities, no underflow
        dmin = np.where(same, np.inf, dist).min(axis=1)
        shift = np.where(np.isfinite(dmin), dmin, 0.0)
        w = cw * np.exp(-beta * np.maximum(dist - shift[:, None], 0.0))
        w[same] = 0.0
        cum = np.cumsum(w, axis=1)
        total = cum[:, -1]
        ok = total > 0
        cum /= np.where(ok, total, 1.0)[:, None]
        cum += np.arange(k)[:, None]
        t0, t1 = first[b0], first[b0 + k - 1] + count[b0 + k - 1]
        row = np.repeat(np.arange(k), count[b0:b0 + k])
        val = row + np.minimum(u[t0:t1], 1.0 - 1e-12)
        flat = np.searchsorted(cum.ravel(), val, side="right")
        col = np.clip(flat - row * m, 0, m - 1)
        out[order[t0:t1]] = np.where(ok[row], cand[col], -1)
    return out


def through_trips(rng: np.random.Generator, sides: dict[str, np.ndarray], n: int,
                  duration_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (depart_s, origin_node, destination_node) of ``n`` through trips between
    boundary nodes on opposite ``sides``, departures uniform over the window."""
    pairs = [(a, b) for a, b in (("west", "east"), ("east", "west"), ("south", "north"),
                                 ("north", "south")) if len(sides[a]) and len(sides[b])]
    if n and not pairs:
        raise DemandError("through traffic asked for, but the network has no main-road "
                          "(motorway/trunk/primary/secondary) nodes near two opposite edges",
                          value={k: len(v) for k, v in sides.items()})
    if n == 0:
        z = np.zeros(0, np.int64)
        return np.zeros(0), z, z
    names = list(sides)
    cat = np.concatenate([sides[s] for s in names])
    off = dict(zip(names, np.concatenate([[0], np.cumsum([len(sides[s]) for s in names])])))
    a_off = np.array([off[a] for a, _ in pairs])
    a_len = np.array([len(sides[a]) for a, _ in pairs])
    b_off = np.array([off[b] for _, b in pairs])
    b_len = np.array([len(sides[b]) for _, b in pairs])
    p = rng.integers(len(pairs), size=n)
    orig = cat[a_off[p] + (rng.random(n) * a_len[p]).astype(np.int64)]
    dest = cat[b_off[p] + (rng.random(n) * b_len[p]).astype(np.int64)]
    depart = rng.random(n) * duration_s
    return depart, orig, dest


def generate_trips(city, *, start="07:00", duration_s: float = 3 * 3600, seed=0,
                   car_share: float = CAR_SHARE, occupancy: float = OCCUPANCY,
                   workers_per_resident: float = WORKERS_PER_RESIDENT,
                   other_trips_per_resident: float = OTHER_TRIPS_PER_RESIDENT,
                   beta_per_km: float = BETA_PER_KM, through_veh_per_h: float = 0.0,
                   boundary_margin_m: float | None = None,
                   profiles: dict[str, Profile] | None = None, scale: float = 1.0) -> Trips:
    """Return the car trips of the window [start, start + duration_s), sorted by departure.

    city : cim.CityModel
        Buildings (``residents``, ``jobs``, ``use``, ``floor_area``, footprints) and roads.
    start : str | float
        Clock time of the scenario start, "HH:MM[:SS]" or seconds after midnight.
    duration_s : float
        Window length, s (may cross midnight; the profiles repeat daily).
    seed : int | numpy.random.Generator
        Source of every random draw; the same seed gives identical trips.
    car_share : float
        Share of person trips made by car (0–1); ``occupancy`` persons per car (≥ 1).
    workers_per_resident, other_trips_per_resident : float
        Daily trip production per resident (see the module docstring for the defaults).
    beta_per_km : float
        Gravity-model distance decay, 1/km (0 = distance does not matter).
    through_veh_per_h : float
        External through traffic, vehicles per hour between opposite boundary nodes.
    boundary_margin_m : float | None
        How close to the extent's edge a boundary node lies (default: see
        :func:`agents.network.boundary_nodes`).
    profiles : dict | None
        Time-of-day profile per purpose ("to_work", "to_home", "other"); defaults to
        :func:`agents.profiles.default_profiles`.
    scale : float
        Multiplies all demand (e.g. 0.1 for a quick demo).

    Raises DemandError for bad parameters, invalid building attributes or an unroutable
    network. ``trips.meta`` records the parameters, the expected and drawn counts, and the
    trips dropped for lack of an admissible destination.
    """
    t0 = parse_clock(start, what="start")
    duration_s = _check_param("duration_s", duration_s, 1e-9)
    car_share = _check_param("car_share", car_share, 0.0, 1.0)
    occupancy = _check_param("occupancy", occupancy, 1.0)
    workers_per_resident = _check_param("workers_per_resident", workers_per_resident, 0.0)
    other_trips_per_resident = _check_param("other_trips_per_resident",
                                            other_trips_per_resident, 0.0)
    beta_per_km = _check_param("beta_per_km", beta_per_km, 0.0)
    through_veh_per_h = _check_param("through_veh_per_h", through_veh_per_h, 0.0)
    scale = _check_param("scale", scale, 0.0)
    rng = as_generator(seed)
    prof = default_profiles()
    prof.update(profiles or {})

    access = attach_buildings(city)
    weights = attractors(city)
    home_w = np.where(access.building_node >= 0, weights["residents"], 0.0)
    veh_per_person_trip = car_share / occupancy * scale
    meta: dict = {"start": format_clock(t0), "duration_s": duration_s, "car_share": car_share,
                  "occupancy": occupancy, "workers_per_resident": workers_per_resident,
                  "other_trips_per_resident": other_trips_per_resident,
                  "beta_per_km": beta_per_km, "through_veh_per_h": through_veh_per_h,
                  "scale": scale, "residents": float(home_w.sum()),
                  "routable_nodes": int(access.routable.sum()),
                  "expected": {}, "dropped_no_destination": 0}

    parts = []
    plan = [(TO_WORK, "to_work", workers_per_resident, weights["jobs"]),
            (TO_HOME, "to_home", workers_per_resident, weights["jobs"]),
            (OTHER, "other", other_trips_per_resident, weights["commercial"])]
    for code, name, rate, attr in plan:
        expected = (rate * home_w.sum() * prof[name].window_share(t0, duration_s)
                    * veh_per_person_trip)
        meta["expected"][name] = float(expected)
        n = int(stochastic_round(rng, expected)) if home_w.sum() > 0 else 0
        homes = (rng.choice(len(home_w), size=n, p=home_w / home_w.sum()) if n
                 else np.zeros(0, np.int64))
        dest = gravity_destinations(rng, homes, attr, access.building_xy,
                                    access.building_node, beta_per_km)
        ok = dest >= 0
        meta["dropped_no_destination"] += int((~ok).sum())
        homes, dest = homes[ok], dest[ok]
        depart = prof[name].sample(rng, len(homes), t0, duration_s)
        if code == TO_WORK:
            back = np.zeros(len(homes), bool)
        elif code == TO_HOME:
            back = np.ones(len(homes), bool)
        else:
            back = rng.random(len(homes)) < 0.5
        ob = np.where(back, dest, homes)
        db = np.where(back, homes, dest)
        parts.append(_trips(depart, access.building_node[ob], access.building_node[db], ob, db,
                            code))

    n_through = int(stochastic_round(rng, through_veh_per_h * duration_s / 3600.0 * scale))
    meta["expected"]["through"] = through_veh_per_h * duration_s / 3600.0 * scale
    if n_through:
        sides = boundary_nodes(city.roads, access.routable, boundary_margin_m)
        meta["boundary_nodes"] = {k: int(len(v)) for k, v in sides.items()}
        dep, o, d = through_trips(rng, sides, n_through, duration_s)
        parts.append(_trips(dep, o, d, np.full(len(o), -1), np.full(len(o), -1), THROUGH))

    trips = Trips.concat(parts).sorted()
    trips.trip_id = np.arange(len(trips)).astype(str).astype(object)
    trips.node_ids = city.roads.node_ids
    trips.building_ids = city.buildings.ids
    trips.start_s = t0
    trips.meta = meta
    if meta["dropped_no_destination"]:
        meta["note"] = ("trips dropped: their home has no attractor on another access node")
    return trips


def _trips(depart, onode, dnode, ob, db, code) -> Trips:
    n = len(depart)
    return Trips(np.zeros(n, object), depart, onode, dnode, ob, db, np.full(n, code, np.int8))
