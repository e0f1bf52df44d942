"""Trips: the travel demand handed to the traffic kernel, as a struct of arrays, and the
trip-list CSV it is written to (:meth:`Trips.to_csv`) and read from (:func:`read_trips`).

One row per vehicle trip, sorted by departure time. Node columns are dense indices into
``city.roads.node_ids``; building columns dense indices into ``city.buildings.ids`` (−1 where
the trip starts or ends outside any building: through traffic, trips given between nodes).

Trip list CSV — header with at least ``id,depart,origin,destination``:

- ``depart``: seconds from the scenario start, or a clock time "HH:MM[:SS]" (converted with
  the scenario ``start``; a clock time before the start is an error);
- ``origin`` / ``destination``: a road node id, else a building id (the building's access
  node; see :mod:`agents.network`);
- optional ``origin_building``, ``destination_building`` (building ids, empty = none) and
  ``purpose`` (a name of :data:`PURPOSES`), as written by :meth:`Trips.to_csv`, so that a
  written file reads back to identical arrays.

Bad lines raise :class:`~agents.errors.DemandError` naming file, line and value (or, with
``lenient=True``, are skipped and listed in ``trips.meta["skipped"]``); trips whose origin and
destination are the same node are dropped with a ``UserWarning`` (see :mod:`agents.readers`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DemandError
from .places import Places, Problems, csv_rows, drop_note
from .profiles import format_clock, parse_clock

#: purpose codes stored in ``Trips.purpose`` (int8 index into this tuple)
PURPOSES = ("to_work", "to_home", "other", "through", "given")
TO_WORK, TO_HOME, OTHER, THROUGH, GIVEN = range(len(PURPOSES))
PURPOSE_CODE = {name: i for i, name in enumerate(PURPOSES)}

#: CSV columns written by :meth:`Trips.to_csv` (the first four are what :func:`read_trips`
#: requires; the others are optional there)
CSV_COLUMNS = ("id", "depart", "origin", "destination", "origin_building",
               "destination_building", "purpose")

_REQUIRED = CSV_COLUMNS[:4]

_ROW_FIELDS = ("trip_id", "depart_s", "origin_node", "destination_node", "origin_building",
               "destination_building", "purpose")


@dataclass
class Trips:
    """Vehicle trips, all row arrays of shape (n,):

    - ``trip_id`` object str; ``depart_s`` float64 s from the scenario start;
    - ``origin_node`` / ``destination_node`` int64 dense node indices;
    - ``origin_building`` / ``destination_building`` int64 dense building indices, −1 = none;
    - ``purpose`` int8 code into :data:`PURPOSES`.

    Not per row: ``node_ids`` / ``building_ids`` (object str arrays of the city the indices
    refer to; used to write stable ids to CSV), ``start_s`` (scenario start, s after midnight)
    and ``meta`` (parameters and counts of the generation, e.g. dropped trips).
    """

    trip_id: np.ndarray
    depart_s: np.ndarray
    origin_node: np.ndarray
    destination_node: np.ndarray
    origin_building: np.ndarray
    destination_building: np.ndarray
    purpose: np.ndarray
    node_ids: np.ndarray | None = None
    building_ids: np.ndarray | None = None
    start_s: float = 0.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.trip_id = np.asarray(self.trip_id, dtype=object)
        self.depart_s = np.asarray(self.depart_s, np.float64)
        for name in ("origin_node", "destination_node", "origin_building",
                     "destination_building"):
            setattr(self, name, np.asarray(getattr(self, name), np.int64))
        self.purpose = np.asarray(self.purpose, np.int8)
        n = len(self.trip_id)
        bad = [f for f in _ROW_FIELDS if getattr(self, f).shape != (n,)]
        if bad:
            raise ValueError(f"Trips columns {bad} do not have shape ({n},)")

    def __len__(self) -> int:
        return len(self.trip_id)

    @classmethod
    def empty(cls, node_ids=None, building_ids=None, start_s: float = 0.0) -> Trips:
        z = np.zeros(0, np.int64)
        return cls(np.zeros(0, object), np.zeros(0), z, z, z, z, np.zeros(0, np.int8),
                   node_ids, building_ids, start_s)

    def select(self, mask) -> Trips:
        """Return the trips where ``mask`` (bool (n,) or integer indices) holds, in order."""
        idx = np.asarray(mask)
        if idx.dtype == bool and idx.shape != (len(self),):
            raise ValueError(f"mask has shape {idx.shape}, expected ({len(self)},)")
        kw = {f: getattr(self, f)[idx] for f in _ROW_FIELDS}
        return Trips(**kw, node_ids=self.node_ids, building_ids=self.building_ids,
                     start_s=self.start_s, meta=dict(self.meta))

    def sorted(self) -> Trips:
        """Return the trips sorted by departure time (ties: purpose, origin, destination)."""
        order = np.lexsort((self.destination_node, self.origin_node, self.purpose,
                            self.depart_s))
        return self.select(order)

    @staticmethod
    def concat(parts: list[Trips]) -> Trips:
        """Return the trips of ``parts`` one after the other (metadata of the first)."""
        first = parts[0]
        kw = {f: np.concatenate([getattr(p, f) for p in parts]) for f in _ROW_FIELDS}
        return Trips(**kw, node_ids=first.node_ids, building_ids=first.building_ids,
                     start_s=first.start_s, meta=dict(first.meta))

    def purpose_names(self) -> np.ndarray:
        """Return (n,) object str purpose names."""
        return np.asarray(PURPOSES, dtype=object)[self.purpose]

    def summary(self) -> dict:
        """Return counts and timing: trips by purpose, first/last departure, departures per
        clock hour of the window, the busiest hour, and the generation metadata."""
        n = len(self)
        by_purpose = {PURPOSES[k]: int(c) for k, c in
                      enumerate(np.bincount(self.purpose, minlength=len(PURPOSES))) if c}
        out: dict = {"trips": n, "by_purpose": by_purpose,
                     "start": format_clock(self.start_s)}
        if n:
            hour = np.floor(self.depart_s / 3600.0).astype(np.int64)
            per_hour = np.bincount(hour)
            peak = int(np.argmax(per_hour))
            out.update({
                "first_depart_s": float(self.depart_s.min()),
                "last_depart_s": float(self.depart_s.max()),
                "per_hour": {format_clock(self.start_s + 3600 * h)[:5]: int(c)
                             for h, c in enumerate(per_hour)},
                "peak_hour": format_clock(self.start_s + 3600 * peak)[:5],
                "peak_hour_share": float(per_hour[peak] / n),
                "origins": int(len(np.unique(self.origin_node))),
                "destinations": int(len(np.unique(self.destination_node))),
            })
        out["meta"] = dict(self.meta)
        return out

    def to_csv(self, path) -> Path:
        """Write the trips as CSV (columns :data:`CSV_COLUMNS`; node and building ids as the
        city's stable ids when known, depart in seconds at full precision) and return the
        path. :func:`agents.read_trips` reads the file back to identical arrays."""
        path = Path(path)
        nodes = (self.node_ids if self.node_ids is not None
                 else np.arange(max(int(self.origin_node.max(initial=-1)),
                                    int(self.destination_node.max(initial=-1))) + 1))
        nodes = np.asarray(nodes).astype(str)
        if self.building_ids is not None:
            bids = np.append(np.asarray(self.building_ids).astype(str), "")
        else:
            nb = max(int(self.origin_building.max(initial=-1)),
                     int(self.destination_building.max(initial=-1))) + 1
            bids = np.append(np.arange(nb).astype(str), "")
        cols = [self.trip_id.astype(str), [repr(float(d)) for d in self.depart_s],
                nodes[self.origin_node], nodes[self.destination_node],
                bids[self.origin_building], bids[self.destination_building],
                self.purpose_names()]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(CSV_COLUMNS)
            w.writerows(zip(*cols))
        return path

    @classmethod
    def from_csv(cls, path, city, *, start="00:00", lenient: bool = False) -> Trips:
        """Return the trips of a trip-list CSV; same as :func:`agents.read_trips`."""
        return read_trips(path, city, start=start, lenient=lenient)


def read_trips(path, city, *, start="00:00", lenient: bool = False) -> Trips:
    """Return the trips of a trip-list CSV (see the module docstring), sorted by departure.

    start : scenario start clock time, used to convert "HH:MM[:SS]" departures.
    """
    path = str(path)
    t0 = parse_clock(start, what="start")
    places = Places(city, path)
    problems = Problems(lenient)
    rows = csv_rows(path)
    try:
        hline, header = next(rows)
    except StopIteration:
        raise DemandError("the trip list is empty (no header)", path=path) from None
    cols = {c.lower(): k for k, c in enumerate(header)}
    missing = [c for c in _REQUIRED if c not in cols]
    if missing:
        raise DemandError(f"header lacks column(s) {', '.join(missing)}; expected "
                          f"{','.join(_REQUIRED)}", path=path, line=hline, value=",".join(header))
    ci = [cols[c] for c in _REQUIRED]
    cob, cdb, cp = cols.get("origin_building"), cols.get("destination_building"), cols.get(
        "purpose")
    ids, dep, on, dn, ob, db, pur = [], [], [], [], [], [], []
    seen: set[str] = set()
    n_same = 0
    for line, row in rows:
        try:
            if len(row) != len(header):
                raise DemandError(f"expected {len(header)} columns ({','.join(header)}), "
                                  f"found {len(row)}", path=path, line=line, value=",".join(row))
            tid, d, o, t = (row[k] for k in ci)
            if tid == "":
                raise DemandError("empty trip id", path=path, line=line)
            if tid in seen:
                raise DemandError("duplicate trip id", path=path, line=line, value=tid)
            depart = parse_clock(d, path=path, line=line, what="depart")
            if ":" in d:
                if depart < t0:
                    raise DemandError(f"depart is before the scenario start "
                                      f"{format_clock(t0)}", path=path, line=line, value=d)
                depart -= t0
            onode, obld = places.place(o, line=line, what="origin")
            dnode, dbld = places.place(t, line=line, what="destination")
            if cob is not None and row[cob] != "":
                obld = places.building(row[cob], line=line, what="origin_building")
            if cdb is not None and row[cdb] != "":
                dbld = places.building(row[cdb], line=line, what="destination_building")
            code = GIVEN
            if cp is not None and row[cp] != "":
                code = PURPOSE_CODE.get(row[cp], -1)
                if code < 0:
                    raise DemandError(f"unknown purpose; known: {', '.join(PURPOSE_CODE)}",
                                      path=path, line=line, value=row[cp])
        except DemandError as e:
            problems(e)
            continue
        seen.add(tid)
        if onode == dnode:
            n_same += 1
            continue
        ids.append(tid)
        dep.append(depart)
        on.append(onode)
        dn.append(dnode)
        ob.append(obld)
        db.append(dbld)
        pur.append(code)
    trips = Trips(np.asarray(ids, dtype=object).reshape(-1), np.asarray(dep, float), on, dn, ob,
                  db, np.asarray(pur, np.int8), city.roads.node_ids, city.buildings.ids, t0,
                  {"source": path, "skipped": problems.skipped})
    drop_note(trips.meta, n_same, path)
    return trips.select(np.argsort(trips.depart_s, kind="stable"))
