"""Networks: directed graphs of nodes and links with polyline geometry — roads, water pipes,
power lines, drains, walkways — sharing one base, :class:`Network`.

A network is a struct of arrays. Per-node columns are named ``node_*`` and have ``n_nodes``
rows; per-link columns are named ``link_*`` and have ``n_links`` rows; the generic operations
(:meth:`Network.concat`, :meth:`Network.transformed`, :meth:`Network.empty`) handle every
column by that prefix, so a subclass only declares its own columns (with :func:`column`) and
its :attr:`Network.kind`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import ClassVar

import numpy as np

from .tables import Attributes, id_map

_REQUIRED = object()


def column(dtype, width: int | None = None, *, fill=_REQUIRED):
    """Return a dataclass field for a network column of ``dtype``: shape (n,), or (n, width)
    when ``width`` is given (used by :meth:`Network.empty` to make a zero-row column).

    With ``fill`` the column is optional (keyword-only, default None): a network built without
    it gets ``n`` rows of ``fill`` (e.g. NaN, "", False)."""
    if fill is _REQUIRED:
        return field(metadata={"dtype": dtype, "width": width})
    return field(default=None, kw_only=True,
                 metadata={"dtype": dtype, "width": width, "fill": fill})


def _empty_column(f) -> np.ndarray:
    dtype, width = f.metadata["dtype"], f.metadata["width"]
    return np.zeros((0,) if width is None else (0, width), dtype=dtype)


@dataclass
class Network:
    """A directed network (graph with geometry). Subclasses set :attr:`kind`.

    Nodes (n_nodes,): ``node_ids`` object str; ``node_xy`` (n_nodes, 2) float64 (CRS units).
    Links (n_links,): ``link_ids`` object str; ``link_from`` / ``link_to`` int64 dense node
    indices; ``link_length`` float64 m.
    Geometry: link k's polyline is ``geometry_xy[geometry_offsets[k]:geometry_offsets[k + 1]]``
    (``geometry_offsets`` (n_links + 1,) int64, ``geometry_xy`` (n_vertices, 2) float64).
    ``node_attributes`` / ``link_attributes``: extra source attributes (keyword-only).
    """

    #: what the network carries ("road", "water", "power", "drainage", "walkway"); prefixes
    #: its id kinds in :meth:`id_maps` (``f"{kind}_node"``, ``f"{kind}_link"``).
    kind: ClassVar[str] = "network"

    node_ids: np.ndarray = column(object)
    node_xy: np.ndarray = column(np.float64, 2)
    link_ids: np.ndarray = column(object)
    link_from: np.ndarray = column(np.int64)
    link_to: np.ndarray = column(np.int64)
    link_length: np.ndarray = column(np.float64)
    geometry_offsets: np.ndarray = column(np.int64)
    geometry_xy: np.ndarray = column(np.float64, 2)
    node_attributes: Attributes = field(default_factory=Attributes, kw_only=True)
    link_attributes: Attributes = field(default_factory=Attributes, kw_only=True)

    def __post_init__(self):
        for f in fields(self):
            if "fill" in f.metadata and getattr(self, f.name) is None:
                n = len(self.node_ids) if f.name.startswith("node_") else len(self.link_ids)
                shape = (n,) if f.metadata["width"] is None else (n, f.metadata["width"])
                a = np.empty(shape, dtype=f.metadata["dtype"])
                a[...] = f.metadata["fill"]
                setattr(self, f.name, a)
        # an attribute table without columns only needs the right length
        if self.node_attributes.n != len(self.node_ids) and not self.node_attributes.columns:
            self.node_attributes = Attributes(len(self.node_ids))
        if self.link_attributes.n != len(self.link_ids) and not self.link_attributes.columns:
            self.link_attributes = Attributes(len(self.link_ids))

    # ---- sizes and ids ------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_links(self) -> int:
        return len(self.link_ids)

    def __len__(self) -> int:
        return self.n_links

    @property
    def ids(self) -> np.ndarray:
        """(n_links,) the link ids (a network's rows are its links)."""
        return self.link_ids

    @property
    def is_empty(self) -> bool:
        """True when the network has neither nodes nor links."""
        return self.n_nodes == 0 and self.n_links == 0

    def id_maps(self) -> dict[str, dict[str, int]]:
        """Return ``{f"{kind}_node": {node id: dense index}, f"{kind}_link": {link id: dense
        index}}`` (ids as str; a repeated id maps to its first row)."""
        return {f"{self.kind}_node": id_map(self.node_ids),
                f"{self.kind}_link": id_map(self.link_ids)}

    def link_geometry(self, k: int) -> np.ndarray:
        """Return link k's polyline, (n, 2) float64."""
        return self.geometry_xy[self.geometry_offsets[k]:self.geometry_offsets[k + 1]]

    def bounds(self) -> tuple[float, float, float, float]:
        """Return (min_x, min_y, max_x, max_y) of nodes and link geometry; NaNs when empty."""
        xy = [a[:, :2] for a in (self.node_xy, self.geometry_xy) if len(a)]
        if not xy:
            return (np.nan, np.nan, np.nan, np.nan)
        lo = np.min([a.min(axis=0) for a in xy], axis=0)
        hi = np.max([a.max(axis=0) for a in xy], axis=0)
        return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def _columns(cls, prefix: str) -> list[str]:
        return [f.name for f in fields(cls) if f.name.startswith(prefix)]

    @classmethod
    def empty(cls):
        """Return a network of this class with no nodes and no links."""
        kw = {}
        for f in fields(cls):
            if f.name == "geometry_offsets":
                kw[f.name] = np.zeros(1, np.int64)
            elif "dtype" in f.metadata:
                kw[f.name] = _empty_column(f)
        return cls(**kw)

    @classmethod
    def concat(cls, parts: list) -> Network:
        """Join networks of one class; nodes with the same id are merged (the first
        occurrence's columns win) and the links' node indices re-based onto the merged nodes.
        Links are kept in order, part after part."""
        parts = [p for p in parts if not p.is_empty]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        typ = type(parts[0])
        if any(type(p) is not typ for p in parts):
            raise TypeError("cannot join networks of different classes: "
                            + ", ".join(sorted({type(p).__name__ for p in parts})))
        all_ids = np.concatenate([p.node_ids for p in parts]).tolist()
        index: dict = {}
        first: list[int] = []
        for i, k in enumerate(all_ids):
            if k not in index:
                index[k] = len(index)
                first.append(i)
        remap = np.fromiter((index[k] for k in all_ids), np.int64, len(all_ids))
        base = np.cumsum([0] + [p.n_nodes for p in parts])
        kw = {}
        for name in typ._columns("node_"):
            vals = [getattr(p, name) for p in parts]
            if isinstance(vals[0], Attributes):
                kw[name] = Attributes.concat(vals).select(first)
            else:
                kw[name] = np.concatenate(vals)[first]
        for name in typ._columns("link_"):
            vals = [getattr(p, name) for p in parts]
            kw[name] = (Attributes.concat(vals) if isinstance(vals[0], Attributes)
                        else np.concatenate(vals))
        for end in ("link_from", "link_to"):
            kw[end] = np.concatenate([remap[b + np.asarray(getattr(p, end), np.int64)]
                                      for b, p in zip(base, parts)])
        offs, n = [np.zeros(1, np.int64)], 0
        for p in parts:
            offs.append(np.asarray(p.geometry_offsets[1:], np.int64) + n)
            n += len(p.geometry_xy)
        kw["geometry_offsets"] = np.concatenate(offs)
        kw["geometry_xy"] = np.concatenate([p.geometry_xy for p in parts])
        for f in fields(typ):
            kw.setdefault(f.name, getattr(parts[0], f.name))
        return typ(**kw)

    def transformed(self, fn):
        """Return a copy with node and geometry x/y mapped by ``fn(x, y) -> (x', y')`` (arrays,
        e.g. a pyproj transform); other columns are shared."""
        nxy = np.array(self.node_xy, float, copy=True)
        gxy = np.array(self.geometry_xy, float, copy=True)
        if len(nxy):
            nxy[:, 0], nxy[:, 1] = fn(nxy[:, 0], nxy[:, 1])
        if len(gxy):
            gxy[:, 0], gxy[:, 1] = fn(gxy[:, 0], gxy[:, 1])
        return replace(self, node_xy=nxy, geometry_xy=gxy)


@dataclass
class WalkwayNetwork(Network):
    """The pedestrian network: footpaths and crossings. Its own columns come with its
    reader."""

    kind: ClassVar[str] = "walkway"
