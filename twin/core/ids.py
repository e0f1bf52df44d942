"""Id maps: element ids ↔ dense indices, for every kind of element the run knows.

The city contributes ``building``, ``site`` and its networks' ``<kind>_node`` /
``<kind>_link`` maps (``road_node``, ``road_link``, ``water_link``…); each kernel adds the
kinds it owns (:meth:`twin.Kernel.element_ids`: grid cells, power buses…). Events and
conditions name their targets by id; the runtime resolves them here once, before the run.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScenarioError


class IdMaps:
    """``{kind: {id: index}}`` with the ids of each kind kept in index order too."""

    def __init__(self):
        self._maps: dict[str, dict[str, int]] = {}
        self._ids: dict[str, np.ndarray] = {}
        self._owner: dict[str, str] = {}

    def add(self, kind: str, ids, owner: str) -> None:
        """Add the map of ``kind`` (``ids`` in index order) contributed by ``owner``;
        ScenarioError when another owner gave different ids for the same kind, or when an id
        repeats."""
        ids = np.asarray([str(i) for i in ids], dtype=object)
        if kind in self._maps:
            if len(ids) == len(self._ids[kind]) and (ids == self._ids[kind]).all():
                return
            raise ScenarioError(f"{owner}: id kind {kind!r} is already given, with other ids, "
                                f"by {self._owner[kind]}")
        m = {k: i for i, k in enumerate(ids)}
        if len(m) != len(ids):
            dup = next(k for k in ids if list(ids).count(k) > 1)
            raise ScenarioError(f"{owner}: {kind} id {dup!r} appears twice")
        self._maps[kind], self._ids[kind], self._owner[kind] = m, ids, owner

    def kinds(self) -> list[str]:
        return sorted(self._maps)

    def __contains__(self, kind: str) -> bool:
        return kind in self._maps

    def __getitem__(self, kind: str) -> dict[str, int]:
        return self._maps[kind]

    def get(self, kind: str, default=None):
        return self._maps.get(kind, default)

    def ids(self, kind: str) -> np.ndarray:
        """Return the ids of ``kind`` in index order, (n,) object array."""
        return self._ids[kind]

    def index(self, kind: str, obj_id, label: str = "") -> int:
        """Return the index of ``obj_id`` in ``kind`` (ScenarioError naming both if none)."""
        where = f"{label}: " if label else ""
        if kind not in self._maps:
            raise ScenarioError(f"{where}the run has no {kind} ids (kinds: "
                                f"{', '.join(self.kinds()) or 'none'})")
        if obj_id is None:
            raise ScenarioError(f"{where}needs a target {kind} id")
        if isinstance(obj_id, (int, np.integer)) and str(obj_id) not in self._maps[kind]:
            if 0 <= int(obj_id) < len(self._ids[kind]):
                return int(obj_id)
        idx = self._maps[kind].get(str(obj_id))
        if idx is None:
            raise ScenarioError(f"{where}unknown {kind} {obj_id!r} "
                                f"({len(self._maps[kind])} {kind}s in the run)")
        return idx


def build_id_maps(city, processes) -> IdMaps:
    """Return the id maps of ``city`` and of every process's :meth:`element_ids`."""
    maps = IdMaps()
    city_maps = city.id_maps() if hasattr(city, "id_maps") else {}
    for kind, m in city_maps.items():
        ids = sorted(m, key=m.get)
        maps.add(kind, ids, "the city")
    for p in processes:
        fn = getattr(p, "element_ids", None)
        if callable(fn):
            for kind, ids in (fn(city) or {}).items():
                maps.add(kind, ids, f"kernel {p.name!r}")
    return maps
