"""The run store: one zarr v3 group per run, written in time chunks while the run goes on.

Layout (``xarray.open_zarr(path, group=LAYER)`` opens each layer with named dims and coords)::

    run.zarr/                 attrs: provenance, scenario, fingerprint, status
      <layer>/                one per kernel (e.g. traffic); attrs: kernel, dt_s, tables
        time      (time)                float64 s from the scenario start
        clock     (time)                the same, CF units "seconds since <start>": xarray
                                        decodes it to the wall-clock datetime64 coordinate
        member    (member)              0 … n_members − 1
        <dim>     (<dim>)               coordinate of each other dim (link ids, node ids…)
        <var>     (time, member, <dims>…)   recorded outputs (link_flow (time, member,
                                        road_link), …)
        <column>  (<row dim>)           the kernel's tables (trips: trip_id, trip_member…)
      events/
        event     (event)               0, 1, …
        time, kind, target, phase, member, source, details (JSON text)   (event)
      checkpoint/a, checkpoint/b       alternating slots: kernel states, rng states, bus
                                        arrays, clock, pending events (see ``runtime``)

Every record buffer is flushed as one chunk along ``time`` at each checkpoint (with the rows
the kernels added to their tables), then the metadata is re-consolidated: a run killed half way keeps every flushed chunk readable. A
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
import shutil
import warnings
from pathlib import Path

import numpy as np
import zarr

from ..core.events import EventLog
from ..errors import StoreError
from .state import _write_array, decode_state, encode_state
from .tables import TableWriter

#: Upper bound (bytes) of one stored chunk; larger records are split along their 2nd axis.
MAX_CHUNK_BYTES = 16 * 2**20
EVENT_COLUMNS = EventLog.COLUMNS


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
                 n_records: int = 0, start: str | None = None):
        self.group = group
        self.start = start    # ISO wall-clock start: adds the CF ``clock`` coordinate
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

    def take(self) -> tuple[list, dict]:
        """Return the buffered records (times, {var: list of arrays}) and forget them."""
        out = (self.times, self.values)
        self.times = []
        self.values = {k: [] for k in self.values}
        return out

    def flush(self, records=None) -> None:
        """Write the buffered records (or ``records`` from :meth:`take`) as one chunk."""
        times, values = records if records is not None else self.take()
        n = len(times)
        if not n:
            return
        n0 = self.n_records
        self._append("time", np.asarray(times), ("time",), "s")
        if self.start:  # wall clock, CF-encoded: xarray decodes it to datetime64
            self._append("clock", np.asarray(times), ("time",), f"seconds since {self.start}")
        for k, buf in values.items():
            a = np.stack(buf)
            dims = self.dims.get(k) or tuple(f"{k}_dim_{i}" for i in range(2, a.ndim))
            if len(dims) != a.ndim - 2:
                raise StoreError(f"layer {self.group.basename!r}: {k} has shape "
                                 f"{a.shape[2:]} (after the member axis) but dims {dims}")
            self._append(k, a, ("time", "member") + tuple(dims), self.units.get(k, ""), n0)
        self.n_records = n0 + n

    def _append(self, name, a, dims, units, n0=None):
        n0 = self.n_records if n0 is None else n0
        if name not in self.group:
            dtype = _store_dtype(a)
            row = int(np.prod(a.shape[1:], dtype=np.int64)) * max(a.itemsize, 1)
            chunks = [self.time_chunk] + [max(1, s) for s in a.shape[1:]]
            ax = a.ndim - 1 if a.ndim > 2 else 1  # split along the element axis
            if a.ndim > 1 and row * self.time_chunk > MAX_CHUNK_BYTES:
                per = max(1, MAX_CHUNK_BYTES // max(1, row // a.shape[ax] * self.time_chunk))
                chunks[ax] = min(a.shape[ax], per)
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
        self.tables: dict[tuple[str, str], TableWriter] = {}
        self.n_events = 0
        self._digests: dict[str, dict] = {"a": {}, "b": {}}  # what each checkpoint slot holds
        self._pool = None
        self._pending = None

    # ---- opening ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path, *, overwrite: bool = False, attrs: dict | None = None) -> RunStore:
        """Create a new store at ``path``; StoreError if something is there and not
        ``overwrite``."""
        path = Path(path)
        if path.exists():
            cls.refuse_existing(path, overwrite)
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
    def refuse_existing(path, overwrite: bool, how=("overwrite=True", "resume=True")) -> None:
        """Raise StoreError when ``path`` exists and is not to be overwritten (``how``: the
        caller's names for overwriting and resuming, e.g. the command line's flags)."""
        if Path(path).exists() and not overwrite:
            raise StoreError(f"{path} already exists; pass {how[0]} to replace it or "
                             f"{how[1]} to continue it")

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
                  time_chunk: int, n_members: int = 1, tables: dict | None = None
                  ) -> LayerWriter:
        """Create (or reopen, when resuming) layer ``name`` with coordinate arrays ``coords``
        ({dim: values}; a ``(dims, values)`` tuple makes a static variable), variable
        ``dims`` ({var: dims without time and member}), ``units``, the ``member``
        coordinate and the row ``tables`` ({name: :class:`twin.core.kernel.Table`})."""
        coords = {"member": np.arange(int(n_members)), **coords}
        start = dict(self.root.attrs.get("scenario", {})).get("start")
        if name in self.root:
            g = self.root[name]
            start = start if "clock" in g or "time" not in g else None  # as it was written
        else:
            # "coordinates": xarray makes ``clock`` (wall-clock datetime64) a coordinate
            g = self.root.create_group(name, attributes={**attrs, "coordinates": "clock"}
                                       if start else attrs)
            for var, values in coords.items():
                var_dims = (var,)
                if isinstance(values, tuple):  # a static variable: (dims, values)
                    var_dims, values = tuple(values[0]), values[1]
                _write_array(g, var, np.asarray(values), dimension_names=var_dims)
        n = g["time"].shape[0] if "time" in g else 0
        w = self.layers[name] = LayerWriter(g, time_chunk, dims, units, n_records=n,
                                            start=start)
        for tname, spec in (tables or {}).items():
            self.tables[(name, tname)] = TableWriter(g, spec)
        return w

    def _create_events(self):
        g = self.root["events"]
        for c in ("event",) + EVENT_COLUMNS:
            dtype = np.int64 if c in ("event", "member") else np.float64 if c == "time" else str
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

    def truncate(self, n_records: dict[str, int], n_events: int,
                 n_rows: dict[str, int] | None = None) -> None:
        """Cut every layer back to ``n_records[layer]`` records, the tables to
        ``n_rows["<layer>/<table>"]`` rows and the events table to ``n_events`` rows (what
        the checkpoint being resumed had flushed)."""
        for name, n in n_records.items():
            if name in self.layers:
                self.layers[name].truncate(n)
            elif name in self.root:
                LayerWriter(self.root[name], 1, {}, {}).truncate(n)
        for key, w in self.tables.items():
            w.truncate(int((n_rows or {}).get("/".join(key), 0)))
        g = self.root["events"]
        for c in g.array_keys():
            g[c].resize((min(n_events, g[c].shape[0]),))
        self.n_events = n_events

    def flush(self) -> None:
        """Write every layer's buffered records and every table's buffered rows now."""
        self.wait()
        for w in self.layers.values():
            w.flush()
        for w in self.tables.values():
            w.flush()

    def table(self, layer: str, name: str) -> TableWriter:
        """Return the writer of table ``name`` of ``layer``."""
        return self.tables[(layer, name)]

    def n_records(self) -> dict[str, int]:
        return {k: w.n_records for k, w in self.layers.items()}

    def n_rows(self) -> dict[str, int]:
        """Return {"<layer>/<table>": rows written or buffered} (what a checkpoint holds)."""
        return {"/".join(k): w.n_rows for k, w in self.tables.items()}

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
    def submit_checkpoint(self, seq: int, meta: dict, arrays: dict[str, dict], events: dict,
                          final: bool, before_consolidate=None) -> None:
        """Write, off the caller's thread, the records and table rows buffered until now,
        the ``events`` rows and checkpoint ``seq`` (``meta``, ``arrays``: copies the caller
        no longer changes), then consolidate (``before_consolidate()`` first, if given).
        One checkpoint is in flight at a time: this waits for the previous one first, and
        :meth:`wait` for the last one (re-raising what failed in it)."""
        self.wait()
        records = {k: w.take() for k, w in self.layers.items()}
        rows = {k: w.take() for k, w in self.tables.items()}

        def job():
            for k, w in self.layers.items():
                w.flush(records[k])
            for k, w in self.tables.items():
                w.flush(rows[k])
            self.append_events(events)
            self.write_checkpoint(seq, meta, arrays)
            if before_consolidate is not None:
                before_consolidate()
            self.consolidate()

        if final:  # nothing left to overlap with
            job()
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="twin-checkpoint")
        self._pending = self._pool.submit(job)

    def wait(self) -> None:
        """Wait for the checkpoint in flight (re-raising its error)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the checkpoint in flight and stop the writer thread."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def write_checkpoint(self, seq: int, meta: dict, arrays: dict[str, dict]) -> None:
        """Write checkpoint ``seq`` into slot a/b: ``arrays`` {group: state dict} (see
        :func:`encode_state`; arrays the slot already holds unchanged are not rewritten) and
        JSON ``meta``; the slot is marked complete last."""
        slot = "ab"[seq % 2]
        cp = self.root["checkpoint"]
        if slot in cp:  # reuse the slot's arrays: rewriting data is cheaper than recreating
            g = cp[slot]
            g.update_attributes({"complete": False})
        else:
            g = cp.create_group(slot, attributes={"complete": False})
        tags = {}
        digests = self._digests[slot]
        for group, state in arrays.items():
            tags[group] = encode_state(g, group, state, digests)
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
