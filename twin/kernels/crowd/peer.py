"""The crowd kernel side by side with JuPedSim (``jupedsim`` from PyPI, a test and benchmark
dependency) on the same straight geometries: a corridor and a room with a bottleneck.

Geometry along x (m): a chain of rectangles ``(x0, x1, width)`` centred on y = 0. JuPedSim
gets their union as its walkable area, its collision-free speed model (Tordeux et al. 2016;
desired speed 1.34 m/s = Weidmann's v0, radius 0.2 m, time gap 1 s) and an exit stage in the
last 0.5 m; the crowd kernel gets one walkway link per rectangle (split into ``cell`` m
pieces), the same people at the same x. Both report when each person passes the gate
x = ``gate`` (JuPedSim positions sampled every 0.05 s); from these: the evacuation time (the
last passage) and the flow (people per s between the 10 % and 90 % passages).
"""

from __future__ import annotations

import time

import numpy as np

from .fd import Weidmann
from .net import WalkNet, routes_to
from .sim import ARRIVED, WALKING, CrowdSim

#: JuPedSim agent parameters used here
JPS_AGENT = {"desired_speed": 1.34, "radius": 0.2, "time_gap": 1.0}


def corridor(length=40.0, width=2.0, tail=2.0):
    """Rectangles of a straight corridor (with a ``tail`` m behind the gate at ``length``)."""
    return [(0.0, length, width), (length, length + tail, width)], length


def bottleneck(width=1.2, room=8.0, blen=1.0, after=4.0, after_width=6.0):
    """Rectangles of a square room ``room`` m, a bottleneck ``blen`` × ``width`` m and a
    wide area after it; the gate is the bottleneck's end."""
    return ([(0.0, room, room), (room, room + blen, width),
             (room + blen, room + blen + after, after_width)], room + blen)


def positions(rects, n, x_max, seed=1, spacing=0.45):
    """People spread over the first rectangle up to x_max: JuPedSim's
    ``distribute_by_number`` (the same for both models)."""
    import jupedsim as jps
    import shapely

    x0, _, w = rects[0]
    area = shapely.box(x0, -w / 2, x_max, w / 2)
    return np.array(jps.distribute_by_number(polygon=area, number_of_agents=n,
                                             distance_to_agents=spacing,
                                             distance_to_polygon=0.25, seed=seed))


def walknet(rects, cell=2.0) -> tuple[WalkNet, np.ndarray]:
    """The chain of links (rectangles split into pieces ≤ ``cell`` m) and its node x."""
    xs, ws = [rects[0][0]], []
    for x0, x1, w in rects:
        k = max(1, int(np.ceil((x1 - x0) / cell - 1e-9)))
        xs += list(x0 + (x1 - x0) * np.arange(1, k + 1) / k)
        ws += [w] * k
    x = np.array(xs)
    n = len(ws)
    net = WalkNet(np.arange(n), np.arange(1, n + 1), np.diff(x), np.array(ws),
                  np.c_[x, np.zeros(n + 1)], np.array([f"w{i}" for i in range(n)]),
                  np.array([f"n{i}" for i in range(n + 1)]))
    return net, x


def run_ours(rects, xy, gate, *, cell=2.0, dt=0.1, t_max=2000.0, fd=None) -> dict:
    """Pass times (s) at x = gate of people starting at ``xy`` (n, 2), and the wall time."""
    t0 = time.perf_counter()
    net, x = walknet(rects, cell)
    end = x.size - 1
    nxt, _ = routes_to(net, [end])
    P = len(xy)
    sim = CrowdSim(net, np.zeros(P, np.int64), 0.0, 0, nxt, [end], dt=dt, fd=fd or Weidmann())
    px = np.asarray(xy, np.float64)[:, 0]
    lk = np.clip(np.searchsorted(x, px, "right") - 1, 0, net.n_links - 1)
    sim.status[:] = WALKING
    sim.link[:], sim.head[:], sim.pos[:] = lk, lk + 1, px - x[lk]
    sim.entered[:] = 0.0
    g = int(np.argmin(np.abs(x - gate)))          # the gate node
    passed = np.full(P, np.nan)
    while sim.t < t_max and np.isnan(passed).any():
        sim.step(dt)
        m = np.isnan(passed) & ((sim.status == ARRIVED) | (sim.link >= g))
        passed[m] = sim.t
    return {"pass_s": passed, "wall_s": time.perf_counter() - t0, "steps": sim.steps}


def run_jps(rects, xy, gate, *, dt=0.01, t_max=2000.0, sample=5, stall_s=60.0) -> dict:
    """The same with JuPedSim's collision-free speed model (see the module docstring);
    stops when nobody passed the gate for ``stall_s`` s (the others stay NaN)."""
    import jupedsim as jps
    import shapely

    geo = shapely.union_all([shapely.box(a, -w / 2, b, w / 2) for a, b, w in rects])
    t0 = time.perf_counter()
    sim = jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=geo, dt=dt)
    a, b, w = rects[-1]
    ex = sim.add_exit_stage(shapely.box(b - 0.5, -w / 2, b, w / 2))
    j = sim.add_journey(jps.JourneyDescription([ex]))
    ids = [sim.add_agent(jps.CollisionFreeSpeedModelAgentParameters(
        journey_id=j, stage_id=ex, position=tuple(p), **JPS_AGENT)) for p in xy]
    row = {a: i for i, a in enumerate(ids)}
    passed = np.full(len(ids), np.nan)
    k, last = 0, 0.0
    while sim.agent_count() > 0 and sim.elapsed_time() < t_max:
        sim.iterate()
        k += 1
        if k % sample == 0:
            t = sim.elapsed_time()
            for ag in sim.agents():
                i = row[ag.id]
                if np.isnan(passed[i]) and ag.position[0] >= gate:
                    passed[i], last = t, t
            if t - last > stall_s:      # nobody passed for stall_s: a deadlock, give up
                break
    t = sim.elapsed_time()
    left = {row[ag.id] for ag in sim.agents()}
    for i in np.flatnonzero(np.isnan(passed)):
        if i not in left:          # removed at the exit between two samples
            passed[i] = t
    return {"pass_s": passed, "wall_s": time.perf_counter() - t0, "steps": k}


def flow(pass_s, lo=0.1, hi=0.9) -> float:
    """People per s passing the gate between the ``lo`` and ``hi`` shares of the passages."""
    p = np.sort(pass_s[np.isfinite(pass_s)])
    if p.size < 3:
        return float("nan")
    i, j = int(round(lo * (p.size - 1))), int(round(hi * (p.size - 1)))
    return (j - i) / max(p[j] - p[i], 1e-9)


def compare(rects, gate, xy, **kw) -> dict:
    """Run both; return flows, evacuation times (last passage) and their relative
    differences (ours vs JuPedSim), and both wall times."""
    o = run_ours(rects, xy, gate, **kw)
    j = run_jps(rects, xy, gate)
    fo, fj = flow(o["pass_s"]), flow(j["pass_s"])
    eo, ej = np.nanmax(o["pass_s"]), np.nanmax(j["pass_s"])
    return {"n": len(xy), "flow_ours": fo, "flow_jps": fj, "flow_rel_diff": (fo - fj) / fj,
            "evac_ours_s": eo, "evac_jps_s": ej, "evac_rel_diff": (eo - ej) / ej,
            "wall_ours_s": o["wall_s"], "wall_jps_s": j["wall_s"],
            "lost_ours": int(np.isnan(o["pass_s"]).sum()),
            "lost_jps": int(np.isnan(j["pass_s"]).sum())}
