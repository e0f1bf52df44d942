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
    # namespace errors: lxml's tree-less (target) parser only logs them
    ('<routes><x:vehicle id="v" depart="0"><route edges="ab bc"/></x:vehicle></routes>',
     r"malformed XML: Namespace prefix x"),
    ('<routes><vehicle id="v" depart="0" x:a="1"><route edges="ab bc"/></vehicle></routes>',
     r"malformed XML: Namespace prefix x"),
    ('<routes xmlns:x=""><vehicle id="v" depart="0"><route edges="ab bc"/></vehicle></routes>',
     r"malformed XML: xmlns:x"),
    ('<!DOCTYPE routes><routes><vehicle id="v" depart="0"><route edges="ab zz"/></vehicle>'
     "</routes>", r"x.rou.xml:1: .*vehicle 'v': route edge 'zz'"),
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


@pytest.fixture(params=[True, False], ids=["compiled", "numpy"])
def mode(request, monkeypatch):
    """Map the routes by the compiled pass, then by numpy (both must agree)."""
    from agents import _sumo_routes_links
    monkeypatch.setattr(_sumo_routes_links, "COMPILED", request.param)
    return request.param


def _reference(city):
    """Edge id -> link, and the (from, to) link pairs the network joins, from its tables."""
    link = {k: i for i, k in enumerate(city.roads.link_ids)}
    c = city.roads.connections
    return link, set(zip(c.from_link.tolist(), c.to_link.tolist()))


def test_many_routes_good_and_bad_lenient(net, tmp_path, mode):
    """Hundreds of vehicles on generated routes, some with an unknown edge, a gap in the
    middle, a repeated edge, an empty route or odd spacing; each kept or skipped (with its
    line) as the network's own tables say."""
    city = cim.load(net)
    link, joined = _reference(city)
    rng = np.random.default_rng(5)
    edges = list(link)
    lines, expect, bad_lines = ["<routes>"], {}, []
    for k in range(400):
        r = [str(e) for e in rng.choice(edges, size=int(rng.integers(1, 5)))]
        kind = rng.integers(0, 10)
        if kind == 0:
            r[int(rng.integers(len(r)))] = "nope"
        elif kind == 1:
            r = r + r[-1:]                      # a repeated edge (no U-turn here)
        text = " ".join(r)
        if kind == 2:
            text = ""
        elif kind == 3:
            text = "  " + "   ".join(r) + " "   # spaces around and between: still read
        lines.append(f'<vehicle id="v{k}" depart="{k}"><route edges="{text}"/></vehicle>')
        ids = text.split()
        ok = bool(ids) and all(e in link for e in ids) and all(
            (link[a], link[b]) in joined for a, b in zip(ids, ids[1:]))
        if ok:
            expect[f"v{k}"] = [link[e] for e in ids]
        else:
            bad_lines.append(len(lines))
    rou = tmp_path / "x.rou.xml"
    rou.write_text("\n".join(lines + ["</routes>"]))
    assert 50 < len(bad_lines) < 350
    trips = agents.read_trips(rou, city, lenient=True)
    assert list(trips.trip_id) == list(expect)
    for tid, r in zip(trips.trip_id, trips.route):
        assert r.tolist() == expect[tid] and not r.flags.writeable
        assert trips.origin_link[list(trips.trip_id).index(tid)] == expect[tid][0]
    assert [int(s.split(":")[1]) for s in trips.meta["skipped"]] == bad_lines
    with pytest.raises(agents.DemandError, match=rf"x.rou.xml:{bad_lines[0]}: .*vehicle 'v"):
        agents.read_trips(rou, city)


@pytest.mark.parametrize("routes, match", [
    ("ab bc|db bc|ab bd bc", r"x.rou.xml:4: .*vehicle 'v2': route edges 'bd' and 'bc' are "
                             r"not connected"),
    ("ab bc|ab ab|db bc", r"x.rou.xml:3: .*vehicle 'v1': route edges 'ab' and 'ab'"),
    ("ab bc|db bc bc|ab", r"x.rou.xml:3: .*vehicle 'v1': route edges 'bc' and 'bc'"),
    ("ab bc|db x bc|ab", r"x.rou.xml:3: .*vehicle 'v1': route edge 'x' is not a road link"),
    ("ab bc|ab bc|ab bd db bc", r"x.rou.xml:4: .*'bd' and 'db' are not connected"),
])
def test_bad_route_named_by_line(net, tmp_path, routes, match, mode):
    city = cim.load(net)
    rou = tmp_path / "x.rou.xml"
    rou.write_text("<routes>\n" + "\n".join(
        f'<vehicle id="v{k}" depart="{k}"><route edges="{r}"/></vehicle>'
        for k, r in enumerate(routes.split("|"))) + "\n</routes>")
    with pytest.raises(agents.DemandError, match=match):
        agents.read_trips(rou, city)


def test_flows_trips_and_routed_vehicles_mixed(net, tmp_path, mode):
    """Route strings shared by vehicles, flows with a route child, trips and flows with
    from/to, a named route: every row's route (or link pair) as written."""
    city = cim.load(net)
    link, _ = _reference(city)
    rou = tmp_path / "x.rou.xml"
    rou.write_text("""<routes>
<route id="r" edges="db bc"/>
<vehicle id="a" depart="3"><route edges="ab bd"/></vehicle>
<trip id="t" depart="1" from="db" to="bc"/>
<flow id="f" begin="0" end="20" period="10"><route edges="ab bd"/></flow>
<vehicle id="b" depart="2" route="r"/>
<flow id="g" begin="5" end="6" number="1" from="ab" to="bd"/>
<vehicle id="c" depart="4"><route edges="ab  bc"/></vehicle>
<trip id="u" depart="0" from="bd" to="db"/>
</routes>""")
    trips = agents.read_trips(rou, city)
    ids = list(trips.trip_id)
    assert ids == ["f.0", "u", "t", "b", "a", "c", "g.0", "f.1"]
    want = {"a": ["ab", "bd"], "f.0": ["ab", "bd"], "f.1": ["ab", "bd"], "b": ["db", "bc"],
            "c": ["ab", "bc"]}
    for k, tid in enumerate(ids):
        if tid in want:
            assert trips.route[k].tolist() == [link[e] for e in want[tid]]
        else:
            assert trips.route[k] is None
    od = {"t": ("db", "bc"), "g.0": ("ab", "bd"), "u": ("bd", "db")}
    for tid, (o, d) in od.items():
        k = ids.index(tid)
        assert (trips.origin_link[k], trips.destination_link[k]) == (link[o], link[d])
    bad = rou.read_text().replace('from="db" to="bc"', 'from="db" to="zz"')
    rou.write_text(bad)
    with pytest.raises(agents.DemandError, match=r"x.rou.xml:4: .*trip 't': route edge 'zz'"):
        agents.read_trips(rou, city)
    trips = agents.read_trips(rou, city, lenient=True)
    assert "t" not in list(trips.trip_id) and len(trips) == 7


def test_random_flows_keep_their_draws_when_a_bad_element_is_skipped(net, tmp_path):
    """A file with an error is read twice (the second time for the lines): a Generator
    passed as seed must draw as if read once."""
    city = cim.load(net)
    good = ('<routeDistribution id="rd"><route id="x1" edges="ab bc" probability="1"/>'
            '<route id="x2" edges="ab bd" probability="3"/></routeDistribution>'
            '<flow id="p" begin="0" end="300" probability="0.2" route="rd"/>'
            '<flow id="e" begin="0" end="300" period="exp(0.05)" route="rd"/>')
    a, b = tmp_path / "a.rou.xml", tmp_path / "b.rou.xml"
    a.write_text(f"<routes>{good}</routes>")
    b.write_text(f'<routes>{good}<vehicle id="v" depart="0"><route edges="ab zz"/>'
                 "</vehicle></routes>")
    ta = agents.read_trips(a, city, seed=np.random.default_rng(7))
    tb = agents.read_trips(b, city, seed=np.random.default_rng(7), lenient=True)
    assert len(tb.meta["skipped"]) == 1 and len(ta) > 20
    assert list(ta.trip_id) == list(tb.trip_id)
    assert np.array_equal(ta.depart_s, tb.depart_s)
    assert [r.tolist() for r in ta.route] == [r.tolist() for r in tb.route]


def test_route_strings_are_mapped_in_one_pass(net, mode):
    """The good routes of a file are all mapped before the elements are read, the bad ones
    left for the element's own error (the compiled pass leaves odd spacing to it too)."""
    from agents._sumo_routes_links import RouteLinks
    city = cim.load(net)
    link, _ = _reference(city)
    links = RouteLinks(city.roads, "x")
    good = ["ab bc", "ab", "db bc", "ab bd"]
    spaced = ["ab\tbc", "ab  bc", "ab bc ", " ab bc"]
    bad = ["ab zz", "", " ", "ab ab", "bd db", "ab bd bc", "zz"]
    links.prepare(good + spaced + bad + good)
    assert sorted(links.cache) == sorted(good if mode else good + spaced)
    for s in good:
        assert links.cache[s].tolist() == [link[e] for e in s.split()]
    for s in spaced:
        assert links.route(s, "x", 1).tolist() == [link["ab"], link["bc"]]
    with pytest.raises(agents.DemandError, match="'bd' and 'db' are not connected"):
        links.route("bd db", "vehicle 'v'", 3)
