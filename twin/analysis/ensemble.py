"""KPIs of an ensemble: their spread over ``member``, convergence, and the comparison of two
ensembles with their uncertainty.

:func:`kpi_members` puts every member's KPIs (each kernel's own definitions, as
:func:`twin.kpis` computes them) in an ``xarray.Dataset`` with one variable per KPI
(``"<layer>.<kpi>"``, dim ``member``; coordinates ``seed``, ``combo`` and each varied
parameter). :func:`ensemble_kpis` reduces it over ``member`` (per parameter combination when
the ensemble varies parameters): mean, standard deviation, standard error of the mean (SEM),
p5/p50/p95. :func:`convergence` shows how the SEM shrinks with the number of members N
(≈ σ/√N once the members are a fair sample). :func:`compare` gives, per KPI, the difference
of the means of two ensembles with a 95 % confidence interval (paired member by member when
both ran the same seeds: common random numbers) and says whether B is better, worse, or not
distinguishable.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from ..errors import StoreError, TwinError
from . import kpis as _kpis

#: Two-sided 95 % normal quantile (Student's t is used for small N).
Z95 = 1.959963984540054
QUANTILES = (0.05, 0.5, 0.95)


def _t95(dof: float) -> float:
    if not np.isfinite(dof) or dof <= 0:
        return float("nan")
    from scipy import stats

    return float(stats.t.ppf(0.975, dof))


def member_info(run) -> list[dict]:
    """Return [{member, combo, params, seed}] of ``run`` (an ensemble's provenance; a batched
    run's member seeds)."""
    ens = run.attrs.get("ensemble")
    if ens:
        return [dict(m) for m in ens["members"]]
    seeds = run.scenario.get("member_seeds") or list(range(run.n_members))
    return [{"member": k, "combo": 0, "params": {}, "seed": int(s)}
            for k, s in enumerate(seeds)]


def kpi_members(run):
    """Return every member's KPIs as an ``xarray.Dataset``: variables ``"<layer>.<kpi>"``
    (member,) with attrs unit, label, lower_is_better, fmt; coords member, seed, combo and
    ``param_<name>`` for each varied parameter."""
    import xarray as xr

    from ..store import Run

    run = run if isinstance(run, Run) else Run(run)
    k = _kpis.compute(run)
    info = member_info(run)
    n = run.n_members
    data = {}
    for layer, per in k.layers.items():
        for i, proto in enumerate(per[0]):
            vals = np.array([float(per[m][i].value) for m in range(n)])
            data[f"{layer}.{proto.name}"] = xr.DataArray(vals, dims=("member",), attrs={
                "unit": proto.unit, "label": proto.label or proto.name, "fmt": proto.fmt,
                "lower_is_better": -1 if proto.lower_is_better is None
                else int(proto.lower_is_better)})
    coords = {"member": np.arange(n), "seed": ("member", [m["seed"] for m in info]),
              "combo": ("member", [m["combo"] for m in info])}
    for name in info[0]["params"] if info else ():
        coords[f"param_{name}"] = ("member", [m["params"][name] for m in info])
    return xr.Dataset(data, coords=coords, attrs={"path": str(run.path),
                                                 "status": run.status})


def stats(ds):
    """Return the statistics over ``member`` of a Dataset of KPIs (dim ``stat``: mean, std,
    sem, p5, p50, p95; attr ``n``)."""
    import xarray as xr

    n = ds.sizes["member"]
    q = ds.quantile(list(QUANTILES), dim="member")
    std = ds.std("member", ddof=1) if n > 1 else ds.mean("member") * np.nan
    parts = {"mean": ds.mean("member"), "std": std, "sem": std / math.sqrt(n),
             "p5": q.sel(quantile=0.05, drop=True), "p50": q.sel(quantile=0.5, drop=True),
             "p95": q.sel(quantile=0.95, drop=True)}
    out = xr.concat(list(parts.values()), dim="stat", coords="minimal",
                    compat="override").assign_coords(stat=list(parts))
    out.attrs["n"] = n
    return out


def ensemble_kpis(run, by_combo: bool = True):
    """Return the KPI statistics of ``run`` (an ``xarray.Dataset``, variables as
    :func:`kpi_members`, dim ``stat`` = mean, std, sem, p5, p50, p95; and ``combo`` when
    the ensemble varies parameters and ``by_combo``)."""
    ds = kpi_members(run)
    keep = [v for v in ds.data_vars]
    plain = ds[keep].reset_coords(drop=True)
    if by_combo and len(np.unique(ds.combo.values)) > 1:
        plain = plain.assign_coords(combo=ds.combo)
        out = plain.groupby("combo").map(stats)
    else:
        out = stats(plain)
    for v in keep:
        out[v].attrs = dict(ds[v].attrs)
    out.attrs.update(ds.attrs, n=ds.sizes["member"])
    return out


def convergence(run_or_ds, tol: float = 0.05) -> dict:
    """Return {kpi: {"n": [N…], "sem": [SEM…], "slope": d log SEM / d log N, "rel_sem":
    SEM/|mean| at the full N, "converged": rel_sem <= tol}} over the first N members for N
    = 2, 4, 8, … up to all (a fair sample gives slope ≈ −0.5)."""
    ds = run_or_ds if hasattr(run_or_ds, "data_vars") else kpi_members(run_or_ds)
    n_all = ds.sizes["member"]
    ns = sorted({min(n_all, 2 ** i) for i in range(1, max(2, math.ceil(math.log2(n_all)) + 1))}
                | {n_all}) if n_all > 1 else [n_all]
    out = {}
    for v in ds.data_vars:
        x = np.asarray(ds[v].values, float)
        sems = [float(np.std(x[:n], ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
                for n in ns]
        good = [(n, s) for n, s in zip(ns, sems) if np.isfinite(s) and s > 0]
        slope = (float(np.polyfit(np.log([n for n, _ in good]), np.log([s for _, s in good]),
                                  1)[0]) if len(good) >= 2 else float("nan"))
        mean = float(np.mean(x)) if len(x) else float("nan")
        sem = sems[-1]
        rel = (0.0 if sem == 0 else sem / abs(mean) if mean else float("inf")
               ) if np.isfinite(sem) else float("nan")
        out[v] = {"n": ns, "sem": sems, "slope": slope, "rel_sem": rel,
                  "converged": bool(np.isfinite(rel) and rel <= tol)}
    return out


def _fmt(v, fmt="{:,.3g}") -> str:
    try:
        return "n/a" if not np.isfinite(v) else fmt.format(v)
    except (TypeError, ValueError):
        return str(v)


def format_ensemble(run, tol: float = 0.05) -> str:
    """Return the ensemble KPIs as text: per KPI mean ± 95 % CI of the mean, p5/p50/p95 and
    the convergence check (relative SEM, and its slope against N)."""
    ds = kpi_members(run)
    st = stats(ds.reset_coords(drop=True))
    conv = convergence(ds, tol)
    n = ds.sizes["member"]
    lines = [f"{ds.attrs['path']}: {n} members"
             + (f" ({len(np.unique(ds.combo))} parameter combinations, pooled)"
                if len(np.unique(ds.combo)) > 1 else "")]
    w = max([len(ds[v].attrs["label"]) for v in ds.data_vars] + [8])
    head = (f"  {'KPI':<{w}}  {'mean':>11} {'± 95% CI':>10} {'p5':>11} {'p50':>11} "
            f"{'p95':>11}  {'rel SEM':>7} {'slope':>6}  conv  unit")
    layer = None
    for v in ds.data_vars:
        lay = v.split(".", 1)[0]
        if lay != layer:
            lines += [f"[{lay}]", head]
            layer = lay
        a = ds[v].attrs
        s = {k: float(st[v].sel(stat=k)) for k in ("mean", "sem", "p5", "p50", "p95")}
        ci = s["sem"] * (_t95(n - 1) if n < 30 else Z95)
        c = conv[v]
        lines.append(f"  {a['label']:<{w}}  {_fmt(s['mean']):>11} {_fmt(ci):>10} "
                     f"{_fmt(s['p5']):>11} {_fmt(s['p50']):>11} {_fmt(s['p95']):>11}  "
                     f"{_fmt(c['rel_sem'] * 100, '{:.1f}%'):>7} "
                     f"{_fmt(c['slope'], '{:+.2f}'):>6}  {'yes' if c['converged'] else 'no':<4}"
                     f"  {a['unit']}")
    lines.append(f"  (conv: SEM <= {tol:.0%} of the mean; slope: d log SEM / d log N over "
                 "N = 2, 4, 8… members, about -0.5 for independent members)")
    return "\n".join(lines)


def differences(a, b) -> dict:
    """Return {KPI: {mean_a, mean_b, diff, ci (half width, 95 %), paired, verdict}} for the
    KPIs of ensembles ``a`` and ``b`` (Datasets of :func:`kpi_members`). Paired (member k of
    A with member k of B) when both have the same seeds; else Welch's interval. Verdict:
    "better"/"worse" when the interval excludes 0, "same" when both are constant and
    equal, else "unclear"."""
    paired = (a.sizes["member"] == b.sizes["member"]
              and np.array_equal(a.seed.values, b.seed.values))
    out = {}
    for v in a.data_vars:
        if v not in b.data_vars:
            continue
        xa, xb = np.asarray(a[v].values, float), np.asarray(b[v].values, float)
        na, nb = len(xa), len(xb)
        d = float(np.mean(xb) - np.mean(xa))
        if paired and na > 1:
            dd = xb - xa
            ci = float(np.std(dd, ddof=1) / math.sqrt(na)) * _t95(na - 1)
        else:
            va = np.var(xa, ddof=1) / na if na > 1 else np.nan
            vb = np.var(xb, ddof=1) / nb if nb > 1 else np.nan
            se = math.sqrt(va + vb)
            dof = (va + vb) ** 2 / ((va ** 2 / (na - 1) if va else 0)
                                    + (vb ** 2 / (nb - 1) if vb else 0)) if se > 0 else np.inf
            ci = se * (_t95(dof) if np.isfinite(dof) else Z95)
        lib = a[v].attrs.get("lower_is_better", -1)
        if d == 0 and (ci == 0 or not np.isfinite(ci)):
            verdict = "same"
        elif not np.isfinite(ci) or abs(d) <= ci or lib not in (0, 1):
            verdict = "unclear" if lib in (0, 1) else ""
        else:
            verdict = "better" if (d < 0) == bool(lib) else "worse"
        out[v] = {"mean_a": float(np.mean(xa)), "mean_b": float(np.mean(xb)), "diff": d,
                  "ci": ci, "paired": paired, "verdict": verdict}
    return out


def format_comparison(a, b, names=("A", "B")) -> str:
    """Return the comparison of ensembles ``a`` and ``b`` (Datasets of :func:`kpi_members`)
    as text: mean A, mean B, B − A ± 95 % CI, and the verdict."""
    diffs = differences(a, b)
    paired = next(iter(diffs.values()))["paired"] if diffs else False
    lines = [f"A = {names[0]} ({a.attrs.get('path')}, {a.sizes['member']} members)",
             f"B = {names[1]} ({b.attrs.get('path')}, {b.sizes['member']} members)",
             "  B − A: difference of the means ± 95 % confidence interval ("
             + ("paired: same seeds" if paired else "Welch: independent members") + ")"]
    if not diffs:
        lines.append("  no KPI in both ensembles")
    w = max([len(a[v].attrs["label"]) for v in diffs] + [8])
    layer = None
    for v, r in diffs.items():
        lay = v.split(".", 1)[0]
        if lay != layer:
            lines += [f"[{lay}]", f"  {'KPI':<{w}}  {'mean A':>11} {'mean B':>11} "
                      f"{'B − A':>11} {'± 95% CI':>10}  {'B is':<8} unit"]
            layer = lay
        fmt = a[v].attrs.get("fmt", "{:,.3g}")
        lines.append(f"  {a[v].attrs['label']:<{w}}  {_fmt(r['mean_a'], fmt):>11} "
                     f"{_fmt(r['mean_b'], fmt):>11} {_fmt(r['diff'], fmt.replace('{:', '{:+')):>11} "
                     f"{_fmt(r['ci'], fmt):>10}  {r['verdict']:<8} {a[v].attrs['unit']}")
    for tag, ds in (("A", a), ("B", b)):
        if ds.attrs.get("status") not in (None, "complete"):
            lines.append(f"  note: ensemble {tag} is {ds.attrs['status']}")
    return "\n".join(lines)


def compare(run_a, run_b) -> str:
    """Return the comparison table of the ensembles (run stores) ``run_a`` and ``run_b``."""
    from ..store import Run

    runs = []
    for p in (run_a, run_b):
        try:
            runs.append(p if isinstance(p, Run) else Run(p))
        except StoreError:
            raise StoreError(f"{p} is not a run store") from None
    a, b = kpi_members(runs[0]), kpi_members(runs[1])
    return format_comparison(a, b, (runs[0].path.stem, runs[1].path.stem))


def compare_cli(run_a, run_b, plot=None) -> int:
    """``twin compare`` of two ensembles: print the table, write the plot (member 0's time
    series of each, as for single runs); return the exit status."""
    from ..store import Run
    from . import compare as _cmp

    try:
        print(compare(run_a, run_b))
        png = _cmp.plot(Run(run_a), Run(run_b), plot)
    except TwinError as e:
        print(f"twin: {e}", file=sys.stderr)
        return 1
    print(f"plot (member 0 of each): {Path(png)}")
    return 0


__all__ = ["kpi_members", "stats", "ensemble_kpis", "convergence", "format_ensemble", "differences",
           "format_comparison", "compare", "compare_cli"]
