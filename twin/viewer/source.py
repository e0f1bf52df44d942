"""What the viewer draws from a run: the layers' draw declarations, read lazily from the store.

:func:`plan` turns every recorded layer's ``draw`` declaration (:class:`twin.core.kernel.Draw`
on the kernel class named in the layer's ``kernel`` attribute) into :class:`Series` — one
recorded variable of one layer — and a list of notes for what cannot be drawn (a declared
output the store lacks, a layer without records, a geometry the city has not). Nothing here
knows a kernel by name.

A :class:`Series` reads the zarr array itself, one stored time chunk at a time (a small LRU
cache of chunks), so scrubbing a long run never loads it whole.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..core.kernel import DRAW_GEOMETRIES, Draw
from ..errors import StoreError

#: time chunks kept in memory per series
CACHE_CHUNKS = 4


@dataclass
class Series:
    """One drawable variable ``var`` of ``layer``: ``draw`` (its declaration), ``units``
    (display units), ``times`` (n_t,) s, ``ids`` (n_elements,) str of its element dim (None
    for ``points``/``raster``), ``dims`` after time and member, ``member``."""

    layer: str
    var: str
    draw: Draw
    units: str
    times: np.ndarray
    ids: np.ndarray | None
    dims: tuple
    member: int
    _arrays: dict = field(default_factory=dict, repr=False)
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)

    @property
    def key(self) -> str:
        return f"{self.layer}/{self.var}"

    @property
    def label(self) -> str:
        return self.draw.label or self.var.replace("_", " ")

    def index_at(self, t: float) -> int:
        """Return the record shown at time ``t`` s: the last one at or before ``t`` (the
        first one before it)."""
        return int(max(0, np.searchsorted(self.times, float(t), side="right") - 1))

    def _read(self, name: str, i: int) -> np.ndarray:
        arr = self._arrays[name]
        c = int(arr.chunks[0])
        c0 = (i // c) * c
        key = (name, c0)
        block = self._cache.get(key)
        if block is None:
            block = np.asarray(arr[c0:c0 + c, self.member])
            self._cache[key] = block
            while len(self._cache) > CACHE_CHUNKS * len(self._arrays):
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return block[i - c0]

    def values(self, i: int) -> np.ndarray:
        """Return record ``i`` in display units (float64, NaN where missing)."""
        v = np.asarray(self._read(self.var, i), np.float64)
        if self.draw.abs:
            v = np.abs(v)
        return v * self.draw.scale if self.draw.scale != 1.0 else v

    def positions(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the (x, y) of ``points`` at record ``i`` (m, city CRS; NaN: not present)."""
        return (np.asarray(self._read(self.draw.x, i), float),
                np.asarray(self._read(self.draw.y, i), float))

    def element_series(self, j: int) -> np.ndarray:
        """Return element ``j``'s values over all records (display units)."""
        v = np.asarray(self._arrays[self.var][:, self.member, j], np.float64)
        if self.draw.abs:
            v = np.abs(v)
        return v * self.draw.scale


def kernel_draw(run, layer: str) -> dict:
    """Return the ``draw`` declaration of the kernel class that recorded ``layer`` ({} when
    the class is unknown or declares none)."""
    from ..analysis.kpis import kernel_class

    cls = kernel_class(run, layer)
    return dict(getattr(cls, "draw", None) or {}) if cls is not None else {}


def plan(run, city, member: int = 0, draws: dict | None = None) -> tuple[list, list]:
    """Return ([Series…], [note…]) of everything ``run`` declares to be drawn for ``city``.

    draws : {layer: {var: Draw}} to use instead of (or besides) the kernels' declarations.
    A note says, for each declared output, why it is not drawn."""
    root = run._root
    networks = {f"{net.kind}_{what}": net for net in city.networks().values()
                for what in ("node", "link")}
    out, notes = [], []
    for layer in run.layers:
        decl = kernel_draw(run, layer)
        decl.update((draws or {}).get(layer, {}))
        if not decl:
            continue
        g = root[layer]
        n_t = g["time"].shape[0] if "time" in g else 0
        if n_t == 0:
            notes.append(f"{layer}: no records in this run: not drawn")
            continue
        times = np.asarray(g["time"][...], float)
        for var, d in decl.items():
            if not isinstance(d, Draw):
                d = Draw(**d)
            need = [var] + ([d.x, d.y] if d.geometry == "points" else [])
            missing = [v for v in need if v not in g]
            if missing:
                notes.append(f"{layer}/{var}: not recorded in this run ({', '.join(missing)}"
                             " missing): not drawn")
                continue
            arr = g[var]
            dims = tuple(arr.metadata.dimension_names or ())[2:]
            if member >= arr.shape[1]:
                raise StoreError(f"{run.path}: {layer} has {arr.shape[1]} members, no "
                                 f"member {member}")
            geom, ids = d.geometry, None
            if geom in networks or geom == "building":
                if len(dims) != 1:
                    notes.append(f"{layer}/{var}: dims {dims} do not fit geometry {geom}")
                    continue
                have = geom == "building" and len(city.buildings) or geom in networks
                if not have:
                    notes.append(f"{layer}/{var}: the city has no {geom}: not drawn")
                    continue
                ids = (np.array([str(x) for x in g[dims[0]][...]], dtype=object) if dims[0] in g
                       else city_ids(city, dims[0], arr.shape[2]))
            elif geom == "raster":
                if len(dims) != 2 or any(dm not in g for dm in dims):
                    notes.append(f"{layer}/{var}: a raster needs two dims with coordinates")
                    continue
            elif geom not in DRAW_GEOMETRIES:
                notes.append(f"{layer}/{var}: the city has no {geom}: not drawn")
                continue
            units = d.units if d.units is not None else dict(arr.attrs).get("units", "")
            s = Series(layer, var, d, units, times, ids, dims, member)
            s._arrays = {v: g[v] for v in need}
            out.append(s)
    return out, notes


def city_ids(city, dim: str, n: int) -> np.ndarray:
    """Return the ids (n,) of a layer's element dim ``dim`` recorded without coordinates: the
    city's own elements of that kind (``building``, ``site``, ``<kind>_link``,
    ``<kind>_node``), in the city's order, when it has ``n`` of them; else "0" … "n-1"."""
    found = {"building": city.buildings.ids, "site": city.sites.ids}
    for net in city.networks().values():
        found[f"{net.kind}_link"], found[f"{net.kind}_node"] = net.link_ids, net.node_ids
    ids = found.get(dim)
    if ids is None or len(ids) != n:
        return np.arange(n).astype(str).astype(object)
    return np.asarray(ids).astype(str).astype(object)


def raster_axes(run, s: Series) -> tuple[np.ndarray, np.ndarray]:
    """Return the (y, x) cell-centre coordinates (m) of raster series ``s``."""
    g = run._root[s.layer]
    return (np.asarray(g[s.dims[0]][...], float), np.asarray(g[s.dims[1]][...], float))
