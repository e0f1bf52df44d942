"""Flood kernel vs ANUGA (``anuga`` from PyPI) on a shared small urban tile, in the same run.

The tile is the ANUGA anchor's (``../shared/anchors/anuga_bench.py``): L × L m, bed falling
0.2 % towards x = L, 16 buildings 50 × 50 m raised 2 m (centred at 200/400/600/800 m of a
1 km tile, scaled with L), Manning 0.03, reflective walls and an outflow edge at x = L
(ANUGA: ``Transmissive_boundary``; ours: free outflow with the bed slope), uniform rain
``--rain`` mm/h for ``--rain-s`` s, simulated to ``--end`` s, dry start, no infiltration.
ANUGA on ``rectangular_cross_domain(M, M)`` (4 M² triangles, DE0, 1 thread); ours on the
M × M raster of the same cells (bed at the cell centres).

Agreement metrics (ANUGA's centroid depths are binned to our cells, area-weighted):
- ``max_depth_rel_diff``: at 8 gauges between the buildings, the largest
  |max_t h_ours − max_t h_anuga| / max_t h_anuga (depths sampled every 60 s);
- ``max_depth_mean_rel_diff``: the same, averaged over the gauges;
- ``flooded_area_rel_diff``: |A_ours − A_anuga| / A_anuga, where A is the area with a
  maximum depth (over the 60-s samples) ≥ ``--flood-depth`` m (0.03 m);
- ``volume_rel_diff``: water on the tile at the end, |V_ours − V_anuga| / V_anuga.
Speed: ``cell_updates_per_s`` (ours), ``anuga_tri_updates_per_s``, ``speedup_vs_anuga``
(ANUGA evolve wall / our run wall, numba compiled beforehand), and both mass errors.

The rain lasts about the time of concentration of the tile (kinematic-wave estimate: 55 min
for 1 km at 100 mm/h), so the sheet flow reaches its equilibrium depth (≈ 9 cm at the outflow).

Usage: python benchmarks/flood_anuga.py [--quick] [--json PATH] [--M 100] [--L 1000]
  default: L = 1000 m, M = 100 (10 m cells), 3600 s of 100 mm/h, 4800 s;
  --quick: M = 50 (20 m cells), the rest the same (CI).
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

SLOPE, N_MANNING, BLD_H = 0.002, 0.03, 2.0
GAUGES = np.array([[0.1, 0.5], [0.3, 0.5], [0.5, 0.3], [0.5, 0.7], [0.7, 0.5],
                   [0.9, 0.5], [0.9, 0.1], [0.3, 0.9]])


def bed(x, y, L):
    """Bed elevation (m) of the tile at points x, y (m)."""
    z = SLOPE * (L - x)
    s = L / 1000.0
    for cx in (200.0, 400.0, 600.0, 800.0):
        for cy in (200.0, 400.0, 600.0, 800.0):
            inside = (np.abs(x - cx * s) <= 25.0 * s) & (np.abs(y - cy * s) <= 25.0 * s)
            z = np.where(inside, z + BLD_H, z)
    return z


def run_ours(M, L, rain_mmh, rain_s, end, sample=60.0):
    """Return dict(depth samples (T, M, M), final depth, wall, steps, mass error)."""
    from twin.kernels.flood import rain
    from twin.kernels.flood.grid import make_grid
    from twin.kernels.flood.sim import FloodSim

    dx = L / M
    c = (np.arange(M) + 0.5) * dx
    gx, gy = np.meshgrid(c, c[::-1])  # row 0 north
    g = make_grid(bed(gx, gy, L), dx, manning=N_MANNING)
    hy = [rain.uniform(rain_mmh, rain_s)]
    warm = FloodSim(g, 1, boundary={"east": "open"}, slope=SLOPE)
    warm.advance(2 * sample, hy)  # compile / load the numba cache outside the timing
    sim = FloodSim(g, 1, boundary={"east": "open"}, slope=SLOPE)
    samples = []
    t0 = time.perf_counter()
    for t in np.arange(sample, end + 1e-9, sample):
        sim.advance(float(t), hy)
        samples.append(sim.h[0].copy())
    wall = time.perf_counter() - t0
    b = sim.balance()
    return {"samples": np.array(samples), "final": sim.h[0].copy(), "wall_s": wall,
            "steps": int(sim.steps[0]), "cells": M * M,
            "mass_rel_error": float(b["rel_error"][0]), "rain_m3": float(b["rain"][0])}


def run_anuga(M, L, rain_mmh, rain_s, end, sample=60.0, workdir="/tmp"):
    """Return the same dict for ANUGA (depths binned to the M × M cells), or None when
    anuga is not installed."""
    try:
        import anuga
    except ImportError:
        return None
    domain = anuga.rectangular_cross_domain(M, M, len1=L, len2=L)
    domain.set_name(f"flood_anuga_{M}")
    domain.set_datadir(workdir)
    domain.set_store(False)
    domain.set_quantity("elevation", lambda x, y: bed(x, y, L), location="centroids")
    domain.set_quantity("friction", N_MANNING, location="centroids")
    domain.set_quantity("stage", expression="elevation", location="centroids")
    br, bt = anuga.Reflective_boundary(domain), anuga.Transmissive_boundary(domain)
    domain.set_boundary({"left": br, "top": br, "bottom": br, "right": bt})
    rate = rain_mmh * 1e-3 / 3600.0
    anuga.Rate_operator(domain, rate=lambda t: rate if t < rain_s else 0.0)
    v0 = domain.get_water_volume()
    xy = domain.centroid_coordinates
    area = domain.areas
    dx = L / M
    col = np.clip((xy[:, 0] / dx).astype(int), 0, M - 1)
    row = np.clip(M - 1 - (xy[:, 1] / dx).astype(int), 0, M - 1)
    cell = row * M + col

    def binned():
        h = domain.quantities["stage"].centroid_values - \
            domain.quantities["elevation"].centroid_values
        return (np.bincount(cell, h * area, minlength=M * M) / dx ** 2).reshape(M, M)

    samples, steps = [], 0
    t0 = time.perf_counter()
    for _ in domain.evolve(yieldstep=sample, finaltime=end):
        steps += domain.number_of_steps
        if domain.get_time() > 0:
            samples.append(binned())
    wall = time.perf_counter() - t0
    vol, bflux, fsint = domain.report_water_volume_statistics(verbose=False, returnStats=True)
    err = vol - bflux - fsint - v0
    return {"samples": np.array(samples), "final": binned(), "wall_s": wall, "steps": steps,
            "cells": len(domain), "mass_rel_error": abs(float(err)) / max(float(fsint), 1e-300),
            "version": anuga.__version__}


def compare(ours, peer, M, L, flood_depth=0.05) -> dict:
    """The agreement metrics of the module docstring."""
    dx = L / M
    idx = np.minimum((GAUGES * np.array([M, M])).astype(int), M - 1)
    rows, cols = M - 1 - idx[:, 1], idx[:, 0]
    n = min(len(ours["samples"]), len(peer["samples"]))
    mo = ours["samples"][:n].max(0)
    ma = peer["samples"][:n].max(0)
    go, ga = mo[rows, cols], ma[rows, cols]
    rel = np.abs(go - ga) / ga
    ao = (mo >= flood_depth).sum() * dx * dx
    aa = (ma >= flood_depth).sum() * dx * dx
    vo, va = ours["final"].sum() * dx * dx, peer["final"].sum() * dx * dx
    return {"max_depth_rel_diff": float(rel.max()), "max_depth_mean_rel_diff": float(rel.mean()),
            "gauge_max_depth_ours_m": go.round(4).tolist(),
            "gauge_max_depth_anuga_m": ga.round(4).tolist(),
            "flooded_area_rel_diff": float(abs(ao - aa) / aa), "flooded_area_m2": float(ao),
            "flooded_area_anuga_m2": float(aa), "volume_rel_diff": float(abs(vo - va) / va)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--M", type=int, default=None)
    ap.add_argument("--L", type=float, default=None)
    ap.add_argument("--rain", type=float, default=100.0, help="mm/h")
    ap.add_argument("--rain-s", type=float, default=None)
    ap.add_argument("--end", type=float, default=None)
    a = ap.parse_args(argv)
    M = a.M or (50 if a.quick else 100)
    L = a.L or 1000.0
    rain_s = a.rain_s or 3600.0
    end = a.end or 4800.0
    ours = run_ours(M, L, a.rain, rain_s, end)
    peer = run_anuga(M, L, a.rain, rain_s, end)
    figures = {"cell_updates_per_s": ours["cells"] * ours["steps"] / ours["wall_s"],
               "wall_s": ours["wall_s"], "steps": ours["steps"],
               "mass_rel_error": ours["mass_rel_error"], "peak_mem_mb": peak_rss_mb()}
    if peer is not None:
        figures.update({"anuga_wall_s": peer["wall_s"], "anuga_steps": peer["steps"],
                        "anuga_tri_updates_per_s": peer["cells"] * peer["steps"] / peer["wall_s"],
                        "speedup_vs_anuga": peer["wall_s"] / ours["wall_s"],
                        "anuga_mass_rel_error": peer["mass_rel_error"]})
        figures.update(compare(ours, peer, M, L))
    config = {"M": M, "L": L, "rain_mmh": a.rain, "rain_s": rain_s, "end_s": end,
              "anuga": None if peer is None else peer["version"],
              "omp_threads": os.environ.get("OMP_NUM_THREADS")}
    print(json.dumps({"figures": figures, "config": config}, indent=1))
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"benchmark": "flood_anuga", "figures": figures, "config": config}, f,
                      indent=1)
    return figures


if __name__ == "__main__":
    main()
