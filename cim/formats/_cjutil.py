"""Helpers of the CityJSON readers: the garbage-collector pause, checked attribute numbers,
and vectorised segment operations on flat index buffers."""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager

import numpy as np

from ..errors import ValueRangeError


@contextmanager
def no_gc():
    """Pause the cyclic garbage collector: parsing and walking a big document creates
    millions of containers, and the collector's repeated full scans of them would otherwise
    cost more than the parse itself. Nothing here creates reference cycles."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def lod_value(lod) -> float:
    """Return a CityJSON ``lod`` ("2.2", 2, "1") as a float; ValueError when it is not one."""
    if isinstance(lod, bool):
        raise ValueError(lod)
    return float(lod)


def number(attrs: dict, key: str, default, *, lo=0.0, hi=math.inf, integer=False):
    """Pop ``attrs[key]`` as a finite number in [lo, hi] (``default`` when absent/None);
    ValueRangeError for anything else."""
    v = attrs.pop(key, None)
    if v is None:
        return default
    try:
        if isinstance(v, (bool, list, dict)):
            raise TypeError
        f = float(v)
    except (TypeError, ValueError):
        raise ValueRangeError(f"attribute {key} = {v!r} is not a number") from None
    if not (lo <= f <= hi) or (integer and f != int(f)):
        raise ValueRangeError(f"attribute {key} = {v!r} is out of range [{lo:g}, {hi:g}]"
                              + (" or not an integer" if integer else ""))
    return int(f) if integer else f


def _fast_number(attrs: dict, key: str, default, hi: float):
    """:func:`number` for the common case (absent, or a plain int/float in [0, hi])."""
    v = attrs.pop(key, None)
    if v is None:
        return default
    if (v.__class__ is float or v.__class__ is int) and 0 <= v <= hi:
        return float(v)
    return number({key: v}, key, default, hi=hi)


def _excl_cumsum(a: np.ndarray) -> np.ndarray:
    out = np.zeros(len(a) + 1, np.int64)
    np.cumsum(a, out=out[1:])
    return out


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return the concatenation of ``arange(s, s + n)`` for each (s, n), vectorised."""
    lengths = np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offs = _excl_cumsum(lengths)[:-1]
    return np.repeat(np.asarray(starts, np.int64) - offs, lengths) + np.arange(total)


def seg_reduce(ufunc, values: np.ndarray, counts: np.ndarray, empty) -> np.ndarray:
    """Return ``ufunc`` reduced over consecutive segments of ``values`` of sizes ``counts``
    (``empty`` for empty segments)."""
    out = np.full(len(counts), empty, dtype=np.result_type(values, type(empty)))
    nonempty = counts > 0
    if nonempty.any():
        starts = _excl_cumsum(counts)[:-1]
        out[nonempty] = ufunc.reduceat(values, starts[nonempty])
    return out
