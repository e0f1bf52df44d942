"""Demand given by planners: an OD matrix or a trip list (CSV), checked before any run.

Trip list (:func:`read_trips`, defined with the trip-list format in :mod:`agents.trips`) —
header with at least ``id,depart,origin,destination``, optionally the other columns that
:meth:`Trips.to_csv` writes; or a SUMO route file (:mod:`agents.sumo_routes`).

OD matrix (:func:`read_od_matrix`) — vehicle trips in the scenario window, either long
(header ``origin,destination,trips``) or wide (first row: a label, then destination zones;
each further row: origin zone, then one count per destination). A zone is, in this order, a
name in ``zones`` (mapping zone → node/building ids, or a CSV ``zone,node``), a road node id or
a building id. A trip of a multi-node zone starts/ends at one of its nodes, chosen uniformly.
Fractional counts are rounded stochastically (seeded); departures follow ``profile`` within
the window (uniform by default: an OD matrix is normally given for a period).

Every bad line raises :class:`~agents.errors.DemandError` naming file, line and value: missing
columns, non-numeric or negative or NaN numbers, unknown zones or nodes, nodes outside the
largest strongly connected component (unroutable), duplicate trip ids. With ``lenient=True``
bad lines are skipped instead and listed in ``trips.meta["skipped"]``.

Trips whose origin and destination are the same node (or OD cells on the diagonal) are
**dropped** — they never enter the network — with a ``UserWarning`` giving the count, which
``trips.meta["dropped_same_od"]`` also records.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import DemandError
from .places import Places, Problems, csv_rows, drop_note
from .profiles import Profile, parse_clock
from .sampling import as_generator, stochastic_round
from .sumo_routes import SumoTrips, is_sumo_routes, read_sumo_routes
from .trips import GIVEN, Trips
from .trips import read_trips as read_trip_csv

__all__ = ["read_od_matrix", "read_trips", "read_sumo_routes", "SumoTrips"]


def read_trips(path, city, *, start="00:00", lenient: bool = False, **sumo) -> Trips:
    """Return the trips of a trip-list CSV (:mod:`agents.trips`) or of a SUMO route file
    (``.rou.xml``, ``.trips.xml``, any ``<routes>`` XML: :func:`read_sumo_routes`, which
    takes the extra keywords ``begin`` and ``seed``), sorted by departure."""
    if is_sumo_routes(path):
        return read_sumo_routes(path, city, start=start, lenient=lenient, **sumo)
    if sumo:
        raise TypeError(f"read_trips: {sorted(sumo)} only apply to SUMO route files")
    return read_trip_csv(path, city, start=start, lenient=lenient)


def _zone_table(zones, places: Places) -> dict[str, list[str]]:
    """Return {zone name: [node or building ids]} from a mapping or a ``zone,node`` CSV."""
    if zones is None:
        return {}
    if isinstance(zones, (str, Path)):
        table: dict[str, list[str]] = {}
        rows = csv_rows(zones)
        next(rows, None)  # header
        for line, row in rows:
            if len(row) < 2 or not row[0] or not row[1]:
                raise DemandError("a zone row needs `zone,node`", path=zones, line=line,
                                  value=",".join(row))
            table.setdefault(row[0], []).append(row[1])
        return table
    return {str(k): [str(v)] if isinstance(v, (str, int)) else [str(x) for x in v]
            for k, v in zones.items()}


def read_od_matrix(path, city, *, start="07:00", duration_s: float = 3600.0, seed=0,
                   zones=None, profile: Profile | None = None, scale: float = 1.0,
                   lenient: bool = False) -> Trips:
    """Return the trips of an OD-matrix CSV (long or wide; see the module docstring).

    start, duration_s : the window the counts cover ("HH:MM[:SS]" or s after midnight; s).
    seed : int | numpy.random.Generator — node choice in multi-node zones, rounding, departures.
    zones : mapping {zone: node/building id or list of them} or a CSV path (``zone,node``).
    profile : time-of-day profile of departures within the window; None = uniform.
    scale : multiplies every count.
    """
    path = str(path)
    t0 = parse_clock(start, what="start")
    if not (np.isfinite(duration_s) and duration_s > 0):
        raise DemandError("duration_s must be positive", value=duration_s)
    if not (np.isfinite(scale) and scale >= 0):
        raise DemandError("scale must be >= 0", value=scale)
    rng = as_generator(seed)
    places = Places(city, path)
    table = _zone_table(zones, places)
    problems = Problems(lenient)
    resolved: dict[str, list[tuple[int, int]]] = {}

    def zone(ref, line, what):
        z = resolved.get(ref)
        if z is None:
            if ref in table:
                z = [places.place(r, line=line, what=f"node of zone {ref!r}") for r in table[ref]]
            else:
                z = [places.place(ref, line=line, what=what)]
            resolved[ref] = z
        return ref

    rows = csv_rows(path)
    try:
        hline, header = next(rows)
    except StopIteration:
        raise DemandError("the OD matrix is empty (no header)", path=path) from None
    low = [c.lower() for c in header]
    cells: list[tuple[str, str, float]] = []
    n_same = 0

    def count(v, line):
        try:
            x = float(v)
        except ValueError:
            raise DemandError("trips is not a number", path=path, line=line, value=v) from None
        if not np.isfinite(x):
            raise DemandError("trips is not finite", path=path, line=line, value=v)
        if x < 0:
            raise DemandError("trips is negative", path=path, line=line, value=v)
        return x

    if {"origin", "destination", "trips"} <= set(low):
        ko, kd, kt = low.index("origin"), low.index("destination"), low.index("trips")
        for line, row in rows:
            try:
                if len(row) != len(header):
                    raise DemandError(f"expected {len(header)} columns ({','.join(header)}), "
                                      f"found {len(row)}", path=path, line=line,
                                      value=",".join(row))
                x = count(row[kt], line)
                o = zone(row[ko], line, "origin zone")
                d = zone(row[kd], line, "destination zone")
            except DemandError as e:
                problems(e)
                continue
            cells.append((o, d, x))
    else:
        if len(header) < 2:
            raise DemandError("header is neither `origin,destination,trips` nor a wide "
                              "matrix (label, destination zones…)", path=path, line=hline,
                              value=",".join(header))
        dests = []
        for ref in header[1:]:
            dests.append(zone(ref, hline, "destination zone"))
        for line, row in rows:
            try:
                if len(row) != len(header):
                    raise DemandError(f"expected {len(header)} columns, found {len(row)}",
                                      path=path, line=line, value=",".join(row))
                o = zone(row[0], line, "origin zone")
                xs = [count(v, line) for v in row[1:]]
            except DemandError as e:
                problems(e)
                continue
            cells.extend((o, d, x) for d, x in zip(dests, xs))

    kept = []
    for o, d, x in cells:
        if x == 0:
            continue
        if o == d or (len(resolved[o]) == 1 and resolved[o] == resolved[d]):
            n_same += 1
            continue
        kept.append((o, d, x))
    counts = stochastic_round(rng, np.array([x for _, _, x in kept]) * scale)
    # flatten the zones' (node, building) candidates to arrays for vectorised picks
    names = list(resolved)
    zid = {z: k for k, z in enumerate(names)}
    size = np.array([len(resolved[z]) for z in names], np.int64)
    off = np.concatenate([[0], np.cumsum(size)])
    flat = np.array([nb for z in names for nb in resolved[z]], np.int64).reshape(-1, 2)
    zo = np.repeat(np.array([zid[o] for o, _, _ in kept], np.int64), counts)
    zd = np.repeat(np.array([zid[d] for _, d, _ in kept], np.int64), counts)
    po = off[zo] + (rng.random(len(zo)) * size[zo]).astype(np.int64)
    pd = off[zd] + (rng.random(len(zd)) * size[zd]).astype(np.int64)
    o_nb, d_nb = flat[po], flat[pd]
    same = o_nb[:, 0] == d_nb[:, 0]
    n_same_nodes = int(same.sum())
    n = len(zo)
    depart = (rng.random(n) * duration_s if profile is None
              else profile.sample(rng, n, t0, duration_s))
    trips = Trips(np.zeros(n, object), depart, o_nb[:, 0], d_nb[:, 0], o_nb[:, 1], d_nb[:, 1],
                  np.full(n, GIVEN, np.int8), city.roads.node_ids, city.buildings.ids, t0,
                  {"source": path, "skipped": problems.skipped, "duration_s": duration_s,
                   "scale": scale, "od_pairs": len(kept),
                   "dropped_same_node_trips": n_same_nodes})
    trips = trips.select(~same).sorted()
    trips.trip_id = np.arange(len(trips)).astype(str).astype(object)
    drop_note(trips.meta, n_same, path, "OD cells")
    return trips
