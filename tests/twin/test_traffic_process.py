"""TrafficProcess pieces on hand-built junctions and the districts: signal phases by road,
routable trips, the trips table."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cim
from cim.roads import RoadNetworkBuilder
from twin.kernels import traffic
from twin.kernels.traffic.demand import kernel_trips
from twin.kernels.traffic.plans import class_rank, phase_roads, signal_plans


def cross(plan: dict, major_ew: bool = True) -> cim.CityModel:
    """Return a 4-arm junction "c" where a primary road (2 lanes) crosses a tertiary one;
    the primary runs east–west when ``major_ew``."""
    b = RoadNetworkBuilder()
    ew = dict(cls="primary", name="Main Avenue", lanes_forward=2)
    ns = dict(cls="tertiary", name="Side Street", lanes_forward=1)
    if not major_ew:
        ew, ns = ns, ew
    b.add_segment("w", "W", "c", [(-200, 0), (0, 0)], **ew)
    b.add_segment("e", "c", "E", [(0, 0), (200, 0)], **ew)
    b.add_segment("s", "S", "c", [(0, -200), (0, 0)], **ns)
    b.add_segment("n", "c", "N", [(0, 0), (0, 200)], **ns)
    b.set_signal("c", plan)
    return cim.CityModel(roads=b.build())


def approaches(roads, node_id):
    c = list(roads.node_ids).index(node_id)
    into = np.flatnonzero(roads.link_to == c)
    return c, {str(roads.link_ids[i]): i for i in into}


@pytest.mark.parametrize("major_ew", [True, False])
def test_phase_0_greens_the_major_road_whatever_its_heading(major_ew):
    roads = cross({"cycle_s": 60, "green_s": [36, 16], "yellow_s": 4}, major_ew).roads
    plan = signal_plans(roads)
    c, into = approaches(roads, "c")
    ew = [into["w:f"], into["e:b"]]
    ns = [into["s:f"], into["n:b"]]
    major, minor = (ew, ns) if major_ew else (ns, ew)
    assert plan.link_phase[major].tolist() == [0, 0]
    assert plan.link_phase[minor].tolist() == [1, 1]
    assert plan.green[c, :2].tolist() == [36, 16] and plan.cycle[c] == 60
    assert phase_roads(roads, c)[0] == ["Main Avenue"]


def test_four_phase_plan_keeps_the_cycle_without_phantom_all_red():
    # [major through, major left, minor through, minor left], 4 s yellow after each
    roads = cross({"cycle_s": 120, "green_s": [50, 20, 26, 8], "yellow_s": 4}).roads
    plan = signal_plans(roads)
    c, into = approaches(roads, "c")
    assert plan.n_phases[c] == 2
    assert plan.green[c, :2].tolist() == [50 + 4 + 20, 26 + 4 + 8]
    assert plan.cycle[c] == 120 == plan.green[c, :2].sum() + 2 * 4
    # the signal cycles through green and yellow only: some approach always may go
    net = traffic.Network(roads.node_xy, roads.link_from, roads.link_to, roads.link_length,
                          roads.link_lanes, roads.link_free_speed, signals=plan)
    empty = traffic.Trips(np.zeros(0), np.zeros(0, int), np.zeros(0, int))
    st = traffic.init_state(net, empty)
    seen = []
    for _ in range(120):
        traffic.advance(net, st, 1)
        seen.append((int(st.node_phase[0, c]), int(st.node_color[0, c])))
    phase, color = np.array(seen).T
    assert (phase >= 0).all()
    assert (color == 2).sum() == 74 + 38 and (color == 1).sum() == 8
    assert (phase[color == 2] == 0).sum() == 74


def test_explicit_phase_roads_override_and_reach_the_plan_through_cityjson(tmp_path):
    city = cross({"cycle_s": 60, "green_s": [30, 22], "yellow_s": 4})
    path = cim.write_cityjson(city, tmp_path / "x.city.json")
    doc = json.loads(path.read_text())
    sig = next(o for o in doc["CityObjects"].values() if o["type"] == "CityFurniture")
    sig["attributes"]["signal_phase_roads"] = [["Side Street"], ["Main Avenue"]]
    path.write_text(json.dumps(doc))
    roads = cim.load(path).roads
    c, into = approaches(roads, "c")
    assert roads.node_signal_plan[c]["phase_roads"] == [["Side Street"], ["Main Avenue"]]
    plan = signal_plans(roads)
    assert plan.link_phase[[into["s:f"], into["n:b"]]].tolist() == [0, 0]
    assert plan.link_phase[[into["w:f"], into["e:b"]]].tolist() == [1, 1]
    sig["attributes"]["signal_phase_roads"] = "Main Avenue"
    path.write_text(json.dumps(doc))
    with pytest.raises(cim.CIMError, match="signal_phase_roads"):
        cim.load(path)


def test_class_rank_follows_the_class_table():
    order = ["motorway", "trunk", "primary", "primary_link", "secondary", "tertiary",
             "unclassified", "residential", "living_street", "service"]
    ranks = [class_rank(c) for c in order]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)
    assert class_rank("bogus") == class_rank("unclassified")


@pytest.fixture(scope="module")
def liangxi():
    return cim.load_district("liangxi").roads


def test_liangxi_major_roads_get_the_first_green(liangxi):
    """Every signalized junction's major road (the district generator's: highest class of
    primary > secondary > tertiary, then lanes) gets green_s[0] (+ its left-turn share)."""
    roads = liangxi
    rank = {"primary": 3, "secondary": 2, "tertiary": 1}
    plan = signal_plans(roads)
    sig = np.flatnonzero(roads.node_signal)
    assert sig.size == 130
    for n in sig:
        at = np.flatnonzero((roads.link_to == n) | (roads.link_from == n))
        key = {str(roads.link_name[i]): (rank.get(roads.link_class[i], 0),
                                         int(roads.link_lanes[i])) for i in at}
        best = max(key.values())
        major = min(r for r, k in key.items() if k == best)
        into = roads.link_to == n
        on_major = into & (roads.link_name == major)
        assert on_major.any()
        assert (plan.link_phase[on_major] == 0).all(), roads.node_ids[n]
        assert (plan.link_phase[into & ~on_major] == 1).all(), roads.node_ids[n]
        p = roads.node_signal_plan[n]
        g, y = p["green_s"], p["yellow_s"]
        assert plan.green[n, 0] == (g[0] if len(g) == 2 else g[0] + y + g[1])
        assert plan.cycle[n] == p["cycle_s"]
        assert plan.cycle[n] == plan.green[n].sum() + plan.n_phases[n] * y  # no all-red


# ---- routable trips; vehicles with no way on are removed as stuck ---------------------------
def island_city() -> cim.CityModel:
    """Return a two-way ring W–N–E–S plus an island P–Q (not connected to the ring) and a
    one-way dead end E→T."""
    b = RoadNetworkBuilder()
    ring = {"W": (-200, 0), "N": (0, 200), "E": (200, 0), "S": (0, -200)}
    names = list(ring)
    for a, c in zip(names, names[1:] + names[:1]):
        b.add_segment(f"{a}{c}", a, c, [ring[a], ring[c]], cls="tertiary", name=f"{a}{c} Road")
    b.add_segment("PQ", "P", "Q", [(1000, 1000), (1200, 1000)], name="Island Road")
    b.add_segment("ET", "E", "T", [(200, 0), (400, 0)], oneway=True, name="Dead End")
    return cim.CityModel(roads=b.build())


def test_node_trips_start_and_end_on_connected_links():
    roads = island_city().roads
    idx = {n: i for i, n in enumerate(roads.node_ids)}
    link = {str(x): i for i, x in enumerate(roads.link_ids)}
    pairs = [("W", "E"), ("N", "T"), ("P", "W"), ("W", "Q"), ("T", "W"), ("S", "S")]
    stats: dict = {}
    trips, dropped = kernel_trips(
        {"depart_s": np.arange(6.0), "origin_node": [idx[a] for a, _ in pairs],
         "destination_node": [idx[b] for _, b in pairs]}, roads, stats=stats)
    # kept: W→E and N→T (the dead end is a fine destination); dropped: the island both ways
    # (unroutable), T (no outgoing link) and S→S
    assert trips.trip_id.tolist() == [0, 1] and dropped == 4
    assert stats == {"dropped": 4, "unroutable": 2}
    assert trips.destination[1] == link["ET:f"]
    # link trips: the island's two links do not reach each other without a U-turn
    stats = {}
    trips, dropped = kernel_trips(
        {"depart_s": np.zeros(3), "origin_link": [link["PQ:f"], link["PQ:f"], link["WN:f"]],
         "destination_link": [link["PQ:b"], link["PQ:f"], link["ET:f"]]}, roads, stats=stats)
    assert trips.trip_id.tolist() == [1, 2] and stats == {"dropped": 1, "unroutable": 1}


def test_lihu_node_trips_all_have_a_route():
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    roads = cim.load_district("lihu").roads
    rng = np.random.default_rng(3)
    n = 400
    demand = {"depart_s": np.zeros(n), "origin_node": rng.integers(0, roads.n_nodes, n),
              "destination_node": rng.integers(0, roads.n_nodes, n)}
    net = traffic.Network(roads.node_xy, roads.link_from, roads.link_to, roads.link_length,
                          np.clip(roads.link_lanes, 1, 16), roads.link_free_speed)
    stats: dict = {}
    trips, _ = kernel_trips(demand, roads, net, stats=stats)
    # every node has a connected link: only same-node trips go (none here)
    assert trips.depart.size == n and stats == {"dropped": 0, "unroutable": 0}
    turns = csr_matrix((np.ones(net.turn_from.size), (net.turn_from, net.turn_to_arr)),
                       shape=(net.n_links, net.n_links))
    for o, d in zip(trips.origin, trips.destination):
        assert d in breadth_first_order(turns, o, return_predecessors=False)


def test_a_vehicle_with_no_way_on_is_removed_as_stuck_and_does_not_block_its_lane():
    roads = island_city().roads
    net = traffic.Network(roads.node_xy, roads.link_from, roads.link_to, roads.link_length,
                          np.ones(roads.n_links, int), roads.link_free_speed)
    link = {str(x): i for i, x in enumerate(roads.link_ids)}
    # one lane each; both start on W→N, the first for N→E, which closes (from W→N the only
    # way on is N→E: N→W is a U-turn), the second ends on W→N itself, behind the first
    trips = traffic.Trips([0.0, 1.0], [link["WN:f"], link["WN:f"]],
                          [link["NE:f"], link["WN:f"]])
    st = traffic.init_state(net, trips, traffic.TrafficParams(debug=True))
    traffic.close_link(net, st, link["NE:f"])
    traffic.run(net, trips, until=600.0, state=st)
    c = traffic.counts(st)
    assert c["stuck"][0] == 1 and c["arrived"][0] == 1 and c["in_network"][0] == 0
    assert st.v_status.tolist() == [4, 3]


# ---- the trips table -------------------------------------------------------------------------
def test_trips_table_is_written_at_each_checkpoint_and_read_by_the_kpis(tmp_path):
    import xarray as xr

    import twin
    from twin.kernels.traffic import TrafficProcess

    from .test_runtime_traffic import Crash, scenario

    kernels = [TrafficProcess(vehicle_slots=8, threads=1), Crash(at=400)]
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(scenario(kernels=kernels), tmp_path / "r.zarr", progress=False)
    part = xr.open_zarr(str(tmp_path / "r.zarr"), group="traffic")
    t_cp = float(part.time[-1])          # the last checkpoint before the crash
    assert part.trip_id.dims == ("trip",) and 0 < part.sizes["trip"]
    assert (part.trip_arrival_s <= t_cp).all()          # trips done by then, in order
    assert (np.diff(part.trip_arrival_s.values) >= 0).all()
    run = twin.run(scenario(kernels=[TrafficProcess(vehicle_slots=8, threads=1), Crash()]),
                   tmp_path / "r.zarr", resume=True, progress=False)
    ds = run.open("traffic")
    n = ds.attrs["n_trips"][0]
    # every kept demand row once (trip_id = the demand's row; same-node trips were dropped)
    assert ds.sizes["trip"] == n == np.unique(ds.trip_id.values).size
    assert n + ds.attrs["n_trips_dropped"][0] == 400
    assert (ds.trip_member.values == 0).all()
    done = np.isfinite(ds.trip_arrival_s.values)
    assert done.sum() == int(ds.arrived[-1, 0]) > 100 and np.isnan(ds.trip_stuck_s).all()
    np.testing.assert_array_equal(ds.trip_travel_time_s.values[done],
                                  (ds.trip_arrival_s - ds.trip_enter_s).values[done])
    assert (ds.trip_enter_s.values[done] >= ds.trip_depart_s.values[done]).all()
    assert ds.trip_arrival_s.attrs["units"] == "s"
    k = twin.kpis(run)
    assert k.value("traffic", "trips_completed") == done.sum()
    assert k.value("traffic", "mean_trip_time_s") == pytest.approx(
        float(ds.trip_travel_time_s.values[done].mean()))
    assert k.value("traffic", "trips_unroutable") == 0
    assert k.value("traffic", "trips_stuck") == 0
    assert k.value("traffic", "vht_h") == pytest.approx(float(ds.vehicle_seconds[-1, 0]) / 3600)


def test_a_checkpoint_just_before_the_end_writes_each_trip_once(tmp_path):
    """The runtime tells the kernel which checkpoint is the last: one a step before the end is
    not (the trips unfinished then are written once, at the end, with their final state)."""
    import twin
    from twin.kernels.traffic import TrafficProcess

    from .test_runtime_traffic import scenario

    sc = scenario(kernels=[TrafficProcess(dt=2.0, vehicle_slots=8, threads=1)],
                  checkpoint_interval=598.0)
    run = twin.run(sc, tmp_path / "r.zarr", progress=False)
    trips = run.table("traffic", "trips")
    assert len(trips["trip_id"]) == np.unique(trips["trip_id"]).size
    assert len(trips["trip_id"]) == run.open("traffic").attrs["n_trips"][0]
