"""Shelter choice: each household, in order of departure, takes the nearest shelter (walking
distance) that still has room for all its members (capacities are per member run)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _greedy(order, hm, size, dist, cap, allowed):
    K, S = allowed.shape
    left = np.empty((K, S))
    for k in range(K):
        left[k] = cap
    out = np.full(order.size, -1, np.int64)
    for h in order:
        k = hm[h]
        best, bd = -1, np.inf
        for s in range(S):
            d = dist[h, s]
            if allowed[k, s] and left[k, s] >= size[h] and d < bd:
                best, bd = s, d
        if best >= 0:
            left[k, best] -= size[h]
        out[h] = best
    return out


def assign_shelters(household, member, depart, dist, cap, allowed) -> np.ndarray:
    """Return (P,) the shelter index of each person (-1: none with room is reachable).

    ``household`` (P,) str, ``member`` (P,) int, ``depart`` (P,) s, ``dist`` (P, S) m from
    each person's start to each shelter (inf: out of reach), ``cap`` (S,) persons (inf:
    unlimited), ``allowed`` (K, S) bool (shelters open to member k)."""
    key = np.char.add(np.asarray(member).astype(str), np.char.add("|", np.asarray(household)))
    _, first, inv, size = np.unique(key, return_index=True, return_inverse=True,
                                    return_counts=True)
    t0 = np.full(first.size, np.inf)
    np.minimum.at(t0, inv, depart)
    hm = np.asarray(member, np.int64)[first]
    order = np.lexsort((np.arange(first.size), t0, hm))
    dist = np.asarray(dist, np.float64)[first]
    h = _greedy(order, hm, size.astype(np.float64), dist, np.asarray(cap, np.float64),
                np.asarray(allowed, np.bool_))
    return h[inv]
