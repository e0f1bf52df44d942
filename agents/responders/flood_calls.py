"""Flooding calls from flood depth: a building or a road that the water reaches calls for help.

:class:`FloodCalls` watches the depths a flood kernel publishes on the coupling bus (the
dispatcher's read ports ``building_depth``, m per building, and ``speed_factor`` per road
link) and turns threshold crossings into ``flooding`` incidents:

- a **building** whose depth first reaches ``building_depth_m`` (default 0.15 m, the flood
  kernel's own flooded-building threshold: water over the door sill) calls with probability
  ``building_share``;
- a **road link** whose ``speed_factor`` first falls to ``road_factor`` or below (default
  0: closed, ≥ 0.3 m of water by Pregnolato et al. 2017) is reported with probability
  ``road_share`` (stranded cars, a blocked street);
- each call comes ``delay`` s after the crossing, exponential with mean ``delay_s`` (people
  call after some minutes).

Shares and delay are stated assumptions (defaults 2 %, 20 %, 5 min): no published rate of
flooding calls per flooded building was found; they are parameters. Every draw (call or
not, delay, on-scene time) is made once per building and road link when the run starts,
from a generator seeded by the dispatcher's member seed, so the calls do not depend on the
order or the step in which crossings are seen: the same seed and the same flood give the
same calls, and a dry run gives none. Each source calls at most once a run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DispatchError
from .incidents import INCIDENT_TYPES, Incidents

#: mixed into the member seed for the flooding-call draws (their own stream)
_STREAM = 0xF100D


@dataclass(frozen=True)
class FloodCallRule:
    """Thresholds, shares and delay of :class:`FloodCalls` (see the module docstring)."""

    building_depth_m: float = 0.15
    building_share: float = 0.02
    road_factor: float = 0.0
    road_share: float = 0.2
    delay_s: float = 300.0

    def check(self) -> None:
        for name in ("building_share", "road_share"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise DispatchError(f"flood calls: {name} {v} outside 0..1")
        if not (self.building_depth_m > 0 and self.delay_s >= 0 and 0 <= self.road_factor < 1):
            raise DispatchError("flood calls: building_depth_m must be > 0, delay_s >= 0, "
                                "road_factor in [0, 1)")


class FloodCalls:
    """Flooding calls of one member from depth crossings.

    building_ids (nb,), building_link (nb,) road link index, building_xy (nb, 2) m,
    building_zone (nb,); road_ids (nr,), road_xy (nr, 2), road_zone (nr,) (the road link
    index is the position); seed : the member seed; rule : :class:`FloodCallRule`.
    """

    def __init__(self, building_ids, building_link, building_xy, building_zone, road_ids,
                 road_xy, road_zone, seed: int, rule: FloodCallRule | None = None,
                 road_usable=None):
        self.rule = rule or FloodCallRule()
        self.rule.check()
        self.b_ids = np.asarray(building_ids, object)
        self.b_link = np.asarray(building_link, np.int64)
        self.b_xy = np.asarray(building_xy, float).reshape(-1, 2)
        self.b_zone = np.asarray(building_zone, object)
        self.r_ids = np.asarray(road_ids, object)
        self.r_xy = np.asarray(road_xy, float).reshape(-1, 2)
        self.r_zone = np.asarray(road_zone, object)
        nb, nr = self.b_ids.size, self.r_ids.size
        rng = np.random.Generator(np.random.PCG64([int(seed), _STREAM]))
        r = self.rule
        # per source: calls or not, report delay, the on-scene draw (a standard normal)
        self.b_calls = rng.random(nb) < r.building_share
        self.r_calls = rng.random(nr) < r.road_share
        if road_usable is not None:        # links a unit can reach (and leave)
            self.r_calls &= np.asarray(road_usable, bool)
        self.b_delay = np.round(rng.exponential(r.delay_s, nb)) if r.delay_s else np.zeros(nb)
        self.r_delay = np.round(rng.exponential(r.delay_s, nr)) if r.delay_s else np.zeros(nr)
        self.b_z = rng.standard_normal(nb)
        self.r_z = rng.standard_normal(nr)
        self.b_seen = np.zeros(nb, bool)
        self.r_seen = np.zeros(nr, bool)

    def check(self, now: float, building_depth=None, speed_factor=None):
        """Return (new :class:`Incidents`, (m,) road links, (m, 2) xy, (m,) zones, (m,)
        standard normals for the on-scene times) of the calls that the crossings seen at
        ``now`` (s) make; ``building_depth`` (nb,) m and ``speed_factor`` (nr,) as on the
        bus (None: not coupled)."""
        r = self.rule
        parts = []
        if building_depth is not None:
            d = np.asarray(building_depth, float).reshape(-1)
            if d.size != self.b_seen.size:
                raise DispatchError(f"flood calls: building_depth has {d.size} values for "
                                    f"{self.b_seen.size} buildings")
            new = np.flatnonzero((d >= r.building_depth_m) & ~self.b_seen)
            self.b_seen[new] = True
            k = new[self.b_calls[new]]
            parts.append(("building", self.b_ids[k], self.b_link[k], self.b_xy[k],
                          self.b_zone[k], now + self.b_delay[k], self.b_z[k]))
        if speed_factor is not None:
            f = np.asarray(speed_factor, float).reshape(-1)
            if f.size != self.r_seen.size:
                raise DispatchError(f"flood calls: speed_factor has {f.size} values for "
                                    f"{self.r_seen.size} road links")
            new = np.flatnonzero((f <= r.road_factor) & ~self.r_seen)
            self.r_seen[new] = True
            k = new[self.r_calls[new]]
            parts.append(("road_link", self.r_ids[k], k.astype(np.int64), self.r_xy[k],
                          self.r_zone[k], now + self.r_delay[k], self.r_z[k]))
        parts = [p for p in parts if p[1].size]
        if not parts:
            return None
        kind = np.concatenate([np.full(p[1].size, p[0], object) for p in parts])
        ids = np.concatenate([p[1] for p in parts]).astype(object)
        times = np.concatenate([p[5] for p in parts]).astype(float)
        m = ids.size
        blank = np.full(m, "", object)
        typ = INCIDENT_TYPES["flooding"]
        inc = Incidents(times, np.full(m, "flooding", object),
                        np.full(m, typ.priority, np.int64),
                        np.where(kind == "building", ids, blank), blank, blank,
                        np.where(kind == "road_link", ids, blank), np.zeros(m, bool),
                        np.ones(m, bool), [{} for _ in range(m)])
        return (inc, np.concatenate([p[2] for p in parts]),
                np.concatenate([p[3] for p in parts]),
                np.concatenate([p[4] for p in parts]).astype(object),
                np.concatenate([p[6] for p in parts]))


def flood_calls_for(city, locator, seed: int, rule: FloodCallRule | None = None) -> FloodCalls:
    """The :class:`FloodCalls` of ``city`` (buildings placed on their nearest usable road
    link by ``locator``, a :class:`~agents.responders.places.Locator`)."""
    b = city.buildings
    if b is not None and len(b):
        bxy, _ = locator.building_xy()
        blink = locator.nearest_link(bxy)
        bid = b.ids
    else:
        bxy, blink, bid = np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0, object)
    rd = city.roads
    rxy = 0.5 * (rd.node_xy[rd.link_from] + rd.node_xy[rd.link_to])
    usable = np.zeros(rd.n_links, bool)
    usable[locator.links] = True
    return FloodCalls(bid, blink, bxy, locator.zone(bxy), rd.link_ids, rxy[:, :2],
                      locator.zone(rxy[:, :2]), seed, rule, road_usable=usable)
