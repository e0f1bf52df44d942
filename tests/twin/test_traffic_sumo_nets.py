"""The traffic kernel against SUMO on a network built by SUMO's tools, same routes in both.

A small ``netgenerate --spider`` network (all junctions signalized, SUMO's programs) with
``randomTrips.py`` + ``duarouter`` demand, loaded as a user would (``cim.load``,
``agents.read_trips`` with the routes), run by ``sumo`` and by the twin (the benchmark's
:mod:`benchmarks.traffic_sumo_nets` functions). Checked: every trip accounted for (none
lost), completed trips within 2 % of SUMO's, per-edge counts correlated >= 0.9 (routes
given), mean trip time within 30 % (issue 10 asks 15 % once junctions are calibrated, part
5: today the twin drives through SUMO's junctions faster; the benchmark reports the figure).
"""

import importlib.util
import os

import numpy as np
import pytest

pytest.importorskip("sumo", reason="eclipse-sumo is not installed: no SUMO to compare with")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bench():
    path = os.path.join(ROOT, "benchmarks", "traffic_sumo_nets.py")
    spec = importlib.util.spec_from_file_location("bench_sumo_nets", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_spider_network_with_routes_against_sumo(tmp_path):
    b = _bench()
    if b.sumo_bin("sumo") is None:
        pytest.skip("eclipse-sumo is importable but has no sumo binary")
    case = {"name": "spider", "period": 1.5, "end": 450.0,
            "args": ["--spider", "--spider.arm-number", "5", "--spider.circle-number", "3",
                     "--spider.space-radius", "150"]}
    net, rou = b.build(case, str(tmp_path))
    sumo = b.run_sumo(net, rou, str(tmp_path))
    ours = b.run_ours(net, rou)
    assert ours["n_demand"] == 300 and ours["lost"] == 0 and ours["rejected"] == 0
    assert ours["completed"] == pytest.approx(sumo["completed"], rel=0.02)
    ids = sorted(sumo["edge_counts"])
    x = np.array([sumo["edge_counts"][k] for k in ids], float)
    y = np.array([ours["edge_counts"][k] for k in ids], float)
    assert np.corrcoef(x, y)[0, 1] >= 0.9
    assert ours["mean_tt_s"] == pytest.approx(sumo["mean_tt_s"], rel=0.3)
