"""Water KPIs of one member's recorded layer: unserved demand (m³ and people-hours), the
lowest pressure and the junctions below the service pressure."""

from __future__ import annotations

import numpy as np

from ...core.kernel import KPI, LayerData

#: series for plots: name -> (label, unit)
SERIES = {"unserved_total": ("unserved demand", "L/s"), "min_pressure": ("lowest pressure", "m"),
          "nodes_below": ("junctions below service pressure", "")}


def kpi_list(layer: LayerData) -> list[KPI]:
    ds = layer.ds
    w = layer.record_seconds()
    m3 = float((np.nan_to_num(ds.unserved_total.values) * w).sum())
    share = np.nan_to_num(np.asarray(ds.unserved_share.values, float))
    residents = np.asarray(ds.building_residents.values, float) if "building_residents" in \
        ds else np.zeros(share.shape[-1])
    people_h = float((share @ residents * w).sum() / 3600.0) if share.size else 0.0
    pmin = np.asarray(ds.min_pressure.values, float)
    below = np.asarray(ds.nodes_below.values, float)
    thr = layer.attrs.get("pressure_threshold_m", 20.0)
    return [
        KPI("unserved_m3", m3, "m3", True, "unserved water demand", "{:,.1f}"),
        KPI("unserved_people_hours", people_h, "person·h", True,
            "people without water × hours", "{:,.0f}"),
        KPI("min_pressure_m", float(np.nanmin(pmin)) if np.isfinite(pmin).any() else np.nan,
            "m", False, "lowest junction pressure", "{:,.1f}"),
        KPI("max_nodes_below", float(below.max()) if below.size else 0.0, "", True,
            f"most junctions below {thr:g} m at once", "{:,.0f}"),
    ]


def series(layer: LayerData) -> dict:
    ds = layer.ds
    t = np.asarray(ds.time.values, float)
    out = {}
    for name, (label, unit) in SERIES.items():
        v = np.asarray(ds[name].values, float)
        out[name] = (label, unit, t, v * 1e3 if unit == "L/s" else v)
    return out
