"""TrafficProcess pieces on hand-built junctions and the districts: signal phases by road,
routable trips, the trips table."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cim
from cim.roads import RoadNetworkBuilder
from twin.kernels import traffic
from twin.traffic_process import class_rank, phase_roads, signal_plans


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
