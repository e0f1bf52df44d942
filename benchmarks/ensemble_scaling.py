"""Benchmark: ensembles on dask.distributed — members per minute on 1 and 2 workers, scaling
efficiency, and what batching members in one task gains.

    python benchmarks/ensemble_scaling.py [--quick] [--json PATH]

The members are seeds of the Lihu morning peak's quick version (``scenarios/
lihu_morning_peak.py --quick``: 07:45–08:15, ~5,300 trips at its scale 0.5 / 2), run with ``twin.run_ensemble``
on a LocalCluster (worker processes, one thread each, on loopback) into one store. Each
cluster first runs one member per worker (not timed): the workers import the engine, load
the district, build the scenario (cached in each worker) and load the compiled kernels.

Figures: members_per_min_1w, members_per_min_2w (N members, one member per task, wall time
of ``run_ensemble`` from submission to the consolidated store: runs, region writes, the
tables' gather), scaling_efficiency_2w (members_per_min_2w / (2 × members_per_min_1w)),
batched_vs_separate (1 worker: members per minute with all N members batched in one task ÷
one member per task), members_per_min_batched_1w, s_per_member_task (mean wall time of one
member's task on a worker), mb_per_member (bytes each member writes into the store's
arrays), gather_s_per_member (the driver's serial concatenation of tables and events).
``--quick``: N = 4, else N = 8. (On a machine with fewer than 2 free cores the 2-worker
figures measure contention, not scaling.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "lihu_morning_peak.py"


def _cluster(n: int):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None,
                           env={"NUMBA_NUM_THREADS": "1"})
    return cluster, Client(cluster)


def _ensemble(client, tmp: Path, tag: str, members: int, batch: int) -> tuple[float, dict]:
    import twin

    t0 = time.perf_counter()
    run = twin.run_ensemble(str(SCENARIO), members=members, quick=True, client=client,
                            batch=batch, out=tmp / f"{tag}.zarr", overwrite=True)
    wall = time.perf_counter() - t0
    return wall, run.profile


def measure(n: int) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for workers in (1, 2):
            cluster, client = _cluster(workers)
            try:
                _ensemble(client, tmp, f"warm{workers}", workers, 1)  # not timed
                wall, prof = _ensemble(client, tmp, f"sep{workers}", n, 1)
                out[f"sep{workers}"] = (wall, prof)
                if workers == 1:
                    out["bat1"] = _ensemble(client, tmp, "bat1", n, n)
            finally:
                client.close()
                cluster.close()
    return out


def figures(n: int, m: dict) -> dict:
    w1, p1 = m["sep1"]
    w2, _ = m["sep2"]
    wb, _ = m["bat1"]
    per_min = lambda w: n / w * 60.0  # noqa: E731
    task_s = sum(p1["task_wall_s"].values()) / max(1, len(p1["task_wall_s"]))
    return {
        "members_per_min_1w": round(per_min(w1), 2),
        "members_per_min_2w": round(per_min(w2), 2),
        "scaling_efficiency_2w": round(per_min(w2) / (2 * per_min(w1)), 3),
        "batched_vs_separate": round(per_min(wb) / per_min(w1), 3),
        "members_per_min_batched_1w": round(per_min(wb), 2),
        "s_per_member_task": round(task_s, 3),
        "mb_per_member": round(p1["write_bytes"] / n / 2**20, 2),
        "gather_s_per_member": round(p1["gather_s"] / n, 4),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 members (else 8)")
    ap.add_argument("--json", help="write the figures to this JSON file")
    args = ap.parse_args(argv)
    n = 4 if args.quick else 8
    t0 = time.perf_counter()
    fig = figures(n, measure(n))
    result = {"benchmark": "ensemble_scaling", "figures": fig,
              "version": "quick" if args.quick else "full", "members": n,
              "scenario": "lihu_morning_peak --quick", "cpus": os.cpu_count(),
              "wall_s": round(time.perf_counter() - t0, 1)}
    for k, v in fig.items():
        print(f"{k:28s} {v}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
