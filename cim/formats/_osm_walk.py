"""Walkways of the OSM reader (:class:`cim.model.walkway.Walkways`), for evacuation.

Read: ways that are no car roads but walkways (:func:`._osm_tags.foot_width`:
``highway=footway``, ``pedestrian``, ``steps``, ``path``, ``corridor`` unless ``foot=no``;
``cycleway``, ``bridleway``, ``track``, a closed ``service`` road with ``foot`` = yes /
designated / permissive), and the sidewalks of car roads (:func:`._osm_tags.sidewalk_sides`:
as ``sidewalk`` / ``sidewalk:<side>`` say; without those tags both sides of every street but
motorways, trunks and tunnels, as :func:`cim.model.walkway.walkways_from_roads` assumes), one
link per side along the road. Ways are split where they share a node with another walkway or
car road, so walkway node ids are OSM node ids and a footway meets the sidewalks of the roads
it crosses at their common node. Link kind: the ``footway=*`` value when given (sidewalk,
crossing…), else the highway value, "sidewalk" for road sidewalks; width: ``width``
(footways) or ``sidewalk:width``, else the class default (m). Lengths are geodesic (m); coordinates lon/lat.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..errors import CIMError, GeometryError
from ..model.tables import _obj
from ..model.walkway import DEFAULT_WIDTH, SIDEWALK_WIDTH, Walkways
from . import _osm_tags as T
from ._common import geodesic_length, parse_number
from ._osm_net import loop_cuts


def build(footways, highways, nodes, problems) -> Walkways | None:
    """Return the walkways of ``footways`` [(way id, refs, tags, line, default width)] and
    of the sidewalks of the car roads ``highways`` [(way id, refs, tags, line)]; None when
    there are none."""
    sides = [(h, T.sidewalk_sides(h[2])) for h in highways]
    sides = [(h, s) for h, s in sides if s]
    if not footways and not sides:
        return None
    use = Counter(r for w in footways for r in set(w[1]))
    use.update(r for h in highways for r in set(h[1]))
    node_index: dict[str, int] = {}
    cols: dict[str, list] = {k: [] for k in ("ids", "from", "to", "len", "w", "kind",
                                             "street", "side")}
    geoms: list[np.ndarray] = []

    def nix(r):
        if r not in node_index:
            node_index[r] = len(node_index)
        return node_index[r]

    def add(wid, refs, line, pieces):
        """pieces: [(id suffix, kind, width, street, side)] per split segment."""
        try:
            if len(refs) < 2:
                raise GeometryError("walkway has fewer than 2 nodes")
            own = Counter(refs)
            cuts = loop_cuts(refs, [0] + [k for k in range(1, len(refs) - 1)
                                          if use[refs[k]] > 1 or own[refs[k]] > 1]
                             + [len(refs) - 1])
            for k, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
                seg = refs[a:b + 1]
                xy = np.array([nodes[r] for r in seg], float)
                length = geodesic_length(xy)
                if not length > 0:
                    continue
                base = wid if len(cuts) == 2 else f"{wid}-{k}"
                for suffix, kind, width, street, side in pieces:
                    c = cols
                    c["ids"].append(base + suffix)
                    c["from"].append(nix(seg[0]))
                    c["to"].append(nix(seg[-1]))
                    c["len"].append(length)
                    c["w"].append(width)
                    c["kind"].append(kind)
                    c["street"].append(street)
                    c["side"].append(side)
                    geoms.append(xy)
        except CIMError as e:
            problems.handle(e, obj_id=wid, line=line)

    for wid, refs, tags, line, width in footways:
        try:
            w = parse_number(tags.get("width"), "width", minimum=1e-9) or width
        except CIMError as e:
            problems.handle(e, obj_id=wid, line=line)
            continue
        kind = tags.get("footway") or tags.get("highway")
        add(wid, refs, line, [("", kind, w, "", 0)])
    for (wid, refs, tags, line), ss in sides:
        try:
            w = parse_number(tags.get("sidewalk:width"), "sidewalk:width", minimum=1e-9)
        except CIMError as e:
            problems.handle(e, obj_id=wid, line=line)
            continue
        w = w or SIDEWALK_WIDTH.get(tags.get("highway"), DEFAULT_WIDTH)
        add(wid, refs, line, [(":L" if s > 0 else ":R", "sidewalk", w, wid, s) for s in ss])
    lens = [len(g) for g in geoms]
    c = cols
    return Walkways(
        node_ids=_obj(list(node_index)),
        node_xy=np.array([nodes[r] for r in node_index], float).reshape(-1, 2),
        link_ids=_obj(c["ids"]), link_from=np.array(c["from"], np.int64),
        link_to=np.array(c["to"], np.int64), link_length=np.array(c["len"], float),
        geometry_offsets=np.concatenate([[0], np.cumsum(lens, dtype=np.int64)]).astype(
            np.int64),
        geometry_xy=np.concatenate(geoms) if geoms else np.zeros((0, 2)),
        link_width=np.array(c["w"], float), link_kind=_obj(c["kind"]),
        link_street=_obj(c["street"]), link_side=np.array(c["side"], np.int8))
