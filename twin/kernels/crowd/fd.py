"""Speed–density relation of pedestrians: Weidmann (1993).

Weidmann, U. (1993). *Transporttechnik der Fussgänger*, Schriftenreihe des IVT Nr. 90,
ETH Zürich, 2nd ed., eq. (Kladek form)::

    v(ρ) = v0 · (1 − exp(−γ · (1/ρ − 1/ρ_max)))

with v0 = 1.34 m/s (free walking speed), γ = 1.913 P/m², ρ_max = 5.4 P/m² (jam density);
the same values RiMEA's test 4 names. The specific flow J(ρ) = ρ·v(ρ) (P/(m·s)) peaks at
J_max ≈ 1.225 P/(m·s) at ρ_c ≈ 1.75 P/m² (Weidmann's table). A walkway link of width w
passes at most w·J_max people per second: its capacity at a bottleneck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Weidmann:
    """Weidmann's relation: ``v0`` m/s, ``gamma`` P/m², ``rho_max`` P/m²; ``rho_min``
    (P/m²) below which people walk at ``v0`` (the relation tends to v0 as ρ → 0)."""

    v0: float = 1.34
    gamma: float = 1.913
    rho_max: float = 5.4
    rho_min: float = 1e-3

    def __post_init__(self):
        if not (self.v0 > 0 and self.gamma > 0 and self.rho_max > 0):
            from .errors import CrowdError

            raise CrowdError(f"Weidmann: v0, gamma and rho_max must be > 0 "
                             f"(got {self.v0}, {self.gamma}, {self.rho_max})")

    def speed(self, rho) -> np.ndarray:
        """Walking speed (m/s) at density ``rho`` (P/m², any shape); 0 at and above ρ_max."""
        r = np.maximum(np.asarray(rho, np.float64), self.rho_min)
        v = self.v0 * (1.0 - np.exp(-self.gamma * (1.0 / r - 1.0 / self.rho_max)))
        return np.clip(v, 0.0, self.v0)

    def flow(self, rho) -> np.ndarray:
        """Specific flow ρ·v(ρ), P/(m·s)."""
        r = np.asarray(rho, np.float64)
        return r * self.speed(r)

    def critical(self) -> tuple[float, float]:
        """Return (ρ_c P/m², J_max P/(m·s)): the density of maximum flow and that flow
        (golden-section search on the unimodal J; computed once)."""
        c = self.__dict__.get("_crit")
        if c is None:
            c = self._critical()
            object.__setattr__(self, "_crit", c)
        return c

    def _critical(self) -> tuple[float, float]:
        a, b = 1e-3, self.rho_max
        g = (np.sqrt(5.0) - 1) / 2
        for _ in range(80):
            c, d = b - g * (b - a), a + g * (b - a)
            if self.flow(c) > self.flow(d):
                b = d
            else:
                a = c
        r = 0.5 * (a + b)
        return float(r), float(self.flow(r))

    def supply(self, rho) -> np.ndarray:
        """Receiving flow of a link at density ``rho`` (P/(m·s)): J_max below ρ_c, J(ρ)
        above (the link takes in less as it jams; the cell-transmission rule)."""
        rc, jm = self.critical()
        r = np.asarray(rho, np.float64)
        return np.where(r <= rc, jm, self.flow(r))
