"""Live travel times and routes for responders, on the traffic kernel's turn graph.

The graph's vertices are **road links**, its edges the turns the traffic kernel allows
(``net.turn_from`` → ``net.turn_to_arr``), so that a route found here is one the kernel
accepts as a fixed route. A vehicle enters its origin link at the upstream end and leaves
its destination link at the downstream end, so a route's time is the sum of its links'
times, origin and destination included.

A link's **live** time is ``length / v``, with ``v`` the space-mean speed the traffic
kernel published for it (``traffic/link_speed``), floored at ``min_speed`` (a queue still
moves), or, when no vehicle is on it (NaN), its current speed limit (the kernel's
``link_vmax``, which holds speed factors from flood coupling and events). A link is
**removed** (infinite time) when the traffic kernel has it closed (``link_open`` 0), or a
coupled flood kernel gives it a ``speed_factor`` or ``capacity_factor`` below
``impassable``.

All links' times to one destination come from one Dijkstra (:mod:`scipy.sparse.csgraph`) on
the reversed graph: :meth:`LiveRouter.to` returns the time from every link, and the route
from any of them is read from the predecessor array — one call per dispatch decision,
whatever the number of candidate units.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import dijkstra

from cim.graph import csr

#: m/s: a link whose vehicles are (nearly) standing still is driven at this speed
MIN_SPEED = 1.0
#: speed or capacity factor below which a flooded link is not driven on
IMPASSABLE = 0.1


def link_times(length, link_speed, vmax, link_open=None, speed_factor=None,
               capacity_factor=None, *, min_speed: float = MIN_SPEED,
               impassable: float = IMPASSABLE) -> np.ndarray:
    """Return (L,) live link travel times (s; inf = removed) from (L,) arrays: ``length``
    (m), ``link_speed`` (m/s, NaN where empty), ``vmax`` (m/s, current limit), and optional
    ``link_open`` (0/1), ``speed_factor`` / ``capacity_factor`` (0..1)."""
    length = np.asarray(length, float)
    v = np.asarray(link_speed, float)
    v = np.where(np.isfinite(v), np.maximum(v, min_speed), np.asarray(vmax, float))
    v = np.maximum(v, 1e-3)
    tt = length / v
    gone = np.zeros(tt.shape, bool)
    if link_open is not None:
        gone |= np.asarray(link_open) == 0
    for f in (speed_factor, capacity_factor):
        if f is not None:
            gone |= np.asarray(f, float) < impassable
    tt[gone] = np.inf
    return tt


class LiveRouter:
    """Shortest live-time routes on the turn graph of a traffic network.

    turn_from, turn_to : (T,) link indices of the allowed turns; n_links : L.
    """

    def __init__(self, turn_from, turn_to, n_links: int):
        self.turn_from = np.asarray(turn_from, np.int64)
        self.turn_to = np.asarray(turn_to, np.int64)
        self.n = int(n_links)
        self.tt = None

    @classmethod
    def of(cls, net) -> LiveRouter:
        """The router of a traffic kernel's :class:`~twin.kernels.traffic.api.Network`."""
        return cls(net.turn_from, net.turn_to_arr, net.n_links)

    def set_times(self, tt) -> None:
        """Use (L,) link times ``tt`` (s, inf = removed) until the next call."""
        tt = np.asarray(tt, float)
        if tt.shape != (self.n,):
            raise ValueError(f"link times of shape {tt.shape}, not ({self.n},)")
        self.tt = tt
        # reversed graph: edge (b <- a) for turn a -> b, weighted by b's time (entering b)
        self._rev = csr(self.n, self.turn_to, self.turn_from, tt[self.turn_to])
        self._cache: dict[int, tuple] = {}

    def to(self, dest: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ((L,) time from the upstream end of each link to the downstream end of
        ``dest``, s (inf: unreachable or removed); (L,) next link on the route, -9999 at
        the destination or when unreachable)."""
        dest = int(dest)
        hit = self._cache.get(dest)
        if hit is None:
            d, pred = dijkstra(self._rev, directed=True, indices=dest,
                               return_predecessors=True)
            total = d + self.tt          # the link itself is driven too
            total[~np.isfinite(self.tt)] = np.inf
            if not np.isfinite(self.tt[dest]):
                total[:] = np.inf
            hit = (total, pred)
            self._cache[dest] = hit
        return hit

    def times(self, origins, dest: int) -> np.ndarray:
        """(n,) live times (s) from ``origins`` (link indices) to ``dest``."""
        return self.to(dest)[0][np.asarray(origins, np.int64)]

    def route(self, origin: int, dest: int) -> np.ndarray:
        """Return the links of the fastest route from ``origin`` to ``dest`` (both
        included); empty when there is none."""
        total, nxt = self.to(dest)
        origin = int(origin)
        if not np.isfinite(total[origin]):
            return np.zeros(0, np.int64)
        out = [origin]
        while out[-1] != dest:
            out.append(int(nxt[out[-1]]))
            if out[-1] < 0 or len(out) > self.n:
                return np.zeros(0, np.int64)
        return np.array(out, np.int64)
