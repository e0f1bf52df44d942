"""Seeded random draws shared by the demand generator and the demand readers."""

from __future__ import annotations

import numpy as np

from .errors import DemandError


def as_generator(seed) -> np.random.Generator:
    """Return ``seed`` if it is a Generator, else ``numpy.random.default_rng(seed)``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise DemandError("a seed (int or numpy Generator) is required: demand is random")
    return np.random.default_rng(seed)


def stochastic_round(rng: np.random.Generator, expected) -> np.ndarray:
    """Return integers whose mean is ``expected`` (floor plus a Bernoulli remainder)."""
    e = np.asarray(expected, float)
    base = np.floor(e)
    return (base + (rng.random(e.shape) < e - base)).astype(np.int64)
