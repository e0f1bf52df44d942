"""Junction behaviour of the traffic kernel against SUMO on a one-junction network (issue 10,
part 5).

A cross of four 2-lane arms (200 m to a priority node, 200 m on to a dead end), built with
SUMO's ``netconvert`` from plain XML, loaded by ``cim.load`` and run by the twin on the same
routes as SUMO (SUMO's default vehicles, 1 s steps). Checked against SUMO:

- the path of each turn through the junction (SUMO's internal lanes) as the kernel estimates
  it from the geometry;
- single vehicles through the junction, every movement: trip times;
- a queue of 40 vehicles discharging at green: mean trip time;
- left turns giving way to a random opposing stream at a priority junction: mean trip time
  of the left-turners.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("sumo", reason="eclipse-sumo is not installed: no SUMO to compare with")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from _grid import sumo_bin  # noqa: E402

import agents  # noqa: E402
import cim  # noqa: E402
from twin.kernels import traffic as tr  # noqa: E402
from twin.kernels.traffic.demand import kernel_network, kernel_trips  # noqa: E402
from twin.kernels.traffic.plans import signal_plans  # noqa: E402

from .test_signals_movement import _sumo, _write_routes  # noqa: E402

ARM = 200.0


def _net(tmp, jtype):
    """Write and convert the cross with junction type ``jtype``; return the .net.xml path."""
    if sumo_bin("netconvert") is None or sumo_bin("sumo") is None:
        pytest.skip("eclipse-sumo is importable but has no netconvert/sumo binary")
    xy = {"C": (0, 0), "N": (0, ARM), "S": (0, -ARM), "E": (ARM, 0), "W": (-ARM, 0)}
    nodes = [f'<node id="C" x="0" y="0" type="{jtype}"/>']
    edges = []
    for a in "NSEW":
        x, y = xy[a]
        nodes.append(f'<node id="{a}" x="{x}" y="{y}" type="priority"/>')
        nodes.append(f'<node id="{a}2" x="{2 * x}" y="{2 * y}" type="dead_end"/>')
        pr = 2 if a in "EW" else 1
        for f, t in ((f"{a}2", a), (a, f"{a}2"), (a, "C"), ("C", a)):
            edges.append(f'<edge id="{f}{t}" from="{f}" to="{t}" numLanes="2" speed="13.9" '
                         f'priority="{pr}"/>')
    nod, edg, net = (os.path.join(tmp, f) for f in ("x.nod.xml", "x.edg.xml", "x.net.xml"))
    with open(nod, "w") as f:
        f.write("<nodes>\n" + "\n".join(nodes) + "\n</nodes>\n")
    with open(edg, "w") as f:
        f.write("<edges>\n" + "\n".join(edges) + "\n</edges>\n")
    subprocess.run([sumo_bin("netconvert"), "-n", nod, "-e", edg, "--no-turnarounds", "-o", net],
                   check=True, capture_output=True)
    return net


def _run(tmp, net, vehicles):
    """Run SUMO and the twin on ``vehicles`` [(id, depart s, route edges)]; return their
    trip times {id: (SUMO s, ours s)}."""
    rou = _write_routes(tmp, vehicles)
    sumo = _sumo(net, rou, tmp)
    city = cim.load(net)
    trips = agents.read_trips(rou, city)
    knet = kernel_network(city.roads, signal_plans(city.roads))
    kt, _ = kernel_trips(trips, city.roads, knet)
    state = tr.init_state(knet, kt, tr.TrafficParams())
    while state.time < 3600 and tr.counts(state)["arrived"][0] < kt.depart.size:
        tr.advance(knet, state, 60, 1.0)
    done = tr.completed_trips(state)
    ids = np.asarray(trips.trip_id).astype(str)
    ours = dict(zip(ids[done["trip_id"]].tolist(), done["travel_time"].tolist()))
    assert set(ours) == set(sumo) == {v[0] for v in vehicles}
    return {k: (sumo[k], ours[k]) for k in sumo}


def _sumo_paths(net):
    """SUMO's path length through the junction per (from edge, to edge): its internal lanes."""
    root = ET.parse(net).getroot()
    length = {ln.get("id"): float(ln.get("length")) for e in root.iter("edge")
              if e.get("function") == "internal" for ln in e.iter("lane")}
    after = {(c.get("from"), c.get("fromLane")): c.get("via") for c in root.iter("connection")
             if c.get("from").startswith(":")}
    out = {}
    for c in root.iter("connection"):
        via, total = c.get("via"), 0.0
        if c.get("from").startswith(":") or not via:
            continue
        while via:
            total += length[via]
            edge, lane = via.rsplit("_", 1)
            via = after.get((edge, lane))
        out.setdefault((c.get("from"), c.get("to")), []).append(total)
    return {k: float(np.mean(v)) for k, v in out.items()}


MOVES = {"through": "W2W WC CE EE2", "right": "W2W WC CS SS2", "left": "W2W WC CN NN2",
         "minor_through": "S2S SC CN NN2", "minor_left": "S2S SC CW WW2",
         "minor_right": "S2S SC CE EE2"}


@pytest.mark.slow
def test_turn_paths_match_sumo_internal_lanes(tmp_path):
    net = _net(str(tmp_path), "priority")
    city = cim.load(net)
    knet = kernel_network(city.roads)
    ids = np.asarray(city.roads.link_ids).astype(str)
    paths = _sumo_paths(net)
    pairs = [(paths[(ids[f], ids[t])], knet.turn_len[k]) for k, (f, t) in
             enumerate(zip(knet.turn_from, knet.turn_to_arr)) if (ids[f], ids[t]) in paths]
    ref, ours = np.array(pairs).T
    assert len(pairs) == 20  # at C 4 approaches x (right, through, left), 8 straight on
    assert np.abs(ours - ref).max() < 1.0  # m; paths of 0.1 to 21 m
    assert ref.max() > 15.0


@pytest.mark.slow
def test_single_vehicles_every_movement(tmp_path):
    net = _net(str(tmp_path), "priority")
    vehicles = [(f"{m}_{k}", 200.0 * k + 30.0 * j, r) for k in range(2)
                for j, (m, r) in enumerate(MOVES.items())]
    tt = _run(str(tmp_path), net, vehicles)
    sumo, ours = np.array(list(tt.values())).T
    # SUMO's drivers have their own speed factors and dawdle at random: the mean within 5 %
    assert ours.mean() == pytest.approx(sumo.mean(), rel=0.05)


@pytest.mark.slow
def test_queue_discharge_at_green(tmp_path):
    net = _net(str(tmp_path), "traffic_light")
    vehicles = [(f"q{k}", float(k), MOVES["minor_through"]) for k in range(40)]
    tt = _run(str(tmp_path), net, vehicles)
    sumo, ours = np.array(list(tt.values())).T
    assert ours.mean() == pytest.approx(sumo.mean(), rel=0.1)


@pytest.mark.slow
def test_left_turns_give_way_to_random_opposing_stream(tmp_path):
    net = _net(str(tmp_path), "priority")
    t = np.cumsum(np.random.default_rng(1).exponential(4.0, 200))
    vehicles = [(f"o{k}", float(round(x, 1)), "W2W WC CE EE2") for k, x in enumerate(t)
                if x < 300.0]
    vehicles += [(f"l{k}", 5.0 + 12.0 * k, "E2E EC CS SS2") for k in range(25)]
    tt = _run(str(tmp_path), net, vehicles)
    left = np.array([v for k, v in tt.items() if k[0] == "l"])
    through = np.array([v for k, v in tt.items() if k[0] == "o"])
    assert through[:, 1].mean() == pytest.approx(through[:, 0].mean(), rel=0.05)
    assert left[:, 1].mean() == pytest.approx(left[:, 0].mean(), rel=0.15)
