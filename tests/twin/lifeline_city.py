"""A small city with all three networks, for the coupled-lifeline tests.

Roads: the 3×3 grid of :func:`test_runtime_traffic.grid_city` (300 m blocks, signal at n11).
Water: a junction under every road node (elevation 0 m), a pipe along every street, a
reservoir R (head 10 m) next to n00 feeding pump PU1 (40 m at 20 L/s, one-point curve) into
n00, isolation valves at both ends of every pipe; each junction serves building b<k> (with
demand 1 L/s, residential pattern).
Power: 10 kV: ext_grid at bus B0, line L1 B0→B1 (the pump's and the signal's loads), line L2
B0→B2 (the buildings' loads), line L3 B1→B2 normally out of service.
"""

from __future__ import annotations

import numpy as np

from cim.geometry import PolygonSet, PolygonSetBuilder
from cim.model import (
    Attributes,
    Buildings,
    PowerGens,
    PowerGrid,
    PowerLoads,
    WaterCurve,
    WaterDemands,
    WaterNetwork,
    _obj,
)

from .test_runtime_traffic import grid_city

PIPE_D = 0.15          # m
DEMAND = 0.001         # m³/s per junction


def buildings(xy: np.ndarray, ids) -> Buildings:
    b = PolygonSetBuilder(dim=2)
    sq = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    for x, y in xy:
        b.add_object([[sq + [x + 20, y + 20]]])
    n = len(xy)
    return Buildings(
        ids=_obj(list(ids)), footprint=b.build(), base_height=np.zeros(n),
        roof_height=np.full(n, 18.0), storeys=np.full(n, 6, np.int32),
        use=_obj(["residential"] * n), floor_area=np.full(n, 600.0),
        residents=np.full(n, 20.0), jobs=np.zeros(n), lod=np.ones(n, np.float32),
        surfaces=PolygonSet.empty(n, 3), attributes=Attributes(n), parts=_obj([None] * n))


def water(roads) -> WaterNetwork:
    n = roads.n_nodes
    # one pipe per street (the road network has a link per direction)
    seen, pf, pt, pid = set(), [], [], []
    for a, b in zip(roads.link_from.tolist(), roads.link_to.tolist()):
        key = (min(a, b), max(a, b))
        if key not in seen:
            seen.add(key)
            pf.append(a)
            pt.append(b)
            pid.append(f"P{len(pid) + 1}")
    R = n                       # reservoir index
    ids = [f"J{s}" for s in roads.node_ids] + ["R"]
    xy = np.vstack([roads.node_xy, roads.node_xy[0] + [-50.0, 0.0]])
    lf = np.array(pf + [R])
    lt = np.array(pt + [0])
    L = len(lf)
    geom = np.concatenate([[xy[a], xy[b]] for a, b in zip(lf, lt)])
    ltype = _obj(["pipe"] * (L - 1) + ["pump"])
    valves = np.array([[k, e] for k in range(L - 1) for e in (lf[k], lt[k])], np.int64)
    return WaterNetwork(
        node_ids=_obj(ids), node_xy=xy, link_ids=_obj(pid + ["PU1"]), link_from=lf,
        link_to=lt, link_length=np.hypot(*(xy[lt] - xy[lf]).T),
        geometry_offsets=np.arange(0, 2 * L + 1, 2), geometry_xy=geom,
        node_type=_obj(["junction"] * n + ["reservoir"]),
        node_elevation=np.array([0.0] * n + [10.0]),
        link_type=ltype, link_diameter=np.array([PIPE_D] * (L - 1) + [np.nan]),
        link_roughness=np.array([120.0] * (L - 1) + [np.nan]),
        link_status=_obj(["open"] * L),
        link_setting=np.array([np.nan] * (L - 1) + [1.0]),
        link_curve=_obj([None] * (L - 1) + ["C1"]),
        demands=WaterDemands(np.arange(n), np.full(n, DEMAND), _obj(["res"] * n),
                             _obj([f"b{s}" for s in roads.node_ids])),
        patterns={"res": np.array([0.8, 1.0, 1.2, 1.0])},
        curves={"C1": WaterCurve("pump", np.array([0.02]), np.array([40.0]))},
        options={"flow_units": "LPS", "headloss": "H-W", "demand_model": "DDA",
                 "accuracy": 0.001, "trials": 200, "emitter_exponent": 0.5,
                 "demand_multiplier": 1.0, "viscosity": 1.0, "specific_gravity": 1.0,
                 "pattern": None, "minimum_pressure": 0.0, "required_pressure": 0.1,
                 "pressure_exponent": 0.5, "checkfreq": 2, "maxcheck": 10,
                 "damplimit": 0.0, "unbalanced": "stop", "headerror": 0.0,
                 "flowchange": 0.0},
        times={"duration": 0.0, "hydraulic_step": 3600.0, "quality_step": 300.0,
               "pattern_step": 3600.0, "pattern_start": 0.0, "report_step": 3600.0,
               "report_start": 0.0, "rule_step": 360.0, "start_clocktime": 0.0,
               "statistic": "none"},
        isolation_valves=valves)


def power(roads, water_net, building_ids) -> PowerGrid:
    xy = roads.node_xy[[0, 0, 8]] + [[-100.0, -100.0], [0.0, 0.0], [0.0, 0.0]]
    z = 10.0 ** 2 / 100.0                             # ohm base at 10 kV, 100 MVA
    r, x = 0.2 * 1.0 / z, 0.1 * 1.0 / z               # 1 km of 0.2 + j0.1 ohm/km
    nb = len(building_ids)
    loads = PowerLoads(
        ids=_obj(["pump", "signal"] + [f"ld_{b}" for b in building_ids]),
        bus=np.array([1, 1] + [2] * nb), p_mw=np.array([0.02, 0.002] + [0.05] * nb),
        q_mvar=np.array([0.006, 0.0] + [0.015] * nb), in_service=np.ones(nb + 2, bool),
        kind=_obj(["pump", "signal"] + ["building"] * nb),
        element=_obj(["PU1", "n11"] + list(building_ids)))
    gens = PowerGens(_obj(["grid"]), np.array([0]), _obj(["ext_grid"]), np.zeros(1),
                     np.zeros(1), np.ones(1), np.zeros(1), np.full(1, np.inf),
                     np.full(1, -np.inf), np.ones(1, bool))
    return PowerGrid(
        node_ids=_obj(["B0", "B1", "B2"]), node_xy=xy, link_ids=_obj(["L1", "L2", "L3"]),
        link_from=np.array([0, 0, 1]), link_to=np.array([1, 2, 2]),
        link_length=np.full(3, 1000.0), geometry_offsets=np.array([0, 2, 4, 6]),
        geometry_xy=np.concatenate([xy[[0, 1]], xy[[0, 2]], xy[[1, 2]]]),
        node_vn_kv=np.full(3, 10.0), node_zone=_obj(["S1", None, None]),
        node_bus_type=np.array([3, 1, 1], np.int8),
        link_r_pu=np.full(3, r), link_x_pu=np.full(3, x), link_max_i_ka=np.full(3, 0.3),
        link_in_service=np.array([True, True, False]), gens=gens, loads=loads)


def lifeline_city():
    """Return the grid city with water, power and one building per road node."""
    city = grid_city()
    roads = city.roads
    city.buildings = buildings(roads.node_xy, [f"b{s}" for s in roads.node_ids])
    city.water_network = water(roads)
    city.power_grid = power(roads, city.water_network, list(city.buildings.ids))
    return city
