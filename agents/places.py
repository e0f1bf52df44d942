"""What the demand readers share: resolving ids to routable nodes, reading CSV rows,
strict/lenient error handling and the note on dropped same-node trips."""

from __future__ import annotations

import csv
import warnings

import numpy as np

from .errors import DemandError
from .network import attach_buildings, routable_nodes


class Places:
    """Resolves node ids, building ids and named zones of one city to routable nodes."""

    def __init__(self, city, path):
        self.city = city
        self.path = path
        self.routable = routable_nodes(city.roads)
        self.node_index = {str(k): i for i, k in enumerate(city.roads.node_ids)}
        self.building_index = {str(k): i for i, k in enumerate(city.buildings.ids)}
        self._access = None

    @property
    def building_node(self) -> np.ndarray:
        if self._access is None:
            self._access = attach_buildings(self.city, self.routable)
        return self._access.building_node

    def place(self, ref: str, *, line, what) -> tuple[int, int]:
        """Return (node, building or −1) of a node id or building id."""
        i = self.node_index.get(ref)
        if i is not None:
            if not self.routable[i]:
                raise DemandError(f"{what} node is outside the largest strongly connected "
                                  "component of the road network: trips from/to it cannot "
                                  "be routed", path=self.path, line=line, value=ref)
            return i, -1
        b = self.building_index.get(ref)
        if b is not None:
            node = int(self.building_node[b])
            if node < 0:
                raise DemandError(f"{what} building has no footprint, so no access node",
                                  path=self.path, line=line, value=ref)
            return node, b
        raise DemandError(f"unknown {what}: neither a road node id nor a building id",
                          path=self.path, line=line, value=ref)

    def building(self, ref: str, *, line, what) -> int:
        if ref == "":
            return -1
        b = self.building_index.get(ref)
        if b is None:
            raise DemandError(f"unknown {what}", path=self.path, line=line, value=ref)
        return b


def csv_rows(path):
    """Yield (line number, list of stripped cells) of the non-blank rows of a CSV file."""
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise DemandError(f"cannot read the file: {e.strerror}", path=path) from None
    with fh:
        reader = csv.reader(fh)
        try:
            for row in reader:
                if row and any(c.strip() for c in row):
                    yield reader.line_num, [c.strip() for c in row]
        except (csv.Error, UnicodeDecodeError) as e:
            raise DemandError(f"malformed CSV: {e}", path=path, line=reader.line_num) from None


class Problems:
    """Raises a reader's DemandError, or with ``lenient`` records it in ``skipped``."""

    def __init__(self, lenient):
        self.lenient = lenient
        self.skipped: list[str] = []

    def __call__(self, err: DemandError):
        if not self.lenient:
            raise err
        self.skipped.append(str(err))


def drop_note(meta, n_same, path, what="trips"):
    """Record in ``meta`` (and warn about) the ``n_same`` trips dropped for having the same
    origin and destination."""
    meta["dropped_same_od"] = n_same
    if n_same:
        warnings.warn(f"{path}: dropped {n_same} {what} whose origin and destination are the "
                      "same", UserWarning, stacklevel=3)
