"""Where trips can start and end: routable nodes, building access nodes, boundary nodes.

- :func:`routable_nodes` — the largest strongly connected component (SCC) of the directed road
  network (:func:`cim.graph.largest_strong_component`): from any of its nodes every other
  one can be reached, so a trip between two of them always has a route;
- :func:`attach_buildings` — each building's nearest routable node (``scipy.spatial.cKDTree``
  on the footprint centroids). Nodes served only by motorway/trunk links (and their ramps) are
  not used: a building has no driveway onto an expressway;
- :func:`boundary_nodes` — routable nodes of main roads (motorway, trunk, primary, secondary)
  near the edge of the network's extent, by side, where through traffic enters and leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from cim.graph import csr, largest_strong_component

from .errors import DemandError

#: road classes whose nodes serve as boundary nodes for through traffic
MAIN_CLASSES = ("motorway", "trunk", "primary", "secondary")
#: road classes with no building access
NO_ACCESS_CLASSES = ("motorway", "motorway_link", "trunk", "trunk_link")
SIDES = ("west", "east", "south", "north")


def routable_nodes(roads) -> np.ndarray:
    """Return (n_nodes,) bool: the nodes of the largest strongly connected component.
    Raises DemandError when the network has no two mutually reachable nodes."""
    n = roads.n_nodes
    if n == 0 or roads.n_links == 0:
        raise DemandError("the road network is empty: no trip can be routed")
    scc = largest_strong_component(csr(n, roads.link_from, roads.link_to))
    if scc.sum() < 2:
        raise DemandError("no two nodes of the road network are mutually reachable "
                          "(check link directions): no trip can be routed")
    return scc


def _nodes_touching(roads, classes) -> np.ndarray:
    """Return (n_nodes,) bool: nodes at either end of a link whose class is in ``classes``."""
    hit = np.isin(roads.link_class.astype(str), list(classes))
    out = np.zeros(roads.n_nodes, bool)
    out[roads.link_from[hit]] = True
    out[roads.link_to[hit]] = True
    return out


@dataclass
class Access:
    """Building access: ``routable`` (n_nodes,) bool (largest SCC); ``building_node``
    (n_buildings,) int64 nearest routable access node, −1 for buildings without a footprint;
    ``building_xy`` (n_buildings, 2) float64 footprint centroids (m); ``building_gap_m``
    (n_buildings,) float64 straight-line distance from centroid to its node (m)."""

    routable: np.ndarray
    building_node: np.ndarray
    building_xy: np.ndarray
    building_gap_m: np.ndarray


def attach_buildings(city, routable: np.ndarray | None = None) -> Access:
    """Return the :class:`Access` of ``city``'s buildings to its road network."""
    roads = city.roads
    if routable is None:
        routable = routable_nodes(roads)
    local = routable & _nodes_touching(roads, _all_classes(roads, NO_ACCESS_CLASSES))
    candidates = np.flatnonzero(local) if local.any() else np.flatnonzero(routable)
    nb = len(city.buildings)
    xy = city.buildings.footprint.centroids() if nb else np.zeros((0, 2))
    node = np.full(nb, -1, np.int64)
    gap = np.full(nb, np.nan)
    ok = np.isfinite(xy).all(axis=1)
    if ok.any():
        tree = cKDTree(roads.node_xy[candidates])
        d, k = tree.query(xy[ok])
        node[ok] = candidates[k]
        gap[ok] = d
    return Access(routable, node, xy, gap)


def _all_classes(roads, excluded) -> list[str]:
    """Return the link classes present in ``roads`` that are not in ``excluded``."""
    return [c for c in np.unique(roads.link_class.astype(str)) if c not in excluded]


def boundary_nodes(roads, routable: np.ndarray, margin_m: float | None = None,
                   classes=MAIN_CLASSES) -> dict[str, np.ndarray]:
    """Return {side: int64 node indices} where through traffic enters and leaves: routable
    nodes of ``classes`` roads within ``margin_m`` of the edge of the network's extent
    (default: 5 % of the larger extent side, at least 150 m), each counted for its nearest
    side only. Where a side has main-road *ends* (nodes with one main-road neighbour: a road
    leaving the modelled area), only those are kept, so that a main road running along the
    edge does not count as a string of entries."""
    xy = roads.node_xy
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    if margin_m is None:
        margin_m = max(150.0, 0.05 * max(x1 - x0, y1 - y0))
    hit = np.isin(roads.link_class.astype(str), list(classes))
    u, v = roads.link_from[hit], roads.link_to[hit]
    pairs = np.unique(np.column_stack([np.concatenate([u, v]), np.concatenate([v, u])]), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    main_degree = np.bincount(pairs[:, 0], minlength=roads.n_nodes)
    cand = np.flatnonzero(routable & (main_degree > 0))
    p = xy[cand]
    dist = np.column_stack([p[:, 0] - x0, x1 - p[:, 0], p[:, 1] - y0, y1 - p[:, 1]])
    side = np.argmin(dist, axis=1)
    near = dist[np.arange(len(cand)), side] <= margin_m
    end = main_degree[cand] == 1
    out = {}
    for k, name in enumerate(SIDES):
        on_side = near & (side == k)
        out[name] = cand[on_side & end] if (on_side & end).any() else cand[on_side]
    return out
