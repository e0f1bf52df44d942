"""Issue 10, parts 3 and 4 in the traffic kernel: routes given with the demand, deadlocks
resolved by teleports (SUMO's rule), no trip ever lost, dead ends as origins and
destinations, rejections with a reason, lane-to-lane connections deciding turns and lanes."""

from __future__ import annotations

import types

import numpy as np
import pytest

from twin.kernels import traffic
from twin.kernels.traffic import consts
from twin.kernels.traffic.demand import kernel_trips
from twin.kernels.traffic.grid import grid

DETOUR = ["left0A0", "A0A1", "A1B1", "B1C1", "C1C0", "C0right0"]
SHORT = ["left0A0", "A0B0", "B0C0", "C0right0"]


def _chain(n_links=3, lanes=1):
    """A straight one-way chain of 200 m links (node i to i + 1)."""
    xy = np.c_[np.arange(n_links + 1) * 200.0, np.zeros(n_links + 1)]
    return traffic.Network(xy, np.arange(n_links), np.arange(1, n_links + 1),
                           np.full(n_links, 200.0), np.full(n_links, lanes),
                           np.full(n_links, 13.9))


def _accounted(state, n_rejected=0):
    """Trips accounted for: arrived, stuck, or still scheduled / waiting / in the network."""
    s = state.v_status
    return int(((s == consts.ARRIVED) | (s == consts.STUCK) | (s < consts.ARRIVED)).sum()
               ) + n_rejected


def test_deadlock_resolved_by_teleport_and_no_trip_lost():
    net = _chain()
    n = 12
    trips = traffic.Trips(np.arange(n) * 2.0, np.zeros(n, int), np.full(n, 2))
    p = traffic.TrafficParams(debug=True, time_to_teleport=120.0)
    st = traffic.init_state(net, trips, p)
    traffic.set_link_capacity(net, st, 1, 0.0)   # nothing leaves link 1: a deadlock
    res = traffic.run(net, trips, p, until=4 * 3600.0, state=st)
    c = res.counts
    assert c["arrived"][0] == n and c["teleported"][0] == n and c["stuck"][0] == 0
    assert (res.trips["teleports"] == 1).all()
    # the first vehicle stands at the end of link 1 for 120 s, then goes on from link 2
    assert res.trips["travel_time"].min() > 120.0
    # without teleports they stand for ever, but none is lost
    p_off = traffic.TrafficParams(debug=True, time_to_teleport=np.inf)
    st = traffic.init_state(net, trips, p_off)
    traffic.set_link_capacity(net, st, 1, 0.0)
    res = traffic.run(net, trips, p_off, until=3600.0, state=st)
    c = res.counts
    assert c["arrived"][0] == 0 and c["teleported"][0] == 0
    assert c["released"][0] == c["waiting"][0] + c["in_network"][0] == n
    assert _accounted(res.state) == n


def test_teleport_ends_at_the_destination_when_no_link_has_room():
    net = _chain(2)
    trips = traffic.Trips([0.0], [0], [1])
    p = traffic.TrafficParams(debug=True, time_to_teleport=60.0)
    st = traffic.init_state(net, trips, p)
    traffic.set_link_capacity(net, st, 0, 0.0)
    res = traffic.run(net, trips, p, until=600.0, state=st)
    assert res.counts["arrived"][0] == 1 and res.trips["teleports"][0] == 1


@pytest.fixture(scope="module")
def g3():
    return grid(3)


def test_given_route_is_followed_and_dropped_on_reroute(g3):
    idx = g3.link_index
    route = np.array([idx[x] for x in DETOUR])
    n = 6
    trips = traffic.Trips(np.arange(n) * 5.0, np.full(n, route[0]), np.full(n, route[-1]),
                          route=[route] * n)
    p = traffic.TrafficParams(debug=True)
    res = traffic.run(g3.net, trips, p, until=3600.0)
    free = traffic.run(g3.net, traffic.Trips(trips.depart, trips.origin, trips.destination), p,
                       until=3600.0)
    detour_time = g3.net.free_time[route].sum()
    short_time = g3.net.free_time[[idx[x] for x in SHORT]].sum()
    assert detour_time > short_time + 30
    # the routed trips take the detour: about its free-flow time longer than the others
    extra = res.trips["travel_time"].mean() - free.trips["travel_time"].mean()
    assert extra == pytest.approx(detour_time - short_time, abs=25.0)
    # re-routing every driver at once: the given route is left for the shortest path
    p_rr = traffic.TrafficParams(debug=True, reroute_period=10.0, reroute_share=1.0)
    rr = traffic.run(g3.net, trips, p_rr, until=3600.0)
    assert rr.trips["travel_time"].mean() < res.trips["travel_time"].mean() - 20


def test_bad_route_in_trips_names_the_trip(g3):
    idx = g3.link_index
    bad = np.array([idx["left0A0"], idx["B1C1"], idx["C0right0"]])
    with pytest.raises(traffic.TrafficError, match="trip 7: route is not connected"):
        traffic.init_state(g3.net, traffic.Trips([0.0], [bad[0]], [bad[-1]], trip_id=[7],
                                                 route=[bad]))


def _roads(net, node_ids=None):
    """A stand-in road table for ``kernel_trips`` from a kernel network."""
    return types.SimpleNamespace(n_nodes=net.n_nodes, link_from=net.link_from,
                                 link_to=net.link_to, node_xy=net.node_xy,
                                 link_length=net.link_length, link_lanes=net.link_lanes,
                                 link_free_speed=net.link_free_speed)


def test_demand_routes_dead_ends_and_rejections(g3):
    idx = g3.link_index
    good = np.array([idx[x] for x in DETOUR])
    gap = np.array([idx["left0A0"], idx["B1C1"], idx["C0right0"]])
    demand = {"depart_s": [0.0, 1.0, 2.0], "origin_link": [good[0], gap[0], idx["A0B0"]],
              "destination_link": [good[-1], gap[-1], idx["C0right0"]],
              "route": [good, gap, None]}
    rejected: list = []
    stats: dict = {}
    trips, dropped = kernel_trips(demand, _roads(g3.net), g3.net, stats, rejected)
    assert trips.trip_id.tolist() == [0, 2] and dropped == 1
    assert rejected[0][0] == 1 and "not connected" in rejected[0][1]
    assert np.array_equal(trips.route[0], good) and trips.route[1] is None
    # a one-way dead end feeding the network and one leaving it (outside the strongly
    # connected part): valid origin and destination nodes; a node pair with no path is not
    xy = np.array([[0, 0], [100, 0], [200, 0], [100, 100], [300, 0], [300, 100.0]])
    # ring 1-2-3 both ways, 0 -> 1 (entry), 2 -> 4 (exit), island 5 -> 4 only
    lf = [0, 1, 2, 2, 3, 3, 1, 2, 5]
    lt = [1, 2, 1, 3, 2, 1, 3, 4, 4]
    net = traffic.Network(xy, lf, lt, np.full(9, 100.0), np.ones(9, int), np.full(9, 10.0))
    d = {"depart_s": [0.0, 0.0, 0.0], "origin_node": [0, 0, 5],
         "destination_node": [4, 3, 1]}
    rejected = []
    trips, dropped = kernel_trips(d, _roads(net), net, None, rejected)
    assert trips.trip_id.tolist() == [0, 1] and dropped == 1
    assert rejected == [(2, "no path in the turn graph from link 8 to link 0")] or (
        rejected[0][0] == 2 and rejected[0][1].startswith("no path"))
    res = traffic.run(net, trips, traffic.TrafficParams(debug=True), until=600.0)
    assert res.counts["arrived"][0] == 2


def test_connections_decide_turns_and_lanes():
    # a T: west arm 0 -> centre 1 (2 lanes), north 1 -> 2, east 1 -> 3, south 1 -> 4
    xy = np.array([[0, 0], [200, 0], [200, 200], [400, 0], [200, -200.0]])
    lf, lt = [0, 1, 1, 1], [1, 2, 3, 4]
    conns = types.SimpleNamespace(
        from_link=np.array([0, 0, 0, 0]), to_link=np.array([2, 1, 1, 3]),
        from_lane=np.array([0, 0, 1, 1]), direction=np.array(["s", "l", "l", "r"], object))
    # geometry alone: left (to 1), through (to 2), right (to 3) allowed
    plain = traffic.Network(xy, lf, lt, np.full(4, 200.0), [2, 1, 1, 1], np.full(4, 13.9))
    assert sorted(plain.turn_to_arr[plain.turn_from == 0].tolist()) == [1, 2, 3]
    net = traffic.Network(xy, lf, lt, np.full(4, 200.0), [2, 1, 1, 1], np.full(4, 13.9),
                          connections=conns)
    k = {int(t): i for i, t in enumerate(net.turn_to_arr) if net.turn_from[i] == 0}
    assert sorted(k) == [1, 2, 3]
    # the double left turn uses both lanes (geometry would give it the leftmost only)
    assert net.turn_mask[k[1]] == 0b11 and net.turn_mask[k[2]] == 0b01
    assert net.turn_mask[k[3]] == 0b10 and net.turn_kind[k[3]] == consts.TURN_RIGHT
    assert plain.turn_mask[plain.turn_from == 0][plain.turn_to_arr[plain.turn_from == 0]
                                                 == 1][0] == 0b10
    # a lane closed to cars (a bus lane) serves no car turn; a turn without one is gone
    only_bus = np.array([[False, True], [True, True], [True, True], [True, True]])
    bus = traffic.Network(xy, lf, lt, np.full(4, 200.0), [2, 1, 1, 1], np.full(4, 13.9),
                          connections=conns, lane_allowed=only_bus)
    kb = {int(t): i for i, t in enumerate(bus.turn_to_arr) if bus.turn_from[i] == 0}
    assert sorted(kb) == [1, 3] and bus.turn_mask[kb[1]] == 0b10
