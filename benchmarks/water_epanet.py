"""Water hydraulics vs EPANET 2.2 (wntr's EpanetSimulator) on Net3 and Net6, and a batch of
burst scenarios solved together.

Single runs: the whole extended-period simulation of the .inp (Net3: 168 h, Net6: 96 h),
ours through ``twin.hydraulics`` (network compile + symbolic factorization + every step),
EPANET through ``wntr.sim.EpanetSimulator(wn).run_sim()`` — which writes the .inp, runs the
EPANET 2.2 toolkit and reads its binary output back (that file I/O is part of EPANET's
figure, as it is of any use of EPANET from Python; it is a small share on these networks).
numba's JIT compile / cache load is done in a warm-up outside the timed region.

Batch: N burst scenarios (an emitter of 0.01 m³/s per m^0.5 on N different junctions, over
``--batch-hours`` h of the EPS), ours as one ``hydraulics(..., scenarios=...)`` call with N
members; EPANET's rate is measured on a few of the same scenarios run one by one (each an
EpanetSimulator run with that emitter) and extrapolated per scenario.

Figures: ratio_single_net3_vs_epanet, ratio_single_net6_vs_epanet (our wall time / EPANET's,
lower is better), ratio_batched_vs_epanet (our scenarios/s / EPANET's, higher is better),
max_head_err_m (largest head difference at any report step of the single runs).

Usage: python benchmarks/water_epanet.py [--quick] [--json PATH] [--network INP]
  --quick: batch of 50 over 6 h (CI); --network: the batch network (default wntr's Net6).
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
NET3 = ROOT.parent / "shared" / "validation" / "water" / "Net3.inp"


def _net6() -> Path:
    import wntr
    return Path(wntr.__file__).parent / "library" / "networks" / "Net6.inp"


def _epanet(path, tmp, duration=None, emitter=None):
    import wntr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wn = wntr.network.WaterNetworkModel(str(path))
        if duration is not None:
            wn.options.time.duration = int(duration)
        if emitter is not None:
            wn.get_node(emitter[0]).emitter_coefficient = emitter[1]
        t0 = time.perf_counter()
        res = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(Path(tmp) / "epa"))
        return time.perf_counter() - t0, res


def single(path, tmp, repeats):
    """(our wall s, EPANET wall s, max head error m) for the full EPS of ``path``."""
    import cim
    import twin
    net = cim.load(path).water_network
    ours, ds = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        ds = twin.hydraulics(net)
        ours.append(time.perf_counter() - t0)
    epa = []
    for _ in range(repeats):
        w, res = _epanet(path, tmp)
        epa.append(w)
    ref = res.node["head"][list(net.node_ids)].values
    err = float(np.abs(ds["head"].values - ref).max())
    return statistics.median(ours), statistics.median(epa), err


def batched(path, tmp, n, hours, n_epanet):
    """(our scenarios/s, EPANET scenarios/s, our wall s) for n burst scenarios."""
    import cim
    import twin
    net = cim.load(path).water_network
    junc = np.flatnonzero(net.node_type == "junction")
    rng = np.random.default_rng(42)
    nodes = net.node_ids[rng.choice(junc, size=n, replace=n > len(junc))]
    scen = [{"bursts": [(str(x), 0.01)]} for x in nodes]
    t0 = time.perf_counter()
    twin.hydraulics(net, duration=hours * 3600.0, scenarios=scen)
    ours = time.perf_counter() - t0
    walls = [_epanet(path, tmp, hours * 3600, (str(x), 0.01))[0] for x in nodes[:n_epanet]]
    return n / ours, 1.0 / statistics.mean(walls), ours


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch of 50 over 6 h")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--network", help="batch network .inp (default wntr's Net6)")
    ap.add_argument("--batch", type=int, default=None, help="burst scenarios (1000)")
    ap.add_argument("--batch-hours", type=float, default=None, help="EPS hours of the batch")
    ap.add_argument("--repeats", type=int, default=3, help="timed single runs (median)")
    a = ap.parse_args(argv)
    n = a.batch or (50 if a.quick else 1000)
    hours = a.batch_hours or (6.0 if a.quick else 24.0)
    bnet = Path(a.network) if a.network else _net6()
    import cim
    import twin
    t0 = time.perf_counter()
    twin.hydraulics(cim.load(NET3).water_network, duration=7200, scenarios=[{}, {}])
    print(f"water_epanet: warm-up (numba JIT compile or cache load) "
          f"{time.perf_counter() - t0:.2f} s", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        r3 = single(NET3, tmp, a.repeats)
        rows.append(("Net3 single EPS", *r3))
        print(f"  Net3: ours {r3[0]:.3f} s, EPANET {r3[1]:.3f} s", flush=True)
        r6 = single(_net6(), tmp, 1 if a.quick else a.repeats)
        rows.append(("Net6 single EPS", *r6))
        print(f"  Net6: ours {r6[0]:.3f} s, EPANET {r6[1]:.3f} s", flush=True)
        b = batched(bnet, tmp, n, hours, 3 if a.quick else 10)
        print(f"  batch of {n} bursts on {bnet.stem} ({hours:g} h): ours {b[2]:.2f} s",
              flush=True)
    print()
    print(f"{'case':28s} {'ours s':>9s} {'EPANET s':>9s} {'ratio':>7s} {'max dh m':>9s}")
    for name, o, e, err in rows:
        print(f"{name:28s} {o:9.3f} {e:9.3f} {o / e:7.2f} {err:9.2e}")
    print(f"{'batch ' + str(n) + ' bursts (scen/s)':28s} {b[0]:9.2f} {b[1]:9.2f} "
          f"{b[0] / b[1]:7.1f}")
    figures = {"ratio_single_net3_vs_epanet": r3[0] / r3[1],
               "ratio_single_net6_vs_epanet": r6[0] / r6[1],
               "ratio_batched_vs_epanet": b[0] / b[1],
               "max_head_err_m": max(r3[2], r6[2]),
               "batched_scenarios_per_s": b[0], "epanet_scenarios_per_s": b[1],
               "peak_rss_mb": peak_rss_mb()}
    print(f"\nsingle runs: {figures['ratio_single_net3_vs_epanet']:.2f}x (Net3), "
          f"{figures['ratio_single_net6_vs_epanet']:.2f}x (Net6) EPANET's time; batched "
          f"{figures['ratio_batched_vs_epanet']:.1f}x EPANET's scenarios/s; max head error "
          f"{figures['max_head_err_m']:.1e} m")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"benchmark": "water_epanet", "figures": figures,
                       "config": {"batch": n, "batch_hours": hours, "network": bnet.name,
                                  "repeats": a.repeats}}, f, indent=1)
    return figures


if __name__ == "__main__":
    main()
