"""Time-of-day profiles: the share of a day's trip starts in each 15-minute bin.

A :class:`Profile` holds 96 shares (bin 0 = 00:00–00:15) that sum to 1. It answers two
questions for a scenario window (clock start, duration; windows may cross midnight and last
several days — the profile repeats each day):

- :meth:`Profile.window_share` — the fraction of a day's trips that start in the window;
- :meth:`Profile.sample` — departure times (s from the window start) drawn from the profile.

Default profiles — an **assumption**, not a calibrated survey result. No public time-of-day
table for Wuxi was found; the shapes follow the pattern that Chinese resident travel surveys
commonly report (a sharp commute peak 07:00–09:00, a broader evening peak 17:00–19:00, a
noon bump from going home for lunch, discretionary trips spread over the day and evening).
Each profile is a mixture of normal bumps plus a flat 05:00–24:00 base, evaluated at the 15-min
bin centres and normalised; the parameters (weight, mean hour, s.d. hours) are in
:data:`DEFAULT_SHAPES` so that a planner can see and change them. Replace them with a survey
table through :meth:`Profile.from_shares` when one is available.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .errors import DemandError

BIN_S = 900.0
N_BINS = 96
DAY_S = 86400.0

#: purpose -> (flat base weight, [(weight, mean clock hour, s.d. hours), ...]); assumptions
#: (see module docstring). The base is spread evenly over 05:00–24:00.
DEFAULT_SHAPES: dict[str, tuple[float, list[tuple[float, float, float]]]] = {
    # home -> work: morning peak centred 07:45 (work starts 08:00–09:00), return from lunch
    "to_work": (0.10, [(0.78, 7.75, 0.60), (0.12, 13.25, 0.50)]),
    # work -> home: evening peak centred 17:45, lunch-time trips home
    "to_home": (0.16, [(0.70, 17.75, 0.75), (0.14, 11.75, 0.50)]),
    # other purposes (shopping, errands, leisure): late morning, afternoon, evening
    "other": (0.15, [(0.25, 10.0, 1.2), (0.30, 15.5, 1.5), (0.30, 19.5, 1.2)]),
}


def parse_clock(value, *, path=None, line=None, what="time") -> float:
    """Return seconds from a clock time: a number of seconds, "HH:MM" or "HH:MM:SS" (hours may
    exceed 23 for times after midnight). Raises DemandError for anything else or a negative
    value."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        s = float(value)
    else:
        text = str(value).strip()
        m = re.fullmatch(r"(\d{1,3}):(\d{2})(?::(\d{2}(?:\.\d*)?))?", text)
        if m:
            h, mi, sec = int(m.group(1)), int(m.group(2)), float(m.group(3) or 0.0)
            if mi >= 60 or sec >= 60:
                raise DemandError(f"{what} is not a valid HH:MM[:SS] clock time", path=path,
                                  line=line, value=text)
            s = h * 3600.0 + mi * 60.0 + sec
        else:
            try:
                s = float(text)
            except ValueError:
                raise DemandError(f"{what} is neither seconds nor HH:MM[:SS]", path=path,
                                  line=line, value=text) from None
    if not np.isfinite(s):
        raise DemandError(f"{what} is not finite", path=path, line=line, value=value)
    if s < 0:
        raise DemandError(f"{what} is negative", path=path, line=line, value=value)
    return s


def format_clock(seconds: float) -> str:
    """Return "HH:MM:SS" for seconds after midnight (hours may exceed 23)."""
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass(frozen=True)
class Profile:
    """Trip-start shares per 15-min bin of the day: ``shares`` (96,) float64, sum 1."""

    shares: np.ndarray
    name: str = ""

    def __post_init__(self):
        s = np.asarray(self.shares, float)
        if s.shape != (N_BINS,) or not np.isfinite(s).all() or (s < 0).any() or s.sum() <= 0:
            raise DemandError(f"profile {self.name!r} needs {N_BINS} finite non-negative shares "
                              "with a positive sum")
        object.__setattr__(self, "shares", s / s.sum())

    @classmethod
    def from_shares(cls, shares, name: str = "") -> Profile:
        """Return a profile from 96 shares per 15 min or 24 shares per hour (each hour's share
        spread evenly over its four bins); any positive scale (normalised here)."""
        s = np.asarray(shares, float).ravel()
        if s.shape == (24,):
            s = np.repeat(s / 4.0, 4)
        return cls(s, name)

    @classmethod
    def uniform(cls) -> Profile:
        """Return the flat profile (every 15 min of the day the same share)."""
        return cls(np.full(N_BINS, 1.0 / N_BINS), "uniform")

    @classmethod
    def from_shape(cls, base: float, bumps, name: str = "") -> Profile:
        """Return a mixture profile: ``base`` spread over 05:00–24:00 plus normal bumps
        ``(weight, mean clock hour, s.d. hours)`` (wrapped around midnight)."""
        hours = (np.arange(N_BINS) + 0.5) * BIN_S / 3600.0
        s = np.where(hours >= 5.0, base / 19.0, 0.0)
        for w, mu, sd in bumps:
            d = (hours - mu + 12.0) % 24.0 - 12.0
            s = s + w * np.exp(-0.5 * (d / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
        return cls(s, name)

    def hourly(self) -> np.ndarray:
        """Return (24,) shares per clock hour."""
        return self.shares.reshape(24, 4).sum(axis=1)

    def _segments(self, start_s: float, duration_s: float):
        """Return (lo, hi, mass) of the 15-min bin pieces that overlap the window (absolute
        seconds after the start day's midnight)."""
        end = start_s + duration_s
        first = int(np.floor(start_s / BIN_S))
        last = int(np.ceil(end / BIN_S))
        k = np.arange(first, max(last, first + 1))
        lo = np.maximum(k * BIN_S, start_s)
        hi = np.minimum((k + 1) * BIN_S, end)
        frac = np.clip(hi - lo, 0.0, None) / BIN_S
        return lo, hi, self.shares[k % N_BINS] * frac

    def window_share(self, start_s: float, duration_s: float) -> float:
        """Return the fraction of one day's trips that start in [start, start + duration)
        (start in s after midnight; > 1 when the window is longer than a day)."""
        if duration_s <= 0:
            return 0.0
        return float(self._segments(start_s, duration_s)[2].sum())

    def sample(self, rng: np.random.Generator, n: int, start_s: float,
               duration_s: float) -> np.ndarray:
        """Return (n,) float64 departure times, s from the window start, distributed as the
        profile restricted to the window (uniform within each 15-min bin)."""
        if n == 0:
            return np.zeros(0)
        lo, hi, mass = self._segments(start_s, duration_s)
        total = mass.sum()
        if not total > 0:
            raise DemandError(f"profile {self.name!r} has no trips in the window "
                              f"{format_clock(start_s)} + {duration_s:g} s")
        cdf = np.cumsum(mass) / total
        cdf[-1] = 1.0
        seg = np.searchsorted(cdf, rng.random(n), side="right")
        seg = np.minimum(seg, len(cdf) - 1)
        t = lo[seg] + rng.random(n) * (hi[seg] - lo[seg]) - start_s
        return np.clip(t, 0.0, np.nextafter(duration_s, 0.0))


def default_profiles() -> dict[str, Profile]:
    """Return the default profiles by purpose ("to_work", "to_home", "other"); see
    :data:`DEFAULT_SHAPES` for their parameters and the module docstring for their basis."""
    return {k: Profile.from_shape(b, bumps, k) for k, (b, bumps) in DEFAULT_SHAPES.items()}
