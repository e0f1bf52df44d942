"""Trips: the travel demand handed to the traffic kernel, as a struct of arrays.

One row per vehicle trip, sorted by departure time. Node columns are dense indices into
``city.roads.node_ids``; building columns dense indices into ``city.buildings.ids`` (−1 where
the trip starts or ends outside any building: through traffic, trips given between nodes).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .profiles import format_clock

#: purpose codes stored in ``Trips.purpose`` (int8 index into this tuple)
PURPOSES = ("to_work", "to_home", "other", "through", "given")
TO_WORK, TO_HOME, OTHER, THROUGH, GIVEN = range(len(PURPOSES))
PURPOSE_CODE = {name: i for i, name in enumerate(PURPOSES)}

#: CSV columns written by :meth:`Trips.to_csv` (the first four are what :func:`read_trips`
#: requires; the others are optional there)
CSV_COLUMNS = ("id", "depart", "origin", "destination", "origin_building",
               "destination_building", "purpose")

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
        from .readers import read_trips

        return read_trips(path, city, start=start, lenient=lenient)
