"""Bulk conversion of SUMO shape strings (``"x,y x,y …"``) for the fast SUMO reader."""

from __future__ import annotations

import re

import numpy as np

_MULTI = re.compile(r",[^\s,]*,")  # a point with two commas or more (x,y,z)


class Fallback(Exception):
    """The fast SUMO reader cannot read this file exactly: use the general reader."""


def lane_rows(off: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Rows ``off[i]:off[i + 1]`` of every i in ``sel``, concatenated ((m,) int64)."""
    starts = off[sel]
    lens = off[sel + 1] - starts
    return np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(int(lens.sum()))


def _one(s: str) -> np.ndarray:
    """One shape exactly as the general reader's ``_shape`` (Fallback where it fails)."""
    try:
        xy = np.array([[float(v) for v in p.split(",")[:2]] for p in s.split()], float)
    except ValueError:
        raise Fallback from None
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise Fallback
    return xy


def bulk_shapes(strs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (xy (n_vertices, 2) float64, offsets (n + 1,) int64) of n shape strings, the
    same values as ``float`` of each coordinate (3-D points: x, y kept). Raises Fallback for
    a shape the general reader refuses (empty, not numeric, not finite)."""
    if not strs:
        return np.zeros((0, 2)), np.zeros(1, np.int64)
    counts = np.fromiter(map(len, map(str.split, strs)), np.int64, count=len(strs))
    n = int(counts.sum())
    if (counts == 0).any():
        raise Fallback
    joined = " ".join(strs)
    xy = None
    if joined.count(",") == n and not _MULTI.search(joined):  # one comma per point
        tokens = joined.replace(",", " ").split()
        if len(tokens) == 2 * n:  # and two non-empty coordinates
            try:
                xy = np.fromiter(map(float, tokens), float, count=2 * n).reshape(n, 2)
            except ValueError:
                raise Fallback from None
    if xy is None:
        xy = np.concatenate([_one(s) for s in strs])
    if not np.isfinite(xy).all():
        raise Fallback
    return xy, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
