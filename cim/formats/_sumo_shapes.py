"""Bulk conversion of SUMO shape strings (``"x,y x,y …"``) for the fast SUMO reader."""

from __future__ import annotations

import numpy as np

_PLAIN = np.zeros(256, bool)  # the bytes of plain decimal shapes
_PLAIN[np.frombuffer(b"0123456789.eE+-, ", np.uint8)] = True


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


def _numeric(joined: str, strs: list[str]):
    """(xy, counts) of ``joined`` (the shapes joined by spaces) when every shape is plain
    ``x,y x,y …`` with decimal numbers only, else None. numpy's parser is exact there: both
    it and ``float`` round correctly, and it refuses anything but whole numbers."""
    jb = np.frombuffer(joined.encode("ascii"), np.uint8)
    if not _PLAIN[jb].all():
        return None
    sp = jb == 32
    start = ~sp
    start[1:] &= sp[:-1]
    tpos, cpos = np.flatnonzero(start), np.flatnonzero(jb == 44)
    n = len(tpos)
    # one comma per point, neither first nor last in it
    if len(cpos) != n or (np.searchsorted(tpos, cpos, "right") - 1 != np.arange(n)).any():
        return None
    end = np.minimum(cpos + 1, len(jb) - 1)
    if (cpos == tpos).any() or (cpos + 1 >= len(jb)).any() or (jb[end] == 32).any():
        return None
    try:
        xy = np.fromstring(joined.replace(",", " "), sep=" ")
    except ValueError:
        return None
    if len(xy) != 2 * n:
        return None
    lens = np.fromiter(map(len, strs), np.int64, count=len(strs)) + 1
    lane = np.searchsorted(np.cumsum(lens) - lens, tpos, "right") - 1
    return xy.reshape(n, 2), np.bincount(lane, minlength=len(strs))


def bulk_shapes(strs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (xy (n_vertices, 2) float64, offsets (n + 1,) int64) of n shape strings, the
    same values as ``float`` of each coordinate (3-D points: x, y kept). Raises Fallback for
    a shape the general reader refuses (empty, not numeric, not finite)."""
    if not strs:
        return np.zeros((0, 2)), np.zeros(1, np.int64)
    joined = " ".join(strs)
    got = _numeric(joined, strs) if joined.isascii() else None
    if got is None:
        counts = np.fromiter(map(len, map(str.split, strs)), np.int64, count=len(strs))
        xy = np.concatenate([_one(s) for s in strs]) if counts.all() else None
    else:
        xy, counts = got
    if not counts.all() or not np.isfinite(xy).all():
        raise Fallback
    return xy, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
