"""Benchmark: the viewer offscreen on a Lihu morning-peak run — time to the first frame,
frames per second when scrubbing, peak memory.

    python benchmarks/viewer_frames.py [--quick] [--json PATH] [--run STORE]

Offscreen at 1280×720 with every layer on: all the district's static layers, and a series
at every place the run draws on (the viewer shows one series per place — the roads, a
network's nodes, the buildings, a layer's glyphs or raster —, since two colourings of the
same ribbons z-fight; switching one on replaces the other). Figures: open_s (load the
district and build its twin — once per session, not per frame), import_s (import pyvista's
plotting and matplotlib — once per session), first_frame_s (from the built twin and the run
store to the first rendered frame: plan, merged meshes, actors, render),
first_frame_cold_s (import_s + first_frame_s: the first frame of a fresh process, as
measured before import_s was split off), first_frame_total_s (open_s + import_s +
first_frame_s: from a fresh process to the first frame, the district from the input cache), fps (scrubbing through every record in order:
gather each visible series' values into its mesh in place and render), frame_cpu_ms (CPU
time per scrubbed frame, all threads — Mesa's rasteriser threads included —: the work, less
sensitive than fps to other processes' load), fps_readback (the same with each frame read
back, as a movie export does), frame_ms_p95, peak_mem_mb (peak RSS). The run is ``out/runs/lihu_morning_peak.zarr`` (the
full 07:00–10:00 peak; ``--quick``: the quick 07:45–08:15 run), made with ``twin run`` first
when it is missing. Rendering is VTK's (on a machine without a GPU, Mesa's software
rasteriser: figures then scale with the CPU cores). Goals: first frame < 3 s, ≥ 10 fps.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "lihu_morning_peak.py"
SIZE = (1280, 720)


def ensure_run(quick: bool, store: str | None) -> Path:
    """Return the run store to view (running the scenario when it is missing)."""
    path = Path(store) if store else ROOT / "out" / "runs" / (
        "lihu_morning_peak-quick.zarr" if quick else "lihu_morning_peak.zarr")
    if not (path / "zarr.json").exists():
        cmd = [sys.executable, "-m", "twin.cli", "run", str(SCENARIO), "--out", str(path),
               "-q", "--overwrite"] + (["--quick"] if quick else [])
        subprocess.run(cmd, cwd=ROOT, check=True)
    return path


def child(path: str) -> dict:
    import numpy as np

    import twin
    from twin.viewer import Scene
    from twin.viewer.scene import resolve_city

    run = twin.Run(path)
    t0 = time.perf_counter()
    _, tw = resolve_city(run)
    open_s = time.perf_counter() - t0
    ti = time.perf_counter()
    import matplotlib.pyplot  # noqa: F401
    import pyvista.plotting  # noqa: F401
    import_s = time.perf_counter() - ti
    t1 = time.perf_counter()
    scene = Scene(run, twin=tw, size=SIZE, off_screen=True)
    for key, d in scene.drawn.items():  # every layer on: a series at every place
        if not any(x.visible and x.place == d.place for x in scene.drawn.values()):
            scene.show_layer(key, True)
    scene.image()
    first = time.perf_counter() - t1
    times = scene.times
    rw = scene.plotter.render_window
    frame_s = []
    t2, c2 = time.perf_counter(), time.process_time()
    for t in times:
        a = time.perf_counter()
        scene.set_time(t)
        rw.Render()
        frame_s.append(time.perf_counter() - a)
    scrub, scrub_cpu = time.perf_counter() - t2, time.process_time() - c2
    n_rb = min(len(times), 30)
    t3 = time.perf_counter()
    for t in times[:n_rb]:
        scene.set_time(t)
        scene.image()
    readback = time.perf_counter() - t3
    faces = sum(int(a.GetMapper().GetInput().GetNumberOfCells())
                for a in list(scene.base.values()) + [d.actor for d in scene.drawn.values()]
                if a.GetVisibility())
    out = {"open_s": open_s, "import_s": import_s, "first_frame_s": first,
           "first_frame_cold_s": import_s + first,
           "first_frame_total_s": open_s + import_s + first, "fps": len(times) / scrub,
           "frame_cpu_ms": 1000 * scrub_cpu / len(times), "shown": scene.layers,
           "fps_readback": n_rb / readback,
           "frame_ms_p95": 1000 * float(np.percentile(frame_s, 95)),
           "frames": len(times), "layers": len(scene.drawn), "cells": faces,
           "notes": scene.notes, "peak_mem_mb": peak_rss_mb()}
    scene.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the quick (30 min) run")
    ap.add_argument("--json", help="write figures to this path")
    ap.add_argument("--run", help="a run store of the Lihu district to view instead")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child)))
        return
    path = ensure_run(a.quick, a.run)
    p = subprocess.run([sys.executable, __file__, "--child", str(path)], cwd=ROOT,
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"viewer benchmark failed:\n{p.stderr[-3000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    figures = {k: round(r[k], 3) for k in ("first_frame_s", "fps", "peak_mem_mb", "open_s",
                                          "import_s", "first_frame_cold_s", "first_frame_total_s",
                                          "frame_cpu_ms", "fps_readback", "frame_ms_p95")}
    shown = [k for k, on in r["shown"].items() if on]
    print(f"viewer on {path.name}: {r['frames']} records, {r['layers']} drawn series, "
          f"{r['cells']:,} cells shown, offscreen {SIZE[0]}x{SIZE[1]}; load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"shown: {', '.join(shown)}")
    print(f"{'figure':16s} {'value':>10s}")
    for k, v in figures.items():
        print(f"{k:16s} {v:10,.3f}")
    print("goals: first_frame_s < 3, fps >= 10; peer: none")
    for n in r["notes"]:
        print(f"note: {n}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"benchmark": "viewer_frames", "figures": figures,
                                            "version": "quick" if a.quick else "full",
                                            "run": str(path), "frames": r["frames"],
                                            "cells": r["cells"], "shown": shown,
                                            "load": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()
