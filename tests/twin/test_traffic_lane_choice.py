"""Lane choice on the next link (``TrafficParams.own_lane_bonus``) against SUMO.

Off (negative): a vehicle takes only the lanes its own lane's connection leads to, and no
lane change follows on the link, so queues stay on the lane the upstream connection delivered
them to. On (>= 0 m; the default, 200 m): it takes any lane of the next link open to it that
serves its following turn, its connection's own lanes preferred by that many metres of room,
standing in for SUMO's lane changes after entry. Checked:

- the off values (-1, None, NaN) are one setting, and the default is on;
- on a small congested ``netgenerate --rand`` network with ``randomTrips.py`` + ``duarouter``
  demand (the benchmark's builder, ``benchmarks/traffic_sumo_nets.py``), against SUMO on the
  same routes: with the option on, the mean trip time is closer to SUMO's than with it off and
  within 15 % of it, and the lane imbalance ``sum|v0 - v1| / sum(v0 + v1)`` of the
  vehicle-seconds on 2-lane links is closer to SUMO's;
- on a hand-made road with a bus lane (``netconvert``), cars never use the bus lane, with the
  option on or off.
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

from .test_traffic_sumo_nets import _bench  # noqa: E402

BONUS = 200.0  # m: the default preference for the connection's own lanes
CONGESTED = {"name": "rand_congested", "period": 0.5, "end": 400.0,
             "args": ["--rand", "--rand.iterations", "60", "--seed", "1",
                      "--rand.min-distance", "150", "--rand.max-distance", "300"]}


def _load(net_path: str, rou: str):
    city = cim.load(net_path)
    roads = city.roads
    net = kernel_network(roads, signal_plans(roads))
    rejected: list = []
    kt, _ = kernel_trips(agents.read_trips(rou, city), roads, net, rejected=rejected)
    assert not rejected
    return roads, net, kt


def run_ours(net_path: str, rou: str, params: tr.TrafficParams, t_cap: float = 3 * 3600.0):
    """Run the kernel on the files in 1 s steps; return (completed trips, (n_lanes,) veh-s per
    lane, the network, the road ids)."""
    roads, net, kt = _load(net_path, rou)
    state = tr.init_state(net, kt, params)
    lane_vs = np.zeros(net.n_lanes)
    n = kt.depart.size
    while state.time < t_cap:
        tr.advance(net, state, 1, 1.0)
        lane_vs += state.lane_count[0]
        c = tr.counts(state)
        if c["arrived"][0] + c["stuck"][0] == n:
            break
    return tr.completed_trips(state), lane_vs, net, roads


def run_sumo(net_path: str, rou: str, work: str):
    """Run SUMO (the benchmark's options) with lane data; return (mean trip time of the
    arrived trips in s, {lane id: vehicle-seconds})."""
    add, ti, ld = (os.path.join(work, f) for f in ("ld.add.xml", "ti.xml", "ld.xml"))
    with open(add, "w") as f:
        f.write(f'<additional><laneData id="ld" file="{ld}"/></additional>\n')
    subprocess.run([sumo_bin("sumo"), "-n", net_path, "-r", rou, "--step-length", "1",
                    "--no-step-log", "true", "--no-warnings", "true", "--seed", "42",
                    "--tripinfo-output", ti, "-a", add], check=True, capture_output=True)
    dur = [float(e.get("duration")) for e in ET.parse(ti).getroot().iter("tripinfo")
           if float(e.get("arrival")) >= 0]
    vs = {la.get("id"): float(la.get("sampledSeconds", 0.0))
          for la in ET.parse(ld).getroot().iter("lane")}
    return float(np.mean(dur)), vs


def imbalance(pairs) -> float:
    """``sum|v0 - v1| / sum(v0 + v1)`` over the (lane 0, lane 1) vehicle-seconds pairs."""
    p = np.asarray(pairs, float)
    return float(np.abs(p[:, 0] - p[:, 1]).sum() / p.sum())


def test_off_values_and_default():
    off = tr.TrafficParams(own_lane_bonus=-1.0).vector()
    for other in (tr.TrafficParams(own_lane_bonus=None),
                  tr.TrafficParams(own_lane_bonus=float("nan"))):
        assert np.array_equal(off, other.vector())
    assert not np.array_equal(tr.TrafficParams(own_lane_bonus=0.0).vector(), off)
    assert not np.array_equal(tr.TrafficParams().vector(), off)  # on by default


def test_widened_lane_choice_against_sumo(tmp_path):
    b = _bench()
    work = str(tmp_path)
    net_path, rou = b.build(CONGESTED, work)
    sumo_tt, sumo_vs = run_sumo(net_path, rou, work)
    off, lanes_off, net, roads = run_ours(net_path, rou,
                                          tr.TrafficParams(own_lane_bonus=-1.0))
    on, lanes_on, _, _ = run_ours(net_path, rou, tr.TrafficParams())  # the default: on
    n = len(agents.read_trips(rou, cim.load(net_path)).trip_id)
    assert off["travel_time"].size == on["travel_time"].size == n
    tt_off, tt_on = off["travel_time"].mean(), on["travel_time"].mean()
    assert abs(tt_on - sumo_tt) < abs(tt_off - sumo_tt)
    assert tt_on == pytest.approx(sumo_tt, rel=0.15)
    # lane imbalance over the 2-lane links, against SUMO's lane data
    l0 = net.link_lane0
    two = np.flatnonzero(np.diff(l0) == 2)
    ids = roads.link_ids.astype(str)
    sumo_pairs = [(sumo_vs.get(f"{ids[i]}_0", 0.0), sumo_vs.get(f"{ids[i]}_1", 0.0))
                  for i in two]
    imb_s = imbalance(sumo_pairs)
    imb_off = imbalance(np.c_[lanes_off[l0[two]], lanes_off[l0[two] + 1]])
    imb_on = imbalance(np.c_[lanes_on[l0[two]], lanes_on[l0[two] + 1]])
    assert abs(imb_on - imb_s) < abs(imb_off - imb_s)


def _bus_lane_net(tmp) -> str:
    """W -> A -> B -> E, 300 m 2-lane links; lane 0 (the right one) of A->B is a bus lane."""
    if sumo_bin("netconvert") is None:
        pytest.skip("eclipse-sumo is importable but has no netconvert binary")
    nod, edg, net = (os.path.join(tmp, f) for f in ("b.nod.xml", "b.edg.xml", "b.net.xml"))
    with open(nod, "w") as f:
        f.write('<nodes><node id="W" x="0" y="0" type="dead_end"/>'
                '<node id="A" x="300" y="0" type="priority"/>'
                '<node id="B" x="600" y="0" type="priority"/>'
                '<node id="E" x="900" y="0" type="dead_end"/></nodes>\n')
    with open(edg, "w") as f:
        f.write('<edges><edge id="WA" from="W" to="A" numLanes="2" speed="13.9"/>'
                '<edge id="AB" from="A" to="B" numLanes="2" speed="13.9">'
                '<lane index="0" allow="bus"/></edge>'
                '<edge id="BE" from="B" to="E" numLanes="2" speed="13.9"/></edges>\n')
    subprocess.run([sumo_bin("netconvert"), "-n", nod, "-e", edg, "--no-turnarounds", "-o",
                    net], check=True, capture_output=True)
    return net


def test_cars_never_use_a_bus_lane(tmp_path):
    net_path = _bus_lane_net(str(tmp_path))
    rou = os.path.join(str(tmp_path), "b.rou.xml")
    # a car every 2 s for 10 min: half of them end on the bus-lane link, half go through
    veh = [f'<vehicle id="v{i}" depart="{2 * i}"><route edges="WA AB{" BE" * (i % 2)}"/>'
           f'</vehicle>' for i in range(300)]
    with open(rou, "w") as f:
        f.write("<routes>\n" + "\n".join(veh) + "\n</routes>\n")
    for bonus in (-1.0, 0.0, BONUS):
        done, lane_vs, net, roads = run_ours(net_path, rou, tr.TrafficParams(
            own_lane_bonus=bonus), t_cap=3600.0)
        assert done["travel_time"].size == 300
        ab = int(np.flatnonzero(roads.link_ids.astype(str) == "AB")[0])
        assert net.link_lane0[ab + 1] - net.link_lane0[ab] == 2
        assert lane_vs[net.link_lane0[ab]] == 0.0, bonus  # the bus lane
        assert lane_vs[net.link_lane0[ab] + 1] > 0.0
