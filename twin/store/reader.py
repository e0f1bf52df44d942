"""Reading a run store: :class:`Run` (layers as xarray Datasets, events, tables, KPIs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import zarr

from ..errors import StoreError
from .writer import EVENT_COLUMNS


class Run:
    """A run store, for reading: ``path``, ``layers``, ``open(layer)``, ``events``, ``table()``,
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

    def open(self, layer: str, chunks=...):
        """Return layer ``layer`` as an ``xarray.Dataset`` (lazy, dims and coords named).

        chunks : given: as ``xarray.open_zarr``'s (None: lazily loaded numpy arrays without
        dask, faster to open when whole variables are read); default: xarray's (dask)."""
        import xarray as xr

        if layer not in self.layers + ["events"]:
            raise StoreError(f"{self.path}: no layer {layer!r}; layers: {self.layers}")
        kw = {} if chunks is ... else {"chunks": chunks}
        ds = xr.open_zarr(str(self.path), group=layer, **kw)
        if "clock" in ds.variables:  # small: loaded, so that it works like an index
            return ds.assign_coords(clock=ds["clock"].compute())
        if "time" in ds.dims and self.start is not None:  # a store written before ``clock``
            clock = np.datetime64(self.start, "ns") + (ds["time"].values * 1e9).astype(
                "timedelta64[ns]")
            ds = ds.assign_coords(clock=("time", clock))
        return ds

    @property
    def start(self):
        """The scenario's wall-clock start as ``numpy.datetime64`` (None when unknown)."""
        s = self.scenario.get("start") or self.provenance.get("start")
        return None if not s else np.datetime64(s, "s")

    def seconds(self, when) -> float:
        """Return seconds from the start for ``when``: seconds (a number), a time of day
        ("08:30", "08:30:15", on the start's day, or the next day when earlier than the
        start), an ISO datetime or a ``numpy.datetime64``."""
        return seconds_from(self.start, when)

    def clock(self, t) -> str:
        """Return the wall-clock time of ``t`` s after the start as "HH:MM:SS" (or "+t s")."""
        return clock_text(self.start, t)

    @property
    def events(self):
        """Return the events table as a pandas DataFrame (time s, kind, target, phase,
        source, details as dicts)."""
        import pandas as pd

        g = self._root["events"]
        cols = {c: g[c][...] for c in EVENT_COLUMNS}
        df = pd.DataFrame({c: (v if c in ("time", "member") else v.astype(object))
                           for c, v in cols.items()})
        df["details"] = [json.loads(d) if d else {} for d in df["details"]]
        return df

    def table(self, layer: str, name: str, member: int | None = None) -> dict:
        """Return table ``name`` of ``layer`` as {column: (n,) array} (only ``member``'s rows
        when given); StoreError when the layer has no such table."""
        g = self._root[layer] if layer in self.layers else None
        spec = (g.attrs.get("tables", {}) if g is not None else {}).get(name)
        if spec is None:
            raise StoreError(f"{self.path}: layer {layer!r} has no table {name!r}")
        cols = list(spec["columns"]) + [f"{spec['dim']}_member"]
        out = {c: g[c][...] if c in g else np.zeros(0) for c in cols}
        if member is not None:
            keep = out[f"{spec['dim']}_member"] == member
            out = {c: v[keep] for c, v in out.items()}
        return out

    @property
    def n_members(self) -> int:
        return int(self.scenario.get("members", 1))


def seconds_from(start, when) -> float:
    """Return ``when`` (s, "HH:MM[:SS]", ISO datetime, datetime64) as s after ``start``
    (datetime64 or None; ValueError for a clock time without a start)."""
    if isinstance(when, (int, float, np.integer, np.floating)):
        return float(when)
    text = str(when).strip()
    try:
        return float(text)
    except ValueError:
        pass
    if start is None:
        raise ValueError(f"time {text!r}: the run has no wall-clock start; give seconds")
    start = np.datetime64(start, "s")
    if len(text) <= 8 and ":" in text:           # a time of day
        parts = [int(p) for p in text.split(":")]
        if len(parts) < 2 or not 0 <= parts[0] < 24 or not 0 <= parts[1] < 60:
            raise ValueError(f"time {text!r} is not HH:MM or HH:MM:SS")
        tod = parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0)
        day = start.astype("datetime64[D]")
        t = float((day - start) / np.timedelta64(1, "s")) + tod
        return t + 86400.0 if t < 0 else t
    return float((np.datetime64(text, "s") - start) / np.timedelta64(1, "s"))


def clock_text(start, t) -> str:
    """Return "HH:MM:SS" of ``t`` s after ``start`` (datetime64; "+t s" without one)."""
    if start is None:
        return f"+{float(t):g} s"
    when = np.datetime64(start, "s") + np.timedelta64(int(round(float(t))), "s")
    return str(when)[11:19]
