"""The water supply network (EPANET's model), in SI units throughout.

Everything read from a file is converted to SI once, on load (:mod:`cim.formats.epanet_inp`):
lengths, diameters, heads, levels and pressures in m; flows and demands in m³/s; volumes in
m³; power in W; times in s. Solvers (:mod:`twin.kernels.water`) consume this model and never
see US units.

Nodes are junctions, reservoirs and tanks; links are pipes, pumps and valves (see
:data:`NODE_TYPES`, :data:`LINK_TYPES`). Columns that do not apply to a row hold NaN (float),
None (object) or False (bool). Demands, patterns, curves, controls, rules, options and times
are small side tables; EPANET sections that are read but not simulated (quality, reactions,
sources, mixing, energy, report, tags, labels, backdrop…) are kept verbatim in ``sections``
so that :func:`cim.write_inp` writes them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .network import Network, column

#: node types (``node_type`` values)
NODE_TYPES = ("junction", "reservoir", "tank")
#: link types (``link_type`` values): pipes, pumps, and EPANET's six valve types
LINK_TYPES = ("pipe", "pump", "prv", "psv", "pbv", "fcv", "tcv", "gpv")
VALVE_TYPES = LINK_TYPES[2:]


@dataclass
class WaterDemands:
    """Demand categories of junctions (EPANET [DEMANDS], or the junction line's demand when a
    junction has no [DEMANDS] entry), all (n,):

    - ``node`` int64 dense node index; ``base`` float64 m³/s (before the global demand
      multiplier); ``pattern`` object str pattern name or None (None: the default pattern,
      ``options["pattern"]``, or a constant 1 when there is none); ``category`` object str
      ("" when unnamed).
    """

    node: np.ndarray
    base: np.ndarray
    pattern: np.ndarray
    category: np.ndarray

    def __len__(self) -> int:
        return len(self.node)

    @classmethod
    def empty(cls) -> WaterDemands:
        return cls(np.zeros(0, np.int64), np.zeros(0), np.empty(0, object), np.empty(0, object))


@dataclass
class WaterCurve:
    """A curve, SI: ``kind`` "pump" (x flow m³/s, y head m), "efficiency" (x flow m³/s, y %),
    "volume" (x level m, y volume m³), "headloss" (x flow m³/s, y head loss m) or
    "generic" (a curve nothing uses and no comment types: values as written); x, y (n,)
    float64 in the file's order."""

    kind: str
    x: np.ndarray
    y: np.ndarray


@dataclass
class Control:
    """A simple control ([CONTROLS]): set ``link`` (dense index) to ``status`` ("open",
    "closed") or to ``setting`` (float, SI as ``link_setting``), when:

    - ``condition`` "time": ``value`` s after the start of the simulation;
    - ``condition`` "clocktime": at ``value`` s after midnight, every day;
    - ``condition`` "above" / "below": ``node`` (dense index)'s level (tank, m above bottom)
      or pressure (junction, m) is above / below ``value``.
    ``node`` is -1 for time conditions; exactly one of ``status`` / ``setting`` is given.
    ``line`` is the 1-based line in the source file (0 when built in code).
    """

    link: int
    condition: str
    value: float
    node: int = -1
    status: str | None = None
    setting: float | None = None
    line: int = 0


@dataclass
class RuleClause:
    """One premise or action of a rule, SI.

    Premise: ``logic`` "if" / "and" / "or"; ``object`` "node", "junction", "tank",
    "reservoir", "link", "pipe", "pump", "valve" or "system"; ``index`` dense node or link
    index (-1 for system); ``attribute`` (demand, head, grade, level, pressure, flow, status,
    setting, power, time, clocktime, filltime, draintime); ``relation`` one of =, <>, <, >,
    <=, >=, is, not, below, above; ``value`` float (SI; s for times) or str for a status
    ("open", "closed", "active").
    Action (in ``then`` / ``else``): ``logic`` "then" / "and" / "else"; ``relation`` "=";
    ``attribute`` "status" or "setting"; ``object`` "link"/"pipe"/"pump"/"valve".
    """

    logic: str
    object: str
    index: int
    attribute: str
    relation: str
    value: float | str


@dataclass
class Rule:
    """A rule-based control ([RULES]): ``name``; ``premises`` (list of RuleClause, joined
    left to right by their ``logic``); ``then`` / ``otherwise`` actions; ``priority`` float
    (0 when none is given); ``line`` where the rule starts in the source file."""

    name: str
    premises: list
    then: list
    otherwise: list = field(default_factory=list)
    priority: float = 0.0
    line: int = 0


#: default options, SI (EPANET 2.2's defaults)
DEFAULT_OPTIONS = {
    "flow_units": "LPS",          # units of the source file; the model itself is always SI
    "headloss": "H-W",            # "H-W", "D-W" or "C-M"
    "demand_model": "DDA",        # "DDA" or "PDA" (pressure-dependent, Wagner)
    "minimum_pressure": 0.0,      # m (PDA)
    "required_pressure": 0.1,     # m (PDA)
    "pressure_exponent": 0.5,     # (PDA)
    "accuracy": 0.001,            # sum |dq| / sum |q|
    "trials": 200,
    "unbalanced": "stop",        # "stop" or "continue N"
    "checkfreq": 2,
    "maxcheck": 10,
    "damplimit": 0.0,
    "headerror": 0.0,             # m, 0 = not checked
    "flowchange": 0.0,            # m³/s, 0 = not checked
    "viscosity": 1.0,             # relative to water at 20 °C (1.0e-6 m²/s)
    "specific_gravity": 1.0,
    "demand_multiplier": 1.0,
    "emitter_exponent": 0.5,
    "pattern": None,              # default demand pattern name ("1" when that pattern exists)
}

#: default times, s
DEFAULT_TIMES = {
    "duration": 0.0,
    "hydraulic_step": 3600.0,
    "quality_step": 300.0,
    "pattern_step": 3600.0,
    "pattern_start": 0.0,
    "report_step": 3600.0,
    "report_start": 0.0,
    "rule_step": 360.0,
    "start_clocktime": 0.0,
    "statistic": "none",
}


@dataclass
class WaterNetwork(Network):
    """The water supply network, SI units (see the module docstring).

    Nodes (n_nodes,):
    - ``node_type`` object str in :data:`NODE_TYPES`;
    - ``node_elevation`` float64 m: junction elevation, tank bottom elevation, reservoir
      total head (its base head; ``node_pattern`` scales it);
    - ``node_pattern`` object: a reservoir's head pattern name, else None;
    - ``node_emitter`` float64: emitter coefficient C of q = C p^e, m³/s per m^e (0: none);
    - tanks: ``node_init_level``, ``node_min_level``, ``node_max_level``, ``node_diameter``
      (m), ``node_min_volume`` (m³), ``node_volume_curve`` (curve name or None),
      ``node_overflow`` (bool).
    Links (n_links,):
    - ``link_type`` object str in :data:`LINK_TYPES`;
    - ``link_diameter`` float64 m (pipes, valves); ``link_roughness`` float64: Hazen–Williams
      C, Darcy–Weisbach absolute roughness in m, or Manning n, per ``options["headloss"]``;
    - ``link_minor_loss`` float64 (dimensionless K);
    - ``link_status`` object: initial status "open", "closed" or "cv" (check-valve pipe), or
      None for valves/pumps whose initial state follows their setting ("active");
    - ``link_setting`` float64: initial setting: PRV/PSV/PBV pressure m, FCV flow m³/s, TCV
      loss coefficient, pump relative speed (1.0); NaN where none;
    - ``link_curve`` object: a pump's head curve or a GPV's head-loss curve name, else None;
    - ``link_power`` float64 W: a constant-power pump's power (NaN otherwise);
    - ``link_pattern`` object: a pump's speed pattern name, else None.
    Side tables: ``demands`` (:class:`WaterDemands`), ``patterns`` {name: (n,) float64
    multipliers}, ``curves`` {name: :class:`WaterCurve`}, ``controls`` [:class:`Control`],
    ``rules`` [:class:`Rule`], ``options`` (see :data:`DEFAULT_OPTIONS`), ``times`` (see
    :data:`DEFAULT_TIMES`), ``sections`` {section name: [raw lines]} kept for writing back,
    ``title`` [lines]; ``isolation_valves`` (k, 2) int64 rows (link, node): an isolation
    (gate) valve on pipe ``link`` next to node ``node`` — not part of EPANET's hydraulics
    (like wntr's valve layer), used to find the valves that isolate a segment; kept in a
    ``<name>.valves.csv`` sidecar (columns ``link,node`` with ids) next to the .inp.
    """

    kind: ClassVar[str] = "water"

    node_type: np.ndarray = column(object, fill="junction")
    node_elevation: np.ndarray = column(np.float64, fill=0.0)
    node_pattern: np.ndarray = column(object, fill=None)
    node_emitter: np.ndarray = column(np.float64, fill=0.0)
    node_init_level: np.ndarray = column(np.float64, fill=np.nan)
    node_min_level: np.ndarray = column(np.float64, fill=np.nan)
    node_max_level: np.ndarray = column(np.float64, fill=np.nan)
    node_diameter: np.ndarray = column(np.float64, fill=np.nan)
    node_min_volume: np.ndarray = column(np.float64, fill=np.nan)
    node_volume_curve: np.ndarray = column(object, fill=None)
    node_overflow: np.ndarray = column(bool, fill=False)
    link_type: np.ndarray = column(object, fill="pipe")
    link_diameter: np.ndarray = column(np.float64, fill=np.nan)
    link_roughness: np.ndarray = column(np.float64, fill=np.nan)
    link_minor_loss: np.ndarray = column(np.float64, fill=0.0)
    link_status: np.ndarray = column(object, fill="open")
    link_setting: np.ndarray = column(np.float64, fill=np.nan)
    link_curve: np.ndarray = column(object, fill=None)
    link_power: np.ndarray = column(np.float64, fill=np.nan)
    link_pattern: np.ndarray = column(object, fill=None)
    demands: WaterDemands = field(default_factory=WaterDemands.empty, kw_only=True)
    patterns: dict = field(default_factory=dict, kw_only=True)
    curves: dict = field(default_factory=dict, kw_only=True)
    controls: list = field(default_factory=list, kw_only=True)
    rules: list = field(default_factory=list, kw_only=True)
    options: dict = field(default_factory=lambda: dict(DEFAULT_OPTIONS), kw_only=True)
    times: dict = field(default_factory=lambda: dict(DEFAULT_TIMES), kw_only=True)
    sections: dict = field(default_factory=dict, kw_only=True)
    title: list = field(default_factory=list, kw_only=True)
    isolation_valves: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64),
                                         kw_only=True)

    def nodes_of(self, node_type: str) -> np.ndarray:
        """Return the dense indices of the nodes of ``node_type``, (k,) int64."""
        return np.flatnonzero(self.node_type == node_type)

    def links_of(self, *link_types: str) -> np.ndarray:
        """Return the dense indices of the links of any of ``link_types``, (k,) int64."""
        return np.flatnonzero(np.isin(self.link_type, list(link_types)))
