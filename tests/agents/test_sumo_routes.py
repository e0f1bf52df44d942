"""SUMO route files through agents.read_trips: vehicles with routes, trips, flows, vTypes;
counts checked against SUMO's own loading of the same file; bad files."""

import os
import subprocess

import defusedxml.ElementTree as ET
import numpy as np
import pytest

import agents
import cim

sumo = pytest.importorskip("sumo", reason="eclipse-sumo is not installed")
BIN = os.path.join(sumo.SUMO_HOME, "bin")

NOD = """<nodes><node id="a" x="0" y="0"/><node id="b" x="300" y="0"/>
<node id="c" x="600" y="0"/><node id="d" x="300" y="300"/></nodes>"""
EDG = """<edges>
<edge id="ab" from="a" to="b" numLanes="2" speed="13.9"/>
<edge id="bc" from="b" to="c" numLanes="2" speed="13.9"/>
<edge id="bd" from="b" to="d" numLanes="1" speed="13.9"/>
<edge id="db" from="d" to="b" numLanes="1" speed="13.9"/></edges>"""
ROUTES = """<routes>
  <vType id="car" length="4.5" accel="2.0" decel="4.0" maxSpeed="30" vClass="passenger"/>
  <vType id="bus" length="12" accel="1.2" decel="4.0" maxSpeed="20" vClass="bus"/>
  <route id="r1" edges="ab bc"/>
  <trip id="t0" depart="0" from="ab" to="bd" type="car"/>
  <flow id="f0" begin="0" end="100" period="10" route="r1" type="car"/>
  <flow id="f2" begin="0" end="60" number="4" route="r1"/>
  <vehicle id="v1" depart="5"><route edges="db bc"/></vehicle>
  <vehicle id="v0" depart="10" type="bus" route="r1"/>
  <flow id="f1" begin="50" end="110" vehsPerHour="360" from="db" to="bc"/>
</routes>"""


@pytest.fixture
def net(tmp_path):
    (tmp_path / "n.nod.xml").write_text(NOD)
    (tmp_path / "n.edg.xml").write_text(EDG)
    out = tmp_path / "n.net.xml"
    subprocess.run([os.path.join(BIN, "netconvert"), "-n", str(tmp_path / "n.nod.xml"), "-e",
                    str(tmp_path / "n.edg.xml"), "--no-turnarounds", "-o", str(out)],
                   check=True, capture_output=True)
    return out


def _sumo_loaded(net, rou, tmp_path) -> int:
    stats = tmp_path / "stats.xml"
    subprocess.run([os.path.join(BIN, "sumo"), "-n", str(net), "-r", str(rou), "--end", "2000",
                    "--no-step-log", "--statistic-output", str(stats)], check=True,
                   capture_output=True)
    return int(ET.parse(stats).getroot().find("vehicles").get("loaded"))


def test_route_file_read_like_sumo(net, tmp_path):
    rou = tmp_path / "x.rou.xml"
    rou.write_text(ROUTES)
    city = cim.load(net)
    trips = agents.read_trips(rou, city)
    assert isinstance(trips, agents.SumoTrips)
    # 2 vehicles + 1 trip + 10 (period 10 in [0, 100)) + 6 (360/h in [50, 110)) + 4
    assert len(trips) == 23 == _sumo_loaded(net, rou, tmp_path)
    assert np.all(np.diff(trips.depart_s) >= 0)
    ids = list(trips.trip_id)
    link = {k: i for i, k in enumerate(city.roads.link_ids)}
    v0 = ids.index("v0")
    assert list(trips.route[v0]) == [link["ab"], link["bc"]]
    assert trips.vclass[v0] == "bus" and trips.length[v0] == 12.0 and trips.accel[v0] == 1.2
    v1 = ids.index("v1")
    assert list(trips.route[v1]) == [link["db"], link["bc"]] and trips.length[v1] == 5.0
    t0 = ids.index("t0")
    assert trips.route[t0] is None
    assert trips.origin_link[t0] == link["ab"] and trips.destination_link[t0] == link["bd"]
    assert city.roads.node_ids[trips.origin_node[t0]] == "a"
    assert city.roads.node_ids[trips.destination_node[t0]] == "d"
    f0 = np.array([i.startswith("f0.") for i in ids])
    assert sorted(trips.depart_s[f0]) == pytest.approx(np.arange(0, 100, 10))
    f1 = np.array([i.startswith("f1.") for i in ids])
    assert sorted(trips.depart_s[f1]) == pytest.approx(50 + 10 * np.arange(6))
    f2 = np.array([i.startswith("f2.") for i in ids])
    assert sorted(trips.depart_s[f2]) == pytest.approx([0, 15, 30, 45])
    # a selection keeps the extra columns aligned
    sub = trips.select(trips.vclass == "bus")
    assert list(sub.trip_id) == ["v0"] and sub.length[0] == 12.0


def test_dead_end_origins_are_kept_when_routed(net, tmp_path):
    """'a' is a source and 'c' a sink: outside the largest strongly connected component."""
    city = cim.load(net)
    rou = tmp_path / "x.rou.xml"
    rou.write_text('<routes><vehicle id="v" depart="0"><route edges="ab bc"/></vehicle>'
                   "</routes>")
    trips = agents.read_trips(rou, city)
    assert len(trips) == 1
    routable = agents.routable_nodes(city.roads)
    assert not routable[trips.origin_node[0]] and not routable[trips.destination_node[0]]


def test_sumo_example_route_files():
    game = os.path.join(sumo.SUMO_HOME, "tools", "game", "A10KW")
    if not os.path.exists(game):
        pytest.skip("the SUMO game scenarios are not shipped")
    city = cim.load(os.path.join(game, "osm.net.xml"))
    rou = os.path.join(game, "osm.passenger.rou.xml")
    trips = agents.read_trips(rou, city)
    root = ET.parse(rou).getroot()
    veh = root.findall("vehicle")
    assert len(trips) == len(veh)
    first = {v.get("id"): v.find("route").get("edges").split() for v in veh[:20]}
    ids = city.roads.link_ids
    for k, tid in enumerate(trips.trip_id):
        if tid in first:
            assert [ids[i] for i in trips.route[k]] == first[tid]


@pytest.mark.parametrize("text, match", [
    ('<routes><vehicle id="v" depart="0"><route edges="ab zz"/></vehicle></routes>',
     r"x.rou.xml:1.*vehicle 'v'.*'zz'"),
    ('<routes><vehicle id="v" depart="0"><route edges="ab bd bc"/></vehicle></routes>',
     r"vehicle 'v'.*not connected"),
    ('<routes><vType id="t" length="-3"/></routes>', r"vType 't'.*length"),
    ('<routes><trip id="t" depart="0" from="ab"/></routes>', r"trip 't' needs"),
    ('<routes><vehicle id="v" depart="0" route="nope"/></routes>', r"unknown route"),
    ('<routes><flow id="f" begin="0" end="10" route="x"', r"malformed XML"),
    ('<!DOCTYPE r [<!ENTITY e "e">]><routes/>', r"entit"),
    ('<routes><trip id="t" depart="soon" from="ab" to="bc"/></routes>', r"depart"),
])
def test_bad_route_files(net, tmp_path, text, match):
    city = cim.load(net)
    rou = tmp_path / "x.rou.xml"
    rou.write_text(text)
    with pytest.raises(agents.DemandError, match=match):
        agents.read_trips(rou, city)


def test_lenient_skips_bad_elements(net, tmp_path):
    city = cim.load(net)
    rou = tmp_path / "x.rou.xml"
    rou.write_text('<routes><vehicle id="v" depart="0"><route edges="ab zz"/></vehicle>'
                   '<trip id="t" depart="1" from="ab" to="bc"/></routes>')
    trips = agents.read_trips(rou, city, lenient=True)
    assert list(trips.trip_id) == ["t"] and len(trips.meta["skipped"]) == 1
