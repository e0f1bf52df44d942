"""KPIs of an evacuation run (one member's recorded crowd layer)."""

from __future__ import annotations

import numpy as np

from ...core.kernel import KPI, LayerData


def arrivals(layer: LayerData) -> tuple[np.ndarray, int]:
    """Sorted arrival times (s) of the evacuees who arrived, and the number of evacuees."""
    t = layer.tables.get("evacuees", {})
    a = np.asarray(t.get("evac_arrival_s", np.zeros(0)), np.float64)
    return np.sort(a[np.isfinite(a)]), int(a.size)


def time_to_share(arr: np.ndarray, n: int, share: float) -> float:
    """Time (s) by which ``share`` of ``n`` evacuees had arrived (NaN: never)."""
    need = int(np.ceil(share * n - 1e-9))
    return float(arr[need - 1]) if n and need <= arr.size and need > 0 else float("nan")


def kpis(layer: LayerData) -> list[KPI]:
    """Clearance time (last arrival, NaN unless everyone arrived), 90 % evacuated time, max
    bottleneck density, people not evacuated, evacuated share."""
    arr, n = arrivals(layer)
    ds = layer.ds
    md = float(np.nanmax(ds["max_density"].values)) if "max_density" in ds else float("nan")
    return [
        KPI("clearance_time", time_to_share(arr, n, 1.0), "s", True, "clearance time"),
        KPI("t90_evacuated", time_to_share(arr, n, 0.9), "s", True, "90 % evacuated"),
        KPI("max_bottleneck_density", md, "P/m2", True, "max bottleneck density"),
        KPI("not_evacuated", float(n - arr.size), "persons", True, "not evacuated",
            fmt="{:,.0f}"),
        KPI("evacuated_share", arr.size / n if n else float("nan"), "1", False,
            "evacuated share"),
    ]


def series(layer: LayerData) -> dict:
    """{name: (label, unit, time s, values)}: the evacuated share and the people walking."""
    ds = layer.ds
    t = ds["time"].values
    t = (t - t[0]) / np.timedelta64(1, "s") if np.issubdtype(t.dtype, np.datetime64) else t
    out = {}
    for name, label, unit in (("evacuated_share", "evacuated share", "1"),
                              ("walking", "people walking", "persons"),
                              ("max_density", "highest link density", "P/m2")):
        if name in ds:
            out[name] = (label, unit, np.asarray(t, float), ds[name].values)
    return out


def report(layer: LayerData) -> str:
    """The bottleneck links (highest peak density) as text."""
    b = layer.tables.get("bottlenecks", {})
    ids = b.get("bn_link")
    if ids is None or not len(ids):
        return ""
    lines = ["bottleneck links (peak density P/m², longest queue, width m):"]
    for i, k in enumerate(ids[:10]):
        lines.append(f"  {i + 1:2d}. {str(k):40s} {b['bn_max_density'][i]:5.2f} P/m2  "
                     f"{int(b['bn_max_queue'][i]):5d} waiting  {b['bn_width_m'][i]:4.1f} m  "
                     f"at {b['bn_time_s'][i]:,.0f} s")
    return "\n".join(lines)
