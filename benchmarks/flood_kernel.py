"""Flood kernel speed and mass balance.

A *cell-update* is one cell of the raster advanced by one time step of one member: the
figure counts every cell of the raster (ny·nx, walls and dry cells included — the kernel
skips none) times the steps each member took. All figures below are over all cells; the
"active" count is the same here (every cell is wet in these runs).

- ``cell_updates_per_s``: a 1,000 × 1,000 raster (5 m cells, a bumpy bed, every cell wet
  under 100 mm/h of rain), steps timed after a warm-up; numba threads over row blocks (the
  default build for this size). ``serial_cell_updates_per_s``: the same with one thread.
- ``batched_cell_updates_per_s``: 4 members (rain ensembles) of a 500 × 500 raster in one pass.
- ``mass_rel_error``: the largest relative mass-balance error of those runs.
- ``lihu_storm_sim_s_per_wall_s``: the 100-year, 3-h Chicago design storm (Suzhou/Wuxi
  formula, see twin/kernels/flood/rain.py) over Lihu at the DEM's 25 m (buildings as porosity,
  land use, Horton infiltration, the lake and rivers held), grid build excluded;
  ``lihu_mass_rel_error``, ``lihu_max_depth_m``.
- ``cell_updates_per_cpu_s`` (and ``serial_…``): the same per second of this process's CPU
  time (time.process_time, all threads): less sensitive to other load on the shared machine
  (``load_average_at_start``/``_end`` are recorded). OpenMP threads that spin while waiting
  count as CPU time: set OMP_WAIT_POLICY=passive on a busy machine (recorded in the config).
- ``peak_mem_mb``.

Usage: python benchmarks/flood_kernel.py [--quick] [--json PATH]
  --quick: 500 × 500, 2 members of 250 × 250, 1 h of the Lihu storm at 50 m.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import peak_rss_mb  # noqa: E402


def raster_rate(n, members, steps, parallel=None):
    """Return (cell-updates per wall s, per CPU s, max relative mass error) of ``steps``
    steps on an n × n raster with ``members`` members, every cell wet."""
    from twin.kernels.flood import rain
    from twin.kernels.flood.grid import make_grid
    from twin.kernels.flood.sim import FloodSim

    yy, xx = np.mgrid[0:n, 0:n] * (1000.0 / n)
    z = 0.002 * xx + 0.3 * np.sin(xx / 37.0) * np.cos(yy / 53.0)
    g = make_grid(z, 5000.0 / n, manning=0.03)
    storms = [rain.uniform(100.0 * (1 + 0.1 * k), 7200) for k in range(members)]
    sim = FloodSim(g, members, boundary="open", h0=0.05, parallel=parallel)
    sim.advance(10.0, storms)  # warm-up (numba compile / cache load)
    s0 = sim.steps.copy()
    t0, c0 = time.perf_counter(), time.process_time()
    while (sim.steps - s0).min() < steps:
        sim.advance(float(sim.t.max()) + 30.0, storms)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    upd = float((sim.steps - s0).sum()) * n * n
    return upd / wall, upd / cpu, float(sim.balance()["rel_error"].max())


def lihu_storm(cell, duration):
    import cim
    from twin.kernels.flood import rain
    from twin.kernels.flood.grid import grid_from_city
    from twin.kernels.flood.sim import FloodSim

    city = cim.load_district("lihu")
    g = grid_from_city(city, cell=cell)
    storm = [rain.chicago(100, 3 * 3600, step=300)]
    FloodSim(g, 1, boundary="open").advance(30.0, storm)  # warm-up
    sim = FloodSim(g, 1, boundary="open")
    t0 = time.perf_counter()
    sim.advance(duration, storm)
    wall = time.perf_counter() - t0
    b = sim.balance()
    free = np.isnan(g.fixed_h)
    return {"lihu_storm_sim_s_per_wall_s": duration / wall, "lihu_wall_s": wall,
            "lihu_steps": int(sim.steps[0]), "lihu_cells": int(g.z.size),
            "lihu_mass_rel_error": float(b["rel_error"][0]),
            "lihu_max_depth_m": float(np.where(free, sim.hpeak[0], 0).max()),
            "lihu_rain_m3": float(b["rain"][0])}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write the figures to this file")
    a = ap.parse_args(argv)
    n, nb, K = (500, 250, 2) if a.quick else (1000, 500, 4)
    load0 = os.getloadavg()[0]
    steps = 20 if a.quick else 50
    rate, cpu_rate, err1 = raster_rate(n, 1, steps)
    srate, scpu_rate, err3 = raster_rate(n, 1, steps, parallel=False)
    brate, _, err2 = raster_rate(nb, K, steps)
    figures = {"cell_updates_per_s": rate, "cell_updates_per_cpu_s": cpu_rate,
               "serial_cell_updates_per_s": srate, "serial_cell_updates_per_cpu_s": scpu_rate,
               "batched_cell_updates_per_s": brate, "mass_rel_error": max(err1, err2, err3)}
    figures.update(lihu_storm(50.0 if a.quick else None, 3600.0 if a.quick else 3 * 3600.0))
    figures["peak_mem_mb"] = peak_rss_mb()
    config = {"raster": n, "batch_raster": nb, "members": K, "threads":
              int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
              "load_average_at_start": load0, "load_average_at_end": os.getloadavg()[0],
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
              "cell_update": "raster cells (all) × steps, summed over members"}
    print(f"flood kernel: {n}×{n} raster, {nb}×{nb} × {K} members batched; load "
          f"{load0:.1f} → {config['load_average_at_end']:.1f} on {os.cpu_count()} cores")
    print(f"{'figure':34s} {'value':>14s}")
    for k, v in figures.items():
        print(f"{k:34s} {v:14.4g}")
    print(f"a cell-update: {config['cell_update']}; goal cell_updates_per_s >= 1e8")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"benchmark": "flood_kernel", "figures": figures, "config": config}, f,
                      indent=1)
    return figures


if __name__ == "__main__":
    main()
