"""The reference signalized grid (SUMO's netgenerate grid of the team's anchor) as arrays.

Same construction as ``netgenerate --grid --grid.number N --grid.length 300
--grid.attach-length 300 --default.lanenumber 2 --default.speed 13.9
--default.junctions.type traffic_light --no-turnarounds``: N x N signalized junctions
"<column letter><row>" at ((i+1) L, (j+1) L), a stub from every boundary junction to a fringe
node ("left<j>", "right<j>", "bottom<i>", "top<i>"), link names from + to, and SUMO's default
two-phase program (north-south first; 42 s green + 3 s yellow each). Used by the benchmark
and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network, two_phase_plan

COLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Grid:
    """A grid network with its SUMO names."""

    net: Network
    node_names: list
    link_names: list
    fringe: list           # (fringe name, attached junction name) in make_trips order
    link_index: dict       # link name -> index
    n: int


def grid(n=10, length=300.0, lanes=2, speed=13.9, green=42.0, yellow=3.0,
         actuated=False) -> Grid:
    """Return the n x n reference grid (see module docstring)."""
    names, xy = [], []
    for i in range(n):
        for j in range(n):
            names.append(f"{COLS[i]}{j}")
            xy.append(((i + 1) * length, (j + 1) * length))
    n_junctions = len(names)
    fringe = []
    for j in range(n):
        fringe.append((f"left{j}", f"{COLS[0]}{j}", 0.0, (j + 1) * length))
        fringe.append((f"right{j}", f"{COLS[n - 1]}{j}", (n + 1) * length, (j + 1) * length))
    for i in range(n):
        fringe.append((f"bottom{i}", f"{COLS[i]}0", (i + 1) * length, 0.0))
        fringe.append((f"top{i}", f"{COLS[i]}{n - 1}", (i + 1) * length, (n + 1) * length))
    for f, _, x, y in fringe:
        names.append(f)
        xy.append((x, y))
    index = {nm: k for k, nm in enumerate(names)}
    pairs = []
    for i in range(n):
        for j in range(n):
            a = f"{COLS[i]}{j}"
            if i + 1 < n:
                pairs += [(a, f"{COLS[i + 1]}{j}"), (f"{COLS[i + 1]}{j}", a)]
            if j + 1 < n:
                pairs += [(a, f"{COLS[i]}{j + 1}"), (f"{COLS[i]}{j + 1}", a)]
    for f, jn, _, _ in fringe:
        pairs += [(f, jn), (jn, f)]
    lf = np.array([index[a] for a, _ in pairs])
    lt = np.array([index[b] for _, b in pairs])
    nl = len(pairs)
    plan = two_phase_plan(xy, lf, lt, np.arange(n_junctions), green=green, yellow=yellow,
                          actuated=actuated)
    net = Network(np.array(xy), lf, lt, np.full(nl, float(length)), np.full(nl, lanes),
                  np.full(nl, float(speed)), signals=plan)
    link_names = [a + b for a, b in pairs]
    return Grid(net, names, link_names, [(f, jn) for f, jn, _, _ in fringe],
                {nm: k for k, nm in enumerate(link_names)}, n)


def grid_trips(g: Grid, n_trips=20000, seed=42, t_demand=3600.0):
    """Return (depart s, origin link, destination link, from-edge names, to-edge names).

    Drawn exactly as ``make_trips`` of the anchor: uniform fringe origin and a different
    fringe destination, departures sorted uniform on [0, t_demand).
    """
    fr = g.fringe
    rng = np.random.default_rng(seed)
    o = rng.integers(0, len(fr), n_trips)
    d = rng.integers(0, len(fr) - 1, n_trips)
    d[d >= o] += 1
    t = np.sort(rng.uniform(0.0, t_demand, n_trips))
    from_edge = [fr[k][0] + fr[k][1] for k in o]
    to_edge = [fr[k][1] + fr[k][0] for k in d]
    origin = np.array([g.link_index[e] for e in from_edge], dtype=np.int64)
    dest = np.array([g.link_index[e] for e in to_edge], dtype=np.int64)
    return t, origin, dest, from_edge, to_edge
