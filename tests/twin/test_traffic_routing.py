"""Route tables of the traffic kernel: the compiled next hops against the exhaustive method,
tables rebuilt from the costs they were made from, checkpoints without tables."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

import twin
from twin.kernels import traffic as tr
from twin.kernels.traffic import TrafficProcess, routing
from twin.kernels.traffic.grid import grid, grid_trips

from .test_runtime_traffic import Crash, scenario


def exhaustive_next_hops(net, params, dest_links, link_cost, link_open):
    """The first implementation: scipy Dijkstra from all destinations, then every turn of
    every link scored against every destination at once (n_dest x n_links x k_max)."""
    penalty = routing._penalty(net, params)
    rank = routing._TURN_RANK[net.turn_kind]
    tf, tt, pad = net.turn_from, net.turn_to_arr, net.turn_pad
    B, n = link_cost.shape
    nxt = np.full((B, len(dest_links), n), -1, np.int32)
    dist = np.empty((B, len(dest_links), n))
    valid = pad >= 0
    pt = np.where(valid, pad, 0)
    for b in range(B):
        ok = np.asarray(link_open[b], bool)[tt]
        w = link_cost[b, tt] + penalty
        g = csr_matrix((w[ok], (tt[ok], tf[ok])), shape=(n, n))
        d = dijkstra(g, directed=True, indices=dest_links)
        dist[b] = d
        if tt.size == 0:
            continue
        val = np.where(ok, w, np.inf)[pt] + d[:, tt[pt]]
        val = np.where(valid[None], val, np.inf)
        best = val.min(axis=2, keepdims=True)
        r = np.where(val <= best + 1e-3, rank[pt][None], np.iinfo(np.int64).max)
        k = r.argmin(axis=2)
        choice = np.take_along_axis(tt[pt][None].repeat(len(dest_links), 0), k[..., None],
                                    axis=2)[..., 0]
        nxt[b] = np.where(np.isfinite(best[..., 0]), choice, -1)
        nxt[b, np.arange(len(dest_links)), dest_links] = -1
    return nxt, dist


@st.composite
def routing_case(draw):
    nx, ny = draw(st.integers(2, 4)), draw(st.integers(1, 4))
    xy = np.array([(i * 100.0, j * 100.0) for i in range(nx) for j in range(ny)])
    pairs = []
    for i in range(nx):
        for j in range(ny):
            a = i * ny + j
            if i + 1 < nx:
                pairs += [(a, a + ny), (a + ny, a)]
            if j + 1 < ny:
                pairs += [(a, a + 1), (a + 1, a)]
    keep = np.array(draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs))))
    keep[0] = True
    pairs = [p for p, k in zip(pairs, keep) if k]
    n = len(pairs)
    # lengths on a 10 m raster: many exactly equal costs, so the tie-break decides
    length = 10.0 * np.array(draw(st.lists(st.integers(5, 15), min_size=n, max_size=n)))
    net = tr.Network(xy, [p[0] for p in pairs], [p[1] for p in pairs], length,
                     np.ones(n, int), np.full(n, 10.0), allow_uturns=draw(st.booleans()))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    cost = np.stack([net.free_time, net.free_time * rng.choice([1.0, 1.5, 2.0], n)])
    is_open = (rng.random((2, n)) > 0.1).astype(np.uint8)
    dest = np.unique(rng.integers(0, n, rng.integers(1, n + 1)))
    return net, cost, is_open, dest


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routing_case(), st.sampled_from([0.0, 1.5]))
def test_next_hops_equal_exhaustive_method(case, left_penalty):
    net, cost, is_open, dest = case
    params = tr.TrafficParams(left_turn_penalty=left_penalty)
    ref, ref_dist = exhaustive_next_hops(net, params, dest, cost, is_open)
    np.testing.assert_array_equal(routing.tables(net, params, dest, cost, is_open), ref)
    togo = routing.cost_to_go(net.turn_from, net.turn_to_arr, routing._penalty(net, params),
                              net.turn_pad, net.n_links, dest, cost, is_open)
    np.testing.assert_array_equal(togo, ref_dist)


def test_next_hops_on_grid_equal_exhaustive_method():
    net = grid(5).net
    rng = np.random.default_rng(3)
    cost = np.stack([net.free_time, net.free_time * rng.uniform(1, 2, net.n_links)])
    is_open = np.ones_like(cost, np.uint8)
    is_open[1, rng.integers(0, net.n_links, 4)] = 0
    dest = np.arange(net.n_links)
    params = tr.TrafficParams()
    ref, _ = exhaustive_next_hops(net, params, dest, cost, is_open)
    np.testing.assert_array_equal(routing.tables(net, params, dest, cost, is_open), ref)
    rows = np.array([0, 7, 30])
    part = routing.tables(net, params, dest, cost, is_open, rows)
    np.testing.assert_array_equal(part[:, rows], ref[:, rows])
    assert np.all(np.delete(part, rows, axis=1) == -1)


def test_rebuilt_tables_continue_bit_identically():
    g = grid(4)
    t, o, d, _, _ = grid_trips(g, 1200, 2, 600.0)
    params = tr.TrafficParams(reroute_period=60.0, reroute_share=0.4)
    state = tr.init_state(g.net, tr.Trips(t, o, d), params, seed=3)
    tr.run(g.net, None, params, until=330.0, state=state, stop_when_done=False)
    tr.close_link(g.net, state, 5)
    assert state.route_next.shape[0] > 1
    copy_ = tr.TrafficState(state.n_members, state.time, params, copy.deepcopy(state.rngs),
                            {k: np.array(v, copy=True) for k, v in state.arrays.items()
                             if k != "route_next"})
    tr.rebuild_tables(g.net, copy_)
    for s in (state, copy_):
        tr.run(g.net, None, params, until=900.0, state=s, stop_when_done=False)
    for name in ("v_pos", "v_link", "v_ver", "v_arrive", "lane_buf", "route_cost"):
        np.testing.assert_array_equal(state.arrays[name], copy_.arrays[name], err_msg=name)


def test_checkpoint_holds_no_route_tables():
    proc = TrafficProcess(params=tr.TrafficParams(reroute_period=60.0))
    g = grid(3)
    t, o, d, _, _ = grid_trips(g, 200, 1, 300.0)
    proc.net = g.net
    proc.state = tr.init_state(g.net, tr.Trips(t, o, d), proc.params)
    K, L = 1, g.net.n_links
    proc.flow_acc, proc.acc_time, proc.saved_plans = np.zeros((K, L)), np.zeros(1), {}
    proc.trips_flushed, proc.cap_event = np.zeros(1), np.ones((K, L))
    proc.cap_coupled, proc.speed_coupled = np.ones((K, L)), np.ones((K, L))
    proc.dark = np.zeros((K, g.net.n_nodes), bool)
    s = proc.get_state()
    assert "route_next" not in s["arrays"]
    ref = proc.state.route_next.copy()
    proc.set_state(s)
    np.testing.assert_array_equal(proc.state.route_next, ref)


def test_runtime_resume_after_reroutes_is_bit_identical(tmp_path):
    params = tr.TrafficParams(reroute_period=60.0, reroute_share=0.5)

    def kernels(at=None):
        return [TrafficProcess(vehicle_slots=64, threads=1, params=params), Crash(at=at)]

    ref = twin.run(scenario(kernels=kernels()), tmp_path / "ref.zarr", progress=False)
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(scenario(kernels=kernels(at=400)), tmp_path / "r.zarr", progress=False)
    part = xr.open_zarr(str(tmp_path / "r.zarr"), group="traffic")
    assert 0 < part.sizes["time"] < 20
    run = twin.run(scenario(kernels=kernels()), tmp_path / "r.zarr", resume=True,
                   progress=False)
    a, b = ref.open("traffic"), run.open("traffic")
    for v in a.variables:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
