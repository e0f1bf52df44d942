"""Benchmark: the Lihu morning peak (``scenarios/lihu_morning_peak.py``) through the runtime —
simulated seconds per wall second and peak memory.

    python benchmarks/traffic_district.py [--quick] [--json PATH]

Figures: sim_s_per_wall_s (simulated time / wall time of ``twin.run``: network and route
set-up, kernel steps, recording, checkpoints), e2e_sim_s_per_wall_s (simulated time / wall
time of what ``twin run FILE`` does: build the scenario — district and demand —, run it,
compute its KPIs), kernel_share (wall time in kernel steps / wall time of ``twin.run``),
checkpoint_share (wall time the run's own thread spends in checkpoints / the same),
peak_mem_mb (peak RSS of the process), veh_s_per_wall_s (vehicle-seconds per wall second),
trips_completed and vht_h (trips arrived and vehicle-hours travelled, the KPIs of the run:
deterministic, so a change flags a change of behaviour). ``--quick`` runs the scenario's
quick version (07:45–08:15, half the full version's demand), otherwise the full 07:00–10:00 peak.
The run happens in a fresh subprocess after a 60 s warm-up run on the same city and its KPIs
(so that compiling the kernel and the free-flow search, and importing xarray, are not
counted). The scenario keeps its district, demand and first route tables in ``out/cache/``
(:mod:`twin.store.cache`): the first run on a checkout (or after a change to their inputs)
builds them, later runs read them; ``TWIN_CACHE=off`` measures a run without the cache.

Demand scale: the figures above are measured at scale 0.25 (:data:`ISSUE6_SCALE`, the scale of
issue 6's speed figures), pinned here whatever the scenario's own ``SCALE`` is, so that they
stay comparable. The same figures at the generated demand (scale 1.0) follow with the suffix
``_scale1``, plus ``trips_teleported`` (trips teleported out of a deadlock at least once).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "lihu_morning_peak.py"
ISSUE6_SCALE = 0.25  # demand scale of issue 6's figures (the quick version runs at half of it)
SCALES = {"": ISSUE6_SCALE, "_scale1": 1.0}  # figure-name suffix -> demand scale


def child(quick: bool, scale: float) -> dict:
    """Run the scenario at demand ``scale`` in this process; return timings, sizes, KPIs and
    peak RSS."""
    import numpy as np

    import twin
    from twin.analysis import kpis
    from twin.cli import scenario_file

    with tempfile.TemporaryDirectory() as tmp:
        warm = scenario_file.load_module(SCENARIO).scenario(quick=True, scale=ISSUE6_SCALE)
        d = warm.inputs["traffic"]
        keep = (d["depart_s"] < 60) & (np.arange(len(d["depart_s"])) % 8 == 0)
        warm.inputs["traffic"] = {k: v[keep] if isinstance(v, np.ndarray) else v
                                  for k, v in d.items()}
        warm.duration = 60
        kpis.compute(twin.run(warm, Path(tmp) / "warm.zarr", progress=False))
        t0 = time.perf_counter()
        sc = scenario_file.load_module(SCENARIO).scenario(quick=quick, scale=scale)
        setup_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        run = twin.run(sc, Path(tmp) / "run.zarr", progress=False)
        wall = time.perf_counter() - t1
        t2 = time.perf_counter()
        k = kpis.compute(run)
        kpi_s = time.perf_counter() - t2
        teleported = int((np.asarray(run.table("traffic", "trips")["trip_teleports"]) > 0).sum())
    return {"sim_s": float(sc.duration), "wall_s": wall, "setup_s": setup_s,
            "kpi_s": kpi_s, "e2e_s": setup_s + wall + kpi_s,
            "step_s": run.profile["step_s"], "checkpoint_s": run.profile["checkpoint_s"],
            "trips": len(sc.inputs["traffic"]["depart_s"]),
            "vht_h": k.value("traffic", "vht_h"),
            "completed": k.value("traffic", "trips_completed"), "teleported": teleported,
            "scale": scale, "peak_mem_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the scenario's quick version")
    ap.add_argument("--json", help="write figures to this path")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=float, default=ISSUE6_SCALE, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.quick, a.scale)))
        return
    figures, runs = {}, {}
    for suffix, scale in SCALES.items():
        p = subprocess.run([sys.executable, __file__, "--child", "--scale", str(scale)]
                           + (["--quick"] if a.quick else []),
                           cwd=ROOT, capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise SystemExit(f"lihu morning peak (scale {scale:g}) failed:\n{p.stderr[-3000:]}")
        r = runs[suffix] = json.loads(p.stdout.strip().splitlines()[-1])
        figures.update({f"{k}{suffix}": v for k, v in {
            "sim_s_per_wall_s": round(r["sim_s"] / r["wall_s"], 2),
            "e2e_sim_s_per_wall_s": round(r["sim_s"] / r["e2e_s"], 2),
            "kernel_share": round(r["step_s"] / r["wall_s"], 3),
            "checkpoint_share": round(r["checkpoint_s"] / r["wall_s"], 3),
            "peak_mem_mb": round(r["peak_mem_mb"], 1),
            "veh_s_per_wall_s": round(r["vht_h"] * 3600 / r["wall_s"], 0),
            "trips_completed": int(r["completed"]),
            "vht_h": round(r["vht_h"], 3),
        }.items()})
        figures[f"trips_teleported{suffix}"] = int(r["teleported"])
    version = "quick (07:45–08:15)" if a.quick else "full (07:00–10:00)"
    for suffix, r in runs.items():
        print(f"Lihu morning peak, {version}, demand scale {r['scale']:g}"
              f"{' (quick: half of it)' if a.quick else ''}: {r['trips']:,} trips, "
              f"{r['sim_s']:.0f} s simulated, {r['completed']:,.0f} completed")
        print(f"{'figure':28s} {'value':>12s}")
        for k, v in figures.items():
            if k.endswith(suffix) and (suffix or not any(k.endswith(x) for x in SCALES if x)):
                print(f"{k:28s} {v:12,.3g}" if v < 10 else f"{k:28s} {v:12,.1f}")
        print(f"{'run wall s':28s} {r['wall_s']:12,.1f}  (kernel steps {r['step_s']:.1f} s, "
              f"checkpoints {r['checkpoint_s']:.1f} s)")
        print(f"{'scenario set-up s':28s} {r['setup_s']:12,.1f}  (district load + demand)")
        print(f"{'KPIs s':28s} {r['kpi_s']:12,.1f}")
    print("peer: none measured (a SUMO run of the same network and demand is the reference "
          "for fidelity, not run here)")
    if a.json:
        r = runs[""]
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"benchmark": "traffic_district", "figures": figures,
                                            "version": "quick" if a.quick else "full",
                                            "scales": {k or "issue6": v
                                                       for k, v in SCALES.items()},
                                            "trips": r["trips"], "sim_s": r["sim_s"],
                                            "wall_s": round(r["wall_s"], 3)}, indent=2))


if __name__ == "__main__":
    main()
