"""Road-network assembly shared by the readers (CityJSON Road objects, OSM ways).

The convention for a road network in CityJSON (written by :func:`cim.write_cityjson`, read
back by the CityJSON reader):

- one ``Road`` city object per street segment between two network nodes, with a LoD0
  ``MultiLineString`` centreline from its start node to its end node, and attributes
  ``start_node``, ``end_node`` (node ids, str), ``oneway`` (bool, default false),
  ``lanes_forward`` (int ≥ 1), ``lanes_backward`` (int ≥ 0; default = lanes_forward unless
  oneway), ``maxspeed_kmh`` (> 0), ``name``, ``class`` (highway class), ``tunnel``,
  ``bridge`` (bool), ``width_m`` (optional), ``capacity_vph_per_lane`` (optional);
- one ``CityFurniture`` object with ``function: "traffic_signal"`` per signalized node, with a
  LoD0 ``MultiPoint`` at the node and attributes ``node`` (node id), ``signal_cycle_s``,
  ``signal_offset_s``, ``signal_green_s`` (list: green time of each phase, s),
  ``signal_yellow_s`` (s, after each phase's green) and optionally ``signal_phase_roads``
  (list per phase of the road names it serves; read into the plan as ``phase_roads``).

Signal phases are per road, major road first. A node's *major road* is the road (links
sharing a ``name``, or one road id when unnamed) of highest class rank at the node — in
:data:`CLASS_DEFAULTS` order, motorway first, ``<class>_link`` just below its class — then
most lanes, then first by name. Two phases: ``green_s = [major road, other roads]``; four
phases: ``[major through, major left, minor through, minor left]`` (protected lefts). The
cycle is ``sum(green_s) + n_phases × yellow_s`` unless ``signal_cycle_s`` says more (the rest
is all-red); ``signal_offset_s`` is when the first phase starts. ``signal_phase_roads``
overrides the derived mapping (approaches on roads it does not list get the last phase).

A segment becomes one directed link (oneway) or two (``<road id>:f`` from start to end,
``<road id>:b`` back).
"""

from __future__ import annotations

import numpy as np

from .errors import ValueRangeError
from .model.roads import RoadNetwork
from .model.tables import _obj

#: highway class -> (default lanes per direction, free speed km/h, capacity veh/h/lane)
CLASS_DEFAULTS = {
    "motorway": (3, 100.0, 2000.0),
    "trunk": (3, 80.0, 1900.0),
    "primary": (3, 60.0, 1800.0),
    "secondary": (2, 50.0, 1700.0),
    "tertiary": (2, 40.0, 1600.0),
    "unclassified": (1, 40.0, 1400.0),
    "residential": (1, 30.0, 1400.0),
    "living_street": (1, 20.0, 1000.0),
    "service": (1, 20.0, 1000.0),
}
for _c in ("motorway", "trunk", "primary", "secondary", "tertiary"):
    CLASS_DEFAULTS[_c + "_link"] = (1, CLASS_DEFAULTS[_c][1] * 0.8, CLASS_DEFAULTS[_c][2] * 0.9)

LANE_WIDTH_M = 3.5


def class_defaults(cls: str) -> tuple[int, float, float]:
    """Return (lanes per direction, free speed km/h, capacity veh/h/lane) for a road class."""
    return CLASS_DEFAULTS.get(cls, CLASS_DEFAULTS["unclassified"])


def class_rank(cls) -> int:
    """Return the rank of highway class ``cls`` (higher = more important), in the order of
    :data:`CLASS_DEFAULTS` (motorway first); ``<class>_link`` ranks just below its class,
    unknown classes as ``unclassified`` (as :func:`class_defaults`)."""
    base = [c for c in CLASS_DEFAULTS if not c.endswith("_link")]
    cls = str(cls)
    link = cls.endswith("_link")
    stem = cls[:-5] if link else cls
    if stem not in base:
        stem, link = "unclassified", False
    return 2 * (len(base) - base.index(stem)) - int(link)


def polyline_length(xy: np.ndarray) -> float:
    """Return the length (CRS units) of an (n, 2) polyline."""
    return float(np.sum(np.hypot(*np.diff(xy[:, :2], axis=0).T)))


class RoadNetworkBuilder:
    """Collects segments and signals, then :meth:`build` returns a RoadNetwork.

    ``length_fn(xy) -> metres`` measures a polyline (planar by default; the OSM reader passes
    a geodesic one for lon/lat)."""

    def __init__(self, length_fn=polyline_length):
        self.length_fn = length_fn
        self.node_index: dict[str, int] = {}
        self.node_xy: list[np.ndarray] = []
        self.signal: dict[str, dict] = {}
        self.links: dict[str, list] = {k: [] for k in (
            "ids", "from", "to", "length", "lanes", "speed", "cap", "name", "class", "width",
            "tunnel", "bridge", "source")}
        self.geoms: list[np.ndarray] = []

    def node(self, node_id: str, xy) -> int:
        """Return the index of node ``node_id``, adding it at ``xy`` if new."""
        i = self.node_index.get(node_id)
        if i is None:
            i = self.node_index[node_id] = len(self.node_xy)
            self.node_xy.append(np.asarray(xy, float)[:2])
        return i

    def add_segment(self, road_id: str, start: str, end: str, xy, *, oneway=False,
                    lanes_forward=None, lanes_backward=None, maxspeed_kmh=None, name="",
                    cls="unclassified", tunnel=False, bridge=False, width_m=None,
                    capacity_vph_per_lane=None) -> None:
        """Add one street segment (polyline ``xy`` (n, 2) from node ``start`` to ``end``).
        Raises ValueRangeError for absurd values (negative lanes or speeds, NaN)."""
        xy = np.asarray(xy, float)[:, :2]
        if len(xy) < 2 or not np.isfinite(xy).all():
            raise ValueRangeError("road centreline needs >= 2 finite vertices", obj_id=road_id)
        d_lanes, d_speed, d_cap = class_defaults(cls)
        lf = d_lanes if lanes_forward is None else lanes_forward
        lb = (0 if oneway else lf) if lanes_backward is None else lanes_backward
        v = d_speed if maxspeed_kmh is None else maxspeed_kmh
        cap = d_cap if capacity_vph_per_lane is None else capacity_vph_per_lane
        for label, val, lo in (("lanes_forward", lf, 1), ("lanes_backward", lb, 0),
                               ("maxspeed_kmh", v, 1e-9), ("capacity_vph_per_lane", cap, 1e-9)):
            try:
                bad = not np.isfinite(float(val)) or float(val) < lo
            except (TypeError, ValueError):
                bad = True
            if bad:
                raise ValueRangeError(f"{label} = {val!r} is not valid (must be >= {lo:g})",
                                      obj_id=road_id)
        length = self.length_fn(xy)
        if not length > 0:
            raise ValueRangeError("road has zero length", obj_id=road_id)
        a, b = self.node(start, xy[0]), self.node(end, xy[-1])
        total = int(lf) + int(lb)
        w = LANE_WIDTH_M * total if width_m is None else float(width_m)
        dirs = [("f", a, b, int(lf), xy)]
        if not oneway and int(lb) > 0:
            dirs.append(("b", b, a, int(lb), xy[::-1]))
        for tag, u, w_, lanes, geom in dirs:
            L = self.links
            L["ids"].append(f"{road_id}:{tag}")
            L["from"].append(u)
            L["to"].append(w_)
            L["length"].append(length)
            L["lanes"].append(lanes)
            L["speed"].append(float(v) / 3.6)
            L["cap"].append(float(cap) * lanes)
            L["name"].append(name or "")
            L["class"].append(cls)
            L["width"].append(w)
            L["tunnel"].append(bool(tunnel))
            L["bridge"].append(bool(bridge))
            L["source"].append(road_id)
            self.geoms.append(geom)

    def set_signal(self, node_id: str, plan: dict | None = None) -> None:
        """Mark node ``node_id`` as signalized with ``plan`` (cycle_s, offset_s, green_s,
        yellow_s; None = engine default)."""
        self.signal[node_id] = plan or {}

    def build(self) -> RoadNetwork:
        n = len(self.node_xy)
        ids = list(self.node_index)
        sig = np.zeros(n, bool)
        plans = _obj([None] * n)
        for nid, plan in self.signal.items():
            i = self.node_index.get(nid)
            if i is not None:
                sig[i] = True
                plans[i] = plan
        L = self.links
        lens = [len(g) for g in self.geoms]
        return RoadNetwork(
            node_ids=_obj(ids), node_xy=np.asarray(self.node_xy, float).reshape(-1, 2),
            node_signal=sig, node_signal_plan=plans,
            link_ids=_obj(L["ids"]), link_from=np.asarray(L["from"], np.int64),
            link_to=np.asarray(L["to"], np.int64), link_length=np.asarray(L["length"], float),
            link_lanes=np.asarray(L["lanes"], np.int16),
            link_free_speed=np.asarray(L["speed"], float),
            link_capacity=np.asarray(L["cap"], float), link_name=_obj(L["name"]),
            link_class=_obj(L["class"]), link_width=np.asarray(L["width"], float),
            link_tunnel=np.asarray(L["tunnel"], bool), link_bridge=np.asarray(L["bridge"], bool),
            link_source=_obj(L["source"]),
            geometry_offsets=np.concatenate([[0], np.cumsum(lens, dtype=np.int64)]).astype(np.int64),
            geometry_xy=(np.concatenate(self.geoms) if self.geoms else np.zeros((0, 2))),
        )
