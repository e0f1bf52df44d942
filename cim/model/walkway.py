"""The pedestrian network with its columns (:class:`Walkways`) and a builder from the street
network (:func:`walkways_from_roads`): a sidewalk on each side of every street.

Walkway links are undirected (people walk both ways); nodes are street corners (one per road
node: the crossing is the node itself) and, where a street is split into segments, points
along it. Sidewalk widths default by street class (:data:`SIDEWALK_WIDTH`, m, one side),
following common urban street design ranges (e.g. China's CJJ 37-2012 *Code for design of
urban road engineering*, sidewalk width ≥ 2–4 m by road class; 1.5 m on local streets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .network import WalkwayNetwork, column

#: default sidewalk width (m, one side) by road class; others get :data:`DEFAULT_WIDTH`
SIDEWALK_WIDTH = {"primary": 3.0, "trunk": 3.0, "secondary": 2.5, "tertiary": 2.0,
                  "residential": 1.5, "service": 1.5, "living_street": 1.5,
                  "unclassified": 1.5}
DEFAULT_WIDTH = 2.0
#: road classes without sidewalks (grade-separated roads)
NO_SIDEWALK = ("motorway", "motorway_link")


@dataclass
class Walkways(WalkwayNetwork):
    """A :class:`~cim.model.network.WalkwayNetwork` with pedestrian columns, links (n_links,):
    ``link_width`` float64 m (walkable width); ``link_kind`` object str ("sidewalk",
    "footway", "crossing", "corridor"…); ``link_street`` object str (id of the road link or
    OSM way it runs along, "" none); ``link_side`` int8 (+1 left, -1 right of the street as
    drawn, 0 none). Links are undirected."""

    kind: ClassVar[str] = "walkway"

    link_width: np.ndarray = column(np.float64, fill=DEFAULT_WIDTH)
    link_kind: np.ndarray = column(object, fill="footway")
    link_street: np.ndarray = column(object, fill="")
    link_side: np.ndarray = column(np.int8, fill=0)


def widths(walk: WalkwayNetwork, default: float = DEFAULT_WIDTH) -> np.ndarray:
    """Return the (n_links,) walkable widths (m) of any walkway network (``default`` where
    it has no ``link_width`` column)."""
    w = getattr(walk, "link_width", None)
    if w is None or len(w) != walk.n_links:
        return np.full(walk.n_links, float(default))
    return np.asarray(w, np.float64)


def walkways_from_roads(roads, *, width: dict | float | None = None,
                        segment_m: float | None = 50.0, tunnels: bool = False) -> Walkways:
    """Return the sidewalks of ``roads`` (a :class:`~cim.model.roads.RoadNetwork`): for each
    street (a pair of opposite directed links, or a one-way link) two links, one per side,
    between the walkway nodes at its end corners (ids of the road nodes), split into equal
    segments of at most ``segment_m`` m (None: not split; segment nodes ``"<street>#k"``).

    ``width``: sidewalk width (m, one side) for all streets, or {road class: m} overriding
    :data:`SIDEWALK_WIDTH`. Motorways, and tunnels unless ``tunnels``, get no sidewalk.
    Link ids ``"<road link id>:L/R[#k]"``; lengths are the street's.
    """
    n = roads.n_links
    a = np.asarray(roads.link_from, np.int64)
    b = np.asarray(roads.link_to, np.int64)
    cls = np.asarray(getattr(roads, "link_class", np.full(n, "")), object).astype(str)
    keep = ~np.isin(cls, NO_SIDEWALK) & (a != b)
    tun = getattr(roads, "link_tunnel", None)
    if not tunnels and tun is not None and len(tun) == n:
        keep &= ~np.asarray(tun, bool)
    # one street per unordered node pair (the first link of the pair names it)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * max(roads.n_nodes, 1) + hi
    idx = np.flatnonzero(keep)
    _, first = np.unique(key[idx], return_index=True)
    street = np.sort(idx[first])
    if isinstance(width, (int, float)):
        w = np.full(street.size, float(width))
    else:
        table = {**SIDEWALK_WIDTH, **(width or {})}
        w = np.array([table.get(c, DEFAULT_WIDTH) for c in cls[street]], np.float64)
    length = np.asarray(roads.link_length, np.float64)[street]
    nseg = (np.ones(street.size, np.int64) if not segment_m else
            np.maximum(1, np.ceil(length / float(segment_m) - 1e-9).astype(np.int64)))
    node_xy = np.asarray(roads.node_xy, np.float64)
    road_ids = np.asarray(roads.link_ids, object).astype(str)
    # segment nodes: nseg - 1 per street, evenly along the straight chord
    inner = nseg - 1
    s_of = np.repeat(np.arange(street.size), inner)
    k_in = np.arange(inner.sum()) - np.repeat(np.cumsum(inner) - inner, inner) + 1
    f = (k_in / nseg[s_of])[:, None]
    xa, xb = node_xy[a[street][s_of]], node_xy[b[street][s_of]]
    seg_xy = xa + f * (xb - xa)
    seg_ids = np.array([f"{road_ids[street[s]]}#{k}" for s, k in zip(s_of, k_in)], object)
    N0 = roads.n_nodes
    node_ids = np.concatenate([np.asarray(roads.node_ids, object).astype(str).astype(object),
                               seg_ids])
    xy = np.concatenate([node_xy, seg_xy]) if len(seg_xy) else node_xy.copy()
    # link ends per segment: corner, inner nodes…, corner
    base = N0 + np.cumsum(inner) - inner           # first inner node of each street
    s_l = np.repeat(np.arange(street.size), nseg)
    k_l = np.arange(nseg.sum()) - np.repeat(np.cumsum(nseg) - nseg, nseg)
    start = np.where(k_l == 0, a[street][s_l], base[s_l] + k_l - 1)
    end = np.where(k_l == nseg[s_l] - 1, b[street][s_l], base[s_l] + k_l)
    seg_len = length[s_l] / nseg[s_l]
    suffix = np.where(nseg[s_l] > 1, np.char.add("#", k_l.astype(str)), "")
    parts = []
    for side, tag in ((1, "L"), (-1, "R")):
        ids = np.char.add(np.char.add(road_ids[street][s_l], f":{tag}"), suffix)
        parts.append((ids.astype(object), side))
    link_ids = np.concatenate([p[0] for p in parts])
    m = s_l.size
    lf, lt = np.tile(start, 2), np.tile(end, 2)
    gxy = np.stack([xy[lf], xy[lt]], 1).reshape(-1, 2)
    return Walkways(
        node_ids=node_ids, node_xy=xy, link_ids=link_ids, link_from=lf, link_to=lt,
        link_length=np.tile(seg_len, 2), geometry_offsets=np.arange(0, 2 * len(lf) + 1, 2),
        geometry_xy=gxy, link_width=np.tile(w[s_l], 2),
        link_kind=np.full(2 * m, "sidewalk", object),
        link_street=np.tile(road_ids[street][s_l].astype(object), 2),
        link_side=np.repeat(np.array([1, -1], np.int8), m))
