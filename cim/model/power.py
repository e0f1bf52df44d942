"""The power grid, as a bus-branch model in per unit (MATPOWER's model), with its generators
and loads as side tables.

Readers (:mod:`cim.formats.matpower`, :mod:`cim.formats.pandapower_json`) convert once, on
load, to this model: impedances in per unit on the system base ``base_mva`` and the bus's
nominal voltage; powers in MW / Mvar; angles in degrees. Solvers (:mod:`twin.kernels.power`)
consume it. Buses are the nodes; lines, transformers and switches are the links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .network import Network, column

#: bus types (``node_bus_type``), MATPOWER's codes
PQ, PV, REF, ISOLATED = 1, 2, 3, 4
#: link types (``link_type`` values)
BRANCH_TYPES = ("line", "trafo", "switch")
#: generator kinds (``PowerGens.kind`` values)
GEN_KINDS = ("ext_grid", "gen", "sgen")


@dataclass
class PowerGens:
    """Generators, (n,) each: ``ids`` object str; ``bus`` int64 dense bus index; ``kind``
    object str in :data:`GEN_KINDS` ("ext_grid": the slack / external grid, "gen": voltage-
    controlled (PV), "sgen": static generator, a negative PQ load); ``p_mw``, ``q_mvar``
    float64 (set points; q only for sgen); ``vm_pu`` float64 voltage set point (ext_grid,
    gen); ``va_degree`` float64 (ext_grid angle); ``q_max_mvar``, ``q_min_mvar`` float64
    (±inf when unlimited); ``in_service`` bool."""

    ids: np.ndarray
    bus: np.ndarray
    kind: np.ndarray
    p_mw: np.ndarray
    q_mvar: np.ndarray
    vm_pu: np.ndarray
    va_degree: np.ndarray
    q_max_mvar: np.ndarray
    q_min_mvar: np.ndarray
    in_service: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> PowerGens:
        z = np.zeros(0)
        return cls(np.empty(0, object), np.zeros(0, np.int64), np.empty(0, object), z, z, z,
                   z, z, z, np.zeros(0, bool))


@dataclass
class PowerLoads:
    """Loads, (n,) each: ``ids`` object str; ``bus`` int64 dense bus index; ``p_mw``,
    ``q_mvar`` float64 (constant power); ``in_service`` bool; ``building`` object str: the
    building the load serves, or None (signal controllers and pumps are loads too:
    ``kind`` object str "building", "signal", "pump", or "" for plain loads); ``element``
    object str: the id of that building, signal node or pump, or None."""

    ids: np.ndarray
    bus: np.ndarray
    p_mw: np.ndarray
    q_mvar: np.ndarray
    in_service: np.ndarray
    kind: np.ndarray
    element: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> PowerLoads:
        return cls(np.empty(0, object), np.zeros(0, np.int64), np.zeros(0), np.zeros(0),
                   np.zeros(0, bool), np.empty(0, object), np.empty(0, object))


@dataclass
class PowerGrid(Network):
    """The power grid: a bus-branch model in per unit on ``base_mva`` (MVA).

    Buses (n_nodes,): ``node_vn_kv`` float64 nominal voltage kV; ``node_bus_type`` int8
    (:data:`PQ`, :data:`PV`, :data:`REF`, :data:`ISOLATED`, as the source declares them;
    solvers derive the working types from ``gens``); ``node_gs_mw`` / ``node_bs_mvar``
    float64 shunt consumption at 1 p.u. (MATPOWER's Gs, Bs); ``node_vm_pu`` /
    ``node_va_degree`` float64 initial voltage; ``node_vmax_pu`` / ``node_vmin_pu`` float64
    limits; ``node_in_service`` bool; ``node_zone`` object.
    Branches (n_links,), from → to: ``link_type`` object in :data:`BRANCH_TYPES`;
    ``link_r_pu``, ``link_x_pu``, ``link_b_pu`` float64 series resistance, reactance and total
    line-charging susceptance (p.u.); ``link_g_pu`` float64 magnetising conductance of a
    transformer (p.u., 0 for lines); ``link_tap`` float64 off-nominal turns ratio at the from
    end (1.0 for lines); ``link_shift_degree`` float64 phase shift; ``link_rate_mva`` float64
    long-term rating (0 = unlimited); ``link_max_i_ka`` float64 a line's thermal current
    limit kA (NaN when unknown: loading then uses ``link_rate_mva``); ``link_in_service`` bool
    (an open switch is a switch out of service). A switch has r = x = 0: solvers fuse the
    buses of a closed switch.
    Side tables: ``gens`` (:class:`PowerGens`), ``loads`` (:class:`PowerLoads`);
    ``base_mva`` float; ``f_hz`` float.
    """

    kind: ClassVar[str] = "power"

    node_vn_kv: np.ndarray = column(np.float64, fill=np.nan)
    node_bus_type: np.ndarray = column(np.int8, fill=PQ)
    node_gs_mw: np.ndarray = column(np.float64, fill=0.0)
    node_bs_mvar: np.ndarray = column(np.float64, fill=0.0)
    node_vm_pu: np.ndarray = column(np.float64, fill=1.0)
    node_va_degree: np.ndarray = column(np.float64, fill=0.0)
    node_vmax_pu: np.ndarray = column(np.float64, fill=np.inf)
    node_vmin_pu: np.ndarray = column(np.float64, fill=0.0)
    node_in_service: np.ndarray = column(bool, fill=True)
    node_zone: np.ndarray = column(object, fill=None)
    link_type: np.ndarray = column(object, fill="line")
    link_r_pu: np.ndarray = column(np.float64, fill=0.0)
    link_x_pu: np.ndarray = column(np.float64, fill=0.0)
    link_b_pu: np.ndarray = column(np.float64, fill=0.0)
    link_g_pu: np.ndarray = column(np.float64, fill=0.0)
    link_tap: np.ndarray = column(np.float64, fill=1.0)
    link_shift_degree: np.ndarray = column(np.float64, fill=0.0)
    link_rate_mva: np.ndarray = column(np.float64, fill=0.0)
    link_max_i_ka: np.ndarray = column(np.float64, fill=np.nan)
    link_in_service: np.ndarray = column(bool, fill=True)
    gens: PowerGens = field(default_factory=PowerGens.empty, kw_only=True)
    loads: PowerLoads = field(default_factory=PowerLoads.empty, kw_only=True)
    base_mva: float = field(default=100.0, kw_only=True)
    f_hz: float = field(default=50.0, kw_only=True)
