"""KPIs of the dispatch layer: response-time distribution per incident type and zone, unit
utilisation and calls queued, from the layer's ``calls`` table and records.

Response time = arrival of the first unit on scene − time of the call (s), over calls whose
unit arrived. Utilisation of a unit = time committed to calls (dispatch to back at the
station, cut at the end of the run) ÷ run duration.
"""

from __future__ import annotations

import re

import numpy as np

from twin.core.kernel import KPI


def slug(s: str) -> str:
    """A KPI-name-safe form of a zone or type name."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(s)).strip("_").lower() or "none"


def _str(a) -> np.ndarray:
    """(n,) object array of str (store columns come back as numpy StringDType)."""
    return np.array([str(x) for x in np.asarray(a, dtype=object)], dtype=object)


def response_stats(calls: dict, by: str | None = None) -> dict:
    """Return {group: (n calls, n arrived, median s, 90th percentile s)} of the response
    times, grouped by column ``by`` ("call_type", "call_zone"; None: all calls)."""
    resp = np.asarray(calls.get("call_response_s", np.zeros(0)), float)
    groups = (np.full(resp.size, "all", object) if by is None
              else _str(calls.get(by, np.zeros(0))))
    out = {}
    for g in sorted(set(groups.tolist())):
        r = resp[groups == g]
        ok = r[np.isfinite(r)]
        med, p90 = (np.median(ok), np.percentile(ok, 90)) if ok.size else (np.nan, np.nan)
        out[str(g)] = (int(r.size), int(ok.size), float(med), float(p90))
    return out


def utilisation(calls: dict, n_units: int, duration: float, unit_ids=None) -> np.ndarray:
    """(n_units,) share of the run each unit was committed to a call (``unit_ids`` order;
    needs the layer's ``unit`` coordinate)."""
    if unit_ids is None or not n_units or duration <= 0:
        return np.zeros(n_units)
    start = np.asarray(calls.get("call_dispatched_s", np.zeros(0)), float)
    end = np.asarray(calls.get("call_back_s", np.zeros(0)), float)
    end = np.where(np.isfinite(end), end, duration)
    unit = _str(calls.get("call_unit", np.zeros(0)))
    index = {str(u): i for i, u in enumerate(unit_ids)}
    ok = np.isfinite(start) & np.array([u in index for u in unit], bool)
    busy = np.zeros(n_units)
    np.add.at(busy, [index[u] for u in unit[ok]], np.minimum(end[ok], duration) - start[ok])
    return busy / duration


def _duration(layer) -> float:
    d = layer.attrs.get("duration_s")
    if d is None and "time" in layer.ds.coords and layer.ds.sizes.get("time"):
        d = float(layer.ds.time.values[-1])
    return float(d or 0.0)


def kpi_list(layer) -> list[KPI]:
    calls = layer.tables.get("calls", {})
    out = []
    allr = response_stats(calls)
    n, arrived, med, p90 = allr.get("all", (0, 0, np.nan, np.nan))
    out += [KPI("calls", n, "", None, "calls received", "{:,.0f}"),
            KPI("calls_answered", arrived, "", None, "calls with a unit on scene", "{:,.0f}"),
            KPI("response_p50_s", med, "s", True, "median response time", "{:,.0f}"),
            KPI("response_p90_s", p90, "s", True, "90th percentile response", "{:,.0f}")]
    queued = np.asarray(calls.get("call_queued", np.zeros(0)), int)
    out.append(KPI("calls_queued", int(queued.sum()), "", True,
                   "calls that waited for a free unit", "{:,.0f}"))
    for col, name, label in (("call_from_road", "calls_from_road",
                              "calls taken by a unit on its way home"),
                             ("call_reroutes", "unit_reroutes",
                              "units sent round water that cut their route")):
        if col in calls:
            out.append(KPI(name, int(np.asarray(calls[col], int).sum()), "", None, label,
                           "{:,.0f}"))
    if "calls_queued" in layer.ds:
        q = np.asarray(layer.ds["calls_queued"].values, float)
        out.append(KPI("max_queue", float(q.max()) if q.size else 0.0, "", True,
                       "most calls waiting at once", "{:,.0f}"))
    for by, tag in (("call_type", "type"), ("call_zone", "zone")):
        for g, (n, _, med, p90) in response_stats(calls, by).items():
            s = slug(g)
            out += [KPI(f"response_p50_{tag}_{s}_s", med, "s", True,
                        f"median response, {g} ({n} calls)", "{:,.0f}"),
                    KPI(f"response_p90_{tag}_{s}_s", p90, "s", True,
                        f"90th percentile response, {g}", "{:,.0f}")]
    if "unit" in layer.ds.coords:
        ids = [str(u) for u in layer.ds["unit"].values]
        u = utilisation(calls, len(ids), _duration(layer), ids)
        out.append(KPI("unit_utilisation_mean", float(u.mean()) if u.size else np.nan, "1",
                       None, "mean unit utilisation", "{:.1%}"))
        kinds = (_str(layer.ds["unit_kind"].values) if "unit_kind" in layer.ds
                 else np.full(len(ids), "unit"))
        for k in sorted(set(kinds.tolist())):
            out.append(KPI(f"utilisation_{slug(k)}", float(u[kinds == k].mean()), "1", None,
                           f"utilisation of {k}s", "{:.1%}"))
    return out


def report_text(layer) -> str:
    """Response times per type and zone as a text table."""
    calls = layer.tables.get("calls", {})
    lines = []
    for by, title in (("call_type", "type"), ("call_zone", "zone")):
        lines.append(f"{title:<40} {'calls':>6} {'on scene':>9} {'p50 s':>7} {'p90 s':>7}")
        for g, (n, a, med, p90) in response_stats(calls, by).items():
            lines.append(f"{g[:40]:<40} {n:>6} {a:>9} {med:>7.0f} {p90:>7.0f}")
        lines.append("")
    return "\n".join(lines)
