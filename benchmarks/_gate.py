"""Regression gate of the quick benchmarks: run them, compare their figures with the committed
``benchmarks/baseline.json``, write a Markdown report.

    python benchmarks/_gate.py run [NAME ...] [--out DIR] [--ci]   # run quick benchmarks
    python benchmarks/_gate.py check [--out DIR]                   # gate; exit 1 on failure
    python benchmarks/_gate.py report [--out DIR]                  # DIR/REPORT.md
    python benchmarks/_gate.py update [--out DIR ...]              # rewrite the baseline

Results: ``DIR/NAME.json`` as each benchmark's ``--json`` writes it (default DIR out/bench), and
``DIR/_runs.json`` (exit status and wall seconds of each benchmark run).

Baseline (``benchmarks/baseline.json``)::

    {"benchmarks": {NAME: {"ci": true, "figures": {FIGURE: ENTRY}}}}

    ENTRY = {"baseline": float | null, "gate": bool, "better": "higher" | "lower",
             "rel": float, "abs": float, "peer": FIGURE, "why": str}

A FIGURE names a number in the result file: a key of its ``figures`` object, or a dotted path
(``n1_case118.max_dvm``) into its other top-level objects. A gated figure fails when it is
worse than ``baseline`` (in the ``better`` direction) by more than ``max(rel * |baseline|,
abs)``, or when it is missing or not a finite number (a crashed benchmark gives no figures).
Ungated entries are reported only (absolute times). ``peer`` names the figure holding the
peer's own number, shown next to ours in the report. ``ci: false`` keeps a benchmark out of
CI (reported by ``make bench`` only).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE = HERE / "baseline.json"
OUT = ROOT / "out" / "bench"
RUNS = "_runs.json"
SKIP_KEYS = {"benchmark", "config"}  # top-level keys of a result file that are not figures


def all_benchmarks() -> list[str]:
    """Names of every benchmark script (``benchmarks/NAME.py``, not starting with ``_``)."""
    return sorted(p.stem for p in HERE.glob("[!_]*.py"))


def flatten(doc: dict) -> dict[str, float | None]:
    """Figures of one result file: ``figures`` keys as they are, numbers in other top-level
    objects as ``KEY.SUB[.SUB]``. Non-finite and non-numeric leaves give None."""
    out: dict[str, float | None] = {}

    def walk(prefix: str, v) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        elif isinstance(v, bool) or v is None:
            if v is None:
                out[prefix] = None
        elif isinstance(v, int | float):
            out[prefix] = float(v) if math.isfinite(v) else None

    for key, v in doc.items():
        if key in SKIP_KEYS:
            continue
        walk("" if key == "figures" else key, v)
    return out


def load_results(out: Path, names) -> dict[str, dict | None]:
    """``{NAME: figures}`` for each name; None where ``out/NAME.json`` is absent or unreadable."""
    res: dict[str, dict | None] = {}
    for name in names:
        try:
            res[name] = flatten(json.loads((Path(out) / f"{name}.json").read_text()))
        except (OSError, ValueError, AttributeError):
            res[name] = None
    return res


def median_results(many: list[dict[str, dict | None]]) -> dict[str, dict | None]:
    """Per benchmark and figure, the median over several runs' results (as
    :func:`load_results`) of the finite values; a benchmark without results in any run is
    None. The baseline is set from this, so that one lucky or unlucky run does not set it."""
    out: dict[str, dict | None] = {}
    for name in dict.fromkeys(n for res in many for n in res):
        runs = [res[name] for res in many if res.get(name) is not None]
        if not runs:
            out[name] = None
            continue
        figs = {}
        for fig in dict.fromkeys(f for r in runs for f in r):
            vals = sorted(r[fig] for r in runs if r.get(fig) is not None)
            figs[fig] = (None if not vals else vals[len(vals) // 2] if len(vals) % 2
                         else 0.5 * (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]))
        out[name] = figs
    return out


def load_runs(out: Path) -> dict:
    """``{NAME: {"rc": int, "wall_s": float}}`` of the last ``run`` in ``out`` ({} if none)."""
    try:
        return json.loads((Path(out) / RUNS).read_text())
    except (OSError, ValueError):
        return {}


def limit(entry: dict) -> float:
    """The worst value a gated figure may take: baseline minus (higher is better) or plus
    (lower is better) ``max(rel * |baseline|, abs)``."""
    b = float(entry["baseline"])
    slack = max(float(entry.get("rel", 0.0)) * abs(b), float(entry.get("abs", 0.0)))
    return b - slack if entry["better"] == "higher" else b + slack


def _tol_text(entry: dict) -> str:
    parts = []
    if entry.get("rel"):
        parts.append(f"{100 * entry['rel']:g} %")
    if entry.get("abs"):
        parts.append(f"{entry['abs']:g}")
    return " or ".join(parts) or "0"


def judge(entry: dict, value: float | None) -> str:
    """'ok', 'worse' (beyond tolerance), 'missing' (no finite value) or 'report' (ungated)."""
    if not entry.get("gate"):
        return "report"
    if value is None or not math.isfinite(value):
        return "missing"
    lim = limit(entry)
    worse = value < lim if entry["better"] == "higher" else value > lim
    return "worse" if worse else "ok"


def check(baseline: dict, results: dict[str, dict | None], runs: dict | None = None,
          ci_only: bool = True) -> list[str]:
    """One line per gated figure that fails (worse than its baseline beyond tolerance, or
    missing) and per benchmark that crashed; [] when the gate passes. ``results`` as :func:`load_results`; ``runs`` as
    :func:`load_runs` (names a crashed benchmark's exit status)."""
    runs = runs or {}
    lines = []
    for name, bench in baseline["benchmarks"].items():
        if ci_only and not bench.get("ci", True):
            continue
        figs = results.get(name)
        why = ""
        if name in runs and runs[name].get("rc") != 0:
            why = f" (benchmark exited with status {runs[name].get('rc')})"
            lines.append(f"FAIL {name}: benchmark exited with status {runs[name].get('rc')}")
        elif figs is None:
            why = f" (no result file {name}.json)"
        for fig, entry in bench["figures"].items():
            value = None if figs is None else figs.get(fig)
            verdict = judge(entry, value)
            if verdict == "missing":
                lines.append(f"FAIL {name}.{fig}: missing{why}")
            elif verdict == "worse":
                cmp = "<" if entry["better"] == "higher" else ">"
                lines.append(f"FAIL {name}.{fig}: {value:.4g} {cmp} allowed {limit(entry):.4g} "
                             f"(baseline {entry['baseline']:.4g}, {entry['better']} is better, "
                             f"tolerance {_tol_text(entry)})")
    return lines


def update(baseline: dict, results: dict[str, dict | None]) -> tuple[dict, list[str]]:
    """A new baseline: every figure of ``results`` at its fresh value; gate settings, tolerances
    and peers kept; new figures added ungated, new benchmarks outside CI (``ci: false``).
    Returns (baseline, problems): a gated figure absent from the fresh results is kept as it
    was and named."""
    new = {"benchmarks": {}}
    problems = []
    for name in sorted(set(baseline["benchmarks"]) | set(results)):
        old = baseline["benchmarks"].get(name, {"ci": False, "figures": {}})
        figs = results.get(name)
        if figs is None:
            if name in baseline["benchmarks"]:
                problems.append(f"{name}: no results, its baseline is kept")
                new["benchmarks"][name] = old
            continue
        entries = {}
        for fig, entry in old["figures"].items():
            if figs.get(fig) is None:
                if entry.get("gate"):
                    problems.append(f"{name}.{fig}: gated but missing, kept at its old value")
                    entries[fig] = entry
                continue  # a reported figure that is gone is dropped
            entries[fig] = {**entry, "baseline": figs[fig]}
        for fig, v in figs.items():
            if fig not in entries:
                entries[fig] = {"baseline": v, "gate": False}
        new["benchmarks"][name] = {**{k: v for k, v in old.items() if k != "figures"},
                                   "figures": entries}
    return new, problems


def _fmt(v) -> str:
    if v is None:
        return "—"
    if v == 0 or 1e-3 <= abs(v) < 1e6:
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return f"{v:.3e}"


def report(baseline: dict, results: dict[str, dict | None], runs: dict | None = None) -> str:
    """Markdown: per benchmark, every figure (gated first) with its value, baseline, allowed
    limit, direction, the peer's number and a verdict; the wall time of each benchmark."""
    runs = runs or {}
    icon = {"ok": "ok", "worse": "**FAIL**", "missing": "**MISSING**", "report": "reported"}
    md = ["# Quick benchmarks against the baseline", "",
          "Generated by `make bench` (`benchmarks/_gate.py`); baseline "
          "`benchmarks/baseline.json`. Gated figures fail CI when worse than the allowed "
          "value; the others are reported only.", ""]
    fails = check(baseline, results, runs)
    md += [f"**CI gate: {len(fails)} failing figure(s)**" if fails else "**CI gate: pass**",
           ""]
    md += [f"    {line}" for line in fails] + ([""] if fails else [])
    md += ["| benchmark | exit | wall s | in CI |", "|---|---|---|---|"]
    names = list(dict.fromkeys([*baseline["benchmarks"], *results]))
    for name in names:
        r = runs.get(name, {})
        ci = baseline["benchmarks"].get(name, {}).get("ci", True)
        md.append(f"| {name} | {r.get('rc', '—')} | {_fmt(r.get('wall_s'))} | "
                  f"{'yes' if ci and name in baseline['benchmarks'] else 'no'} |")
    if runs:
        md.append(f"| **total** | | {_fmt(sum(r['wall_s'] for r in runs.values()))} | |")
    md.append("")
    for name in names:
        figs = results.get(name) or {}
        entries = baseline["benchmarks"].get(name, {}).get("figures", {})
        md += [f"## {name}", ""]
        if results.get(name) is None:
            md += ["No results (the benchmark crashed or was not run).", ""]
        md += ["| figure | value | baseline | allowed | better | peer | verdict |",
               "|---|---|---|---|---|---|---|"]
        order = [f for f, e in entries.items() if e.get("gate")]
        order += [f for f in list(entries) + list(figs) if f not in order]
        for fig in dict.fromkeys(order):
            e = entries.get(fig, {"baseline": None, "gate": False})
            v = figs.get(fig)
            gated = e.get("gate")
            peer = e.get("peer")
            peer_txt = f"{_fmt(figs.get(peer))} ({peer})" if peer else ""
            verdict = icon[judge(e, v)] if fig in entries else "new"
            md.append(f"| {fig} | {_fmt(v)} | {_fmt(e.get('baseline'))} | "
                      f"{_fmt(limit(e)) if gated and e.get('baseline') is not None else ''} | "
                      f"{e.get('better', '') if gated else ''} | {peer_txt} | {verdict} |")
        md.append("")
    return "\n".join(md)


def run(names, out: Path, timeout_s: float) -> dict:
    """Run ``benchmarks/NAME.py --quick --json out/NAME.json`` for each name (an old result
    file is removed first); return and write ``out/_runs.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = load_runs(out)
    for name in names:
        dest = out / f"{name}.json"
        dest.unlink(missing_ok=True)
        print(f"== {name} (quick)", flush=True)
        t0 = time.perf_counter()
        try:
            rc = subprocess.run([sys.executable, str(HERE / f"{name}.py"), "--quick", "--json",
                                 str(dest)], cwd=ROOT, timeout=timeout_s, check=False).returncode
        except subprocess.TimeoutExpired:
            print(f"{name}: killed after {timeout_s:.0f} s", flush=True)
            rc = "timeout"
        wall = time.perf_counter() - t0
        runs[name] = {"rc": rc, "wall_s": round(wall, 2)}
        print(f"-- {name}: exit {rc}, {wall:.1f} s", flush=True)
        (out / RUNS).write_text(json.dumps(runs, indent=1))
    return runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["run", "check", "report", "update"])
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    ap.add_argument("--out", type=Path, action="append",
                    help="results directory (out/bench); update: repeat it for the median of "
                    "several runs")
    ap.add_argument("--baseline", type=Path, default=BASELINE)
    ap.add_argument("--ci", action="store_true", help="run only the baseline's CI benchmarks")
    ap.add_argument("--timeout", type=float, default=900.0, help="per benchmark, s")
    a = ap.parse_args(argv)
    base = json.loads(a.baseline.read_text())
    outs = a.out or [OUT]
    a.out = outs[0]
    if a.action == "run":
        names = a.names or ([n for n, b in base["benchmarks"].items() if b.get("ci", True)]
                            if a.ci else all_benchmarks())
        runs = run(names, a.out, a.timeout)
        return int(any(r["rc"] != 0 for n, r in runs.items() if n in names))
    names = list(dict.fromkeys([*base["benchmarks"], *all_benchmarks()]))
    results = load_results(a.out, names)
    runs = load_runs(a.out)
    if a.action == "check":
        fails = check(base, results, runs)
        for line in fails:
            print(line)
        n = sum(e.get("gate", False) for n, b in base["benchmarks"].items()
                if b.get("ci", True) for e in b["figures"].values())
        print(f"benchmark gate: {len(fails)} of {n} gated figures fail" if fails
              else f"benchmark gate: all {n} gated figures within tolerance")
        return int(bool(fails))
    if a.action == "report":
        path = a.out / "REPORT.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report(base, {k: v for k, v in results.items()
                                      if v is not None or k in base["benchmarks"]}, runs))
        print(f"wrote {path}")
        return 0
    many = []
    for out in outs:
        runs = load_runs(out)
        many.append({n: v for n, v in load_results(out, names).items()
                     if v is not None and runs.get(n, {}).get("rc", 0) == 0})
    new, problems = update(base, median_results(many))
    for p in problems:
        print(f"baseline: {p}")
    a.baseline.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {a.baseline}: review with `git diff {a.baseline.name}` and commit")
    return int(bool(problems))


if __name__ == "__main__":
    sys.exit(main())
