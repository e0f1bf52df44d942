"""Compare two runs: KPI differences as a table and the KPI time series of both as a PNG.

``twin compare RUN_A RUN_B [--plot PNG]`` prints, for every KPI, A, B, B − A and the change
in per cent, and writes the plot (default ``<RUN_B>.compare.png`` next to RUN_B).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from . import kpis as _kpis
from .errors import StoreError, TwinError


def differences(a: _kpis.KPIs, b: _kpis.KPIs) -> dict[str, tuple[float, float, float, float]]:
    """Return {KPI: (A, B, B − A, % change)} for the scalar KPIs (% is NaN when A is 0)."""
    out = {}
    for name in _kpis.SCALARS:
        va = float(a.scalars.get(name, np.nan))
        vb = float(b.scalars.get(name, np.nan))
        d = vb - va
        pct = d / abs(va) * 100.0 if va != 0 and np.isfinite(va) else np.nan
        out[name] = (va, vb, d, pct)
    return out


def format_comparison(a: _kpis.KPIs, b: _kpis.KPIs, names=("A", "B")) -> str:
    """Return the KPI differences of runs ``a`` and ``b`` as a text table."""
    w = max(len(lbl) for lbl, _, _ in _kpis.SCALARS.values())

    def num(v, fmt):
        return "n/a" if not np.isfinite(v) else fmt.format(v)

    head = f"  {'KPI':<{w}}  {'A':>12} {'B':>12} {'B − A':>12} {'%':>8}  unit"
    lines = [f"A = {names[0]} ({a.meta.get('path', '?')})",
             f"B = {names[1]} ({b.meta.get('path', '?')})",
             head, "  " + "-" * (len(head) - 2)]
    for name, (va, vb, d, pct) in differences(a, b).items():
        label, unit, fmt = _kpis.SCALARS[name]
        sign_fmt = fmt.replace("{:", "{:+")
        lines.append(f"  {label:<{w}}  {num(va, fmt):>12} {num(vb, fmt):>12} "
                     f"{num(d, sign_fmt):>12} {num(pct, '{:+.1f}'):>8}  {unit}")
    for tag, k in (("A", a), ("B", b)):
        if k.meta.get("status") not in (None, "complete"):
            lines.append(f"  note: run {tag} is {k.meta['status']}")
    return "\n".join(lines)


def plot(run_a, run_b, path=None, kpis_a: _kpis.KPIs | None = None,
         kpis_b: _kpis.KPIs | None = None, names=None) -> Path:
    """Write the KPI time series of both runs as a PNG and return its path (default
    ``<run_b>.compare.png``)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    ka = kpis_a or _kpis.compute(run_a)
    kb = kpis_b or _kpis.compute(run_b)
    pa, pb = Path(ka.meta.get("path", str(run_a))), Path(kb.meta.get("path", str(run_b)))
    path = Path(path) if path is not None else pb.parent / f"{pb.name}.compare.png"
    names = names or (pa.stem, pb.stem)
    events = sorted({float(t) / 60.0 for p in (pa, pb) for t in _event_times(p)})
    fig, axes = plt.subplots(len(_kpis.SERIES), 1, figsize=(9, 2.2 * len(_kpis.SERIES)),
                             sharex=True, constrained_layout=True)
    for ax, (key, (label, unit)) in zip(axes, _kpis.SERIES.items()):
        for k, name, style in ((ka, names[0], "-"), (kb, names[1], "--")):
            t = np.asarray(k.series["time"], float) / 60.0
            ax.plot(t, k.series[key], style, label=name, lw=1.4)
        ax.set_ylabel(f"{label}\n({unit})", fontsize=8)
        ax.grid(alpha=0.3)
        for t_ev in events:
            ax.axvline(t_ev, color="0.4", ls=":", lw=1)
    axes[0].legend(fontsize=8, loc="best")
    axes[-1].set_xlabel("minutes from the scenario start")
    fig.suptitle(f"A = {names[0]} (solid), B = {names[1]} (dashed)"
                 + ("; dotted: events" if events else ""), fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _event_times(path) -> list[float]:
    """Return the times (s) of the events that started in run ``path`` (interventions at
    0 s left out)."""
    from .store import Run

    try:
        ev = Run(path).events
    except (StoreError, KeyError):
        return []
    return [t for t, ph in zip(ev["time"], ev["phase"]) if ph == "start" and t > 0]


def compare(run_a, run_b, plot_path=None) -> tuple[str, Path]:
    """Return (the KPI difference table, the PNG path) of runs ``run_a`` and ``run_b``."""
    from .store import Run

    runs = []
    for p in (run_a, run_b):
        try:
            runs.append(p if isinstance(p, Run) else Run(p))
        except StoreError:
            raise StoreError(f"{p} is not a run store") from None
    ka, kb = _kpis.compute(runs[0]), _kpis.compute(runs[1])
    names = (runs[0].path.stem, runs[1].path.stem)
    table = format_comparison(ka, kb, names)
    png = plot(runs[0], runs[1], plot_path, ka, kb, names)
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
