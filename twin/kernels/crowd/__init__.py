"""The crowd kernel: pedestrians on a walkway network (a mesoscopic queue model with
Weidmann's speed–density relation and link capacities), and evacuations to shelters as a
runtime kernel ("crowd", :class:`~twin.kernels.crowd.process.CrowdProcess`).

Usable without the runtime::

    from twin.kernels import crowd
    net = crowd.WalkNet.from_network(walkways)          # or WalkNet(a, b, length, width, xy…)
    next_node, dist = crowd.routes_to(net, [shelter_node])
    sim = crowd.CrowdSim(net, start, depart, dest=0, next_node=next_node,
                         dest_node=[shelter_node], dt=0.5)
    sim.advance(600.0); sim.arrive; sim.density()
"""

from .errors import CrowdError
from .fd import Weidmann
from .net import WalkNet, routes_to
from .sim import ARRIVED, HOME, NO_ROUTE, STATUS_NAMES, WALKING, CrowdSim

__all__ = ["CrowdError", "Weidmann", "WalkNet", "routes_to", "CrowdSim", "HOME", "WALKING",
           "ARRIVED", "NO_ROUTE", "STATUS_NAMES"]
