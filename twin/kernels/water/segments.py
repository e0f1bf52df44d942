"""Isolation segments: the part of a water network that a set of closed isolation valves cuts
off, and the valves a crew closes to isolate a pipe (as in wntr's valve layer analysis).

An isolation valve (``WaterNetwork.isolation_valves`` row (link, node)) sits on pipe ``link``
next to node ``node``; closed, it cuts that pipe from that node. A *segment* is a connected
part of the network once every valve is closed: nodes and links joined by pipe ends that carry
no valve. To isolate a pipe, the crew closes every valve on the boundary of the pipe's
segment; the segment's nodes lose their supply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Isolation:
    """What isolating one segment takes and does: ``segment`` its label; ``valves`` (k,)
    rows of ``isolation_valves`` to close; ``close_links`` (m,) link indices closed (the
    pipes carrying those valves and the segment's own links); ``nodes`` (n,) node indices cut
    off; ``links`` (p,) the segment's links."""

    segment: int
    valves: np.ndarray
    close_links: np.ndarray
    nodes: np.ndarray
    links: np.ndarray


def segment_labels(network) -> tuple[np.ndarray, np.ndarray]:
    """Return (node_segment (n_nodes,), link_segment (n_links,)) int64 labels: the segment of
    every node and link when all isolation valves are closed."""
    N, L = network.n_nodes, network.n_links
    valves = np.asarray(network.isolation_valves, np.int64).reshape(-1, 2)
    ends = np.concatenate([network.link_from, network.link_to]).astype(np.int64)
    links = np.tile(np.arange(L, dtype=np.int64), 2)
    if len(valves):
        # a pipe end is cut where a valve sits on (link, node): compare packed keys
        key = links * N + ends
        keep = ~np.isin(key, valves[:, 0] * N + valves[:, 1])
        ends, links = ends[keep], links[keep]
    g = sp.coo_matrix((np.ones(len(ends), np.int8), (ends, N + links)), shape=(N + L, N + L))
    _, label = connected_components(g, directed=False)
    return label[:N].astype(np.int64), label[N:].astype(np.int64)


def isolate(network, link: int, labels=None) -> Isolation:
    """Return the :class:`Isolation` of the segment holding pipe ``link`` (dense index).

    labels : the result of :func:`segment_labels` (computed when None).
    """
    node_seg, link_seg = segment_labels(network) if labels is None else labels
    s = int(link_seg[link])
    valves = np.asarray(network.isolation_valves, np.int64).reshape(-1, 2)
    on_boundary = (link_seg[valves[:, 0]] == s) | (node_seg[valves[:, 1]] == s)
    rows = np.flatnonzero(on_boundary)
    seg_links = np.flatnonzero(link_seg == s)
    close = np.union1d(valves[rows, 0], seg_links)
    return Isolation(s, rows, close, np.flatnonzero(node_seg == s), seg_links)
