"""The traffic kernel against SUMO on a 5x5 version of the reference grid.

Same construction as the benchmark's 10x10 grid (netgenerate --grid --grid.number 5 ...,
SUMO's default 90 s two-phase signals) with the reference demand rate per fringe node: the
10x10 grid has 40 fringe nodes and 20,000 trips/h, the 5x5 one 20, so 10,000 trips/h; to keep
SUMO's run to a few seconds the demand lasts 15 min (2,500 trips, departures drawn like the
anchor's make_trips with seed 42). Static free-flow routes in both (SUMO routes trips on
insertion). Compared: mean travel time in the network of all trips (tripinfo duration) and
trips completed by the end of the demand period (15 min), within 15 %.
"""

import importlib.util
import os

import numpy as np
import pytest

from twin.kernels import traffic as tr
from twin.kernels.traffic.grid import grid, grid_trips

pytest.importorskip("sumo", reason="eclipse-sumo is not installed: no SUMO to compare with")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N_TRIPS, T_DEMAND = 2500, 900.0


def _sumo_runner():
    spec = importlib.util.spec_from_file_location(
        "bench_grid", os.path.join(ROOT, "benchmarks", "_grid.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_grid_5x5_against_sumo(tmp_path):
    runner = _sumo_runner()
    if runner.sumo_bin("sumo") is None:
        pytest.skip("eclipse-sumo is importable but has no sumo binary")
    g = grid(5)
    depart, orig, dest, from_edge, to_edge = grid_trips(g, N_TRIPS, 42, T_DEMAND)
    sumo = runner.run_sumo(str(tmp_path), 5, depart, from_edge, to_edge)
    ours = tr.run(g.net, tr.Trips(depart, orig, dest), tr.TrafficParams(debug=True),
                  until=4 * 3600.0)
    trips = ours.trips
    assert sumo["completed"] == N_TRIPS and sumo["teleports"] == 0
    assert trips["travel_time"].size == N_TRIPS
    mean_tt = trips["travel_time"].mean()
    assert mean_tt == pytest.approx(sumo["mean_tt_s"], rel=0.15)
    done_ours = int((trips["arrival"] <= T_DEMAND).sum())
    done_sumo = int((np.asarray(sumo["arrival"]) <= T_DEMAND).sum())
    assert done_ours == pytest.approx(done_sumo, rel=0.15)
