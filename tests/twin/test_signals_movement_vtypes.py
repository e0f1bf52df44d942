"""Vehicle types (SUMO ``vType``: length, minGap, accel, decel, maxSpeed) in the traffic
kernel (issue 10, part 3): read by ``agents.read_trips``, carried by the kernel's trips as
per-vehicle parameters, and compared with SUMO on the signalized cross of
:mod:`test_signals_movement` (a queue of buses and cars discharging at green).
"""

import os
import sys

import numpy as np
import pytest

pytest.importorskip("sumo", reason="eclipse-sumo is not installed: no SUMO to compare with")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_signals_movement import _net, _route, _sumo  # noqa: E402

import agents  # noqa: E402
import cim  # noqa: E402
from twin.kernels import traffic as tr  # noqa: E402
from twin.kernels.traffic.demand import kernel_network, kernel_trips  # noqa: E402
from twin.kernels.traffic.plans import signal_plans  # noqa: E402

BUS = dict(length=12.0, minGap=2.5, accel=1.2, decel=4.0, maxSpeed=10.0)


def _routes(tmp, vehicles, types=True):
    """Write ``vehicles`` [(id, depart s, route, type)]; without ``types`` all are cars."""
    rou = os.path.join(tmp, "v.rou.xml")
    with open(rou, "w") as f:
        f.write("<routes>\n")
        if types:
            attrs = " ".join(f'{k}="{v}"' for k, v in BUS.items())
            f.write(f'<vType id="bus" {attrs} vClass="passenger"/>\n')
        for i, d, r, t in sorted(vehicles, key=lambda v: v[1]):
            typ = f' type="{t}"' if types and t != "car" else ""
            f.write(f'<vehicle id="{i}" depart="{d:.1f}"{typ} departLane="best" '
                    f'departSpeed="max"><route edges="{r}"/></vehicle>\n')
        f.write("</routes>\n")
    return rou


def _ours(net, rou):
    city = cim.load(net)
    trips = agents.read_trips(rou, city)
    knet = kernel_network(city.roads, signal_plans(city.roads))
    kt, _ = kernel_trips(trips, city.roads, knet)
    state = tr.init_state(knet, kt, tr.TrafficParams(debug=True))
    while state.time < 1800 and tr.counts(state)["arrived"][0] < kt.depart.size:
        tr.advance(knet, state, 60, 1.0)
    done = tr.completed_trips(state)
    ids = np.asarray(trips.trip_id).astype(str)
    return kt, dict(zip(ids[done["trip_id"]].tolist(), done["travel_time"].tolist()))


def test_vtypes_reach_the_kernel(tmp_path):
    tmp = str(tmp_path)
    net = _net(tmp)
    rou = _routes(tmp, [("b0", 0.0, _route("W", 1), "bus"), ("c0", 5.0, _route("W", 1), "car")])
    kt, _ = _ours(net, rou)
    assert kt.vehicle[:, 0].tolist() == [12.0, 5.0]
    assert kt.vehicle[:, 4].tolist() == [10.0, 55.56]
    with pytest.raises(tr.TripError, match="length"):
        tr.Trips([0.0], [0], [1], vehicle=[[-1.0, 2.5, 2.6, 4.5, 30.0]])


def test_bus_and_car_queue_against_sumo(tmp_path):
    """A mixed queue (every third vehicle a bus) arriving at red and discharging at green:
    mean trip times of buses and of cars within 10 % of SUMO's; the same vehicles all cars
    would be faster than SUMO's buses by more than that."""
    tmp = str(tmp_path)
    net = _net(tmp)
    vehicles = [(f"{'b' if k % 3 == 0 else 'c'}{k}", 35.0 + 2.0 * k, _route("W", 1),
                 "bus" if k % 3 == 0 else "car") for k in range(24)]
    rou = _routes(tmp, vehicles)
    sumo = _sumo(net, rou, tmp)
    _, ours = _ours(net, rou)
    assert set(ours) == set(sumo)
    for p in "bc":
        s = np.mean([v for k, v in sumo.items() if k[0] == p])
        o = np.mean([v for k, v in ours.items() if k[0] == p])
        assert o == pytest.approx(s, rel=0.1), f"{p}: ours {o:.1f}, SUMO {s:.1f}"
    os.makedirs(os.path.join(tmp, "cars"))
    _, cars = _ours(net, _routes(os.path.join(tmp, "cars"), vehicles, types=False))
    s_bus = np.mean([v for k, v in sumo.items() if k[0] == "b"])
    assert np.mean([v for k, v in cars.items() if k[0] == "b"]) < 0.9 * s_bus
