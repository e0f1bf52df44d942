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
from ._common import parse_number
from ._osm_net import batch_lengths, loop_cuts


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
    segs: list[list[str]] = []     # node refs of each split piece
    links: list[tuple] = []        # (piece, id, kind, width, street, side)

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
                segs.append(refs[a:b + 1])
                base = wid if len(cuts) == 2 else f"{wid}-{k}"
                links.extend((len(segs) - 1, base + suffix, kind, width, street, side)
                             for suffix, kind, width, street, side in pieces)
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
    return _walkways(segs, links, nodes)


def _walkways(segs, links, nodes) -> Walkways:
    """Assemble the Walkways of split pieces ``segs`` and their ``links``; geodesic lengths
    in one pass over all vertices; zero-length pieces dropped."""
    xy, off, seg_len = batch_lengths(segs, nodes)
    nv = np.diff(off)
    keep = [lk for lk in links if seg_len[lk[0]] > 0]
    piece = np.array([lk[0] for lk in keep], np.int64)
    ends = [(segs[p][0], segs[p][-1]) for p in piece]
    node_ids = list(dict.fromkeys(r for e in ends for r in e))
    nix = {r: i for i, r in enumerate(node_ids)}
    n_out = nv[piece]
    goff = np.concatenate([[0], np.cumsum(n_out)]).astype(np.int64)
    vert = np.arange(goff[-1]) + np.repeat(off[piece] - goff[:-1], n_out)
    return Walkways(
        node_ids=_obj(node_ids),
        node_xy=np.array([nodes[r] for r in node_ids], float).reshape(-1, 2),
        link_ids=_obj([lk[1] for lk in keep]),
        link_from=np.array([nix[a] for a, _ in ends], np.int64),
        link_to=np.array([nix[b] for _, b in ends], np.int64),
        link_length=seg_len[piece] if len(piece) else np.zeros(0),
        geometry_offsets=goff, geometry_xy=xy[vert],
        link_width=np.array([lk[3] for lk in keep], float),
        link_kind=_obj([lk[2] for lk in keep]), link_street=_obj([lk[4] for lk in keep]),
        link_side=np.array([lk[5] for lk in keep], np.int8))
