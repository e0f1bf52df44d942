"""OSM reader: turn restrictions, turn:lanes and lanes closed to cars as lane connections, and
the traffic kernel's turns on a network whose connections cover only some junctions; the
restricted turns compared with netconvert's on the same file."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import cim
from cim.formats.sumo_write import netconvert_bin
from twin.kernels.traffic import consts
from twin.kernels.traffic.demand import kernel_network

D = 0.001  # about 95 m in longitude, 111 m in latitude at 31.5°N


def node(nid, lon, lat, **tags):
    t = "".join(f'<tag k="{k.replace("__", ":")}" v="{v}"/>' for k, v in tags.items())
    return f'<node id="{nid}" lat="{lat}" lon="{lon}">{t}</node>\n'


def way(wid, refs, **tags):
    nd = "".join(f'<nd ref="{r}"/>' for r in refs)
    t = "".join(f'<tag k="{k.replace("__", ":")}" v="{v}"/>' for k, v in tags.items())
    return f'<way id="{wid}">{nd}{t}</way>\n'


def relation(rid, members, **tags):
    m = "".join(f'<member type="{t}" ref="{r}" role="{role}"/>' for t, r, role in members)
    t = "".join(f'<tag k="{k.replace("__", ":")}" v="{v}"/>' for k, v in tags.items())
    return f'<relation id="{rid}">{m}{t}</relation>\n'


def osm(body):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
            + body + "</osm>\n")


def write(tmp_path, text, name="map.osm"):
    p = tmp_path / name
    p.write_text(text)
    return p


X0, Y0 = 120.3, 31.5
#: a 4-arm crossing C=1 (arms W=2, E=3, S=4, N=5, one way each, drawn away from C except W),
#: and a T junction at E: E=3 -> F=6 (north), E -> G=7 (east); 8: a node off the net
CROSS = (node(1, X0, Y0) + node(2, X0 - D, Y0) + node(3, X0 + D, Y0) + node(4, X0, Y0 - D)
         + node(5, X0, Y0 + D) + node(6, X0 + D, Y0 + D) + node(7, X0 + 2 * D, Y0))


def arms(**tags):
    kw = {"highway": "secondary", **tags}
    return (way(11, [2, 1], **kw) + way(12, [1, 3], **kw) + way(13, [4, 1], **kw)
            + way(14, [1, 5], **kw) + way(15, [3, 6], highway="residential")
            + way(16, [3, 7], highway="residential"))


def no_left(rid=90, **tags):
    """no left turn for eastbound traffic from the west arm (way 11) to the north (way 14)"""
    tags = tags or {"restriction": "no_left_turn"}
    return relation(rid, [("way", 11, "from"), ("node", 1, "via"), ("way", 14, "to")],
                    type="restriction", **tags)


def turns(city):
    """{(from link id, to link id): kernel turn kind} of the kernel network of ``city``."""
    r = city.roads
    net = kernel_network(r)
    ids = list(r.link_ids)
    return {(ids[f], ids[t]): int(k) for f, t, k in
            zip(net.turn_from, net.turn_to_arr, net.turn_kind)}, net


def test_no_turn_restriction_is_obeyed_and_other_junctions_keep_geometry(tmp_path):
    plain = cim.load(write(tmp_path, osm(CROSS + arms()), "plain.osm"))
    assert plain.roads.connections is None
    base, _ = turns(plain)
    assert base[("way/11:f", "way/14:f")] == consts.TURN_LEFT
    city = cim.load(write(tmp_path, osm(CROSS + arms() + no_left())))
    got, net = turns(city)
    assert ("way/11:f", "way/14:f") not in got
    # every other turn at the crossing and at the T junction (no connection rows) is kept
    assert set(got) == set(base) - {("way/11:f", "way/14:f")}
    c = city.roads.connections
    ids = city.roads.link_ids
    at = {str(ids[f]) for f in c.from_link}
    assert at == {"way/11:f", "way/12:b", "way/13:f", "way/14:b"}  # only junction C
    assert got[("way/12:f", "way/15:f")] == consts.TURN_LEFT  # geometric, at E
    meta = city.metadata["osm_restrictions"]
    assert meta[0]["applied"] and meta[0]["restriction"] == "no_left_turn"


def test_only_restriction_keeps_the_one_turn(tmp_path):
    only = relation(91, [("way", 13, "from"), ("node", 1, "via"), ("way", 14, "to")],
                    type="restriction", restriction="only_straight_on")
    got, _ = turns(cim.load(write(tmp_path, osm(CROSS + arms() + only))))
    assert [t for f, t in got if f == "way/13:f"] == ["way/14:f"]
    assert len([t for f, t in got if f == "way/11:f"]) == 3


@pytest.mark.parametrize("tags, applied", [
    ({"restriction__conditional": "no_left_turn @ (Mo-Fr 07:00-09:00; Sa 08:00-12:00); "
                                  "no_u_turn @ (Su)"}, True),
    ({"restriction__motorcar": "no_left_turn"}, True),
    ({"restriction__hgv": "no_left_turn"}, False),
    ({"restriction": "no_left_turn", "except": "psv;motorcar"}, False),
    ({"restriction": "no_left_turn", "except": "psv"}, True),
])
def test_vehicle_and_conditional_restrictions(tmp_path, tags, applied):
    city = cim.load(write(tmp_path, osm(CROSS + arms() + no_left(**tags))))
    got, _ = turns(city)
    assert (("way/11:f", "way/14:f") not in got) == applied
    r = city.metadata["osm_restrictions"][0]
    assert r["applied"] == applied
    if "restriction__conditional" in tags:
        assert r["condition"] == "Mo-Fr 07:00-09:00; Sa 08:00-12:00"
        assert r["conditional"].endswith("no_u_turn @ (Su)")


def test_via_way_recorded_and_bad_relations_skipped_with_a_note(tmp_path):
    via_way = relation(92, [("way", 11, "from"), ("way", 12, "via"), ("way", 15, "to")],
                       type="restriction", restriction="no_left_turn")
    missing = relation(93, [("way", 11, "from"), ("node", 1, "via"), ("way", 999, "to")],
                       type="restriction", restriction="no_left_turn")
    no_to = relation(94, [("way", 11, "from"), ("node", 1, "via")], type="restriction",
                     restriction="no_right_turn")
    city = cim.load(write(tmp_path, osm(CROSS + arms() + via_way + missing + no_to)))
    meta = {r["id"]: r for r in city.metadata["osm_restrictions"]}
    assert set(meta) == {"relation/92", "relation/94"}
    assert not meta["relation/92"]["applied"] and "via" in meta["relation/92"]["reason"]
    assert not meta["relation/94"]["applied"]
    notes = " ".join(city.report.notes)
    assert "relation/93" in notes and "way 999" in notes
    assert city.report.n_skipped == 0
    got, _ = turns(city)
    assert ("way/11:f", "way/14:f") in got  # nothing applied


def test_turn_lanes_decide_which_lanes_serve_each_turn(tmp_path):
    body = CROSS + arms() .replace(
        way(11, [2, 1], highway="secondary"),
        way(11, [2, 1], highway="secondary", oneway="yes",
            turn__lanes="left|through|through;right"))
    city = cim.load(write(tmp_path, osm(body)))
    r = city.roads
    k = list(r.link_ids).index("way/11:f")
    assert r.link_lanes[k] == 3
    got, net = turns(city)
    ids = list(r.link_ids)
    mask = {ids[t]: int(m) for f, t, m in zip(net.turn_from, net.turn_to_arr, net.turn_mask)
            if f == k}
    # lane 0 = rightmost: right from lane 0, through from lanes 0-1, left from lane 2 only
    assert mask == {"way/13:b": 0b001, "way/12:f": 0b011, "way/14:f": 0b100}


def test_lanes_forward_backward(tmp_path):
    body = CROSS + arms().replace(
        way(12, [1, 3], highway="secondary"),
        way(12, [1, 3], highway="secondary", lanes=5, lanes__forward=3, lanes__backward=2,
            turn__lanes__backward="left|through"))
    r = cim.load(write(tmp_path, osm(body))).roads
    lanes = dict(zip(r.link_ids, r.link_lanes))
    assert lanes["way/12:f"] == 3 and lanes["way/12:b"] == 2
    got, net = turns(cim.load(write(tmp_path, osm(body))))
    k = list(r.link_ids).index("way/12:b")  # westbound into C: left is south
    ids = list(r.link_ids)
    mask = {ids[t]: int(m) for f, t, m in zip(net.turn_from, net.turn_to_arr, net.turn_mask)
            if f == k}
    assert mask == {"way/13:b": 0b10, "way/11:b": 0b01}  # no lane for the right turn north


@pytest.mark.parametrize("tags", [{"highway": "busway"},
                                  {"access": "no", "psv": "yes"},
                                  {"motor_vehicle": "no", "bus": "designated"}])
def test_bus_only_roads_carry_no_cars(tmp_path, tags):
    body = CROSS + arms().replace(way(14, [1, 5], highway="secondary"),
                                  way(14, [1, 5], **{"highway": "secondary", **tags}))
    city = cim.load(write(tmp_path, osm(body)))
    r = city.roads
    names = cim.model.roads.vclass_names
    k = list(r.link_ids).index("way/14:f")
    allow = r.lanes.allow[r.lanes.link == k]
    assert all("bus" in names(a) and "passenger" not in names(a) for a in allow)
    other = r.lanes.allow[r.lanes.link == list(r.link_ids).index("way/12:f")]
    assert all("passenger" in names(a) for a in other)
    got, _ = turns(city)
    assert not any("way/14" in f or "way/14" in t for f, t in got)
    assert ("way/11:f", "way/12:f") in got


def test_bus_lane_serves_no_car_turn(tmp_path):
    body = CROSS + arms().replace(
        way(11, [2, 1], highway="secondary"),
        way(11, [2, 1], highway="secondary", oneway="yes", lanes=2, busway__right="lane"))
    city = cim.load(write(tmp_path, osm(body)))
    r = city.roads
    k = list(r.link_ids).index("way/11:f")
    allow = r.lanes.allow[r.lanes.link == k]
    names = cim.model.roads.vclass_names
    assert "passenger" not in names(allow[0]) and "passenger" in names(allow[1])
    _, net = turns(city)
    masks = net.turn_mask[net.turn_from == k]
    assert len(masks) == 3 and all(m == 0b10 for m in masks)  # only the car lane


def _grid_with_restrictions(n, seed, split):
    """An n × n jittered grid of secondary rows (every third one-way east) and tertiary
    columns (every fourth one-way south), one way per row/column or (``split``) per block,
    with random no_* / only_* restrictions at inner nodes."""
    rng = np.random.default_rng(seed)

    def nid(i, j):
        return 1 + i * n + j

    parts = [node(nid(i, j), X0 + (j + rng.uniform(-0.2, 0.2)) * D,
                  Y0 + (i + rng.uniform(-0.2, 0.2)) * D) for i in range(n) for j in range(n)]
    seg, w = {}, 1
    for horiz in (True, False):
        for a in range(n):
            kw = ({"oneway": "yes"} if a % 3 == 1 else {}) if horiz else (
                {"oneway": "-1"} if a % 4 == 2 else {})
            kw["highway"] = "secondary" if horiz else "tertiary"
            line = [nid(a, b) if horiz else nid(b, a) for b in range(n)]
            pieces = [line[b:b + 2] for b in range(n - 1)] if split else [line]
            for b, refs in enumerate(pieces):
                parts.append(way(w, refs, **kw))
                for k in (refs if not split else [refs[0]]):
                    seg.setdefault((horiz, a, k if not split else b), w)
                w += 1
    kinds = ["no_left_turn", "no_right_turn", "no_straight_on", "only_straight_on",
             "only_left_turn", "only_right_turn"]
    for r in range(3 * n):
        i, j = (int(x) for x in rng.integers(1, n - 1, 2))
        if split:
            ways = [[seg[(True, i, j - 1)], seg[(True, i, j)]],
                    [seg[(False, j, i - 1)], seg[(False, j, i)]]]
            fw, tw = (int(rng.choice(ways[int(rng.integers(2))])) for _ in range(2))
        else:
            fw, tw = (seg[(True, i, nid(i, j))], seg[(False, j, nid(i, j))])[::int(
                rng.choice([1, -1]))]
        if fw != tw:
            parts.append(relation(100 + r, [("way", fw, "from"), ("node", nid(i, j), "via"),
                                            ("way", tw, "to")], type="restriction",
                                  restriction=str(rng.choice(kinds))))
    return osm("".join(parts))


def _turn_keys(r, f_of, t_of, way_of):
    """{(from way, from node, via node, to way, to node)} of turns (link index pairs)."""
    ids = np.asarray(r.link_ids).astype(str)
    n = np.asarray(r.node_ids).astype(str)
    return {(way_of(ids[f]), n[r.link_from[f]], n[r.link_to[f]], way_of(ids[t]),
             n[r.link_to[t]]) for f, t in zip(f_of, t_of)}


@pytest.mark.skipif(netconvert_bin() is None, reason="netconvert (eclipse-sumo) not installed")
@pytest.mark.parametrize("seed, split", [(1, True), (2, True), (3, False)])
def test_random_restrictions_give_netconverts_turns(tmp_path, seed, split):
    path = write(tmp_path, _grid_with_restrictions(7, seed, split))
    out = tmp_path / "nc.net.xml"
    subprocess.run([netconvert_bin(), "--osm-files", str(path), "--output-file", str(out),
                    "--no-turnarounds", "true", "--no-warnings", "true",
                    "--geometry.remove", "false", "--junctions.join", "false"],
                   check=True, capture_output=True, timeout=120)
    nc = cim.load(out).roads
    theirs = _turn_keys(nc, nc.connections.from_link, nc.connections.to_link,
                        lambda e: e.lstrip("-").split("#")[0])
    city = cim.load(path)
    net = kernel_network(city.roads)
    ours = _turn_keys(city.roads, net.turn_from, net.turn_to_arr,
                      lambda e: e[4:].split(":")[0].split("-")[0])
    applied = [m for m in city.metadata["osm_restrictions"] if m["applied"]]
    assert len(applied) >= (5 if split else 2)  # unsplit: only one-way roads pass through
    assert ours == theirs


def _netconvert_turns(exe, path, tmp_path):
    out = tmp_path / "nc.net.xml"
    subprocess.run([exe, "--osm-files", str(path), "--output-file", str(out),
                    "--no-turnarounds", "true", "--no-warnings", "true",
                    "--geometry.remove", "false", "--junctions.join", "false"],
                   check=True, capture_output=True, timeout=120)
    net = cim.load(out).roads
    c = net.connections
    ids = np.asarray(net.link_ids).astype(str)

    def way_dir(e):  # netconvert names edges "<way>" / "-<way>" (with "#k" when split)
        w = e.lstrip("-").split("#")[0]
        return w, e.startswith("-")

    return {(way_dir(ids[f]), way_dir(ids[t])) for f, t in zip(c.from_link, c.to_link)}


@pytest.mark.skipif(netconvert_bin() is None, reason="netconvert (eclipse-sumo) not installed")
def test_restricted_turns_match_netconvert(tmp_path):
    only = relation(91, [("way", 13, "from"), ("node", 1, "via"), ("way", 14, "to")],
                    type="restriction", restriction="only_straight_on")
    path = write(tmp_path, osm(CROSS + arms() + no_left() + only))
    theirs = _netconvert_turns(netconvert_bin(), path, tmp_path)
    city = cim.load(path)
    got, _ = turns(city)

    def way_dir(lid):  # our ids "way/<id>:f" run along the way, ":b" against it
        w, d = lid[4:].split(":")
        return w, d == "b"

    ours = {(way_dir(f), way_dir(t)) for f, t in got}
    at_c = {("11", False), ("12", True), ("13", False), ("14", True)}
    assert {p for p in ours if p[0] in at_c} == {p for p in theirs if p[0] in at_c}
    assert (("11", False), ("14", False)) not in theirs  # the restriction was read by both
    assert ours == theirs


def _dual_carriageway(a_oneway="yes"):
    """Northbound carriageway 21 (40-41-42), southbound 22 (52-51-50), a one-way connector
    23 (41 -> 51) and a side road 24 west from 51; no U-turn from 21 via 23 into 22."""
    e = 0.9 * D
    return (node(40, X0 + D, Y0 - D) + node(41, X0 + D, Y0) + node(42, X0 + D, Y0 + D)
            + node(52, X0 + e, Y0 + D) + node(51, X0 + e, Y0) + node(50, X0 + e, Y0 - D)
            + node(60, X0, Y0)
            + way(21, [40, 41, 42], highway="primary", oneway=a_oneway)
            + way(22, [52, 51, 50], highway="primary", oneway="yes")
            + way(23, [41, 51], highway="primary_link", oneway="yes")
            + way(24, [51, 60], highway="residential")
            + relation(95, [("way", 21, "from"), ("way", 23, "via"), ("way", 22, "to")],
                       type="restriction", restriction="no_u_turn"))


def test_via_way_u_turn_between_carriageways(tmp_path):
    city = cim.load(write(tmp_path, osm(_dual_carriageway())))
    got, _ = turns(city)
    assert ("way/23:f", "way/22-1:f") not in got                # the U-turn is gone
    assert {("way/21-0:f", "way/23:f"), ("way/23:f", "way/24:f"),
            ("way/22-0:f", "way/22-1:f"), ("way/22-0:f", "way/24:f")} <= set(got)
    assert city.metadata["osm_restrictions"][0]["applied"]
    # a two-way carriageway 21 also enters the connector from the north: not exact, not applied
    two = cim.load(write(tmp_path, osm(_dual_carriageway("no")), "two.osm"))
    r = two.metadata["osm_restrictions"][0]
    assert not r["applied"] and "entered from other links" in r["reason"]
    assert ("way/23:f", "way/22-1:f") in turns(two)[0]


@pytest.mark.skipif(netconvert_bin() is None, reason="netconvert (eclipse-sumo) not installed")
@pytest.mark.parametrize("arrows", ["left|through|through;right", "left;through|through|right",
                                    "left|left|through|right"])
def test_turn_lanes_give_netconverts_lane_connections(tmp_path, arrows):
    n = len(arrows.split("|"))
    w11 = way(11, [2, 1], highway="secondary", oneway="yes", lanes=n, turn__lanes=arrows)
    body = CROSS + arms(lanes=4).replace(way(11, [2, 1], highway="secondary", lanes=4), w11)
    path = write(tmp_path, osm(body))
    out = tmp_path / "nc.net.xml"
    subprocess.run([netconvert_bin(), "--osm-files", str(path), "--output-file", str(out),
                    "--no-turnarounds", "true", "--no-warnings", "true",
                    "--geometry.remove", "false", "--osm.turn-lanes", "true"],
                   check=True, capture_output=True, timeout=120)

    def lanes_from_11(r, name_11, way_dir):
        c, ids = r.connections, np.asarray(r.link_ids).astype(str)
        k = list(ids).index(name_11)
        return {(way_dir(ids[t]), int(a), int(b))
                for f, t, a, b in zip(c.from_link, c.to_link, c.from_lane, c.to_lane) if f == k}

    theirs = lanes_from_11(cim.load(out).roads, "11", lambda e: (e.lstrip("-"), e[0] == "-"))
    ours = lanes_from_11(cim.load(path).roads, "way/11:f",
                         lambda e: (e[4:].split(":")[0], e.endswith(":b")))
    assert len(ours) >= 4 and ours == theirs


@pytest.mark.skipif(netconvert_bin() is None, reason="netconvert (eclipse-sumo) not installed")
@pytest.mark.parametrize("tags", [
    {"highway": "busway"}, {"access": "no", "psv": "yes", "lanes": 2},
    {"lanes": 4, "bus__lanes__forward": "yes|designated"}, {"access": "private", "lanes": 2}])
def test_lane_permissions_as_netconvert(tmp_path, tags):
    body = CROSS + arms().replace(way(14, [1, 5], highway="secondary"),
                                  way(14, [1, 5], **{"highway": "secondary", **tags}))
    path = write(tmp_path, osm(body))
    out = tmp_path / "nc.net.xml"
    subprocess.run([netconvert_bin(), "--osm-files", str(path), "--output-file", str(out),
                    "--no-warnings", "true", "--osm.lane-access", "true"],
                   check=True, capture_output=True, timeout=120)
    names = cim.model.roads.vclass_names

    def flags(r, lid):
        k = list(np.asarray(r.link_ids).astype(str)).index(lid)
        return [("passenger" in names(a), "bus" in names(a))
                for a in r.lanes.allow[r.lanes.link == k]]

    assert flags(cim.load(path).roads, "way/14:f") == flags(cim.load(out).roads, "14")


def test_turn_lanes_apply_where_the_way_ends(tmp_path):
    # way 11 extended west through node 9 (a side road north) to the crossing: its arrows
    # (left|through: no right turn) bind at the crossing, not at node 9
    body = (CROSS + node(8, X0 - 2 * D, Y0) + node(9, X0 - 1.5 * D, Y0)
            + node(10, X0 - 1.5 * D, Y0 - D)
            + arms().replace(way(11, [2, 1], highway="secondary"),
                             way(11, [8, 9, 2, 1], highway="secondary", oneway="yes",
                                 turn__lanes="left|through"))
            + way(17, [9, 10], highway="residential"))
    got, _ = turns(cim.load(write(tmp_path, osm(body))))
    assert ("way/11-0:f", "way/17:f") in got             # right turn at node 9 kept
    assert ("way/11-1:f", "way/13:b") not in got         # no right turn at the crossing
    assert ("way/11-1:f", "way/14:f") in got and ("way/11-1:f", "way/12:f") in got
