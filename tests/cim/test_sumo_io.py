"""SUMO networks: cim.load of SUMO's own example networks and of netconvert output, compared
with sumolib's reading of the same files; programs, additional files, WAUTs, projection;
cim.write_sumo round trips through netconvert; bad files."""

import os
import subprocess
import sys

import numpy as np
import pytest

import cim

sumo = pytest.importorskip("sumo", reason="eclipse-sumo is not installed")
sys.path.insert(0, os.path.join(sumo.SUMO_HOME, "tools"))
sumolib = pytest.importorskip("sumolib", reason="sumolib not in eclipse-sumo's tools")
GAME = os.path.join(sumo.SUMO_HOME, "tools", "game")
NETCONVERT = os.path.join(sumo.SUMO_HOME, "bin", "netconvert")


def _game(*p):
    f = os.path.join(GAME, *p)
    if not os.path.exists(f):
        pytest.skip(f"{f} is not shipped by this eclipse-sumo")
    return f


def _conns(roads):
    c, ids = roads.connections, roads.link_ids
    return {(ids[a], ids[b], int(x), int(y))
            for a, b, x, y in zip(c.from_link, c.to_link, c.from_lane, c.to_lane)}


def _sumolib_conns(net):
    return {(e.getID(), c.getTo().getID(), c.getFromLane().getIndex(), c.getToLane().getIndex())
            for e in net.getEdges() for c in e.getOutgoing() and
            [c for cs in e.getOutgoing().values() for c in cs]}


def _compare(path):
    city = cim.load(path)
    net = sumolib.net.readNet(path, withPrograms=True)
    r = city.roads
    edges = {e.getID(): e for e in net.getEdges()}
    assert set(r.link_ids) == set(edges)
    assert r.n_nodes == len(net.getNodes())
    for k, lid in enumerate(r.link_ids):
        e = edges[lid]
        assert r.node_ids[r.link_from[k]] == e.getFromNode().getID()
        assert r.node_ids[r.link_to[k]] == e.getToNode().getID()
        assert r.link_lanes[k] == e.getLaneNumber()
        assert r.link_length[k] == pytest.approx(e.getLength(), abs=1e-6)
        assert r.link_free_speed[k] == pytest.approx(e.getSpeed(), abs=1e-6)
    lanes = r.lanes
    assert len(lanes) == sum(e.getLaneNumber() for e in edges.values())
    from cim.model.roads import vclass_names
    for i in range(0, len(lanes), max(1, len(lanes) // 200)):
        ln = edges[r.link_ids[lanes.link[i]]].getLane(int(lanes.index[i]))
        assert lanes.length[i] == pytest.approx(ln.getLength(), abs=1e-6)
        for vc in ("passenger", "bus", "pedestrian", "bicycle", "tram"):
            assert (vc in vclass_names(lanes.allow[i])) == ln.allows(vc), (ln.getID(), vc)
    assert _conns(r) == _sumolib_conns(net)
    return city, net


@pytest.mark.parametrize("parts", [("cross", "cross.net.xml"), ("A10KW", "osm.net.xml"),
                                   ("fkk_in", "ingolstadt.net.xml.gz"),
                                   ("square", "square.net.xml")])
def test_sumo_example_networks_match_sumolib(parts):
    city, net = _compare(_game(*parts))
    r = city.roads
    tl_nodes = {n.getID() for tl in net.getTrafficLights() for c in tl.getConnections()
                for n in [c[0].getEdge().getToNode()]}
    assert {r.node_ids[i] for i in np.flatnonzero(r.node_signal)} >= tl_nodes
    for i in np.flatnonzero(r.node_signal):
        plan = r.node_signal_plan[i]
        if plan is None:
            continue
        tl = net.getTLS(plan["sumo"]["tl"])
        prog = tl.getPrograms()[plan["sumo"]["program"]]
        assert [p.state for p in prog.getPhases()] == [p["state"] for p in
                                                        plan["sumo"]["phases"]]
        assert plan["cycle_s"] == pytest.approx(sum(p.duration for p in prog.getPhases()))


def test_projection_gives_crs_and_original_coordinates():
    path = _game("A10KW", "osm.net.xml")
    city = cim.load(path)
    net = sumolib.net.readNet(path)
    assert city.crs is not None and city.crs.to_epsg() == 32633
    node = net.getNodes()[0]
    k = list(city.roads.node_ids).index(node.getID())
    lon, lat = net.convertXY2LonLat(*node.getCoord())
    wgs = city.to_crs("EPSG:4326").roads.node_xy[k]
    assert wgs == pytest.approx([lon, lat], abs=1e-6)


def test_cross_program_phases_and_plan():
    city = cim.load(_game("cross", "cross.net.xml"))
    r = city.roads
    (i,) = np.flatnonzero(r.node_signal)
    plan = r.node_signal_plan[i]
    # 33 s through + 3 s yellow + 6 s protected left = one 42 s green per road pair
    assert plan["green_s"] == [42.0, 42.0] and plan["yellow_s"] == 3.0
    assert plan["cycle_s"] == 90.0
    assert plan["phase_roads"] == [["1si", "2si"], ["3si", "4si"]]
    assert plan["sumo"]["phases"][0] == {"duration": 33.0, "state": "GGgrrrGGgrrr"}


def test_additional_program_and_waut(tmp_path):
    net = _game("cross", "cross.net.xml")
    add = tmp_path / "w.add.xml"
    add.write_text("""<additional>
  <tlLogic id="0" programID="night" type="static" offset="5">
    <phase duration="50" state="GGgrrrGGgrrr"/><phase duration="4" state="yyyrrryyyrrr"/>
    <phase duration="20" state="rrrGGgrrrGGg"/><phase duration="4" state="rrryyyrrryyy"/>
  </tlLogic>
  <WAUT refTime="0" id="w1" startProg="0">
    <wautSwitch time="3600" to="night"/><wautSwitch time="21600" to="0"/>
  </WAUT>
  <wautJunction wautID="w1" junctionID="0"/>
</additional>""")
    city = cim.load(net, add)
    r = city.roads
    (i,) = np.flatnonzero(r.node_signal)
    plan = r.node_signal_plan[i]
    assert plan["sumo"]["program"] == "night"
    assert set(plan["sumo"]["programs"]) == {"0", "night"}
    assert plan["green_s"] == [50.0, 20.0] and plan["cycle_s"] == 78.0
    assert plan["offset_s"] == 5.0 and plan["sumo"]["waut"] == "w1"
    assert city.metadata["sumo_wauts"]["w1"]["switches"] == [(3600.0, "night"),
                                                             (21600.0, "0")]
    assert str(add) in city.report.files
    assert cim.detect_format(add) == "sumo_net"


def _plain_net(tmp_path):
    """A 3-arm signalized junction built with netconvert from .nod/.edg/.con."""
    (tmp_path / "t.nod.xml").write_text("""<nodes>
  <node id="c" x="0" y="0" type="traffic_light"/><node id="w" x="-200" y="0"/>
  <node id="e" x="200" y="0"/><node id="s" x="0" y="-200"/></nodes>""")
    (tmp_path / "t.edg.xml").write_text("""<edges>
  <edge id="wc" from="w" to="c" numLanes="2" speed="13.9"/>
  <edge id="cw" from="c" to="w" numLanes="2" speed="13.9"/>
  <edge id="ec" from="e" to="c" numLanes="2" speed="13.9">
    <lane index="0" allow="bus"/></edge>
  <edge id="ce" from="c" to="e" numLanes="2" speed="13.9"/>
  <edge id="sc" from="s" to="c" numLanes="1" speed="8.3" name="South Road"/>
  <edge id="cs" from="c" to="s" numLanes="1" speed="8.3" name="South Road"/></edges>""")
    (tmp_path / "t.con.xml").write_text("""<connections>
  <connection from="wc" to="ce" fromLane="0" toLane="0"/>
  <connection from="wc" to="ce" fromLane="1" toLane="1"/>
  <connection from="wc" to="cs" fromLane="0" toLane="0"/>
  <connection from="ec" to="cw" fromLane="1" toLane="1"/>
  <connection from="ec" to="cw" fromLane="0" toLane="0"/>
  <connection from="sc" to="ce" fromLane="0" toLane="0"/></connections>""")
    out = tmp_path / "t.net.xml"
    subprocess.run([NETCONVERT, "-n", str(tmp_path / "t.nod.xml"), "-e",
                    str(tmp_path / "t.edg.xml"), "-x", str(tmp_path / "t.con.xml"),
                    "--no-turnarounds", "-o", str(out)], check=True, capture_output=True)
    return out


def test_netconvert_plain_network(tmp_path):
    out = _plain_net(tmp_path)
    city, net = _compare(str(out))
    r = city.roads
    assert r.n_links == 6 and len(r.connections) == 6
    k = list(r.link_ids).index("ec")
    from cim.model.roads import vclass_names
    lanes = np.flatnonzero(r.lanes.link == k)
    assert vclass_names(r.lanes.allow[lanes[0]]) == ["bus"]
    assert r.lanes_allowing("passenger")[k] == 1 and r.link_lanes[k] == 2
    assert r.node_type[list(r.node_ids).index("c")] == "traffic_light"
    assert r.link_name[list(r.link_ids).index("sc")] == "South Road"


def test_write_sumo_round_trip_of_the_grid_city(tmp_path):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "twin"))
    from test_runtime_traffic import grid_city

    city = grid_city()
    out = cim.write_sumo(city, tmp_path / "grid.net.xml")
    net = sumolib.net.readNet(str(out), withPrograms=True)
    back = cim.load(out)
    a, b = city.roads, back.roads
    assert set(b.link_ids) == set(a.link_ids) == {e.getID() for e in net.getEdges()}
    order = [list(b.link_ids).index(k) for k in a.link_ids]
    assert (b.link_lanes[order] == a.link_lanes).all()
    assert b.link_length[order] == pytest.approx(a.link_length, abs=0.01)
    assert b.link_free_speed[order] == pytest.approx(a.link_free_speed, abs=0.01)
    assert list(b.node_ids[b.link_from[order]]) == list(a.node_ids[a.link_from])
    assert b.node_xy[[list(b.node_ids).index(n) for n in a.node_ids]] == pytest.approx(
        a.node_xy, abs=0.01)
    # the signal: same timing, SUMO phases from the plan
    (i,) = np.flatnonzero(b.node_signal)
    assert b.node_ids[i] == "n11"
    plan = b.node_signal_plan[i]
    assert plan["green_s"] == [27.0, 27.0] and plan["cycle_s"] == 60.0
    assert len(net.getTLS("n11").getPrograms()["0"].getPhases()) == 4
    # written again: identical edges, lanes and connections (a fixed point)
    out2 = cim.write_sumo(back, tmp_path / "again.net.xml")
    again = cim.load(out2).roads
    assert _conns(again) == _conns(b) == _sumolib_conns(net)
    assert (again.lanes.allow == b.lanes.allow).all()


def test_write_sumo_round_trip_of_a_sumo_network(tmp_path):
    src = cim.load(_game("A10KW", "osm.net.xml"))
    out = cim.write_sumo(src, tmp_path / "a10.net.xml")
    back = cim.load(out)
    a, b = src.roads, back.roads
    assert set(a.link_ids) == set(b.link_ids) and a.n_nodes == b.n_nodes
    assert len(a.lanes) == len(b.lanes)
    assert _conns(a) == _conns(b)
    order = [list(b.link_ids).index(k) for k in a.link_ids]
    assert b.link_length[order] == pytest.approx(a.link_length, abs=0.01)
    assert back.crs.to_epsg() == 32633
    sig = lambda r: {(r.node_ids[i], tuple(p["state"] for p in r.node_signal_plan[i]["sumo"]  # noqa: E731
                                            ["phases"])) for i in np.flatnonzero(r.node_signal)}
    assert sig(a) == sig(b)


def test_bad_sumo_files(tmp_path):
    good = _plain_net(tmp_path).read_text()
    bad = tmp_path / "bad.net.xml"
    bad.write_text(good.replace('<edge id="wc"', '<edge id="wc" shape="1,2 x"', 1)
                   if '<edge id="wc" from' in good else good + "<")
    with pytest.raises(cim.CIMError, match="bad.net.xml"):
        cim.load(bad)
    bad.write_text(good[: len(good) // 2])
    with pytest.raises(cim.FormatError, match="malformed XML"):
        cim.load(bad)
    bad.write_text(good.replace('from="wc" to="ce"', 'from="wc" to="nowhere"', 1))
    with pytest.raises(cim.MissingReferenceError, match=r"bad.net.xml:\d+.*nowhere"):
        cim.load(bad)
    # a program whose states are shorter than its connections
    import re
    bad.write_text(re.sub(r'(<phase [^>]*state=")([^"]{2})[^"]*"', r'\1\2"', good))
    with pytest.raises(cim.SchemaError, match=r"tlLogic 'c'.*signals"):
        cim.load(bad)
    bad.write_text(good.replace('id="ec_0" index="0" allow="bus"',
                                'id="ec_0" index="0" allow="hovercraft"'))
    with pytest.raises(cim.SchemaError, match="hovercraft"):
        cim.load(bad)
    bomb = tmp_path / "bomb.net.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE net [<!ENTITY a "aaaa">]>'
                    '<net version="1.20"><edge id="&a;" from="x" to="y"/></net>')
    with pytest.raises(cim.FormatError, match="entit"):
        cim.load(bomb)
    add = tmp_path / "x.add.xml"
    add.write_text('<additional><tlLogic id="zz" programID="p"><phase duration="5" '
                   'state="G"/></tlLogic></additional>')
    with pytest.raises(cim.MissingReferenceError, match="x.add.xml"):
        cim.load(_plain_net(tmp_path), add)
    with pytest.raises(cim.MissingReferenceError, match="needs its SUMO network"):
        cim.load(add)
