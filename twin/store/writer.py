"""The run store: one zarr v3 group per run, written in time chunks while the run goes on.

Layout (``xarray.open_zarr(path, group=LAYER)`` opens each layer with named dims and coords)::

    run.zarr/                 attrs: provenance, scenario, fingerprint, status, layers
      <layer>/                one per kernel (e.g. traffic); attrs: kernel, dt_s, kpis
        time      (time)                float64 s from the scenario start
        <dim>     (<dim>)               coordinate of each other dim (link ids, node ids…)
        <var>     (time, <dims>…)       recorded outputs (link_flow (time, link), …)
      events/
        event     (event)               0, 1, …
        time, kind, target, phase, source, details (JSON text)   (event)
      checkpoint/a, checkpoint/b       alternating slots: kernel states, rng states, bus
                                        arrays, clock, pending events (see ``runtime``)

Every record buffer is flushed as one chunk along ``time`` at each checkpoint, then the
metadata is re-consolidated: a run killed half way keeps every flushed chunk readable. A
checkpoint slot is marked complete (one atomic metadata write) only after all its arrays are
written, and two slots alternate, so a kill during a checkpoint leaves the previous one valid.

A kill can land anywhere (``tests/twin/test_runtime_resume.py`` kills a run before each file
change): zarr's LocalStore (zarr >= 3.1.3) writes every file to a temporary ``*.partial`` file
and renames it, so a metadata file is always the old or the new one, never half written. A
store killed before its root ``zarr.json`` existed holds only such temporary files
(:meth:`RunStore.unborn`), and one killed before its first complete checkpoint holds nothing to
resume from: resuming either starts the run afresh. One killed after its last checkpoint gets
its status and consolidated metadata written on resume.
"""

from __future__ import annotations

import json
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import zarr

from .errors import StoreError

#: Upper bound (bytes) of one stored chunk; larger records are split along their 2nd axis.
MAX_CHUNK_BYTES = 16 * 2**20
EVENT_COLUMNS = ("time", "kind", "target", "phase", "source", "details")


def _consolidate(path) -> None:
    with warnings.catch_warnings():
        # zarr warns that consolidated metadata is not in the v3 spec; xarray reads it.
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(path))


def _store_dtype(a: np.ndarray):
    return str if a.dtype.kind in "UOT" else a.dtype


def _fill(dtype):
    if dtype is str:
        return ""
    return np.nan if np.dtype(dtype).kind in "fc" else 0


class LayerWriter:
    """Buffers the records of one layer and appends them as chunks along ``time``."""

    def __init__(self, group: zarr.Group, time_chunk: int, dims: dict, units: dict,
                 n_records: int = 0):
        self.group = group
        self.time_chunk = max(1, int(time_chunk))
        self.dims = dims      # var -> dims (without time)
        self.units = units    # var -> units
        self.n_records = n_records
        self.times: list[float] = []
        self.values: dict[str, list[np.ndarray]] = {}

    def append(self, t: float, outputs: dict) -> None:
        self.times.append(float(t))
        for k, v in outputs.items():
            buf = self.values.setdefault(k, [])
            a = np.asarray(v)
            if buf and a.shape != buf[0].shape:
                raise StoreError(f"layer {self.group.basename!r}: {k} changed shape from "
                                 f"{buf[0].shape} to {a.shape} at t = {t:g} s")
            buf.append(a.copy())
        missing = set(self.values) - set(outputs)
        if missing:
            raise StoreError(f"layer {self.group.basename!r}: step at t = {t:g} s did not "
                             f"return {sorted(missing)}")

    def flush(self) -> None:
        n = len(self.times)
        if not n:
            return
        n0 = self.n_records
        self._append("time", np.asarray(self.times), ("time",), "s")
        for k, buf in self.values.items():
            a = np.stack(buf)
            dims = self.dims.get(k) or tuple(f"{k}_dim_{i}" for i in range(1, a.ndim))
            if len(dims) != a.ndim - 1:
                raise StoreError(f"layer {self.group.basename!r}: {k} has shape "
                                 f"{a.shape[1:]} but dims {dims}")
            self._append(k, a, ("time",) + tuple(dims), self.units.get(k, ""), n0)
        self.n_records = n0 + n
        self.times = []
        self.values = {k: [] for k in self.values}

    def _append(self, name, a, dims, units, n0=None):
        n0 = self.n_records if n0 is None else n0
        if name not in self.group:
            dtype = _store_dtype(a)
            row = int(np.prod(a.shape[1:], dtype=np.int64)) * max(a.itemsize, 1)
            chunks = [self.time_chunk] + [max(1, s) for s in a.shape[1:]]
            if a.ndim > 1 and row * self.time_chunk > MAX_CHUNK_BYTES:
                per = max(1, MAX_CHUNK_BYTES // max(1, row // a.shape[1] * self.time_chunk))
                chunks[1] = min(a.shape[1], per)
            arr = self.group.create_array(
                name, shape=(0,) + a.shape[1:], chunks=tuple(chunks), dtype=dtype,
                fill_value=_fill(dtype), dimension_names=dims,
                attributes={"units": units} if units else {})
        else:
            arr = self.group[name]
        arr.resize((n0 + len(a),) + a.shape[1:])
        arr[n0:n0 + len(a)] = a.astype(str) if a.dtype.kind in "UO" else a

    def truncate(self, n: int) -> None:
        for name in list(self.group.array_keys()):
            arr = self.group[name]
            if arr.metadata.dimension_names and arr.metadata.dimension_names[0] == "time":
                arr.resize((min(n, arr.shape[0]),) + arr.shape[1:])
        self.n_records = n
        self.times, self.values = [], {}


class RunStore:
    """The zarr group of one run, open for writing."""

    def __init__(self, path, root: zarr.Group):
        self.path = Path(path)
        self.root = root
        self.layers: dict[str, LayerWriter] = {}
        self.n_events = 0

    # ---- opening ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path, *, overwrite: bool = False, attrs: dict | None = None) -> RunStore:
        """Create a new store at ``path``; StoreError if something is there and not
        ``overwrite``."""
        path = Path(path)
        if path.exists():
            if not overwrite:
                raise StoreError(f"{path} already exists; pass overwrite=True to replace it "
                                 "or resume=True to continue it")
            if (path.is_dir() and not (path / "zarr.json").exists() and any(path.iterdir())
                    and not cls.unborn(path)):
                raise StoreError(f"{path} is a non-empty folder that is not a run store; "
                                 "refusing to delete it")
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        root = zarr.open_group(str(path), mode="w", zarr_format=3, attributes=attrs or {})
        root.create_group("events")
        root.create_group("checkpoint")
        store = cls(path, root)
        store._create_events()
        return store

    @staticmethod
    def unborn(path) -> bool:
        """Return whether ``path`` is a folder whose run was killed before its store existed:
        no ``zarr.json`` and nothing but folders and zarr's half-written temporary files
        (``*.partial``) in it. Resuming it starts the run afresh."""
        path = Path(path)
        return (path.is_dir() and not (path / "zarr.json").exists()
                and all(p.is_dir() or p.name.endswith(".partial") for p in path.rglob("*")))

    @classmethod
    def open(cls, path) -> RunStore:
        """Open an existing store for resuming (StoreError when it is not a run store)."""
        path = Path(path)
        if not (path / "zarr.json").exists():
            raise StoreError(f"{path} is not a run store (no zarr.json)")
        for p in path.rglob("*.partial"):  # half-written files of a killed run
            p.unlink(missing_ok=True)
        try:
            root = zarr.open_group(str(path), mode="r+", use_consolidated=False)
        except Exception as e:  # zarr raises several types for a broken group
            raise StoreError(f"{path} cannot be opened as a run store: {e}") from e
        if "fingerprint" not in root.attrs:
            raise StoreError(f"{path} is a zarr group but not a run store")
        return cls(path, root)

    # ---- layers ------------------------------------------------------------------------------
    def add_layer(self, name: str, *, coords: dict, dims: dict, units: dict, attrs: dict,
                  time_chunk: int) -> LayerWriter:
        """Create (or reopen, when resuming) layer ``name`` with coordinate arrays ``coords``
        ({dim: values}; a ``(dims, values)`` tuple makes a static variable), variable ``dims`` ({var: dims without time}) and ``units``."""
        if name in self.root:
            g = self.root[name]
        else:
            g = self.root.create_group(name, attributes=attrs)
            for var, values in coords.items():
                var_dims = (var,)
                if isinstance(values, tuple):  # a static variable: (dims, values)
                    var_dims, values = tuple(values[0]), values[1]
                _write_array(g, var, np.asarray(values), dimension_names=var_dims)
        n = g["time"].shape[0] if "time" in g else 0
        w = self.layers[name] = LayerWriter(g, time_chunk, dims, units, n_records=n)
        return w

    def _create_events(self):
        g = self.root["events"]
        for c in ("event",) + EVENT_COLUMNS:
            dtype = np.int64 if c == "event" else np.float64 if c == "time" else str
            g.create_array(c, shape=(0,), chunks=(256,), dtype=dtype, fill_value=_fill(dtype),
                           dimension_names=("event",),
                           attributes={"units": "s"} if c == "time" else {})

    def append_events(self, cols: dict) -> None:
        n = len(cols["time"])
        if not n:
            return
        g = self.root["events"]
        n0 = self.n_events
        cols = {"event": np.arange(n0, n0 + n, dtype=np.int64), **cols}
        for c, v in cols.items():
            arr = g[c]
            arr.resize((n0 + n,))
            arr[n0:] = v
        self.n_events = n0 + n

    def truncate(self, n_records: dict[str, int], n_events: int) -> None:
        """Cut every layer back to ``n_records[layer]`` records and the events table to
        ``n_events`` rows (what the checkpoint being resumed had flushed)."""
        for name, n in n_records.items():
            if name in self.root:
                LayerWriter(self.root[name], 1, {}, {}).truncate(n)
        g = self.root["events"]
        for c in g.array_keys():
            g[c].resize((min(n_events, g[c].shape[0]),))
        self.n_events = n_events

    def flush(self) -> None:
        for w in self.layers.values():
            w.flush()

    def n_records(self) -> dict[str, int]:
        return {k: w.n_records for k, w in self.layers.items()}

    def set_attrs(self, **attrs) -> None:
        self.root.update_attributes(attrs)

    def consolidate(self) -> None:
        _consolidate(self.path)

    def consolidated(self) -> bool:
        """Return whether the root metadata holds consolidated metadata (a root attribute
        write drops it until the next :meth:`consolidate`)."""
        try:
            doc = json.loads((self.path / "zarr.json").read_text())
        except (OSError, ValueError):
            return False
        return bool(doc.get("consolidated_metadata"))

    # ---- checkpoints ---------------------------------------------------------------------------
    def write_checkpoint(self, seq: int, meta: dict, arrays: dict[str, dict]) -> None:
        """Write checkpoint ``seq`` into slot a/b: ``arrays`` {group: state dict} (see
        :func:`encode_state`) and JSON ``meta``; the slot is marked complete last."""
        slot = "ab"[seq % 2]
        cp = self.root["checkpoint"]
        if slot in cp:  # reuse the slot's arrays: rewriting data is cheaper than recreating
            g = cp[slot]
            g.update_attributes({"complete": False})
        else:
            g = cp.create_group(slot, attributes={"complete": False})
        tags = {}
        for group, state in arrays.items():
            tags[group] = encode_state(g, group, state)
        # one metadata write (``attrs.update`` would write once per key: not atomic)
        g.update_attributes({"complete": True, "seq": int(seq), "meta": meta, "tags": tags})

    def latest_checkpoint(self) -> tuple[dict, dict] | None:
        """Return (meta, {group: state}) of the newest complete checkpoint, or None."""
        if "checkpoint" not in self.root:
            return None
        best = None
        for slot in ("a", "b"):
            if slot not in self.root["checkpoint"]:
                continue
            g = self.root["checkpoint"][slot]
            a = dict(g.attrs)
            if a.get("complete") and (best is None or a["seq"] > best[1]["seq"]):
                best = (g, a)
        if best is None:
            return None
        g, a = best
        meta = dict(a["meta"], seq=a["seq"])
        return meta, {grp: decode_state(g, grp, tags) for grp, tags in a["tags"].items()}


def _write_array(g: zarr.Group, name: str, v: np.ndarray, **kw):
    """Write ``v`` as one chunk (strings as zarr's variable-length string type)."""
    text = v.dtype.kind in "UOT"
    try:
        arr = g[name]
    except KeyError:
        arr = None
    if (isinstance(arr, zarr.Array) and arr.shape == v.shape and not kw
            and (arr.dtype == v.dtype or text and arr.dtype.kind == "T")):
        arr[...] = v.astype(str) if text else v
        return arr
    arr = g.create_array(name, shape=v.shape, dtype=str if text else v.dtype,
                         chunks=tuple(max(1, s) for s in v.shape) if v.ndim else "auto",
                         overwrite=True, **kw)
    arr[...] = v.astype(str) if text else v
    return arr


# ---- kernel state <-> zarr -------------------------------------------------------------------
def encode_state(g: zarr.Group, prefix: str, state: dict) -> dict:
    """Write ``state`` (a dict of arrays, scalars, str, bytes, nested dicts, or anything
    picklable) under ``g/prefix``; return the tags :func:`decode_state` needs."""
    tags: dict = {}
    for key, v in state.items():
        key = str(key)
        path = f"{prefix}/{key}"
        if isinstance(v, dict):
            tags[key] = {"dict": encode_state(g, path, v)}
        elif isinstance(v, (bool, int, float, str)) or v is None:
            tags[key] = {"json": v}
        elif isinstance(v, np.ndarray) and v.dtype.kind in "biufc":
            _write_array(g, path, v)
            tags[key] = {"array": 1}
        elif isinstance(v, np.ndarray) and v.dtype.kind in "UT" or (
                isinstance(v, np.ndarray) and v.dtype == object
                and all(isinstance(x, str) for x in v.ravel())):
            _write_array(g, path, v)
            tags[key] = {"str": v.dtype.str if v.dtype.kind == "U" else "O"}
        elif isinstance(v, np.generic):
            tags[key] = {"scalar": v.dtype.str, "json": v.item()}
        else:
            raw = v if isinstance(v, bytes) else pickle.dumps(v, protocol=5)
            _write_array(g, path, np.frombuffer(raw, np.uint8))
            tags[key] = {"bytes" if isinstance(v, bytes) else "pickle": 1}
    return tags


def decode_state(g: zarr.Group, prefix: str, tags: dict) -> dict:
    """Return the state dict written by :func:`encode_state`."""
    out: dict = {}
    for key, tag in tags.items():
        path = f"{prefix}/{key}"
        if "dict" in tag:
            out[key] = decode_state(g, path, tag["dict"])
        elif "scalar" in tag:
            out[key] = np.array(tag["json"], dtype=np.dtype(tag["scalar"]))[()]
        elif "json" in tag:
            out[key] = tag["json"]
        elif "array" in tag:
            out[key] = g[path][...]
        elif "str" in tag:
            v = g[path][...]
            out[key] = v.astype(object if tag["str"] == "O" else tag["str"])
        else:
            raw = g[path][...].tobytes()
            out[key] = raw if "bytes" in tag else pickle.loads(raw)
    return out


def json_safe(obj):
    """Return ``obj`` made JSON-able (numpy scalars/arrays → Python)."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist")
                                 else str(o)))


# ---- reading a run -----------------------------------------------------------------------------
class Run:
    """A run store, for reading: ``path``, ``layers``, ``open(layer)``, ``events``, ``kpis()``,
    ``provenance``, ``scenario`` (its description), ``status`` ("complete", "incomplete",
    "interrupted")."""

    def __init__(self, path):
        self.path = Path(path)
        if not (self.path / "zarr.json").exists():
            raise StoreError(f"{self.path} is not a run store")
        self._root = zarr.open_group(str(self.path), mode="r", use_consolidated=False)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r}, layers={self.layers})"

    @property
    def attrs(self) -> dict:
        return dict(self._root.attrs)

    @property
    def provenance(self) -> dict:
        """Seed, district, scenario source text, package version, git commit, creation time,
        wall time, library versions."""
        return dict(self.attrs.get("provenance", {}))

    @property
    def scenario(self) -> dict:
        return dict(self.attrs.get("scenario", {}))

    @property
    def status(self) -> str:
        return self.attrs.get("status", "unknown")

    @property
    def layers(self) -> list[str]:
        """Return the recorded layers (kernel names)."""
        return sorted(k for k in self._root.group_keys() if k not in ("events", "checkpoint"))

    def open(self, layer: str):
        """Return layer ``layer`` as an ``xarray.Dataset`` (lazy, dims and coords named)."""
        import xarray as xr

        if layer not in self.layers + ["events"]:
            raise StoreError(f"{self.path}: no layer {layer!r}; layers: {self.layers}")
        return xr.open_zarr(str(self.path), group=layer)

    @property
    def events(self):
        """Return the events table as a pandas DataFrame (time s, kind, target, phase,
        source, details as dicts)."""
        import pandas as pd

        g = self._root["events"]
        cols = {c: g[c][...] for c in EVENT_COLUMNS}
        df = pd.DataFrame({c: (v if c == "time" else v.astype(object))
                           for c, v in cols.items()})
        df["details"] = [json.loads(d) if d else {} for d in df["details"]]
        return df

    def kpis(self) -> dict[str, dict]:
        """Return {layer: KPI dict} from each layer's kernel-provided ``kpis(ds)``."""
        import importlib

        out = {}
        for layer in self.layers:
            ref = self._root[layer].attrs.get("kpis")
            if not ref:
                continue
            mod, _, qual = ref.partition(":")
            fn = importlib.import_module(mod)
            for part in qual.split("."):
                fn = getattr(fn, part)
            out[layer] = fn(self.open(layer))
        return out
