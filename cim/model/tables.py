"""Struct-of-arrays tables of city objects: buildings, areas, sites and the other objects.

Each table's row order is its dense index; every row array has the table's length as its first
dimension. Extra source attributes live in an :class:`Attributes` of object columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..geometry import PolygonSet

#: Site kinds the engine knows (others are kept as given).
SITE_KINDS = ("fire_station", "hospital", "shelter", "school", "substation",
              "pumping_station", "sensor", "police", "metro_station", "landmark")


def _obj(values, n=None) -> np.ndarray:
    """Return an (n,) object array of ``values`` (a list; or one value repeated ``n`` times)."""
    a = np.empty(len(values) if n is None else n, dtype=object)
    a[:] = list(values) if n is None else values
    return a


def id_map(ids) -> dict[str, int]:
    """Return {str(id): dense index} of an (n,) id array; a repeated id maps to its first row."""
    out: dict[str, int] = {}
    for i, k in enumerate(np.asarray(ids, dtype=object).tolist()):
        out.setdefault(str(k), i)
    return out


@dataclass
class Attributes:
    """Extra attributes as columns: ``columns[name]`` is an (n,) object array (None = absent)."""

    n: int = 0
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_dicts(cls, dicts: list[dict]) -> Attributes:
        names: dict[str, None] = {}
        for d in dicts:
            names.update(dict.fromkeys(d))
        cols = {k: _obj([d.get(k) for d in dicts]) for k in names}
        return cls(len(dicts), cols)

    def row(self, i: int) -> dict[str, Any]:
        """Return object i's attributes as a dict (absent ones left out)."""
        return {k: c[i] for k, c in self.columns.items() if c[i] is not None}

    def select(self, idx) -> Attributes:
        idx = np.asarray(idx, dtype=np.int64)
        return Attributes(len(idx), {k: c[idx] for k, c in self.columns.items()})

    @staticmethod
    def concat(parts: list[Attributes]) -> Attributes:
        names: dict[str, None] = {}
        for p in parts:
            names.update(dict.fromkeys(p.columns))
        cols = {k: np.concatenate([p.columns.get(k, _obj([None] * p.n)) for p in parts])
                if parts else _obj([]) for k in names}
        return Attributes(sum(p.n for p in parts), cols)


class Table:
    """Base of the struct-of-arrays tables: equal-length columns, ``len`` = number of rows."""

    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, obj_id: str) -> int:
        """Return the dense index of ``obj_id`` (its first row; KeyError if absent)."""
        m = getattr(self, "_index", None)
        if m is None or len(m) != len(self.ids):
            m = {}
            for i, k in enumerate(self.ids):
                m.setdefault(k, i)
            self._index = m
        return m[obj_id]

    def id_map(self) -> dict[str, int]:
        """Return {str(id): dense index} (a repeated id maps to its first row)."""
        return id_map(self.ids)

    def select(self, idx):
        """Return a table of rows ``idx`` (in that order)."""
        idx = np.asarray(idx, dtype=np.int64)
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (PolygonSet, Attributes)):
                kw[f.name] = v.select(idx)
            elif isinstance(v, np.ndarray) and v.shape[:1] == self.ids.shape:
                kw[f.name] = v[idx]
            else:
                kw[f.name] = v
        return type(self)(**kw)

    @classmethod
    def concat(cls, parts):
        kw = {}
        for f in fields(cls):
            vals = [getattr(p, f.name) for p in parts]
            v0 = vals[0]
            if isinstance(v0, PolygonSet):
                kw[f.name] = PolygonSet.concat(vals)
            elif isinstance(v0, Attributes):
                kw[f.name] = Attributes.concat(vals)
            elif isinstance(v0, np.ndarray):
                kw[f.name] = np.concatenate(vals)
            else:
                kw[f.name] = v0
        return cls(**kw)


@dataclass
class Buildings(Table):
    """Buildings (BuildingParts are merged into their parent). All arrays have shape (n,).

    - ``ids`` object str; ``footprint`` PolygonSet (dim 2, x/y in CRS units, holes allowed,
      several polygons when the building has several parts);
    - ``base_height`` float64 m: elevation of the ground floor (z of the footprint);
    - ``roof_height`` float64 m: elevation of the highest roof point; ``height`` = roof − base;
    - ``storeys`` int32 (−1 unknown); ``use`` object str: residential, commercial, office,
      industrial, education, health, public, mixed, … as the source names it; "" when the
      source gives none, "other" when it gives a code no reader maps;
    - ``floor_area`` float64 m² gross; ``residents`` float64 persons; ``jobs`` float64;
    - ``lod`` float32: highest LoD read (1 = extrusion, 2 / 2.2 = surfaces);
    - ``surfaces`` PolygonSet (dim 3) of LoD2 surfaces with semantics; objects without surfaces
      have zero polygons there; ``attributes`` extra source attributes;
    - ``parts`` object: for buildings made of BuildingParts, a tuple of the part ids, else None.
    """

    ids: np.ndarray
    footprint: PolygonSet
    base_height: np.ndarray
    roof_height: np.ndarray
    storeys: np.ndarray
    use: np.ndarray
    floor_area: np.ndarray
    residents: np.ndarray
    jobs: np.ndarray
    lod: np.ndarray
    surfaces: PolygonSet
    attributes: Attributes
    parts: np.ndarray

    @property
    def height(self) -> np.ndarray:
        """(n,) float64 m: roof height − base height."""
        return self.roof_height - self.base_height

    @classmethod
    def empty(cls) -> Buildings:
        return cls(_obj([]), PolygonSet.empty(0, 2), np.zeros(0), np.zeros(0),
                   np.zeros(0, np.int32), _obj([]), np.zeros(0), np.zeros(0), np.zeros(0),
                   np.zeros(0, np.float32), PolygonSet.empty(0, 3), Attributes(), _obj([]))


@dataclass
class Areas(Table):
    """Areal objects (water bodies, land-use zones): ``ids`` object str, ``kind`` object str
    (lake/river/canal…, or land-use class), ``name`` object str, ``polygons`` PolygonSet (dim 3;
    z = surface elevation m), ``attributes``."""

    ids: np.ndarray
    kind: np.ndarray
    name: np.ndarray
    polygons: PolygonSet
    attributes: Attributes

    @classmethod
    def empty(cls) -> Areas:
        return cls(_obj([]), _obj([]), _obj([]), PolygonSet.empty(0, 3), Attributes())


@dataclass
class Sites(Table):
    """Point sites (fire stations, hospitals, shelters, schools, substations, pumping stations,
    sensors…): ``ids``, ``kind`` (see :data:`SITE_KINDS`), ``name`` object str; ``xyz`` (n, 3)
    float64; ``capacity`` float64 (beds, persons, vehicles… per kind; NaN unknown);
    ``attributes`` (e.g. ``source`` citing where a real location comes from)."""

    ids: np.ndarray
    kind: np.ndarray
    name: np.ndarray
    xyz: np.ndarray
    capacity: np.ndarray
    attributes: Attributes

    @classmethod
    def empty(cls) -> Sites:
        return cls(_obj([]), _obj([]), _obj([]), np.zeros((0, 3)), np.zeros(0), Attributes())


@dataclass
class CityObjects(Table):
    """Other city objects kept for round trips and display (PlantCover, CityFurniture,
    GenericCityObject, Bridge, …): ``ids``, ``type`` object str, ``surfaces`` PolygonSet (dim
    3), ``lod`` float32, ``attributes``."""

    ids: np.ndarray
    type: np.ndarray
    surfaces: PolygonSet
    lod: np.ndarray
    attributes: Attributes

    @classmethod
    def empty(cls) -> CityObjects:
        return cls(_obj([]), _obj([]), PolygonSet.empty(0, 3), np.zeros(0, np.float32),
                   Attributes())
