"""Compare two runs: KPI differences as a table and the kernels' time series as a PNG.

``twin compare RUN_A RUN_B [--plot PNG]`` prints, for every layer both runs have and every
KPI its kernel defines, A, B, B − A, the change in per cent and whether B is better or worse
(from the KPI's ``lower_is_better``), and writes the plot (default
``<RUN_B>.compare.png`` next to RUN_B). Runs with several members are compared member by
member (member 0 of each in the plot).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import StoreError, TwinError
from . import kpis as _kpis


def differences(a: _kpis.RunKPIs, b: _kpis.RunKPIs, member: int = 0) -> dict:
    """Return {(layer, KPI name): (A, B, B − A, % change, verdict)} for the layers both runs
    have (% is NaN when A is 0; verdict "better", "worse", "same" or "")."""
    out = {}
    for layer in a.layers:
        if layer not in b.layers:
            continue
        ka = {k.name: k for k in a.layers[layer][min(member, len(a.layers[layer]) - 1)]}
        kb = {k.name: k for k in b.layers[layer][min(member, len(b.layers[layer]) - 1)]}
        for name, x in ka.items():
            if name not in kb:
                continue
            va, vb = float(x.value), float(kb[name].value)
            d = vb - va
            pct = d / abs(va) * 100.0 if va != 0 and np.isfinite(va) else np.nan
            verdict = ""
            if x.lower_is_better is not None and np.isfinite(d):
                verdict = "same" if d == 0 else (
                    "better" if (d < 0) == x.lower_is_better else "worse")
            out[(layer, name)] = (va, vb, d, pct, verdict)
    return out


def format_comparison(a: _kpis.RunKPIs, b: _kpis.RunKPIs, names=("A", "B")) -> str:
    """Return the KPI differences of runs ``a`` and ``b`` as a text table."""
    lines = [f"A = {names[0]} ({a.meta.get('path', '?')})",
             f"B = {names[1]} ({b.meta.get('path', '?')})"]
    members = min(int(a.meta.get("members", 1)), int(b.meta.get("members", 1)))
    shared = [layer for layer in a.layers if layer in b.layers]
    if not shared:
        lines.append(f"  no layer with KPIs in both runs (A: {sorted(a.layers)}, "
                     f"B: {sorted(b.layers)})")
    for m in range(members):
        diffs = differences(a, b, m)
        for layer in shared:
            kpi = {k.name: k for k in a.layers[layer][m]}
            w = max([len(k.label or k.name) for k in kpi.values()] + [8])
            tag = f", member {m}" if members > 1 else ""
            head = (f"  {'KPI':<{w}}  {'A':>12} {'B':>12} {'B − A':>12} {'%':>8}  "
                    f"{'B is':<6}  unit")
            lines += [f"[{layer}{tag}]", head, "  " + "-" * (len(head) - 2)]
            for name, k in kpi.items():
                if (layer, name) not in diffs:
                    continue
                va, vb, d, pct, verdict = diffs[(layer, name)]
                sign_fmt = k.fmt.replace("{:", "{:+")
                lines.append(f"  {k.label or name:<{w}}  {_num(va, k.fmt):>12} "
                             f"{_num(vb, k.fmt):>12} {_num(d, sign_fmt):>12} "
                             f"{_num(pct, '{:+.1f}'):>8}  {verdict:<6}  {k.unit}")
    for tag, k in (("A", a), ("B", b)):
        if k.meta.get("status") not in (None, "complete"):
            lines.append(f"  note: run {tag} is {k.meta['status']}")
    return "\n".join(lines)


def _num(v, fmt):
    return "n/a" if not np.isfinite(v) else fmt.format(v)


def plot(run_a, run_b, path=None, names=None) -> Path:
    """Write the kernels' time series of both runs (member 0) as a PNG and return its path
    (default ``<run_b>.compare.png``)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    pa, pb = Path(run_a.path), Path(run_b.path)
    path = Path(path) if path is not None else pb.parent / f"{pb.name}.compare.png"
    names = names or (pa.stem, pb.stem)
    panels = []
    for layer in run_a.layers:
        if layer not in run_b.layers:
            continue
        sa, sb = _kpis.series(run_a, layer), _kpis.series(run_b, layer)
        panels += [(layer, key, sa[key], sb[key]) for key in sa if key in sb]
    events = sorted({float(t) / 60.0 for r in (run_a, run_b) for t in _event_times(r)})
    fig, axes = plt.subplots(max(1, len(panels)), 1, squeeze=False,
                             figsize=(9, 2.2 * max(1, len(panels))), sharex=True,
                             constrained_layout=True)
    axes = axes[:, 0]
    for ax, (layer, _, (label, unit, ta, va), (_, _, tb, vb)) in zip(axes, panels):
        ax.plot(np.asarray(ta, float) / 60.0, va, "-", label=names[0], lw=1.4)
        ax.plot(np.asarray(tb, float) / 60.0, vb, "--", label=names[1], lw=1.4)
        ax.set_ylabel(f"{layer}: {label}\n({unit})", fontsize=8)
        ax.grid(alpha=0.3)
        for t_ev in events:
            ax.axvline(t_ev, color="0.4", ls=":", lw=1)
    if not panels:
        axes[0].text(0.5, 0.5, "no time series in common", ha="center", va="center")
    axes[0].legend(fontsize=8, loc="best")
    axes[-1].set_xlabel("minutes from the scenario start")
    fig.suptitle(f"A = {names[0]} (solid), B = {names[1]} (dashed)"
                 + ("; dotted: events" if events else ""), fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _event_times(run) -> list[float]:
    """Return the times (s) of the events that started in ``run`` (interventions at 0 s left
    out)."""
    try:
        ev = run.events
    except (StoreError, KeyError):
        return []
    return [t for t, ph in zip(ev["time"], ev["phase"]) if ph == "start" and t > 0]


def compare(run_a, run_b, plot_path=None) -> tuple[str, Path]:
    """Return (the KPI difference table, the PNG path) of runs ``run_a`` and ``run_b``."""
    from ..store import Run

    runs = []
    for p in (run_a, run_b):
        try:
            runs.append(p if isinstance(p, Run) else Run(p))
        except StoreError:
            raise StoreError(f"{p} is not a run store") from None
    ka, kb = _kpis.compute(runs[0]), _kpis.compute(runs[1])
    names = (runs[0].path.stem, runs[1].path.stem)
    table = format_comparison(ka, kb, names)
    png = plot(runs[0], runs[1], plot_path, names)
    return table, png


def compare_cli(run_a, run_b, plot=None) -> int:
    """``twin compare``: print the differences, write the plot; return the exit status
    (1 with one line on stderr when a path is not a run store)."""
    try:
        table, png = compare(run_a, run_b, plot)
    except TwinError as e:
        print(f"twin: {e}", file=sys.stderr)
        return 1
    print(table)
    print(f"plot: {png}")
    return 0
