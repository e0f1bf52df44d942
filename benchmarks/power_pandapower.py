"""Power flow vs pandapower and power-grid-model, timed in the same run.

Figures:
- ``speedup_acpf_case9241_vs_pandapower``: one AC power flow of case9241pegase, pandapower's
  warm ``runpp`` (NR, default options) ÷ our warm ``powerflow(grid)`` (the whole call:
  compile, fusion, ordering + symbolic factorisation, solve, results). Nothing is cached
  across calls on our side: every call compiles the grid and orders and factorises its
  Jacobian pattern again (warm means numba's compiled code only), as pandapower's warm
  ``runpp`` (recycle=None) rebuilds its ppc. Both start alike: DC angles, PQ magnitudes at the
  mean voltage set point (pandapower's init "auto"). Timed interleaved (>= 5 runs each, the
  medians); the ratio of thread CPU times is reported too (``..._cpu``), steadier on a loaded
  machine. Also reported: the solve alone with the grid compiled once (``PowerFlow.solve``,
  as the runtime drives it).
- ``speedup_n1_case118_vs_pandapower``: full N-1 of case118 (every in-service line and
  trafo): pandapower's loop of runpp with one branch out ÷ our batched ``n_minus_1``.
- ``speedup_n1_district_vs_pgm``: full N-1 of a 10 kV distribution grid (default: the
  Liangxi district's grid, ``cim.load_district("liangxi").power_grid``: 1,954 buses, 2,961
  branches incl. 12 transformers, meshed per substation area; ``--district generated``: a
  generated one, ~2,000 buses, radial feeders with ties; ``--grid PATH`` reads one with
  cim.load): power-grid-model's batch ``calculate_power_flow(update_data=…)`` (one line or
  transformer out per scenario, all hardware threads; transformers as generic branches)
  ÷ our ``n_minus_1``.
Grids are read with cim.load from pandapower JSON (written from pandapower.networks).
Results are checked against the peers (max |Δvm|) before timing is reported.

Usage: python benchmarks/power_pandapower.py [--quick] [--json PATH] [--grid PATH]
                                            [--district liangxi|generated] [--repeats N]
  --quick: pandapower's N-1 loop over 40 outages and power-grid-model's batch over 300
  scenarios (both extrapolated to all), a smaller generated grid (10 feeders x 60 buses),
  1 repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _power_district import district_grid, pgm_input, pgm_outages  # noqa: E402

import cim  # noqa: E402
from twin.kernels.power import PowerFlow, n_minus_1, powerflow  # noqa: E402


def _timed(fn, repeats):
    walls, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), out


def _load_case(name, tmp):
    import pandapower as pp
    import pandapower.networks as pn

    net = getattr(pn, name)()
    path = os.path.join(tmp, f"{name}.json")
    pp.to_json(net, path)
    return net, cim.load(path).power_grid


def _pp_vm(net, grid):
    return net.res_bus.vm_pu.loc[[int(b) for b in grid.node_ids]].to_numpy(float)


def bench_acpf(tmp, repeats):
    import pandapower as pp

    net, grid = _load_case("case9241pegase", tmp)
    pp.runpp(net, algorithm="nr")  # warm-up
    powerflow(grid)  # warm-up (numba cache / JIT)
    # interleaved, so that both see the same load; wall and thread CPU time
    reps = max(repeats, 5)
    t_pp, t_ours, c_pp, c_ours, ds = [], [], [], [], None
    for _ in range(reps):
        for times, cpus, fn in ((t_pp, c_pp, lambda: pp.runpp(net, algorithm="nr")),
                                (t_ours, c_ours, lambda: powerflow(grid))):
            t0, c0 = time.perf_counter(), time.thread_time()
            out = fn()
            times.append(time.perf_counter() - t0)
            cpus.append(time.thread_time() - c0)
            ds = out if out is not None else ds
    pf = PowerFlow(grid)
    pf.solve(init="dc_mean")
    t_solve, _ = _timed(lambda: pf.solve(init="dc_mean"), reps)
    dvm = float(np.nanmax(np.abs(ds.vm_pu.values - _pp_vm(net, grid))))
    med = statistics.median
    return {"pandapower_s": med(t_pp), "ours_s": med(t_ours), "ours_solve_s": t_solve,
            "pandapower_cpu_s": med(c_pp), "ours_cpu_s": med(c_ours), "repeats": reps,
            "buses": grid.n_nodes, "iterations": int(ds.iterations),
            "pandapower_iterations": int(net._ppc["iterations"]), "max_dvm": dvm}


def bench_n1_118(tmp, repeats, quick):
    import pandapower as pp

    net, grid = _load_case("case118", tmp)
    n_minus_1(grid)  # warm-up
    t_ours, ds = _timed(lambda: n_minus_1(grid), repeats)
    members = [str(m) for m in ds.member.values]
    todo = members[:40] if quick else members
    pp.runpp(net, algorithm="nr")
    worst = 0.0
    t0 = time.perf_counter()
    for k, out in enumerate(todo):
        kind, _, i = out.rpartition("_")
        table = net.line if kind == "line" else net.trafo
        table.loc[int(i), "in_service"] = False
        pp.runpp(net, algorithm="nr")
        vm = _pp_vm(net, grid)
        table.loc[int(i), "in_service"] = True
        worst = max(worst, float(np.nanmax(np.abs(ds.vm_pu.values[k] - vm))))
    t_pp = (time.perf_counter() - t0) * len(members) / len(todo)
    return {"pandapower_s": t_pp, "ours_s": t_ours, "members": len(members),
            "pandapower_extrapolated": len(todo) < len(members), "max_dvm": worst}


def bench_n1_district(grid, repeats, quick=False):
    from power_grid_model import ComponentType, PowerGridModel

    n_minus_1(grid)  # warm-up
    t_ours, ds = _timed(lambda: n_minus_1(grid), repeats)
    index = {str(b): i for i, b in enumerate(grid.link_ids)}
    branches = np.array([index[str(m)] for m in ds.member.values])
    todo = min(len(branches), 300) if quick else len(branches)
    model = PowerGridModel(pgm_input(grid))
    update = pgm_outages(grid, branches[:todo])
    t_pgm, res = _timed(lambda: model.calculate_power_flow(update_data=update, threading=0),
                        repeats)
    t_pgm *= len(branches) / todo
    u = res[ComponentType.node]["u_pu"]
    ours = np.where(np.isnan(ds.vm_pu.values[:todo]), 0.0, ds.vm_pu.values[:todo])
    return {"pgm_s": t_pgm, "ours_s": t_ours, "members": len(branches), "buses": grid.n_nodes,
            "pgm_extrapolated": todo < len(branches), "max_dvm": float(np.abs(ours - u).max())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer outages, smaller district")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--grid", help="district grid file (cim.load); default: --district")
    ap.add_argument("--district", choices=("liangxi", "generated"), default=None,
                    help="the N-1 district grid: Liangxi's (default) or a generated one "
                         "(default with --quick)")
    ap.add_argument("--repeats", type=int, default=None)
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    repeats = a.repeats or (1 if a.quick else 3)
    which = a.district or ("generated" if a.quick else "liangxi")
    if a.grid:
        district = cim.load(a.grid).power_grid
    elif which == "liangxi":
        district = cim.load_district("liangxi").power_grid
    else:
        district = district_grid(10, 60) if a.quick else district_grid()
    print(f"power_pandapower: repeats {repeats}; district grid "
          f"{a.grid or which}: {district.n_nodes} buses, {district.n_links} branches",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ac = bench_acpf(tmp, repeats)
        print(f"  case9241 AC: pandapower {ac['pandapower_s']:.3f} s, ours "
              f"{ac['ours_s']:.4f} s (solve only {ac['ours_solve_s']:.4f} s); thread CPU: "
              f"pandapower {ac['pandapower_cpu_s']:.3f} s, ours {ac['ours_cpu_s']:.4f} s; "
              f"iterations {ac['iterations']} (pandapower {ac['pandapower_iterations']})",
              flush=True)
        n1 = bench_n1_118(tmp, repeats, a.quick)
        print(f"  case118 N-1: pandapower {n1['pandapower_s']:.2f} s, ours "
              f"{n1['ours_s']:.3f} s", flush=True)
    dist = bench_n1_district(district, repeats, a.quick)
    print(f"  district N-1: pgm {dist['pgm_s']:.2f} s, ours {dist['ours_s']:.2f} s", flush=True)
    figures = {
        "speedup_acpf_case9241_vs_pandapower": ac["pandapower_s"] / ac["ours_s"],
        "speedup_acpf_case9241_cpu_vs_pandapower": ac["pandapower_cpu_s"] / ac["ours_cpu_s"],
        "speedup_acpf_case9241_solve_only_vs_pandapower": ac["pandapower_s"]
        / ac["ours_solve_s"],
        "speedup_n1_case118_vs_pandapower": n1["pandapower_s"] / n1["ours_s"],
        "speedup_n1_district_vs_pgm": dist["pgm_s"] / dist["ours_s"],
    }
    print()
    print(f"{'task':34s} {'peer s':>9s} {'ours s':>9s} {'speedup':>8s} {'max |dvm|':>10s}")
    rows = [("AC PF case9241 (powerflow call)", ac["pandapower_s"], ac["ours_s"], ac["max_dvm"]),
            ("AC PF case9241 (compiled solve)", ac["pandapower_s"], ac["ours_solve_s"],
             ac["max_dvm"]),
            (f"N-1 case118 ({n1['members']} members)", n1["pandapower_s"], n1["ours_s"],
             n1["max_dvm"]),
            (f"N-1 district ({dist['members']} vs PGM)", dist["pgm_s"], dist["ours_s"],
             dist["max_dvm"])]
    for name, peer, ours, dvm in rows:
        print(f"{name:34s} {peer:9.4f} {ours:9.4f} {peer / ours:7.1f}x {dvm:10.2e}")
    if n1["pandapower_extrapolated"]:
        print("(pandapower's N-1 loop timed over 40 outages and extrapolated)")
    if dist["pgm_extrapolated"]:
        print("(power-grid-model's batch timed over 300 scenarios and extrapolated)")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"benchmark": "power_pandapower", "figures": figures,
                       "acpf_case9241": ac, "n1_case118": n1, "n1_district": dist}, f,
                      indent=1)


if __name__ == "__main__":
    main()
