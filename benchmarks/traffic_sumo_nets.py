"""Traffic kernel vs SUMO on networks built with SUMO's own tools, same routes in both.

Networks (``netgenerate`` from the eclipse-sumo wheel, every junction a traffic light with
SUMO's default programs, 2 lanes, 13.9 m/s, no turnarounds):

- ``spider``: ``--spider`` (arms × circles, rings 150 m apart);
- ``rand``: ``--rand`` (random planar network, seed 1);
- ``rand_congested``: the same random network at three times the demand;
- ``lihu``, ``liangxi``: the two pilot districts (``cim.load_district``) written for SUMO by
  ``cim.write_sumo`` (our link ids as edge ids, our lanes and connections, our signal plans
  as static SUMO programs); both engines then read that same ``.net.xml``.

Demand: ``randomTrips.py`` (fringe factor 10, trips of at least 300 m, ``departLane="best"
departSpeed="max"``) routed by ``duarouter`` (``randomTrips.py -r``), so both engines get
the same vehicles on the same routes. SUMO runs the ``.rou.xml`` (``sumo``, 1 s steps,
time-to-teleport 300 s, its defaults otherwise); the twin loads the same files as a user
would: ``cim.load(net.xml)``, ``agents.read_trips(rou.xml, city)`` (routes kept), kernel
network with SUMO's connections and programs, ``kernel_trips``, ``init_state``, run (1 s
steps) until every trip has arrived.

Figures per network: end-to-end wall time (ours split into ``cim.load``, ``read_trips``,
network + trips + state, and run; SUMO: the whole ``sumo`` process, load + run,
fastest of ``--sumo-repeats``; ours: load + demand + network + run in this process, numba's
JIT compilation done in a warm-up before, fastest of ``--repeats``) and their ratio, CPU
times, completed trips, teleports, SUMO's mean time loss (tripinfo ``timeLoss``: how congested
the case is), mean trip time (tripinfo ``duration``: arrival − entry;
ours the same) and its relative difference, and the Pearson correlation of per-edge counts
(SUMO ``edgedata``: ``left + arrived``; ours: vehicles crossing the link's downstream end,
arrivals included). Summary: ``min_ratio_vs_sumo``, ``min_cpu_ratio_vs_sumo``,
``max_tt_rel_diff_vs_sumo``, ``min_edge_count_corr``, ``lost_trips`` (trips neither
completed, unfinished, teleported nor rejected with a reason: must be 0), ``failed_nets``
(the number of cases whose process died: each case runs in a child process of its own when
several are run, so one crash leaves the others' figures), and per network
``ratio_vs_sumo_NET``, the stage times ``ours_load_s_NET``… ``--json`` writes ``{"benchmark",
"figures", "quick", "nets"}`` (``nets``: every figure of every case). Ours stops when every
trip has arrived, checked every ``CHECK_S`` = 30 simulated seconds (SUMO stops at the last
arrival).

Usage: python benchmarks/traffic_sumo_nets.py [--quick] [--json PATH] [--nets a,b]
  --quick: smaller networks and 10 min of demand (CI size, about a minute; the districts
  at a light demand).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _grid import sumo_bin  # noqa: E402

import agents  # noqa: E402
import cim  # noqa: E402
from twin.kernels import traffic as tr  # noqa: E402
from twin.kernels.traffic.consts import STUCK  # noqa: E402
from twin.kernels.traffic.demand import kernel_network, kernel_trips  # noqa: E402
from twin.kernels.traffic.plans import signal_plans  # noqa: E402

T_CAP = 4 * 3600.0  # s: hard cap on simulated time
CHECK_S = 30  # s: simulated time between checks for "every trip has arrived"
_PER_NET = ("ratio_vs_sumo", "cpu_ratio_vs_sumo", "tt_rel_diff_vs_sumo", "edge_count_corr",
            "sumo_wall_s", "ours_wall_s", "ours_load_s", "ours_read_trips_s", "ours_build_s",
            "ours_run_s")
_COMMON = ["--default.lanenumber", "2", "--default.speed", "13.9",
           "--default.junctions.type", "traffic_light", "--no-turnarounds", "--no-warnings"]


def networks(quick: bool) -> list[dict]:
    """The benchmark cases: name, netgenerate arguments (or ``district``: a pilot district
    written by ``cim.write_sumo``), trip period (s), demand end (s)."""
    end = 600.0 if quick else 1800.0
    spider = ["--spider", "--spider.arm-number", "5" if quick else "7",
              "--spider.circle-number", "4" if quick else "6", "--spider.space-radius", "150"]
    rand = ["--rand", "--rand.iterations", "60" if quick else "200", "--seed", "1",
            "--rand.min-distance", "150", "--rand.max-distance", "300"]
    return [{"name": "spider", "args": spider, "period": 1.0 if quick else 0.6, "end": end},
            {"name": "rand", "args": rand, "period": 1.5 if quick else 0.8, "end": end},
            {"name": "rand_congested", "args": rand, "period": 0.5 if quick else 0.27,
             "end": end},
            {"name": "liangxi", "district": "liangxi", "period": 2.0 if quick else 0.6,
             "end": end},
            {"name": "lihu", "district": "lihu", "period": 2.0 if quick else 0.6, "end": end}]


def build(case: dict, work: str) -> tuple[str, str]:
    """Write the case's network and routes; return their paths."""
    import sumo  # noqa: PLC0415  (sets SUMO_HOME)

    net = os.path.join(work, f"{case['name']}.net.xml")
    rou = os.path.join(work, f"{case['name']}.rou.xml")
    if case.get("district"):
        cim.write_sumo(cim.load_district(case["district"]), net)
    else:
        subprocess.run([sumo_bin("netgenerate"), *case["args"], *_COMMON, "-o", net],
                       check=True, capture_output=True)
    env = dict(os.environ, SUMO_HOME=sumo.SUMO_HOME)
    subprocess.run([sys.executable, os.path.join(sumo.SUMO_HOME, "tools", "randomTrips.py"),
                    "-n", net, "-o", os.path.join(work, f"{case['name']}.trips.xml"),
                    "-r", rou, "--period", str(case["period"]), "--end", str(case["end"]),
                    "--seed", "42", "--fringe-factor", "10", "--min-distance", "300",
                    "--trip-attributes", 'departLane="best" departSpeed="max"'],
                   check=True, capture_output=True, env=env)
    return net, rou


def run_sumo(net: str, rou: str, work: str) -> dict:
    """Run SUMO on ``net`` with routes ``rou``; return its figures."""
    ti, ed, stx = (os.path.join(work, f) for f in ("ti.xml", "ed.xml", "st.xml"))
    cmd = [sumo_bin("sumo"), "-n", net, "-r", rou, "--step-length", "1", "--no-step-log",
           "true", "--no-warnings", "true", "--tripinfo-output", ti,
           "--tripinfo-output.write-unfinished", "true", "--edgedata-output", ed,
           "--statistic-output", stx, "--duration-log.statistics", "true", "--seed", "42"]
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    dur, loss, done = [], [], 0
    for _, el in ET.iterparse(ti):
        if el.tag == "tripinfo":
            if float(el.get("arrival")) >= 0:
                done += 1
                dur.append(float(el.get("duration")))
                loss.append(float(el.get("timeLoss")))
            el.clear()
    counts = {}
    for _, el in ET.iterparse(ed):
        if el.tag == "edge":
            counts[el.get("id")] = (counts.get(el.get("id"), 0) + int(float(el.get("left", 0)))
                                    + int(float(el.get("arrived", 0))))
    tele = int(ET.parse(stx).getroot().find("teleports").get("total"))
    return {"wall_s": wall, "cpu_s": (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime),
            "completed": done, "mean_tt_s": float(np.mean(dur)) if dur else float("nan"),
            "mean_time_loss_s": float(np.mean(loss)) if loss else float("nan"),
            "teleports": tele, "edge_counts": counts}


def run_ours(net_path: str, rou: str, limit: int | None = None) -> dict:
    """Load, build and run the twin's kernel on the files; return its figures."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    city = cim.load(net_path)
    roads = city.roads
    t1 = time.perf_counter()
    trips = agents.read_trips(rou, city)
    if limit is not None:
        trips = trips.select(np.arange(min(limit, len(trips.trip_id))))
    t2 = time.perf_counter()
    net = kernel_network(roads, signal_plans(roads))
    rejected: list = []
    kt, _ = kernel_trips(trips, roads, net, rejected=rejected)
    state = tr.init_state(net, kt, tr.TrafficParams())
    t3 = time.perf_counter()
    flow = np.zeros(net.n_links, np.int64)
    n = kt.depart.size
    while state.time < T_CAP:
        tr.advance(net, state, CHECK_S, 1.0)
        flow += state.agg_flow[0]
        c = tr.counts(state)
        if c["arrived"][0] + c["stuck"][0] == n:
            break
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    done = tr.completed_trips(state)
    c = tr.counts(state)
    # every demand row: arrived, stuck, still scheduled / waiting / in the network, rejected
    accounted = int((state.v_status <= STUCK).sum()) + len(rejected)
    return {"wall_s": wall, "cpu_s": cpu, "load_s": t1 - t0, "read_trips_s": t2 - t1,
            "build_s": t3 - t2, "run_s": t0 + wall - t3,
            "completed": int(done["travel_time"].size),
            "mean_tt_s": float(done["travel_time"].mean()) if done["travel_time"].size
            else float("nan"),
            "teleports": int(c["teleported"][0]), "stuck": int(c["stuck"][0]),
            "rejected": len(rejected), "n_demand": len(trips.trip_id),
            "lost": len(trips.trip_id) - accounted, "end_s": state.time,
            "edge_counts": dict(zip(roads.link_ids.astype(str).tolist(), flow.tolist()))}


def edge_count_corr(a: dict, b: dict) -> float:
    """Pearson correlation of per-edge counts ``a`` and ``b`` (edge id -> vehicles) over the
    edges both know (0.0 when either is constant)."""
    ids = sorted(set(a) & set(b))
    x = np.array([a[k] for k in ids], float)
    y = np.array([b[k] for k in ids], float)
    return float(np.corrcoef(x, y)[0, 1]) if x.size > 1 and x.std() and y.std() else 0.0


def run_case(case: dict, a, work: str, warm: bool) -> dict:
    """Build ``case``, run SUMO and ours on it (``warm``: a numba warm-up run first); return
    the case's figures and print them."""
    net, rou = build(case, work)
    if warm:  # numba: compile (or load the on-disk cache) outside the timed runs
        run_ours(net, rou, limit=20)
    sumo = min((run_sumo(net, rou, work) for _ in range(a.sumo_repeats)),
               key=lambda r: r["wall_s"])
    ours = [run_ours(net, rou) for _ in range(a.repeats)]
    best = min(ours, key=lambda r: r["wall_s"])
    corr = edge_count_corr(sumo["edge_counts"], best["edge_counts"])
    fig = {"links": len(best["edge_counts"]), "trips": best["n_demand"],
           "sumo_wall_s": sumo["wall_s"], "ours_wall_s": best["wall_s"],
           "ratio_vs_sumo": sumo["wall_s"] / best["wall_s"],
           "ours_load_s": best["load_s"], "ours_read_trips_s": best["read_trips_s"],
           "ours_build_s": best["build_s"], "ours_run_s": best["run_s"],
           "sumo_cpu_s": sumo["cpu_s"], "ours_cpu_s": min(r["cpu_s"] for r in ours),
           "cpu_ratio_vs_sumo": sumo["cpu_s"] / min(r["cpu_s"] for r in ours),
           "sumo_completed": sumo["completed"], "ours_completed": best["completed"],
           "sumo_teleports": sumo["teleports"], "ours_teleports": best["teleports"],
           "ours_stuck": best["stuck"], "ours_rejected": best["rejected"],
           "lost_trips": best["lost"],
           "sumo_mean_tt_s": sumo["mean_tt_s"], "ours_mean_tt_s": best["mean_tt_s"],
           "sumo_mean_time_loss_s": sumo["mean_time_loss_s"],
           "tt_rel_diff_vs_sumo": abs(best["mean_tt_s"] - sumo["mean_tt_s"]) / sumo["mean_tt_s"],
           "tt_signed_diff_vs_sumo": (best["mean_tt_s"] - sumo["mean_tt_s"]) / sumo["mean_tt_s"],
           "completed_rel_diff": abs(best["completed"] - sumo["completed"])
           / max(sumo["completed"], 1),
           "edge_count_corr": corr}
    print(f"{case['name']:15s} {fig['links']:4d} links {fig['trips']:6d} trips | "
          f"wall SUMO {fig['sumo_wall_s']:.2f} s ours {fig['ours_wall_s']:.2f} s "
          f"(×{fig['ratio_vs_sumo']:.1f}, cpu ×{fig['cpu_ratio_vs_sumo']:.1f}; load "
          f"{fig['ours_load_s']:.2f} read_trips {fig['ours_read_trips_s']:.2f} build "
          f"{fig['ours_build_s']:.2f} run {fig['ours_run_s']:.2f} s) | "
          f"tt SUMO {fig['sumo_mean_tt_s']:.0f} s ours {fig['ours_mean_tt_s']:.0f} s "
          f"({fig['tt_signed_diff_vs_sumo']:+.1%}) | done {fig['sumo_completed']}/"
          f"{fig['ours_completed']} | teleports {fig['sumo_teleports']}/"
          f"{fig['ours_teleports']} | edge corr {corr:.3f}", flush=True)
    return fig


def run_isolated(case: dict, a, work: str) -> dict:
    """Run ``case`` in a child process of this script (a crash of one case, e.g. a
    segmentation fault in compiled code, or a run past ``--case-timeout``, is reported as
    that case's ``failed``)."""
    path = os.path.join(work, f"{case['name']}.fig.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--nets", case["name"], "--json", path,
           "--repeats", str(a.repeats), "--sumo-repeats", str(a.sumo_repeats)]
    try:
        p = subprocess.run(cmd + (["--quick"] if a.quick else []), stdout=sys.stdout,
                           timeout=a.case_timeout)
    except subprocess.TimeoutExpired:
        print(f"{case['name']:15s} FAILED: timeout {a.case_timeout:.0f} s", flush=True)
        return {"failed": f"timeout {a.case_timeout:.0f} s"}
    if p.returncode == 0:
        with open(path) as f:
            return json.load(f)["nets"][case["name"]]
    print(f"{case['name']:15s} FAILED: exit status {p.returncode}", flush=True)
    return {"failed": f"exit status {p.returncode}"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller networks, 10 min demand")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs of ours (fastest)")
    ap.add_argument("--sumo-repeats", type=int, default=None, help="SUMO runs (fastest)")
    ap.add_argument("--nets", help="comma-separated case names to run (default: all)")
    ap.add_argument("--case-timeout", type=float, default=None,
                    help="s per case when several run (default 300 with --quick, else 1800)")
    a = ap.parse_args(argv)
    a.case_timeout = a.case_timeout or (300.0 if a.quick else 1800.0)
    a.repeats = a.repeats or (2 if a.quick else 3)
    a.sumo_repeats = a.sumo_repeats or (2 if a.quick else 1)
    if sumo_bin("sumo") is None:
        print("traffic_sumo_nets: eclipse-sumo is not installed", file=sys.stderr)
        return 1
    out = {"quick": a.quick, "nets": {}}
    cases = [c for c in networks(a.quick) if not a.nets or c["name"] in a.nets.split(",")]
    with tempfile.TemporaryDirectory() as work:
        for case in cases:
            out["nets"][case["name"]] = (run_case(case, a, work, warm=True) if len(cases) == 1
                                         else run_isolated(case, a, work))
    nets = [f for f in out["nets"].values() if "failed" not in f]
    if not nets:
        return 1
    figures = {"min_ratio_vs_sumo": min(f["ratio_vs_sumo"] for f in nets),
               "min_cpu_ratio_vs_sumo": min(f["cpu_ratio_vs_sumo"] for f in nets),
               "max_tt_rel_diff_vs_sumo": max(f["tt_rel_diff_vs_sumo"] for f in nets),
               "min_edge_count_corr": min(f["edge_count_corr"] for f in nets),
               "lost_trips": sum(f["lost_trips"] for f in nets),
               "failed_nets": len(cases) - len(nets)}
    for k, f in out["nets"].items():
        if "failed" not in f:
            figures.update({f"{fig}_{k}": f[fig] for fig in _PER_NET})
    out = {"benchmark": "traffic_sumo_nets", "figures": figures, **out}
    print(json.dumps(figures, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if figures["failed_nets"] else 0


if __name__ == "__main__":
    sys.exit(main())
