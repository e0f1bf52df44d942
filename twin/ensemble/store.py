"""The ensemble store: one run store whose layers have ``member`` = every member.

Each task runs its members into a part store (``<out>.parts/task_NNNNN.zarr``, an ordinary
run store: checkpoints and resume come from the runtime), then copies them into its region
of the ensemble's arrays (:func:`write_region`): ``[:, m0:m1, …]``, whole ``member`` chunks
that no other task touches, so no lock is needed. ``checkpoint/ensemble_done`` (member,)
records, chunk by chunk, which members are in place (written last by each task): a killed
ensemble resumes by running only the others.

The arrays are created (:func:`create_layers`) from the first part that finishes: the part's
layout with ``member`` widened to the ensemble. The row tables and the events table (rows of
varying count) are concatenated from the parts in member order when all members are in
place (:func:`gather`), with the parts' member numbers made global; an event of all the
members of a part gets one row per member, as the members run one by one would have.
"""

from __future__ import annotations

import json

import numpy as np
import zarr

from ..errors import StoreError
from ..store import Run
from ..store.writer import EVENT_COLUMNS, _consolidate

DONE = "ensemble_done"
TABLE_CHUNK = 16384
EVENT_CHUNK = 65536


def _text(dtype) -> bool:
    return np.dtype(dtype).kind in "UOT" if not isinstance(dtype, type) else dtype is str


def _dtype(a: zarr.Array):
    return str if a.dtype.kind in "UOT" else a.dtype


def _dims(a: zarr.Array) -> tuple:
    return tuple(a.metadata.dimension_names or ())


def _table_dims(g: zarr.Group) -> set:
    return {v["dim"] for v in dict(g.attrs).get("tables", {}).values()}


def init_done(root: zarr.Group, n_members: int, chunk: int) -> None:
    """Create the per-member done flags (all 0)."""
    root["checkpoint"].create_array(DONE, shape=(n_members,), chunks=(chunk,), dtype=np.int8,
                                    fill_value=0, dimension_names=("member",))


def done_members(root: zarr.Group) -> np.ndarray:
    """Return the (member,) bool flags of the members in place."""
    return root["checkpoint"][DONE][...].astype(bool)


def has_layers(root: zarr.Group) -> bool:
    return any(k not in ("events", "checkpoint") for k in root.group_keys())


def create_layers(ens_path, part_path, n_members: int, chunk: int) -> None:
    """Create every layer of the ensemble store from part store ``part_path``: data arrays
    (``member`` widened to ``n_members``, chunked by ``chunk`` members, filled later by the
    tasks), static coordinates copied, the ``member`` coordinate 0 … n − 1. Tables are
    written by :func:`gather`."""
    root = zarr.open_group(str(ens_path), mode="r+", use_consolidated=False)
    part = zarr.open_group(str(part_path), mode="r", use_consolidated=False)
    for layer in part.group_keys():
        if layer in ("events", "checkpoint"):
            continue
        src = part[layer]
        dst = root.require_group(layer)
        dst.update_attributes(dict(src.attrs))
        rows = _table_dims(src)
        for name in src.array_keys():
            a = src[name]
            dims = _dims(a)
            if dims and dims[0] in rows:
                continue
            if name == "member":
                _create(dst, a, (n_members,), (n_members,))[...] = np.arange(n_members)
            elif "member" in dims:
                ax = dims.index("member")
                shape = a.shape[:ax] + (n_members,) + a.shape[ax + 1:]
                chunks = a.chunks[:ax] + (chunk,) + a.chunks[ax + 1:]
                _create(dst, a, shape, chunks)
            else:
                _create(dst, a, a.shape, a.chunks)[...] = a[...]
    _consolidate(ens_path)


def _create(dst: zarr.Group, a: zarr.Array, shape, chunks) -> zarr.Array:
    dtype = _dtype(a)
    chunks = tuple(max(1, int(c)) for c in chunks) if len(shape) else "auto"
    return dst.create_array(a.basename, shape=shape, chunks=chunks, dtype=dtype,
                            fill_value="" if dtype is str else a.fill_value,
                            dimension_names=_dims(a), attributes=dict(a.attrs),
                            overwrite=True)


def write_region(ens_path, part_path, m0: int, m1: int) -> int:
    """Copy the members of part store ``part_path`` into members ``m0 … m1 − 1`` of every
    member array of the ensemble store, then mark them done; return the bytes written."""
    root = zarr.open_group(str(ens_path), mode="r+", use_consolidated=False)
    part = zarr.open_group(str(part_path), mode="r", use_consolidated=False)
    nbytes = 0
    for layer in part.group_keys():
        if layer in ("events", "checkpoint"):
            continue
        src, dst = part[layer], root[layer]
        for name in src.array_keys():
            a = src[name]
            dims = _dims(a)
            if name == "member" or "member" not in dims:
                if dims == ("time",) and name in dst and dst[name].shape != a.shape:
                    raise StoreError(f"{part_path}: {layer}/{name} has {a.shape[0]} records, "
                                     f"the ensemble {dst[name].shape[0]}")
                continue
            if dims[0] in _table_dims(src):
                continue
            b = dst[name]
            ax = dims.index("member")
            if a.shape[ax] != m1 - m0 or a.shape[:ax] + a.shape[ax + 1:] != (
                    b.shape[:ax] + b.shape[ax + 1:]):
                raise StoreError(f"{part_path}: {layer}/{name} has shape {a.shape}, the "
                                 f"ensemble {b.shape} (members {m0}-{m1 - 1})")
            step = a.chunks[0] if ax > 0 else a.shape[0] or 1
            for t0 in range(0, max(1, a.shape[0]), step):  # one time chunk at a time
                block = a[t0:t0 + step] if ax > 0 else a[...]
                region = (slice(t0, t0 + len(block)),) if ax > 0 else ()
                region += (slice(None),) * (ax - len(region)) + (slice(m0, m1),)
                b[region] = block
                nbytes += block.nbytes
    root["checkpoint"][DONE][m0:m1] = 1
    return nbytes


def _remap(member: np.ndarray, m0: int) -> np.ndarray:
    return np.where(member >= 0, member + m0, member)


def read_part(part_path, m0: int, m1: int) -> dict:
    """Return the rows of part store ``part_path`` (members ``m0 … m1 − 1``) with global
    member numbers: {"tables": {layer: {column: array}}, "protos": {layer: {column: (dtype,
    fill, attrs, dim)}}, "events": {column: array}, "attrs": {layer: attrs}, "m": (m0, m1)}
    (a worker's share of :func:`gather`)."""
    run = Run(part_path)
    out = {"tables": {}, "protos": {}, "attrs": {}, "m": (m0, m1)}
    for layer in run.layers:
        g = run._root[layer]
        out["attrs"][layer] = dict(g.attrs)
        cols, protos = {}, {}
        for spec in dict(g.attrs).get("tables", {}).values():
            mcol = f"{spec['dim']}_member"
            for c in list(spec["columns"]) + [mcol]:
                if c in g:
                    a = g[c]
                    v = a[...]
                    cols[c] = _remap(v, m0) if c == mcol else v
                    dt = _dtype(a)
                    protos[c] = ("str" if dt is str else np.dtype(dt).str,
                                 "" if dt is str else a.fill_value.item()
                                 if hasattr(a.fill_value, "item") else a.fill_value,
                                 dict(a.attrs), spec["dim"])
        out["tables"][layer], out["protos"][layer] = cols, protos
    g = run._root["events"]
    ev = {c: g[c][...] for c in EVENT_COLUMNS}
    events: dict[str, list] = {c: [] for c in EVENT_COLUMNS}
    for k in range(m1 - m0):  # each member's events, as if it had run alone
        keep = (ev["member"] == k) | (ev["member"] == -1)
        for c in EVENT_COLUMNS:
            v = ev[c][keep]
            events[c].append(np.full(len(v), m0 + k, np.int64) if c == "member" else v)
    out["events"] = {c: np.concatenate(v) if v else np.zeros(0) for c, v in events.items()}
    return out


def gather(ens_path, parts: list[tuple], mapper=None) -> dict:
    """Write the row tables and the events table of the ensemble from ``parts`` [(part
    path, m0, m1)] in member order; return {"<layer>/<table>": rows, "events": rows}.
    ``mapper(read_part, parts)`` reads the parts (default: here, one after the other;
    :func:`twin.run_ensemble` has the workers read them)."""
    pieces = (mapper(read_part, parts) if mapper is not None
              else [read_part(*p) for p in parts])
    pieces = sorted(pieces, key=lambda p: p["m"][0])
    root = zarr.open_group(str(ens_path), mode="r+", use_consolidated=False)
    counts = {}
    for layer in root.group_keys():
        if layer in ("events", "checkpoint"):
            continue
        g = root[layer]
        protos: dict = {}
        for p in pieces:
            for c, proto in p["protos"].get(layer, {}).items():
                protos.setdefault(c, proto)
        for c, (dtype, fill, attrs, dim) in protos.items():
            parts_c = [p["tables"][layer][c] for p in pieces if c in p["tables"].get(layer, {})]
            v = np.concatenate(parts_c)
            dtype = str if dtype == "str" else np.dtype(dtype)
            arr = g.create_array(c, shape=v.shape, chunks=(TABLE_CHUNK,), dtype=dtype,
                                 fill_value=fill, dimension_names=(dim,), attributes=attrs,
                                 overwrite=True)
            if len(v):
                arr[...] = v.astype(str) if v.dtype.kind in "UO" else v
        for tname, spec in dict(g.attrs).get("tables", {}).items():
            first = spec["columns"][0]
            counts[f"{layer}/{tname}"] = int(g[first].shape[0]) if first in g else 0
        g.update_attributes(_member_attrs(layer, pieces))
    counts["events"] = _write_events(root, pieces)
    return counts


def _member_attrs(layer: str, pieces) -> dict:
    """Return the layer attributes that hold one value per member (a list as long as each
    part's member count, e.g. traffic's ``n_trips``), concatenated over the parts."""
    attrs = [p["attrs"].get(layer, {}) for p in pieces]
    out = {}
    for key in attrs[0]:
        vals = [a.get(key) for a in attrs]
        if all(isinstance(x, list) and len(x) == p["m"][1] - p["m"][0]
               for x, p in zip(vals, pieces)):
            out[key] = [y for x in vals for y in x]
    return out


def _write_events(root: zarr.Group, pieces) -> int:
    g = root["events"]
    n = 0
    for c in EVENT_COLUMNS:
        v = np.concatenate([p["events"][c] for p in pieces]) if pieces else np.zeros(0)
        n = len(v)
        dtype = np.int64 if c == "member" else np.float64 if c == "time" else str
        arr = g.create_array(c, shape=(n,), chunks=(EVENT_CHUNK,), dtype=dtype,
                             fill_value="" if dtype is str else 0,
                             dimension_names=("event",),
                             attributes={"units": "s"} if c == "time" else {},
                             overwrite=True)
        if n:
            arr[...] = (v.astype(str) if v.dtype.kind in "UO" else v) if dtype is str else (
                v.astype(dtype))
    arr = g.create_array("event", shape=(n,), chunks=(EVENT_CHUNK,), dtype=np.int64,
                         fill_value=0, dimension_names=("event",), overwrite=True)
    if n:
        arr[...] = np.arange(n)
    return n


def set_attrs(path, **attrs) -> None:
    """Update the root attributes of the ensemble store (one metadata write)."""
    zarr.open_group(str(path), mode="r+", use_consolidated=False).update_attributes(attrs)


def read_attrs(path) -> dict:
    doc = json.loads((path / "zarr.json").read_text())
    return doc.get("attributes", {})
