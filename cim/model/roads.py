"""The directed road network: a :class:`~cim.model.network.Network` with traffic columns.

Assembled by :class:`cim.roads.RoadNetworkBuilder` from the readers' street segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from .network import Network, column


@dataclass
class RoadNetwork(Network):
    """The directed road network (the columns of :class:`Network`, plus):

    Nodes (n_nodes,): ``node_signal`` bool (signalized intersection), ``node_signal_plan``
    object (dict with ``cycle_s``, ``offset_s``, ``green_s`` list per phase, ``yellow_s``; or
    None).
    Links (n_links,): ``link_lanes`` int16; ``link_free_speed`` float64 m/s;
    ``link_capacity`` float64 veh/h over all lanes; ``link_name`` object str; ``link_class``
    object str (motorway, trunk, primary, secondary, tertiary, residential, service, …);
    ``link_width`` float64 m; ``link_tunnel`` / ``link_bridge`` bool; ``link_source`` object str
    (id of the source object the link came from, e.g. the CityJSON Road or OSM way).
    ``node_type`` object str (optional): junction control as the source names it (SUMO's
    ``priority``, ``traffic_light``, ``right_before_left``, ``allway_stop``…; "" unknown).

    Side tables (optional, None when the source has no lane-level data; SUMO networks have
    them): ``lanes`` (:class:`RoadLanes`, one row per lane of every link) and
    ``connections`` (:class:`RoadConnections`, lane-to-lane movements through the nodes).
    Connections may cover only some nodes (OSM networks: those with turn restrictions,
    ``turn:lanes`` or lanes closed to cars): a node with at least one connection row has
    exactly the movements listed; a node without rows has every geometric turn.
    """

    kind: ClassVar[str] = "road"

    node_signal: np.ndarray = column(bool)
    node_signal_plan: np.ndarray = column(object)
    link_lanes: np.ndarray = column(np.int16)
    link_free_speed: np.ndarray = column(np.float64)
    link_capacity: np.ndarray = column(np.float64)
    link_name: np.ndarray = column(object)
    link_class: np.ndarray = column(object)
    link_width: np.ndarray = column(np.float64)
    link_tunnel: np.ndarray = column(bool)
    link_bridge: np.ndarray = column(bool)
    link_source: np.ndarray = column(object)
    node_type: np.ndarray = column(object, fill="")
    lanes: RoadLanes | None = field(default=None, kw_only=True)
    connections: RoadConnections | None = field(default=None, kw_only=True)

    def lanes_allowing(self, vclass: str = "passenger") -> np.ndarray:
        """Return (n_links,) int: lanes of each link open to ``vclass`` (``link_lanes`` when
        the network has no lane table)."""
        if self.lanes is None:
            return np.asarray(self.link_lanes, np.int64)
        ok = (self.lanes.allow & vclass_mask([vclass])) != 0
        return np.bincount(self.lanes.link[ok], minlength=self.n_links)

    @classmethod
    def concat(cls, parts: list) -> RoadNetwork:
        """As :meth:`Network.concat`; the side tables are joined with their link indices
        re-based (dropped unless every non-empty part has them)."""
        parts = [p for p in parts if not p.is_empty]
        out = super().concat(parts)
        if len(parts) < 2:
            return out
        base = np.cumsum([0] + [p.n_links for p in parts])[:-1]
        for name in ("lanes", "connections"):
            tabs = [getattr(p, name) for p in parts]
            joined = None if any(t is None for t in tabs) else type(tabs[0]).concat(tabs, base)
            setattr(out, name, joined)
        return out

    def transformed(self, fn):
        out = super().transformed(fn)
        if self.lanes is not None and len(self.lanes.shape_xy):
            xy = np.array(self.lanes.shape_xy, float, copy=True)
            xy[:, 0], xy[:, 1] = fn(xy[:, 0], xy[:, 1])
            out.lanes = replace(self.lanes, shape_xy=xy)
        return out


#: vehicle classes (SUMO's names) of :attr:`RoadLanes.allow`: bit k = class k
VCLASSES = ("private", "emergency", "authority", "army", "vip", "pedestrian", "passenger",
            "hov", "taxi", "bus", "coach", "delivery", "truck", "trailer", "motorcycle",
            "moped", "bicycle", "evehicle", "tram", "rail_urban", "rail", "rail_electric",
            "rail_fast", "ship", "container", "cable_car", "subway", "aircraft", "wheelchair",
            "scooter", "drone", "custom1", "custom2")
#: deprecated SUMO class names -> current ones
VCLASS_ALIASES = {"public_emergency": "emergency", "public_authority": "authority",
                  "public_army": "army", "public_transport": "bus", "transport": "truck",
                  "lightrail": "tram", "cityrail": "rail_urban", "rail_slow": "rail"}
ALL_VCLASSES = (1 << len(VCLASSES)) - 1
_VBIT = {c: 1 << k for k, c in enumerate(VCLASSES)}


def vclass_mask(names) -> int:
    """Return the bit mask of vehicle class ``names`` ("all" = every class); KeyError names
    an unknown class."""
    m = 0
    for c in names:
        if c == "all":
            return ALL_VCLASSES
        m |= _VBIT[VCLASS_ALIASES.get(c, c)]
    return m


def vclass_names(mask: int) -> list[str]:
    """Return the class names of bit mask ``mask``."""
    return [c for k, c in enumerate(VCLASSES) if int(mask) >> k & 1]


def _cat(parts, name, shift=None):
    arrs = [getattr(p, name) for p in parts]
    if shift is not None:
        arrs = [a + s for a, s in zip(arrs, shift)]
    return np.concatenate(arrs)


@dataclass
class RoadLanes:
    """Lanes of a road network, one row per lane (n_lanes,), grouped by link.

    ``link`` int64 link index; ``index`` int16 lane index in its link (0 = rightmost);
    ``ids`` object str (source lane ids); ``speed`` float64 m/s; ``length`` float64 m;
    ``width`` float64 m; ``allow`` int64 bit mask of the vehicle classes allowed
    (:data:`VCLASSES`, :func:`vclass_names`); lane k's centreline is
    ``shape_xy[shape_offsets[k]:shape_offsets[k + 1]]`` ((n_lanes + 1,) int64 and
    (n_vertices, 2) float64, CRS units).
    """

    link: np.ndarray
    index: np.ndarray
    ids: np.ndarray
    speed: np.ndarray
    length: np.ndarray
    width: np.ndarray
    allow: np.ndarray
    shape_offsets: np.ndarray
    shape_xy: np.ndarray

    def __len__(self) -> int:
        return len(self.link)

    @classmethod
    def concat(cls, parts: list[RoadLanes], link_base) -> RoadLanes:
        """Join lane tables whose links were numbered from ``link_base[k]`` on."""
        offs = [np.zeros(1, np.int64)]
        n = 0
        for p in parts:
            offs.append(np.asarray(p.shape_offsets[1:], np.int64) + n)
            n += len(p.shape_xy)
        return cls(_cat(parts, "link", link_base), _cat(parts, "index"), _cat(parts, "ids"),
                   _cat(parts, "speed"), _cat(parts, "length"), _cat(parts, "width"),
                   _cat(parts, "allow"), np.concatenate(offs), _cat(parts, "shape_xy"))


@dataclass
class RoadConnections:
    """Lane-to-lane movements through the nodes, one row per connection (n_conn,).

    ``from_link`` / ``to_link`` int64 link indices; ``from_lane`` / ``to_lane`` int16 lane
    indices in those links (0 = rightmost); ``direction`` object str (SUMO's ``s`` straight,
    ``l``/``r`` left/right, ``L``/``R`` partial, ``t`` turnaround); ``state`` object str
    (right of way when uncontrolled: ``M`` major, ``m`` minor, ``=`` all-way, ``s`` stop,
    ``w`` allway-stop, ``o`` off, …); ``tl`` object str (id of the signal program that
    controls it, "" none) and ``tl_index`` int32 (its position in that program's state
    strings, −1 none); ``via`` object str (internal lane through the junction, "" none).
    """

    from_link: np.ndarray
    to_link: np.ndarray
    from_lane: np.ndarray
    to_lane: np.ndarray
    direction: np.ndarray
    state: np.ndarray
    tl: np.ndarray
    tl_index: np.ndarray
    via: np.ndarray

    def __len__(self) -> int:
        return len(self.from_link)

    @classmethod
    def concat(cls, parts: list[RoadConnections], link_base) -> RoadConnections:
        """Join connection tables whose links were numbered from ``link_base[k]`` on."""
        return cls(_cat(parts, "from_link", link_base), _cat(parts, "to_link", link_base),
                   *(_cat(parts, n) for n in ("from_lane", "to_lane", "direction", "state",
                                              "tl", "tl_index", "via")))
