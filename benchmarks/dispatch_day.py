"""Benchmark: a day of district incidents dispatched on live traffic (Lihu) — wall time.

    python benchmarks/dispatch_day.py [--quick] [--hours H] [--json PATH]

The scenario is ``scenarios/lihu_emergency_response_day.py``'s (the fleet, the two scripted
incidents, the traffic and water kernels, their coupling) over a normal day: Poisson incidents
at the average rates (scale 1) from 00:00 for ``--hours`` hours (default 24: the whole day;
``--quick``: 07:45–08:15), with that window's traffic demand (scale 0.25, as the morning
peak, through traffic 800 veh/h) from ``agents.generate_trips``.

Figures: wall_s (wall time of ``twin.run``: set-up, kernel and dispatch steps, recording),
setup_s (district load, demand and incidents), sim_s_per_wall_s, calls, calls_arrived,
response_p50_s and response_p90_s (the run's KPIs: deterministic, a change flags a change of
behaviour), peak_mem_mb. The run happens in a fresh subprocess after a 60 s warm-up run of
the quick version (so that compiling the kernels is not counted).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "lihu_emergency_response_day.py"
INCIDENT_SCALE = 1.0     # a normal day: the average rates


def day_scenario(start: dt.time, hours: float):
    """The emergency-response scenario re-timed to ``start`` for ``hours`` h of a normal day."""
    import agents
    from twin.cli import scenario_file

    mod = scenario_file.load_module(SCENARIO)
    sc = mod.scenario(quick=True)
    trips = agents.generate_trips(sc.city, start=start.strftime("%H:%M"),
                                  duration_s=hours * 3600, seed=mod.SEED,
                                  scale=mod.TRAFFIC_SCALE,
                                  through_veh_per_h=mod.THROUGH_VEH_PER_H)
    sc.inputs["traffic"] = {k: getattr(trips, k)
                            for k in ("depart_s", "origin_node", "destination_node")}
    sc.duration = hours * 3600
    sc.start = dt.datetime.combine(mod.DAY, start)
    sc.agents[0].generate = {"scale": INCIDENT_SCALE}
    sc.name = "dispatch_day"
    return sc


def child(quick: bool, hours: float) -> dict:
    """Run the day in this process; return timings, sizes, KPIs and peak RSS."""
    import numpy as np

    import twin
    from twin.analysis import kpis

    with tempfile.TemporaryDirectory() as tmp:
        warm = day_scenario(dt.time(7, 45), 60 / 3600)
        twin.run(warm, Path(tmp) / "warm.zarr", progress=False)
        t0 = time.perf_counter()
        sc = (day_scenario(dt.time(7, 45), 0.5) if quick
              else day_scenario(dt.time(0, 0), hours))
        setup_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        run = twin.run(sc, Path(tmp) / "run.zarr", progress=False)
        wall = time.perf_counter() - t1
        c = run.table("dispatch", "calls")
        k = kpis.compute(run)
        return {"sim_s": float(sc.duration), "wall_s": wall, "setup_s": setup_s,
                "trips": len(sc.inputs["traffic"]["depart_s"]),
                "calls": int(len(c["call_id"])),
                "arrived": int(np.isfinite(c["call_arrived_s"]).sum()),
                "p50": k.value("dispatch", "response_p50_s"),
                "p90": k.value("dispatch", "response_p90_s"),
                "peak_mem_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="07:45–08:15 only")
    ap.add_argument("--hours", type=float, default=24.0, help="hours from 00:00 (default 24)")
    ap.add_argument("--json", help="write figures to this path")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not 0 < a.hours <= 24:
        raise SystemExit("--hours must be in (0, 24]")
    if a.child:
        print(json.dumps(child(a.quick, a.hours)))
        return
    p = subprocess.run([sys.executable, __file__, "--child", "--hours", str(a.hours)]
                       + (["--quick"] if a.quick else []),
                       cwd=ROOT, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"dispatch day failed:\n{p.stderr[-3000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    figures = {
        "wall_s": round(r["wall_s"], 2),
        "setup_s": round(r["setup_s"], 2),
        "sim_s_per_wall_s": round(r["sim_s"] / r["wall_s"], 2),
        "calls": r["calls"], "calls_arrived": r["arrived"],
        "response_p50_s": round(r["p50"], 1), "response_p90_s": round(r["p90"], 1),
        "peak_mem_mb": round(r["peak_mem_mb"], 1),
    }
    version = "quick (07:45–08:15)" if a.quick else f"00:00 + {a.hours:g} h"
    print(f"Lihu dispatch day, {version}: {r['trips']:,} trips, {r['calls']} calls, "
          f"{r['sim_s']:.0f} s simulated")
    print(f"{'figure':22s} {'value':>12s}")
    for k, v in figures.items():
        if isinstance(v, int):
            print(f"{k:22s} {v:12,d}")
        else:
            print(f"{k:22s} {v:12,.3g}" if abs(v) < 10 else f"{k:22s} {v:12,.1f}")
    print("peer: none measured")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"benchmark": "dispatch_day", "figures": figures,
                                            "version": "quick" if a.quick else "full",
                                            "hours": 0.5 if a.quick else a.hours,
                                            "trips": r["trips"], "sim_s": r["sim_s"]},
                                           indent=2))


if __name__ == "__main__":
    main()
