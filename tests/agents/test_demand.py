import numpy as np
import pytest

import agents
from agents import DemandError, Profile, Trips, default_profiles, generate_trips
from agents.trips import OTHER, THROUGH, TO_HOME, TO_WORK

from .conftest import make_city

ARRAYS = ("trip_id", "depart_s", "origin_node", "destination_node", "origin_building",
          "destination_building", "purpose")


def assert_same(a: Trips, b: Trips):
    for f in ARRAYS:
        assert np.array_equal(getattr(a, f), getattr(b, f)), f


def test_same_seed_same_trips_different_seed_differs(city):
    kw = dict(start="07:00", duration_s=3 * 3600, through_veh_per_h=300)
    a = generate_trips(city, seed=7, **kw)
    b = generate_trips(city, seed=7, **kw)
    c = generate_trips(city, seed=np.random.default_rng(7), **kw)
    d = generate_trips(city, seed=8, **kw)
    # each purpose's count is its expectation rounded up or down, less dropped trips
    drawn = len(a) + a.meta["dropped_no_destination"]
    assert len(a) > 0 and abs(drawn - sum(a.meta["expected"].values())) <= len(a.meta["expected"])
    assert_same(a, b)
    assert_same(a, c)
    assert len(a) != len(d) or not np.array_equal(a.depart_s, d.depart_s)


def test_trips_routable_distinct_sorted_in_window(city):
    t = generate_trips(city, seed=1, start="06:30", duration_s=5400, through_veh_per_h=400)
    scc = agents.routable_nodes(city.roads)
    assert scc.sum() == city.roads.n_nodes - 1           # the dead-end node is out
    assert scc[t.origin_node].all() and scc[t.destination_node].all()
    assert (t.origin_node != t.destination_node).all()
    assert (t.depart_s >= 0).all() and (t.depart_s < 5400).all()
    assert (np.diff(t.depart_s) >= 0).all()
    assert len(np.unique(t.trip_id)) == len(t)
    assert set(np.unique(t.purpose)) == {TO_WORK, TO_HOME, OTHER, THROUGH}


def test_building_next_to_dead_end_attaches_to_routable_node(city):
    acc = agents.attach_buildings(city)
    i = city.buildings.index_of("near_dead")
    assert acc.routable[acc.building_node[i]]
    assert city.roads.node_ids[acc.building_node[i]] == "n0_0"


def test_totals_follow_residents_and_profile():
    city = make_city()
    p = default_profiles()
    start, dur = 6 * 3600, 4 * 3600
    t = generate_trips(city, seed=2, start=start, duration_s=dur, car_share=1.0,
                       occupancy=1.0, scale=4.0)
    res = city.buildings.residents.sum()
    want = 0.55 * res * 4.0 * p["to_work"].window_share(start, dur)
    n_work = int((t.purpose == TO_WORK).sum())
    assert n_work == pytest.approx(want, rel=0.01)
    # origins of home→work trips in proportion to residents
    w = t.select(t.purpose == TO_WORK)
    per_building = np.bincount(w.origin_building, minlength=len(city.buildings))
    share = city.buildings.residents / res
    assert np.abs(per_building / n_work - share).max() < 0.01
    # peak hour share follows the profile (07:00–08:00 of 06:00–10:00)
    got = np.mean((w.depart_s >= 3600) & (w.depart_s < 7200))
    h = p["to_work"].hourly()
    assert got == pytest.approx(h[7] / h[6:10].sum(), abs=0.02)
    # destinations only where there are jobs
    assert (city.buildings.jobs[w.destination_building] > 0).all()


def test_evening_window_has_work_to_home_trips(city):
    t = generate_trips(city, seed=3, start="17:00", duration_s=7200)
    s = t.summary()["by_purpose"]
    assert s["to_home"] > 5 * s.get("to_work", 0)
    home = t.select(t.purpose == TO_HOME)
    assert (city.buildings.residents[home.destination_building] > 0).all()


def mean_length(city, t):
    xy = city.buildings.footprint.centroids()
    return np.hypot(*(xy[t.origin_building] - xy[t.destination_building]).T).mean()


def test_trip_length_shortens_as_beta_grows(city):
    lengths = []
    for beta in (0.0, 1.0, 4.0):
        t = generate_trips(city, seed=4, car_share=1.0, occupancy=1.0, beta_per_km=beta)
        t = t.select(t.purpose == TO_WORK)
        lengths.append(mean_length(city, t))
    assert lengths[0] > lengths[1] > lengths[2]
    assert lengths[2] < 0.8 * lengths[0]


def test_car_share_occupancy_and_scale_scale_the_count(city):
    def n(**kw):
        return len(generate_trips(city, seed=5, **kw))
    base = n(car_share=0.3)
    assert n(car_share=0.6) == pytest.approx(2 * base, rel=0.05)
    assert n(car_share=0.3, occupancy=2.6) == pytest.approx(base / 2, rel=0.05)
    assert n(car_share=0.3, scale=0.1) == pytest.approx(base / 10, rel=0.15)
    assert n(car_share=0.0) == 0


def test_through_traffic_volume_and_sides(city):
    t = generate_trips(city, seed=6, duration_s=7200, through_veh_per_h=750, car_share=0.0)
    assert len(t) == 1500 and (t.purpose == THROUGH).all()
    assert (t.origin_building == -1).all()
    sides = agents.boundary_nodes(city.roads, agents.routable_nodes(city.roads))
    opposite = {"west": "east", "east": "west", "south": "north", "north": "south"}
    side_of = {int(n): s for s, nodes in sides.items() for n in nodes}
    assert all(side_of[int(d)] == opposite[side_of[int(o)]]
               for o, d in zip(t.origin_node, t.destination_node))
    # constant rate: both hours carry about half
    assert np.mean(t.depart_s < 3600) == pytest.approx(0.5, abs=0.05)


def test_through_traffic_without_main_roads_is_an_error():
    city = make_city(main=False)
    with pytest.raises(DemandError, match="opposite edges"):
        generate_trips(city, seed=1, through_veh_per_h=100)
    assert len(generate_trips(city, seed=1)) > 0


@pytest.mark.parametrize("kw", [dict(car_share=1.5), dict(occupancy=0.5), dict(scale=-1),
                                dict(duration_s=0), dict(beta_per_km=float("nan")),
                                dict(start="7 o'clock"), dict(seed=None)])
def test_bad_parameters(city, kw):
    with pytest.raises(DemandError):
        generate_trips(city, **kw)


def test_bad_building_attributes():
    city = make_city()
    city.buildings.residents[3] = np.nan
    with pytest.raises(DemandError, match="b0_3"):
        generate_trips(city, seed=1)


def test_custom_profile_and_select_summary(city):
    flat = {k: Profile.uniform() for k in ("to_work", "to_home", "other")}
    t = generate_trips(city, seed=9, start="00:00", duration_s=86400, profiles=flat)
    s = t.summary()
    assert s["trips"] == len(t) and len(s["per_hour"]) == 24
    early = t.select(t.depart_s < 3600)
    assert len(early) == s["per_hour"]["00:00"]
    assert early.node_ids is t.node_ids


def test_gravity_probabilities_match_the_formula():
    from agents.demand import gravity_destinations

    xy = np.array([[0.0, 0.0], [1000.0, 0.0], [3000.0, 0.0]])
    node = np.array([0, 1, 2])
    weight = np.array([0.0, 1.0, 2.0])
    beta = 0.5
    d = gravity_destinations(np.random.default_rng(0), np.zeros(100_000, np.int64), weight,
                             xy, node, beta)
    p1 = 1.0 * np.exp(-beta * 1.0)
    p2 = 2.0 * np.exp(-beta * 3.0)
    assert np.mean(d == 2) == pytest.approx(p2 / (p1 + p2), abs=0.005)
    # a home whose only attractor shares its node gets no destination
    lone = gravity_destinations(np.random.default_rng(0), np.array([1]), np.array([0, 1.0, 0]),
                                xy, node, beta)
    assert lone[0] == -1


def test_city_without_buildings_gives_only_through_traffic():
    from cim.model import CityModel

    from .conftest import grid_roads

    city = CityModel(roads=grid_roads())
    assert len(generate_trips(city, seed=1)) == 0
    t = generate_trips(city, seed=1, through_veh_per_h=100, duration_s=3600)
    assert len(t) == 100 and (t.purpose == THROUGH).all()


def test_main_road_along_the_edge_is_not_a_string_of_entries():
    from cim.roads import RoadNetworkBuilder

    b = RoadNetworkBuilder()
    # a primary road along the east edge (x = 1000) and one crossing west→east at y = 500
    for j in range(4):
        b.add_segment(f"e{j}", f"e{j}", f"e{j + 1}", [(1000, 250 * j), (1000, 250 * (j + 1))],
                      cls="primary")
    b.add_segment("x0", "w", "m", [(0, 500), (500, 500)], cls="primary")
    b.add_segment("x1", "m", "e2", [(500, 500), (1000, 500)], cls="primary")
    roads = b.build()
    sides = agents.boundary_nodes(roads, agents.routable_nodes(roads), margin_m=100)
    names = {s: sorted(roads.node_ids[v]) for s, v in sides.items()}
    assert names["west"] == ["w"]
    assert "e1" not in names["east"] and "e3" not in names["east"]
