"""The storm-sewer (drainage) network, SWMM 5's model, in SI units throughout.

Everything read from a file is converted to SI once, on load (:mod:`cim.formats.swmm_inp`):
elevations, depths, lengths and cross-section dimensions in m; flows in m³/s; areas in m²;
subcatchment slopes as fractions (m/m). Solvers (:mod:`twin.kernels.flood.drainage`) consume
this model and never see US units.

Nodes are junctions (manholes), outfalls, storage units and flow dividers; links are
conduits, pumps, orifices, weirs and outlets (see :data:`NODE_TYPES`, :data:`LINK_TYPES`).
Columns that do not apply to a row hold NaN (float), None (object) or False (bool).
Sections that are read but not modelled here (rain gauges, infiltration, inflows, time
series, curves, controls, quality…) are kept verbatim in ``sections`` so that
:func:`cim.write_swmm` writes them back; the lateral inflows of [INFLOWS]/[TIMESERIES] are
also parsed into ``inflows``/``timeseries`` (SI) for the solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .network import Network, column

#: node types (``node_type`` values)
NODE_TYPES = ("junction", "outfall", "storage", "divider")
#: link types (``link_type`` values)
LINK_TYPES = ("conduit", "pump", "orifice", "weir", "outlet")
#: outfall types (``node_outfall_type``)
OUTFALL_TYPES = ("free", "normal", "fixed", "tidal", "timeseries")
#: cross-section shapes the drainage solver routes (others are read and written back)
SOLVER_SHAPES = ("circular", "force_main", "rect_closed", "rect_open", "trapezoidal",
                 "triangular")


@dataclass
class Subcatchments:
    """SWMM subcatchments ([SUBCATCHMENTS], [SUBAREAS], [POLYGONS]), SI, all (n,):

    ``ids`` object str; ``raingage`` object str; ``outlet`` object str (a node or another
    subcatchment id); ``area`` m²; ``imperv`` impervious share (0–1); ``width`` m;
    ``slope`` m/m; ``curb_length`` (m, or the file's curb units); ``snowpack`` object
    (name or None); ``subareas`` (n, 5) float64: n-imperv, n-perv, depression storage
    imperv and perv (m), % impervious without depression storage (NaN row: none given);
    ``route_to`` object ("OUTLET", "IMPERVIOUS", "PERVIOUS" or None); ``pct_routed``
    float64 (NaN: none); ``polygons`` list of (k, 2) float64 arrays (empty: none)."""

    ids: np.ndarray
    raingage: np.ndarray
    outlet: np.ndarray
    area: np.ndarray
    imperv: np.ndarray
    width: np.ndarray
    slope: np.ndarray
    curb_length: np.ndarray
    snowpack: np.ndarray
    subareas: np.ndarray
    route_to: np.ndarray
    pct_routed: np.ndarray
    polygons: list

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> Subcatchments:
        o = np.empty(0, object)
        f = np.zeros(0)
        return cls(o, o.copy(), o.copy(), f, f.copy(), f.copy(), f.copy(), f.copy(), o.copy(),
                   np.zeros((0, 5)), o.copy(), f.copy(), [])


@dataclass
class Inflow:
    """An external lateral inflow of [INFLOWS] (FLOW only), SI: at ``node`` (dense index),
    ``scale`` × the time series ``series`` (None: none) + ``baseline`` (m³/s).
    ``scale`` folds the units and scale factors: m³/s per series value."""

    node: int
    series: str | None
    scale: float
    baseline: float = 0.0


@dataclass
class DrainageNetwork(Network):
    """The drainage network, SI units (see the module docstring).

    Nodes (n_nodes,):
    - ``node_type`` object str in :data:`NODE_TYPES`;
    - ``node_invert`` float64 m: invert (bottom) elevation;
    - ``node_max_depth`` float64 m: invert to rim (ground) — 0 means "the crown of the
      highest connecting conduit" as in SWMM; ``node_init_depth``, ``node_surcharge_depth``
      (m above the rim water may rise under pressure before it floods); ``node_ponded_area``
      m²;
    - outfalls: ``node_outfall_type`` in :data:`OUTFALL_TYPES`, ``node_outfall_stage`` (m,
      fixed stage; NaN otherwise), ``node_outfall_series`` (tidal curve / time series name),
      ``node_flap_gate`` bool, ``node_route_to`` (subcatchment id or None);
    - storage: ``node_storage_shape`` ("functional", "tabular", …), ``node_storage_curve``
      (curve name), ``node_storage_params`` (n, 3): a, b, c of the functional area
      A = a·y^b + c (m², y in m); ``node_extra`` object: the remaining tokens of storage and
      divider lines as written (file units), or None;
    - inlets (not a SWMM section: the ``<stem>.inlets.csv`` sidecar): ``node_inlet_capacity``
      m³/s the street inlets draining into the node can capture (NaN: no inlet),
      ``node_inlets`` int64 how many inlets.
    Links (n_links,):
    - ``link_type`` object str in :data:`LINK_TYPES`; ``link_length`` m (conduits);
    - ``link_roughness`` Manning n (s/m^⅓); ``link_in_offset`` / ``link_out_offset`` m above
      the node inverts (always depths, whatever the file's LINK_OFFSETS);
      ``link_init_flow``, ``link_max_flow`` m³/s (0: no limit);
    - ``link_shape`` object lower-case SWMM shape name (None for pumps);
      ``link_geom`` (n, 4) geometry (m; trapezoid side slopes and other ratios as written);
      ``link_shape_ref`` curve/transect/street name of custom/irregular/street shapes;
      ``link_barrels`` int64; ``link_culvert`` (SWMM culvert code or None);
    - ``link_losses`` (n, 3) entry, exit and average loss coefficients;
      ``link_flap_gate`` bool; ``link_seepage`` m/s;
    - ``link_params`` object: the tokens of pump/orifice/weir/outlet lines after the two
      nodes, as written (file units), or None.
    Side tables: ``subcatchments`` (:class:`Subcatchments`), ``inflows`` [:class:`Inflow`],
    ``timeseries`` {name: (times s, values)}, ``options`` {KEY: value string, as written},
    ``flow_units`` (the file's code; the model is SI), ``sections`` {section: [raw lines]}
    kept verbatim, ``title`` [lines], ``order`` [section names in file order].
    """

    kind: ClassVar[str] = "drainage"

    node_type: np.ndarray = column(object, fill="junction")
    node_invert: np.ndarray = column(np.float64, fill=0.0)
    node_max_depth: np.ndarray = column(np.float64, fill=0.0)
    node_init_depth: np.ndarray = column(np.float64, fill=0.0)
    node_surcharge_depth: np.ndarray = column(np.float64, fill=0.0)
    node_ponded_area: np.ndarray = column(np.float64, fill=0.0)
    node_outfall_type: np.ndarray = column(object, fill=None)
    node_outfall_stage: np.ndarray = column(np.float64, fill=np.nan)
    node_outfall_series: np.ndarray = column(object, fill=None)
    node_flap_gate: np.ndarray = column(bool, fill=False)
    node_route_to: np.ndarray = column(object, fill=None)
    node_storage_shape: np.ndarray = column(object, fill=None)
    node_storage_curve: np.ndarray = column(object, fill=None)
    node_storage_params: np.ndarray = column(np.float64, 3, fill=np.nan)
    node_extra: np.ndarray = column(object, fill=None)
    node_inlet_capacity: np.ndarray = column(np.float64, fill=np.nan)
    node_inlets: np.ndarray = column(np.int64, fill=0)
    link_type: np.ndarray = column(object, fill="conduit")
    link_roughness: np.ndarray = column(np.float64, fill=np.nan)
    link_in_offset: np.ndarray = column(np.float64, fill=0.0)
    link_out_offset: np.ndarray = column(np.float64, fill=0.0)
    link_init_flow: np.ndarray = column(np.float64, fill=0.0)
    link_max_flow: np.ndarray = column(np.float64, fill=0.0)
    link_shape: np.ndarray = column(object, fill=None)
    link_geom: np.ndarray = column(np.float64, 4, fill=0.0)
    link_shape_ref: np.ndarray = column(object, fill=None)
    link_barrels: np.ndarray = column(np.int64, fill=1)
    link_culvert: np.ndarray = column(object, fill=None)
    link_losses: np.ndarray = column(np.float64, 3, fill=0.0)
    link_flap_gate: np.ndarray = column(bool, fill=False)
    link_seepage: np.ndarray = column(np.float64, fill=0.0)
    link_params: np.ndarray = column(object, fill=None)
    subcatchments: Subcatchments = field(default_factory=Subcatchments.empty, kw_only=True)
    inflows: list = field(default_factory=list, kw_only=True)
    timeseries: dict = field(default_factory=dict, kw_only=True)
    options: dict = field(default_factory=dict, kw_only=True)
    flow_units: str = field(default="CMS", kw_only=True)
    sections: dict = field(default_factory=dict, kw_only=True)
    title: list = field(default_factory=list, kw_only=True)
    order: list = field(default_factory=list, kw_only=True)

    def nodes_of(self, *node_types: str) -> np.ndarray:
        """Return the dense indices of the nodes of any of ``node_types``, (k,) int64."""
        return np.flatnonzero(np.isin(self.node_type, list(node_types)))

    def links_of(self, *link_types: str) -> np.ndarray:
        """Return the dense indices of the links of any of ``link_types``, (k,) int64."""
        return np.flatnonzero(np.isin(self.link_type, list(link_types)))

    @property
    def rim(self) -> np.ndarray:
        """(n_nodes,) rim (ground) elevation, m: invert + max depth."""
        return self.node_invert + self.node_max_depth
