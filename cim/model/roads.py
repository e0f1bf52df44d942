"""The directed road network: a :class:`~cim.model.network.Network` with traffic columns.

Assembled by :class:`cim.roads.RoadNetworkBuilder` from the readers' street segments.
"""

from __future__ import annotations

from dataclasses import dataclass
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
