"""Water hydraulics vs EPANET 2.2 (wntr's EpanetSimulator) on Net3 and Net6, and a batch of
burst scenarios solved together on the Liangxi district's network.

Single runs: the whole extended-period simulation of the .inp (Net3: 168 h, Net6: 96 h),
ours through ``twin.hydraulics`` (network compile + symbolic factorization + every step +
the Dataset), EPANET through ``wntr.sim.EpanetSimulator(wn).run_sim()`` — which writes the
.inp, runs the EPANET 2.2 toolkit and reads its binary output back (that file I/O is part of
EPANET's figure, as it is of any use of EPANET from Python). Also timed, as a second,
stricter baseline: the EPANET engine alone (toolkit ENopen + ENsolveH + ENclose on the .inp;
no Python writing or reading, results left in EPANET's scratch file). numba's JIT compile /
cache load is done in a warm-up outside the timed region.

Batch: N burst scenarios (an emitter of 0.01 m³/s per m^0.5 at N distinct junctions, over
``--batch-hours`` h of the EPS) on ``cim.load_district("liangxi").water_network`` (1,966
nodes, 2,974 links, 15 pumps, 2 PRVs; written once to an .inp for EPANET) or ``--network``
(``net6`` or an .inp), ours as one ``hydraulics(..., scenarios=...)`` call with N members
(the median of ``--repeats``; with threads = one per CPU, and once with one thread).
EPANET is not run N times: a sample of ``--epanet-sample`` of the same scenarios (default
50) is run one by one (an EpanetSimulator run with that emitter; and the engine alone with
the emitter set through ENsetnodevalue) and its mean time per scenario extrapolated to N —
the scenarios differ only by the burst's node, so the per-scenario time is steady. The
sampled EPANET results also give the batch's largest head difference from EPANET.

Figures: ratio_single_net3_vs_epanet, ratio_single_net6_vs_epanet (our wall time / EPANET's,
lower is better), ratio_batched_vs_epanet (our scenarios/s / EPANET's, higher is better;
``*_engine``: against the engine alone; ``ratio_batched_serial_*``: ours on one thread),
max_head_err_m (largest head difference at any report step of the single runs),
max_head_err_batch_m (of the sampled burst scenarios); ``cpu_ratio_*``: the same ratios in
process CPU time (ours on one thread), steadier than wall time on a shared machine.

Usage: python benchmarks/water_epanet.py [--quick] [--json PATH] [--network liangxi|net6|INP]
  --quick: batch of 50 over 6 h, 3 EPANET samples, 1 repeat (CI).
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
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import peak_rss_mb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_SHARED_NET3 = ROOT.parent / "shared" / "validation" / "water" / "Net3.inp"


def _wntr_net(name: str) -> Path:
    import wntr
    return Path(wntr.__file__).parent / "library" / "networks" / f"{name}.inp"


# the shared validation copy, else the same file as wntr ships it (a clone without ../shared)
NET3 = _SHARED_NET3 if _SHARED_NET3.exists() else _wntr_net("Net3")
EN_EMITTER, EN_DURATION = 3, 0     # EPANET toolkit codes
_CPU: list = []                     # process CPU s of the last timed EPANET runs


def _cpu_runs(fn, *a):
    """(wall s, CPU s, result) of fn(*a) (CPU: this process's, all threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    r = fn(*a)
    return time.perf_counter() - t0, time.process_time() - c0, r


def _net6() -> Path:
    return _wntr_net("Net6")


def _epanet(path, tmp, duration=None, emitter=None):
    """(wall s, results) of wntr's EpanetSimulator on ``path``."""
    import wntr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wn = wntr.network.WaterNetworkModel(str(path))
        if duration is not None:
            wn.options.time.duration = int(duration)
        if emitter is not None:
            wn.get_node(emitter[0]).emitter_coefficient = emitter[1]
        t0, c0 = time.perf_counter(), time.process_time()
        res = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(Path(tmp) / "epa"))
        _CPU.append(time.process_time() - c0)
        return time.perf_counter() - t0, res


def _engine(path, tmp, duration=None, emitter=None):
    """Wall s of the EPANET engine alone: ENopen, (duration, emitter in the file's units),
    ENsolveH, ENclose."""
    from wntr.epanet import toolkit, util
    t0, c0 = time.perf_counter(), time.process_time()
    en = toolkit.ENepanet()
    en.ENopen(str(path), str(Path(tmp) / "en.rpt"), str(Path(tmp) / "en.bin"))
    if duration is not None:
        en.ENsettimeparam(EN_DURATION, int(duration))
    if emitter is not None:
        units = {u.value[0]: u for u in util.FlowUnits}[en.ENgetflowunits()]
        c = util.from_si(units, emitter[1], util.HydParam.EmitterCoeff)
        en.ENsetnodevalue(en.ENgetnodeindex(str(emitter[0])), EN_EMITTER, float(c))
    en.ENsolveH()
    en.ENclose()
    _CPU.append(time.process_time() - c0)
    return time.perf_counter() - t0


def single(path, tmp, repeats):
    """(our wall s, EPANET wall s, max head error m, engine wall s) for the full EPS."""
    import cim
    import twin
    net = cim.load(path).water_network
    ours, cpu, ds = [], [], None
    for _ in range(repeats):
        w, c, ds = _cpu_runs(twin.hydraulics, net)
        ours.append(w)
        cpu.append(c)
    epa, eng, ecpu, gcpu = [], [], [], []
    for _ in range(repeats):
        w, res = _epanet(path, tmp)
        epa.append(w)
        ecpu.append(_CPU[-1])
        eng.append(_engine(path, tmp))
        gcpu.append(_CPU[-1])
    ref = res.node["head"][list(net.node_ids)].values
    err = float(np.abs(ds["head"].values - ref).max())
    med = statistics.median
    return med(ours), med(epa), err, med(eng), med(cpu), med(ecpu), med(gcpu)


def batch_network(name, tmp):
    """(WaterNetwork, .inp path for EPANET, label) of ``name``: liangxi, net6 or an .inp."""
    import cim
    if name.lower() == "liangxi":
        net = cim.load_district("liangxi").water_network
        path = Path(tmp) / "liangxi.inp"
        cim.write_inp(net, path)
        return net, path, "Liangxi"
    path = _net6() if name.lower() == "net6" else Path(name)
    return cim.load(path).water_network, path, path.stem


def batched(name, tmp, n, hours, n_epanet, repeats):
    """Figures of n burst scenarios at distinct junctions (see the module docstring)."""
    import twin
    net, path, label = batch_network(name, tmp)
    junc = np.flatnonzero(net.node_type == "junction")
    rng = np.random.default_rng(42)
    nodes = net.node_ids[rng.choice(junc, size=n, replace=n > len(junc))]
    scen = [{"bursts": [(str(x), 0.01)]} for x in nodes]
    dur = hours * 3600.0
    ours, ds = [], None
    for _ in range(repeats):
        ds = None
        t0 = time.perf_counter()
        ds = twin.hydraulics(net, duration=dur, scenarios=scen)
        ours.append(time.perf_counter() - t0)
    serial, serial_cpu, _ = _cpu_runs(twin.hydraulics, net, dur, None, None, scen, 1)
    walls, eng, err, ecpu, gcpu = [], [], 0.0, [], []
    ids = list(net.node_ids)
    for k, x in enumerate(nodes[:n_epanet]):
        w, res = _epanet(path, tmp, dur, (str(x), 0.01))
        walls.append(w)
        ecpu.append(_CPU[-1])
        eng.append(_engine(path, tmp, dur, (str(x), 0.01)))
        gcpu.append(_CPU[-1])
        err = max(err, float(np.abs(ds["head"].values[k] - res.node["head"][ids].values).max()))
    o = statistics.median(ours)
    return {"label": label, "n": n, "ours_s": o, "ours_serial_s": serial,
            "ours_runs_s": ours, "epanet_mean_s": statistics.mean(walls),
            "epanet_sd_s": statistics.pstdev(walls), "engine_mean_s": statistics.mean(eng),
            "n_epanet": len(walls), "max_head_err_m": err, "threads": os.cpu_count(),
            "ours_serial_cpu_s": serial_cpu, "epanet_cpu_s": statistics.mean(ecpu),
            "engine_cpu_s": statistics.mean(gcpu)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch of 50 over 6 h, 1 repeat")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--network", default="liangxi",
                    help="batch network: liangxi (default), net6 or an .inp path")
    ap.add_argument("--batch", type=int, default=None, help="burst scenarios (1000)")
    ap.add_argument("--batch-hours", type=float, default=None, help="EPS hours of the batch")
    ap.add_argument("--epanet-sample", type=int, default=None,
                    help="EPANET runs timed and extrapolated (50; quick 3)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs (median; 3)")
    a = ap.parse_args(argv)
    n = a.batch or (50 if a.quick else 1000)
    hours = a.batch_hours or (6.0 if a.quick else 24.0)
    n_epa = a.epanet_sample or (3 if a.quick else 50)
    reps = a.repeats or (1 if a.quick else 3)
    import cim
    import twin
    t0 = time.perf_counter()
    warm = cim.load(NET3).water_network
    for threads in (None, 1):     # compile (or load) both the parallel and the serial paths
        twin.hydraulics(warm, duration=7200, scenarios=[{}] * 8, threads=threads)
    print(f"water_epanet: warm-up (numba JIT compile or cache load) "
          f"{time.perf_counter() - t0:.2f} s", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        r3 = single(NET3, tmp, max(reps, 3))
        rows.append(("Net3 single EPS", *r3))
        print(f"  Net3: ours {r3[0]:.3f} s, EPANET {r3[1]:.3f} s (engine {r3[3]:.3f} s)",
              flush=True)
        r6 = single(_net6(), tmp, reps)
        rows.append(("Net6 single EPS", *r6))
        print(f"  Net6: ours {r6[0]:.3f} s, EPANET {r6[1]:.3f} s (engine {r6[3]:.3f} s)",
              flush=True)
        b = batched(a.network, tmp, n, hours, n_epa, reps)
    rate, rate1 = n / b["ours_s"], n / b["ours_serial_s"]
    erate, grate = 1.0 / b["epanet_mean_s"], 1.0 / b["engine_mean_s"]
    print(f"  batch of {n} bursts on {b['label']} ({hours:g} h): ours "
          f"{', '.join(f'{x:.2f}' for x in b['ours_runs_s'])} s ({b['threads']} threads), "
          f"{b['ours_serial_s']:.2f} s (1 thread); EPANET {b['epanet_mean_s']:.3f} ± "
          f"{b['epanet_sd_s']:.3f} s per scenario (engine alone {b['engine_mean_s']:.3f} s), "
          f"mean of {b['n_epanet']} sampled scenarios, extrapolated to {n}: "
          f"{b['epanet_mean_s'] * n:.0f} s ({b['engine_mean_s'] * n:.0f} s)")
    print()
    print(f"{'case':34s} {'ours s':>9s} {'EPANET s':>9s} {'ratio':>7s} {'engine s':>9s} "
          f"{'ratio':>7s} {'max dh m':>9s}")
    for name, o, e, err, g, *_ in rows:
        print(f"{name:34s} {o:9.3f} {e:9.3f} {o / e:7.2f} {g:9.3f} {o / g:7.2f} {err:9.2e}")
    print(f"{'batch ' + str(n) + ' bursts (scen/s)':34s} {rate:9.2f} {erate:9.2f} "
          f"{rate / erate:7.1f} {grate:9.2f} {rate / grate:7.1f} {b['max_head_err_m']:9.2e}")
    print(f"{'  the same on 1 thread':34s} {rate1:9.2f} {erate:9.2f} {rate1 / erate:7.1f} "
          f"{grate:9.2f} {rate1 / grate:7.1f}")
    figures = {"ratio_single_net3_vs_epanet": r3[0] / r3[1],
               "ratio_single_net6_vs_epanet": r6[0] / r6[1],
               "ratio_batched_vs_epanet": rate / erate,
               "max_head_err_m": max(r3[2], r6[2]),
               "batched_scenarios_per_s": rate, "epanet_scenarios_per_s": erate,
               "ratio_single_net3_vs_epanet_engine": r3[0] / r3[3],
               "ratio_single_net6_vs_epanet_engine": r6[0] / r6[3],
               "ratio_batched_vs_epanet_engine": rate / grate,
               "ratio_batched_serial_vs_epanet": rate1 / erate,
               "ratio_batched_serial_vs_epanet_engine": rate1 / grate,
               "epanet_engine_scenarios_per_s": grate,
               "max_head_err_batch_m": b["max_head_err_m"],
               "cpu_ratio_single_net3_vs_epanet": r3[4] / r3[5],
               "cpu_ratio_single_net3_vs_epanet_engine": r3[4] / r3[6],
               "cpu_ratio_single_net6_vs_epanet": r6[4] / r6[5],
               "cpu_ratio_single_net6_vs_epanet_engine": r6[4] / r6[6],
               "cpu_ratio_batched_serial_vs_epanet": b["epanet_cpu_s"] * n
               / b["ours_serial_cpu_s"],
               "cpu_ratio_batched_serial_vs_epanet_engine": b["engine_cpu_s"] * n
               / b["ours_serial_cpu_s"],
               "peak_rss_mb": peak_rss_mb()}
    print("CPU-time ratios (process CPU s, one thread; steadier than wall time on a loaded "
          "machine): " + ", ".join(f"{k[10:]} {v:.2f}" for k, v in figures.items()
                                   if k.startswith("cpu_ratio_")))
    print(f"\nsingle runs: {figures['ratio_single_net3_vs_epanet']:.2f}x (Net3), "
          f"{figures['ratio_single_net6_vs_epanet']:.2f}x (Net6) EPANET's time; batched "
          f"{figures['ratio_batched_vs_epanet']:.1f}x EPANET's scenarios/s "
          f"({figures['ratio_batched_vs_epanet_engine']:.1f}x the engine alone's); max head "
          f"error {figures['max_head_err_m']:.1e} m (batch sample "
          f"{figures['max_head_err_batch_m']:.1e} m)")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"benchmark": "water_epanet", "figures": figures,
                       "config": {"batch": n, "batch_hours": hours, "network": b["label"],
                                  "repeats": reps, "epanet_sample": b["n_epanet"],
                                  "threads": b["threads"]}}, f, indent=1)
    return figures


if __name__ == "__main__":
    main()
