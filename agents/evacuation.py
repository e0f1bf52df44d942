"""Evacuating households: who leaves an affected zone, when, and how (the crowd kernel's
input).

::

    from agents.evacuation import Evacuation, circle
    evac = Evacuation(circle(x, y, 500.0, hazard="chemical leak"), car_share=0.3)
    sc = twin.Scenario(city, kernels=["traffic", "crowd"], inputs={"crowd": evac}, ...)

The kernel calls :meth:`Evacuation.draw` with the city and the member's seeded
``numpy.random.Generator``: the same scenario and seed give the same evacuees.

- **Households**: every building whose footprint centroid lies in the zone houses its
  ``residents`` in households of ``household_size`` persons on average (2.62: the mean
  household size of China's 7th population census, 2020).
- **Pre-movement time** (from the warning to leaving home), one per household, log-normal
  (median ``premovement_median_s``, log-space standard deviation ``premovement_sigma``).
  The log-normal is the distribution that fits recorded pre-movement times best in the
  database of Lovreglio, Kuligowski, Gwynne & Strahan (2019), *A pre-evacuation database for
  use in egress simulations*, Fire Safety Journal 105: 107–128; the defaults (median 10 min,
  σ = 0.8: 90 % of households gone within about 28 min) are an assumption for a warned
  residential neighbourhood, to be set per hazard.
- **Mode**: a household drives with probability ``car_share`` (the crowd kernel needs a
  traffic kernel then), else all its members walk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import AgentsError

#: mean persons per household, China 7th national population census (2020)
HOUSEHOLD_SIZE = 2.62


@dataclass(frozen=True)
class Zone:
    """An affected zone: a ``circle`` (``center`` (x, y) m, ``radius`` m) or a ``polygon``
    (``coords`` (n, 2) m, city CRS); ``hazard`` names it (fire, chemical leak, flood…)."""

    kind: str
    center: tuple = (0.0, 0.0)
    radius: float = 0.0
    coords: tuple = ()
    hazard: str = ""

    def contains(self, xy) -> np.ndarray:
        """Return (n,) bool: points ``xy`` (n, 2) m inside the zone."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        if self.kind == "circle":
            return np.hypot(xy[:, 0] - self.center[0], xy[:, 1] - self.center[1]) <= self.radius
        import shapely

        poly = shapely.Polygon(np.asarray(self.coords, np.float64))
        return shapely.contains_xy(poly, xy[:, 0], xy[:, 1])


def circle(x: float, y: float, radius: float, hazard: str = "") -> Zone:
    """A hazard radius (m) around a point (x, y) m."""
    if not (np.isfinite([x, y, radius]).all() and radius > 0):
        raise AgentsError(f"evacuation zone: centre ({x}, {y}) and radius {radius} m must be "
                          f"finite, radius > 0")
    return Zone("circle", (float(x), float(y)), float(radius), hazard=hazard)


def polygon(coords, hazard: str = "") -> Zone:
    """A zone bounded by a polygon ``coords`` (n ≥ 3, 2) m."""
    c = np.asarray(coords, np.float64)
    if c.ndim != 2 or c.shape[0] < 3 or c.shape[1] != 2 or not np.isfinite(c).all():
        raise AgentsError("evacuation zone: a polygon needs at least 3 finite (x, y) points")
    return Zone("polygon", coords=tuple(map(tuple, c)), hazard=hazard)


@dataclass
class Evacuation:
    """The crowd kernel's input: the zone and how its households behave (see the module
    docstring). ``shelters``: site ids to use (None: every site of kind "shelter");
    ``free_speed`` m/s walking from the door to the walkway network."""

    zone: Zone
    premovement_median_s: float = 600.0
    premovement_sigma: float = 0.8
    household_size: float = HOUSEHOLD_SIZE
    car_share: float = 0.0
    shelters: tuple | None = None
    free_speed: float = 1.34
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.zone, Zone):
            raise AgentsError("Evacuation: zone must be agents.evacuation.circle(...) or "
                              "polygon(...)")
        if not (self.premovement_median_s > 0 and self.premovement_sigma >= 0):
            raise AgentsError("Evacuation: the pre-movement median must be > 0 s and sigma "
                              ">= 0")
        if not self.household_size >= 1:
            raise AgentsError("Evacuation: household_size must be >= 1 person")
        if not 0 <= self.car_share <= 1:
            raise AgentsError(f"Evacuation: car_share {self.car_share} is not in [0, 1]")

    def draw(self, city, rng: np.random.Generator) -> dict:
        """Return the evacuees, one row per person, (P,) arrays: ``household`` (str
        "<building>/<k>"), ``building`` (str), ``x``, ``y`` (m, the building's centroid),
        ``depart_s`` (pre-movement time, s from the warning), ``mode`` ("walk"/"car");
        and ``shelters`` (site ids or None). AgentsError when the zone holds nobody."""
        b = city.buildings
        nb = len(b.ids)
        xy = b.footprint.centroids() if nb else np.zeros((0, 2))
        res = np.nan_to_num(np.asarray(b.residents, np.float64)) if nb else np.zeros(0)
        inside = self.zone.contains(xy) & (res >= 0.5)
        if not inside.any():
            what = self.zone.hazard or "evacuation"
            raise AgentsError(f"{what} zone ({self.zone.kind}) contains no household: no "
                              f"building with residents has its centroid inside it")
        idx = np.flatnonzero(inside)
        R = np.rint(res[idx]).astype(np.int64)
        H = np.maximum(1, np.rint(R / self.household_size).astype(np.int64))
        # households: building of each, persons in each (R spread over H as evenly as can be)
        hb = np.repeat(idx, H)
        k = np.arange(H.sum()) - np.repeat(np.cumsum(H) - H, H)
        Rh, Hh = np.repeat(R, H), np.repeat(H, H)
        size = Rh // Hh + (k < Rh % Hh)
        n_h = hb.size
        pre = rng.lognormal(np.log(self.premovement_median_s), self.premovement_sigma, n_h)
        car = rng.random(n_h) < self.car_share
        ids = np.asarray(b.ids, object).astype(str)
        hid = np.char.add(np.char.add(ids[hb], "/"), k.astype(str))
        rep = lambda a: np.repeat(a, size)  # noqa: E731
        return {"household": rep(hid), "building": rep(ids[hb]), "x": rep(xy[hb, 0]),
                "y": rep(xy[hb, 1]), "depart_s": rep(pre),
                "mode": rep(np.where(car, "car", "walk")),
                "shelters": None if self.shelters is None else tuple(self.shelters)}
