"""Power KPIs of one member's recorded layer: energy not served, buses, buildings and people
without power, and the peak branch loading."""

from __future__ import annotations

import numpy as np

from ...core.kernel import KPI, LayerData

#: series for plots: name -> (label, unit)
SERIES = {"shed_mw": ("load not served", "MW"), "buildings_dark": ("buildings without power", ""),
          "signals_dark": ("dark traffic signals", "")}


def kpi_list(layer: LayerData) -> list[KPI]:
    ds = layer.ds
    w = layer.record_seconds()
    ens = float((np.nan_to_num(ds.shed_mw.values) * w).sum() / 3600.0)
    people_h = float((np.nan_to_num(ds.people_dark.values) * w).sum() / 3600.0)
    loading = np.asarray(ds.loading.values, float)
    peak = float(np.nanmax(loading)) if np.isfinite(loading).any() else np.nan
    return [
        KPI("energy_not_served_mwh", ens, "MWh", True, "energy not served", "{:,.2f}"),
        KPI("max_buses_dark", float(ds.buses_dark.max()), "", True,
            "most buses without power at once", "{:,.0f}"),
        KPI("max_buildings_dark", float(ds.buildings_dark.max()), "", True,
            "most buildings without power at once", "{:,.0f}"),
        KPI("people_hours_without_power", people_h, "person·h", True,
            "people without power × hours", "{:,.0f}"),
        KPI("max_signals_dark", float(ds.signals_dark.max()), "", True,
            "most dark traffic signals at once", "{:,.0f}"),
        KPI("peak_loading_percent", peak, "%", True, "peak branch loading", "{:,.1f}"),
    ]


def series(layer: LayerData) -> dict:
    ds = layer.ds
    t = np.asarray(ds.time.values, float)
    return {name: (label, unit, t, np.asarray(ds[name].values, float))
            for name, (label, unit) in SERIES.items()}
