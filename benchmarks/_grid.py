"""SUMO on the reference grid (shared by benchmarks/traffic_grid.py and the SUMO test).

Set up as the team's SUMO anchor run: ``netgenerate`` grid, the trips as
<trip> elements (SUMO routes them on insertion), the ``sumo`` binary of the eclipse-sumo
wheel run as a subprocess, figures from its tripinfo output.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time

import defusedxml.ElementTree as ET


def sumo_bin(name: str) -> str | None:
    """Return the path of a SUMO binary (the wheel's real binary, not its Python wrapper)."""
    try:
        import sumo  # noqa: PLC0415  (sets SUMO_HOME)

        p = os.path.join(sumo.SUMO_HOME, "bin", name)
        if os.path.exists(p):
            return p
    except ImportError:
        pass
    return shutil.which(name)


def netgenerate_cmd(n: int, out: str, length=300.0, lanes=2, speed=13.9) -> list[str]:
    return [sumo_bin("netgenerate"), "--grid", "--grid.number", str(n),
            "--grid.length", str(length), "--grid.attach-length", str(length),
            "--default.lanenumber", str(lanes), "--default.speed", str(speed),
            "--default.junctions.type", "traffic_light", "--no-turnarounds",
            "--no-warnings", "-o", out]


def run_sumo(workdir: str, n: int, depart, from_edge, to_edge, seed=42, end=None) -> dict:
    """Run SUMO on the n x n grid with the given trips; return its figures.

    Returns a dict with ``wall_s`` (the whole sumo process), ``cpu_s`` (its CPU time, user +
    system), ``completed``, ``teleports``,
    ``mean_tt_s`` (tripinfo duration of completed trips: time in the network),
    ``veh_s`` (sum of durations, unfinished included), ``veh_s_per_wall_s``, ``arrival``
    (list of arrival times of completed trips) and ``version``.
    """
    os.makedirs(workdir, exist_ok=True)
    net = os.path.join(workdir, "grid.net.xml")
    subprocess.run(netgenerate_cmd(n, net), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    trips = os.path.join(workdir, "trips.rou.xml")
    with open(trips, "w") as f:
        f.write("<routes>\n")
        for k in range(len(depart)):
            f.write(f'  <trip id="{k}" depart="{depart[k]:.2f}" from="{from_edge[k]}" '
                    f'to="{to_edge[k]}" departLane="best" departSpeed="max"/>\n')
        f.write("</routes>\n")
    stats = os.path.join(workdir, "stats.xml")
    tripinfo = os.path.join(workdir, "tripinfo.xml")
    cmd = [sumo_bin("sumo"), "-n", net, "-r", trips, "--step-length", "1",
           "--no-step-log", "true", "--no-warnings", "true",
           "--duration-log.statistics", "true", "--statistic-output", stats,
           "--tripinfo-output", tripinfo, "--tripinfo-output.write-unfinished", "true",
           "--seed", str(seed)] + (["--end", str(end)] if end else [])
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    st = ET.parse(stats).getroot()
    teleports = int(st.find("teleports").get("total"))
    n_done, sum_done, veh_s, arrivals = 0, 0.0, 0.0, []
    for _, el in ET.iterparse(tripinfo):
        if el.tag == "tripinfo":
            dur = float(el.get("duration"))
            veh_s += dur
            arr = float(el.get("arrival"))
            if arr >= 0:
                n_done += 1
                sum_done += dur
                arrivals.append(arr)
            el.clear()
    ver = subprocess.run([sumo_bin("sumo"), "--version"], capture_output=True,
                         text=True).stdout.splitlines()[0]
    return {"wall_s": wall, "cpu_s": cpu, "completed": n_done, "teleports": teleports,
            "mean_tt_s": sum_done / max(n_done, 1), "veh_s": veh_s,
            "veh_s_per_wall_s": veh_s / wall, "arrival": arrivals, "version": ver}
