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
