"""KPIs of a run, for any set of layers: each kernel defines its own (``Kernel.kpis``).

:func:`compute` reads every layer of a run store, and for each member asks the layer's kernel
class (recorded in the layer's ``kernel`` attribute) for its KPIs
(:class:`twin.core.kernel.KPI`: name, value, unit, whether lower is better), its optional
report text and its time series. Nothing here knows a kernel by name.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field

from .._json import json_safe
from ..core.kernel import LayerData
from ..errors import StoreError


@dataclass
class RunKPIs:
    """KPIs of one run: ``layers`` {layer: [[KPI…] per member]}, ``reports`` {layer:
    [text per member]}, ``meta`` (path, status, name, start, members)."""

    layers: dict = field(default_factory=dict)
    reports: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def value(self, layer: str, name: str, member: int = 0) -> float:
        """Return the value of KPI ``name`` of ``layer`` for ``member`` (KeyError if none)."""
        for k in self.layers[layer][member]:
            if k.name == name:
                return k.value
        raise KeyError(f"{layer}: no KPI {name!r}")


def kernel_class(run, layer: str):
    """Return the kernel class that recorded ``layer`` of ``run`` (None when unknown or it
    cannot be imported)."""
    ref = run._root[layer].attrs.get("kernel", "")
    mod, _, qual = ref.partition(":")
    if not mod:
        return None
    try:
        obj = importlib.import_module(mod)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj


def layer_data(run, layer: str, member: int = 0) -> LayerData:
    """Return member ``member`` of ``layer`` of ``run`` as :class:`LayerData`."""
    ds = run.open(layer, chunks=None)  # KPIs read whole variables: no dask graph
    if "member" in ds.dims:
        ds = ds.isel(member=member)
    attrs = dict(run._root[layer].attrs)
    tables = {name: run.table(layer, name, member) for name in attrs.get("tables", {})}
    sc = run.scenario
    meta = {"path": str(run.path), "status": run.status, "name": sc.get("name"),
            "start": sc.get("start"), "member": member}
    return LayerData(ds, tables, attrs, meta)


def compute(run) -> RunKPIs:
    """Return the :class:`RunKPIs` of ``run`` (a :class:`twin.Run` or a path)."""
    from ..store import Run

    run = run if isinstance(run, Run) else Run(run)
    sc = run.scenario
    out = RunKPIs(meta={"path": str(run.path), "status": run.status, "name": sc.get("name"),
                        "start": sc.get("start"), "duration_s": sc.get("duration_s"),
                        "members": run.n_members})
    for layer in run.layers:
        cls = kernel_class(run, layer)
        if cls is None or not callable(getattr(cls, "kpis", None)):
            continue
        if run._root[layer].get("time") is None or run._root[layer]["time"].shape[0] == 0:
            continue
        per, reports = [], []
        for m in range(run.n_members):
            data = layer_data(run, layer, m)
            per.append(list(cls.kpis(data)))
            rep = getattr(cls, "report", None)
            reports.append(rep(data) if callable(rep) else "")
        if any(per):
            out.layers[layer], out.reports[layer] = per, reports
    return out


def series(run, layer: str, member: int = 0) -> dict:
    """Return the kernel's time series of ``layer`` ({name: (label, unit, t, values)})."""
    cls = kernel_class(run, layer)
    fn = getattr(cls, "series", None)
    return fn(layer_data(run, layer, member)) if callable(fn) else {}


def format_table(k: RunKPIs, title: str | None = None) -> str:
    """Return the KPIs as a readable text table: per layer, one column per member."""
    lines = [title] if title else []
    status = k.meta.get("status")
    if status and status != "complete":
        lines.append(f"(run {status})")
    if not k.layers:
        lines.append("  (no KPIs: no layer of this run defines any)")
    for layer, per in k.layers.items():
        lines.append(f"[{layer}]")
        w = max([len(x.label or x.name) for x in per[0]] + [8])
        head = "member " + " ".join(f"{m:>12}" for m in range(len(per)))
        if len(per) > 1:
            lines.append(f"  {'':<{w}}  {head}")
        for i, kpi in enumerate(per[0]):
            vals = " ".join(f"{per[m][i].text():>12}" for m in range(len(per)))
            lines.append(f"  {kpi.label or kpi.name:<{w}}  {vals} {kpi.unit}")
        for m, rep in enumerate(k.reports.get(layer, [])):
            if rep:
                tag = f"(member {m}) " if len(per) > 1 else ""
                first, *rest = rep.splitlines()
                lines.append(f"  {tag}{first}")
                lines += [f"  {line}" for line in rest]
    return "\n".join(lines)


def to_json(k: RunKPIs) -> str:
    """Return the KPIs as JSON text ({layer: [{name: {value, unit, lower_is_better}}]})."""
    layers = {}
    for layer, per in k.layers.items():
        layers[layer] = [{x.name: {"value": x.value, "unit": x.unit, "label": x.label,
                                   "lower_is_better": x.lower_is_better} for x in member}
                         for member in per]
    d = {"meta": k.meta, "layers": layers}
    return json.dumps(json_safe(d, nan_as_none=True), indent=1)


def require(k: RunKPIs, layer: str) -> list:
    """Return member 0's KPIs of ``layer`` (StoreError naming the layers that have some)."""
    if layer not in k.layers:
        raise StoreError(f"{k.meta.get('path')}: no KPIs for layer {layer!r} "
                         f"(layers with KPIs: {sorted(k.layers)})")
    return k.layers[layer][0]


__all__ = ["RunKPIs", "compute", "format_table", "to_json", "series", "layer_data",
           "kernel_class"]
