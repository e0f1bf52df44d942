"""The small city of the dispatch tests, and an independent shortest-path reference.

City: :func:`tests.twin.lifeline_city.lifeline_city` (3×3 grid of 300 m two-way streets,
signal at n11, water pipe under every street, 10 kV grid, building b<node> next to every
node) with sites: fire stations at n00 and n22, a hospital at n20, a pumping station at n02
and a substation at n02.
"""

from __future__ import annotations

import heapq

import numpy as np

import twin
from cim.model import Attributes, Sites, _obj
from tests.twin.lifeline_city import lifeline_city
from tests.twin.test_runtime_traffic import demand
from twin.kernels.traffic import TrafficProcess

SITES = [("fs1", "fire_station", (0.0, 0.0)), ("fs2", "fire_station", (600.0, 600.0)),
         ("h1", "hospital", (0.0, 600.0)), ("ps1", "pumping_station", (600.0, 0.0)),
         ("ss1", "substation", (600.0, 0.0))]


def dispatch_city():
    city = lifeline_city()
    n = len(SITES)
    city.sites = Sites(_obj([s[0] for s in SITES]), _obj([s[1] for s in SITES]),
                       _obj([s[0] for s in SITES]),
                       np.array([[x, y, 0.0] for _, _, (x, y) in SITES]), np.full(n, np.nan),
                       Attributes(n))
    return city


def scenario(city, agents, *, kernels=None, n_trips=400, duration=1800.0, events=(),
             seed=5, **kw) -> twin.Scenario:
    """Traffic (``n_trips`` of the grid demand in the first 480 s) plus ``agents``."""
    kernels = kernels or [TrafficProcess(vehicle_slots=16, threads=1)]
    return twin.Scenario(city=city, duration=duration, seed=seed,
                         inputs={"traffic": demand(city, n_trips=n_trips)}, kernels=kernels,
                         agents=list(agents), events=list(events),
                         **{"record_interval": 60.0, "chunk_records": 60, **kw},
                         name="dispatch-grid")


def reference_times(roads, tt, dest: int) -> np.ndarray:
    """Independent reference: (L,) fastest time (s) from entering each link to leaving link
    ``dest``, by a plain heap Dijkstra over links, a move allowed from link a to link b when
    b leaves the node a ends at and is not a U-turn; ``tt`` (L,) link times (inf:
    closed)."""
    L = roads.n_links
    frm, to = roads.link_from, roads.link_to
    into = {}
    for b in range(L):
        for a in np.flatnonzero((to == frm[b]) & (frm != to[b])):
            into.setdefault(b, []).append(int(a))
    best = np.full(L, np.inf)
    if not np.isfinite(tt[dest]):
        return best
    best[dest] = tt[dest]
    heap = [(tt[dest], dest)]
    while heap:
        d, b = heapq.heappop(heap)
        if d > best[b]:
            continue
        for a in into.get(b, []):
            nd = d + tt[a]
            if nd < best[a]:
                best[a] = nd
                heapq.heappush(heap, (nd, a))
    return best


def route_time(roads, tt, route) -> float:
    """Sum of the link times of ``route``, after checking that it is connected."""
    r = np.asarray(route)
    assert (roads.link_to[r[:-1]] == roads.link_from[r[1:]]).all()
    return float(tt[r].sum())
