"""Route tables solved when first needed (:class:`twin.kernels.traffic.routing.LazyTables`):
a run whose trips all follow their own routes never solves them; any run that reads them
(a trip without a route, re-routing, closures, trips added without a route) solves them and
gives bit for bit the run of a state whose tables were solved at once."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from twin.kernels import traffic
from twin.kernels.traffic import consts, routing
from twin.kernels.traffic.grid import grid, grid_trips

from .test_traffic_routes import _path

PARAMS = traffic.TrafficParams(debug=True)
N = 120


@pytest.fixture(scope="module")
def setup():
    g = grid(3)
    t, o, d, *_ = grid_trips(g, n_trips=N, seed=5, t_demand=300.0)
    routes = [_path(g.net, int(a), int(b)) for a, b in zip(o, d)]
    return g, t, o, d, routes


def _trips(setup, unrouted=()):
    _, t, o, d, routes = setup
    r = [None if k in unrouted else routes[k] for k in range(N)]
    return traffic.Trips(t, o, d, member=np.arange(N) % 2, trip_id=np.arange(N), route=r)


def _state(g, trips, eager):
    st = traffic.init_state(g.net, trips, PARAMS, seed=[1, 2], n_members=2)
    if eager:
        assert st.route_next.shape[-1] == g.net.n_links   # reading them solves them
    return st


def _run(g, st, events=(), until=900.0):
    """Advance in 10 s calls to ``until``, calling ``events[t](net, state)`` at time t."""
    events = dict(events)
    while st.time < until:
        if st.time in events:
            events[st.time](g.net, st)
        traffic.advance(g.net, st, 10, 1.0)
    return st


def _assert_same_run(a, b):
    keys = set(a.arrays) - {"route_next"}
    assert keys == set(b.arrays) - {"route_next"}
    for k in sorted(keys):
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)


def test_routed_run_never_solves_the_tables(setup):
    g = setup[0]
    lazy = _run(g, _state(g, _trips(setup), False))
    assert "route_next" not in lazy.arrays
    done = traffic.counts(lazy)
    assert done["arrived"].sum() == N                  # every trip made it, on its route
    eager = _run(g, _state(g, _trips(setup), True))
    _assert_same_run(lazy, eager)
    # solved afterwards, they are the tables solved at the start
    np.testing.assert_array_equal(lazy.route_next, eager.route_next)
    # read as an array of the state, the same
    st = traffic.init_state(g.net, _trips(setup), PARAMS, seed=[1, 2], n_members=2)
    np.testing.assert_array_equal(st.arrays["route_next"], eager.route_next)


def test_lazy_tables_equal_those_of_the_table_cache(setup, tmp_path):
    g = setup[0]
    st = _state(g, _trips(setup), False)
    cached = traffic.init_state(g.net, _trips(setup), PARAMS, seed=[1, 2], n_members=2,
                                route_cache=tmp_path)
    traffic.advance(g.net, cached, 50)
    assert not list(tmp_path.glob("routes-*.i32"))      # not needed yet: not solved, not stored
    np.testing.assert_array_equal(st.route_next, cached.route_next)
    assert len(list(tmp_path.glob("routes-*.i32"))) == 1
    again = traffic.init_state(g.net, _trips(setup), PARAMS, seed=[1, 2], n_members=2,
                               route_cache=tmp_path)
    np.testing.assert_array_equal(again.route_next, st.route_next)   # read from the cache


def _reroute_all(net, st):
    traffic.reroute(net, st, share=1.0)


def _close(net, st):
    traffic.close_link(net, st, np.arange(0, net.n_links, 7), member=0)


def _reopen(net, st):
    traffic.open_link(net, st, np.arange(0, net.n_links, 7), member=0)


def _add_unrouted(net, st):
    traffic.add_trips(net, st, [st.time + 5.0] * 2, [0, 1], [5, 6], member=[0, 1],
                      trip_id=[900, 901])


CASES = {
    "trip without route": ({3, 50}, ()),
    "reroute": ((), ((100.0, _reroute_all), (200.0, _reroute_all))),
    "closure": ((), ((60.0, _close), (300.0, _reopen))),
    "trips added without route": ((), ((120.0, _add_unrouted),)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_needed_tables_are_solved_and_equal_the_eager_run(setup, case):
    g = setup[0]
    unrouted, events = CASES[case]
    lazy = _run(g, _state(g, _trips(setup, unrouted), False), events)
    assert "route_next" in lazy.arrays                  # solved when needed
    eager = _run(g, _state(g, _trips(setup, unrouted), True), events)
    _assert_same_run(lazy, eager)
    np.testing.assert_array_equal(lazy.route_next, eager.route_next)
    if unrouted:   # the trips without a route followed the tables to their destination
        arrived = lazy.v_status[np.isin(lazy.v_trip_id, list(unrouted))]
        assert (arrived == consts.ARRIVED).all()


def test_copies_stay_lazy_and_solve_the_same_tables(setup):
    g = setup[0]
    st = _state(g, _trips(setup), False)
    ref = _state(g, _trips(setup), True).route_next
    for dup in (copy.deepcopy(st.arrays), pickle.loads(pickle.dumps(st.arrays))):
        assert isinstance(dup, routing.LazyTables) and "route_next" not in dup
        np.testing.assert_array_equal(dup["route_next"], ref)
    assert "route_next" not in st.arrays                # the copies did not touch it
    plain = dict(st.arrays)                             # a plain copy has no tables
    assert "route_next" not in plain and routing.tables_needed(plain) is False
