"""Traffic kernel vs SUMO on the reference signalized grid (a SUMO netgenerate grid).

10 x 10 signalized junctions, 300 m links, 2 lanes each way, 13.9 m/s, 300 m stubs to 40 fringe
nodes, SUMO's default fixed-time plan (90 s cycle, 42 s green + 3 s yellow per phase), 20,000
trips departing uniformly over one hour between random fringe nodes (numpy default_rng(42),
drawn as the anchor's make_trips), 1 s steps. Both engines run here, in this process's run:
our kernel (static free-flow routes, as SUMO's insertion routing) and the ``sumo`` binary
(set up as the anchor's traffic_grid_sumo.py). Then 16 members (demand seeds 42..57) solved
together in one batch.

Figures: vehicle-seconds simulated (sum of time in the network) per wall second, wall time,
completed trips, mean travel time in the network. ``ratio_vs_sumo`` divides the fastest of our
timed runs by the fastest of SUMO's (``--sumo-repeats``): on a shared machine the fastest run
is the one least disturbed by other processes. ``cpu_ratio_vs_sumo`` is the same ratio in CPU
time (user + system, all threads; fastest runs): other processes on a shared machine delay a
run without adding to its CPU time, so this ratio is the one CI gates. Our wall time covers building the state
and routing plus the simulation; numba's JIT compilation is done (and reported) in a warm-up
outside the timed region. SUMO's covers the whole sumo process, as in the anchor.

Usage: python benchmarks/traffic_grid.py [--quick] [--json PATH] [--no-sumo]
  --quick: 5x5 grid, 2,500 trips over 15 min, batch of 4 (CI; well under a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _grid import run_sumo, sumo_bin  # noqa: E402

from twin.kernels import traffic as tr  # noqa: E402
from twin.kernels.traffic.grid import grid, grid_trips  # noqa: E402

T_END = 10800.0  # hard cap on simulated time, s (as the anchor)


def run_ours(g, depart, orig, dest, params, n_members=1, cpu=None):
    """Return (wall s, RunResult) for one run (or a batch when several demand sets); appends
    the run's CPU time (s, all threads of this process) to ``cpu`` when given."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    if n_members == 1:
        trips = tr.Trips(depart, orig, dest)
    else:
        trips = tr.Trips.concat([tr.Trips(*x) for x in zip(depart, orig, dest, strict=True)])
    res = tr.run(g.net, trips, params, until=T_END, seed=list(range(n_members))
                 if n_members > 1 else 0, chunk=600.0)
    wall = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    return wall, res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5x5 grid, 2,500 trips, batch of 4")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--no-sumo", action="store_true", help="skip SUMO (figures become null)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed runs of ours (median; fastest for the ratio); 5 quick, else 3")
    ap.add_argument("--sumo-repeats", type=int, default=None,
                    help="SUMO runs (fastest for the ratio); 3 quick, else 1")
    a = ap.parse_args(argv)
    a.repeats = a.repeats or (5 if a.quick else 3)
    a.sumo_repeats = a.sumo_repeats or (3 if a.quick else 1)
    n, n_trips, t_demand, batch = (5, 2500, 900.0, 4) if a.quick else (10, 20000, 3600.0, 16)
    params = tr.TrafficParams()
    g = grid(n)
    depart, orig, dest, from_edge, to_edge = grid_trips(g, n_trips, 42, t_demand)
    print(f"traffic_grid: {n}x{n} grid, {g.net.n_links} links, {n_trips} trips over "
          f"{t_demand:.0f} s, 1 s steps", flush=True)

    t0 = time.perf_counter()
    small = grid(2)
    d2, o2, e2, _, _ = grid_trips(small, 50, 1, 60.0)
    tr.run(small.net, tr.Trips(d2, o2, e2), params, until=600.0)
    print(f"  warm-up (numba JIT compile or cache load): {time.perf_counter() - t0:.2f} s",
          flush=True)

    walls, cpus, res = [], [], None
    for k in range(a.repeats):
        wall, res = run_ours(g, depart, orig, dest, params, cpu=cpus)
        walls.append(wall)
        print(f"  ours run {k + 1}/{a.repeats}: {wall:.3f} s", flush=True)
    wall = statistics.median(walls)
    done = res.trips
    ours = {"wall_s": wall, "veh_s": float(res.veh_seconds[0]),
            "completed": int(done["travel_time"].size),
            "mean_tt_s": float(done["travel_time"].mean()),
            "end_s": res.end_time}
    ours["veh_s_per_wall_s"] = ours["veh_s"] / wall
    lost = n_trips - ours["completed"]

    print(f"  batch of {batch} members (demand seeds 42..{41 + batch}) ...", flush=True)
    demand = [grid_trips(g, n_trips, 42 + k, t_demand)[:3] for k in range(batch)]
    bwall, bres = run_ours(g, *zip(*demand, strict=True), params, n_members=batch)
    b_veh_s = float(bres.veh_seconds.sum())
    b_rate = b_veh_s / bwall
    b_done = int(bres.trips["travel_time"].size)
    print(f"  batch: {bwall:.3f} s, {b_done} of {batch * n_trips} trips completed", flush=True)

    sumo = None
    if not a.no_sumo and sumo_bin("sumo"):
        print(f"  SUMO (sumo binary, whole process) x {a.sumo_repeats} ...", flush=True)
        runs = []
        for _ in range(a.sumo_repeats):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(run_sumo(tmp, n, depart, from_edge, to_edge, seed=42))
        sumo = min(runs, key=lambda r: r["wall_s"])
        sumo_cpu = min(r["cpu_s"] for r in runs)
        sumo_done = sumo["completed"]
        print(f"  SUMO: {sumo['wall_s']:.1f} s, {sumo['version']}", flush=True)

    rows = [("ours (single run)", ours["veh_s_per_wall_s"], ours["wall_s"], ours["completed"],
             ours["mean_tt_s"])]
    if sumo:
        rows.append(("SUMO", sumo["veh_s_per_wall_s"], sumo["wall_s"], sumo_done,
                     sumo["mean_tt_s"]))
    rows.append((f"ours (batch of {batch})", b_rate, bwall, b_done,
                 float(bres.trips["travel_time"].mean())))
    print()
    print(f"{'engine':24s} {'veh-s/wall-s':>13s} {'wall s':>9s} {'completed':>10s} "
          f"{'mean TT s':>10s}")
    for name, rate, w, c, mtt in rows:
        print(f"{name:24s} {rate:13.3e} {w:9.3f} {c:10d} {mtt:10.1f}")
    figures = {"veh_s_per_wall_s": ours["veh_s_per_wall_s"],
               "sumo_veh_s_per_wall_s": sumo["veh_s_per_wall_s"] if sumo else None,
               "ratio_vs_sumo": (ours["veh_s"] / min(walls) / sumo["veh_s_per_wall_s"]
                                 if sumo else None),
               "cpu_ratio_vs_sumo": (ours["veh_s"] / min(cpus) / (sumo["veh_s"] / sumo_cpu)
                                     if sumo else None),
               "wall_s": wall, "best_wall_s": min(walls),
               "sumo_wall_s": sumo["wall_s"] if sumo else None,
               "cpu_s": min(cpus), "sumo_cpu_s": sumo_cpu if sumo else None,
               "mean_tt_s": ours["mean_tt_s"],
               "sumo_mean_tt_s": sumo["mean_tt_s"] if sumo else None,
               "tt_rel_diff_vs_sumo": (abs(ours["mean_tt_s"] - sumo["mean_tt_s"])
                                       / sumo["mean_tt_s"] if sumo else None),
               "lost_vehicles": lost,
               "batch16_veh_s_per_wall_s": b_rate}
    print()
    if sumo:
        print(f"ratio ours/SUMO (veh-s per wall s, fastest runs): "
              f"{figures['ratio_vs_sumo']:.1f}x; "
              f"mean TT differs by {100 * figures['tt_rel_diff_vs_sumo']:.1f} %; "
              f"batch aggregate {b_rate / sumo['veh_s_per_wall_s']:.0f}x SUMO")
    print(f"lost vehicles (not arrived by {T_END:.0f} s): {lost}"
          + (f"; --quick: batch of {batch}, not 16" if a.quick else ""))
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"benchmark": "traffic_grid", "figures": figures,
                       "config": {"grid": n, "trips": n_trips, "demand_s": t_demand,
                                  "batch": batch, "repeats": a.repeats,
                                  "sumo_repeats": a.sumo_repeats,
                                  "sumo_version": sumo["version"] if sumo else None}},
                      f, indent=1)
    return figures


if __name__ == "__main__":
    main()
