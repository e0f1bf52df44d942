"""OSM reader: multipolygon buildings, car-road rule, walkways, signals mapped per approach,
building:levels=0, .osm.bz2, bad relations and malformed XML."""

from __future__ import annotations

import bz2
import subprocess

import numpy as np
import pytest

import cim
from cim.formats._common import STOREY_HEIGHT_M
from cim.formats.sumo_write import netconvert_bin
from cim.model.walkway import Walkways
from twin.kernels.traffic.demand import kernel_network

from .test_osm_turns import CROSS, X0, Y0, D, arms, node, osm, relation, way, write

#: building nodes: an outer square 100-103 split into two ways, an inner square 110-113
SQUARE = (node(100, X0, Y0) + node(101, X0 + D, Y0) + node(102, X0 + D, Y0 + D)
          + node(103, X0, Y0 + D)
          + node(110, X0 + D / 4, Y0 + D / 4) + node(111, X0 + 3 * D / 4, Y0 + D / 4)
          + node(112, X0 + 3 * D / 4, Y0 + 3 * D / 4) + node(113, X0 + D / 4, Y0 + 3 * D / 4))


def test_multipolygon_building_with_hole(tmp_path):
    body = SQUARE + (
        way(200, [100, 101, 102]) + way(201, [102, 103, 100])          # outer in two pieces
        + way(202, [110, 111, 112, 113, 110])                          # inner ring
        + way(203, [100, 101, 102, 103, 100], building="yes")          # the outer alone
        + relation(300, [("way", 200, "outer"), ("way", 202, "inner"), ("way", 201, "outer")],
                   type="multipolygon", building="office", building__levels=4))
    city = cim.load(write(tmp_path, osm(body)))
    b = city.buildings
    assert list(b.ids) == ["way/203", "relation/300"]
    a = b.footprint.areas()
    assert a[1] / a[0] == pytest.approx(0.75, rel=1e-6)  # a quarter of the square is a hole
    assert [len(p) for p in b.footprint.polygons_of(1)] == [2]
    assert b.roof_height[1] == 4 * STOREY_HEIGHT_M and b.use[1] == "office"


def test_multipolygon_missing_way_skipped_with_note_and_open_ring_is_an_error(tmp_path):
    cut = relation(301, [("way", 200, "outer"), ("way", 999, "outer")], type="multipolygon",
                   building="yes")
    city = cim.load(write(tmp_path, osm(SQUARE + way(200, [100, 101, 102]) + cut)))
    assert len(city.buildings) == 0 and city.report.n_skipped == 0
    assert any("relation/301" in n and "way 999" in n for n in city.report.notes)
    open_ring = relation(302, [("way", 200, "outer")], type="multipolygon", building="yes")
    path = write(tmp_path, osm(SQUARE + way(200, [100, 101, 102]) + open_ring), "open.osm")
    with pytest.raises(cim.GeometryError, match="does not close") as ei:
        cim.load(path)
    assert ei.value.obj_id == "relation/302"
    assert cim.load(path, lenient=True).report.n_skipped == 1


@pytest.mark.parametrize("hw, kept", [
    ("track", False), ("path", False), ("bridleway", False), ("cycleway", False),
    ("footway", False), ("steps", False), ("pedestrian", False), ("service", True),
    ("residential", True), ("busway", True), ("living_street", True)])
def test_car_road_rule(tmp_path, hw, kept):
    body = node(1, X0, Y0) + node(2, X0 + D, Y0) + way(1, [1, 2], highway=hw)
    assert (cim.load(write(tmp_path, osm(body))).roads.n_links > 0) == kept


@pytest.mark.parametrize("access", ["private", "no"])
def test_private_service_road_is_not_a_car_road(tmp_path, access):
    body = (node(1, X0, Y0) + node(2, X0 + D, Y0)
            + way(1, [1, 2], highway="service", access=access))
    assert cim.load(write(tmp_path, osm(body))).roads.n_links == 0


def test_footways_and_sidewalks_make_the_walkway_network(tmp_path):
    # a residential street 2-1-3 with sidewalks both sides; a footway from node 4 (south)
    # crossing it at node 1 to node 5 (north); a path 5-6; a track (no foot tag) 6-7;
    # streets 3-7 (no sidewalk tags), 3-6 (sidewalk=separate), 2-4 (trunk)
    body = (node(1, X0, Y0) + node(2, X0 - D, Y0) + node(3, X0 + D, Y0)
            + node(4, X0, Y0 - D) + node(5, X0, Y0 + D) + node(6, X0 + D, Y0 + D)
            + node(7, X0 + 2 * D, Y0 + D)
            + way(1, [2, 1, 3], highway="residential", sidewalk="both")
            + way(2, [4, 1, 5], highway="footway", footway="crossing", width=3)
            + way(3, [5, 6], highway="path")
            + way(4, [6, 7], highway="track")
            + way(5, [3, 7], highway="tertiary")                        # untagged: both sides
            + way(6, [3, 6], highway="primary", sidewalk="separate")    # mapped as footways
            + way(7, [2, 4], highway="trunk"))                          # none
    city = cim.load(write(tmp_path, osm(body)))
    w = city.walkways
    assert isinstance(w, Walkways)
    ids = list(w.link_ids)
    assert sorted(ids) == sorted(["way/1-0:L", "way/1-0:R", "way/1-1:L", "way/1-1:R",
                                  "way/2-0", "way/2-1", "way/3", "way/5:L", "way/5:R"])
    kind = dict(zip(ids, w.link_kind))
    assert kind["way/2-0"] == "crossing" and kind["way/3"] == "path"
    assert kind["way/1-0:L"] == "sidewalk"
    assert dict(zip(ids, w.link_width))["way/2-0"] == 3.0
    assert dict(zip(ids, w.link_street))["way/1-1:R"] == "way/1"
    # the footway meets the sidewalks at the street's node 1
    n1 = list(w.node_ids).index("1")
    at1 = {ids[k] for k in np.flatnonzero((w.link_from == n1) | (w.link_to == n1))}
    assert at1 == {"way/1-0:L", "way/1-0:R", "way/1-1:L", "way/1-1:R", "way/2-0", "way/2-1"}
    assert dict(zip(ids, w.link_length))["way/3"] == pytest.approx(95.0, abs=1.0)
    assert city.roads.n_links == 2 * 4  # footway, path and track are no roads


def _approach_signals(direction=True):
    """A 4-way crossing C=1 with a signal 20 m before it on each of the four approaches."""
    d = 20.0 / 95.0 * D  # 20 m in longitude (about) / latitude (less)
    tag = (lambda v: {"traffic_signals__direction": v}) if direction else (lambda v: {})
    sig = dict(highway="traffic_signals")
    return (CROSS + node(21, X0 - d, Y0, **sig, **tag("forward"))
            + node(22, X0 + d, Y0, **sig, **tag("backward"))
            + node(23, X0, Y0 - d, **sig, **tag("forward"))
            + node(24, X0, Y0 + d, **sig, **tag("backward"))
            + node(30, X0 + 1.5 * D, Y0, **sig)                     # mid-block, far from both
            + way(11, [2, 21, 1], highway="secondary") + way(12, [1, 22, 3], highway="secondary")
            + way(13, [4, 23, 1], highway="secondary") + way(14, [1, 24, 5], highway="secondary")
            + way(16, [3, 30, 7], highway="residential"))


@pytest.mark.parametrize("direction", [True, False])
def test_signals_mapped_per_approach_give_one_signalized_junction(tmp_path, direction):
    r = cim.load(write(tmp_path, osm(_approach_signals(direction)))).roads
    sig = sorted(str(n) for n in r.node_ids[r.node_signal])
    assert sig == ["1", "30"]  # the crossing, and the mid-block signal on its own
    assert not {"21", "22", "23", "24"} & set(map(str, r.node_ids))  # ways not split there
    assert r.n_links == 4 * 2 + 2 * 2


def test_building_levels_zero_is_not_a_zero_metre_building(tmp_path):
    body = SQUARE + (way(1, [100, 101, 102, 103, 100], building="yes", building__levels=0)
                     + way(2, [110, 111, 112, 113, 110], building="yes", height=0))
    b = cim.load(write(tmp_path, osm(body))).buildings
    assert np.all(b.roof_height - b.base_height == STOREY_HEIGHT_M)
    assert [b.attributes.row(k)["height_source"] for k in range(2)] == ["default"] * 2


def test_bz2_loads_like_plain(tmp_path):
    text = osm(CROSS + arms() + SQUARE + way(1, [100, 101, 102, 103, 100], building="yes"))
    plain = cim.load(write(tmp_path, text))
    p = tmp_path / "map.osm.bz2"
    p.write_bytes(bz2.compress(text.encode()))
    packed = cim.load(p)
    assert list(packed.roads.link_ids) == list(plain.roads.link_ids)
    assert np.array_equal(packed.roads.link_length, plain.roads.link_length)
    assert list(packed.buildings.ids) == ["way/1"]


def test_malformed_xml_names_the_file(tmp_path):
    path = write(tmp_path, osm(CROSS + arms() + "<relation id='1'><member type='way'"),
                 "broken.osm")
    with pytest.raises(cim.FormatError, match="malformed XML") as ei:
        cim.load(path)
    assert "broken.osm" in str(ei.value)


def test_closed_service_road_open_to_buses_is_a_bus_road(tmp_path):
    body = (node(1, X0, Y0) + node(2, X0 + D, Y0)
            + way(1, [1, 2], highway="service", access="no", psv="designated"))
    r = cim.load(write(tmp_path, osm(body))).roads
    names = [set(cim.model.roads.vclass_names(a)) for a in r.lanes.allow]
    assert r.n_links == 2 and all({"bus", "taxi"} <= n and "passenger" not in n for n in names)


@pytest.mark.skipif(netconvert_bin() is None, reason="netconvert (eclipse-sumo) not installed")
def test_approach_signals_signalize_the_junctions_netconvert_guesses(tmp_path):
    path = write(tmp_path, osm(_approach_signals(False)))
    out = tmp_path / "nc.net.xml"
    subprocess.run([netconvert_bin(), "--osm-files", str(path), "--output-file", str(out),
                    "--no-warnings", "true", "--tls.guess-signals", "true"],
                   check=True, capture_output=True, timeout=120)
    nc, ours = cim.load(out).roads, cim.load(path).roads
    assert (sorted(map(str, ours.node_ids[ours.node_signal]))
            == sorted(map(str, nc.node_ids[nc.node_signal])) == ["1", "30"])


@pytest.mark.parametrize("tags", [{"lanes": "1e9"}, {"lanes__forward": "500"},
                                  {"oneway": "yes", "turn__lanes": "|".join(["left"] * 60)}])
def test_absurd_lane_counts_are_errors_naming_the_way(tmp_path, tags):
    body = CROSS + way(200, [2, 1], highway="primary", **tags)
    with pytest.raises(cim.ValueRangeError, match="lanes") as ei:
        cim.load(write(tmp_path, osm(body)))
    assert ei.value.obj_id == "way/200"
    assert cim.load(write(tmp_path, osm(body)), lenient=True).report.n_skipped == 1


def test_closed_ways_give_no_loop_links(tmp_path):
    # a residential loop 3-80-81-3 hanging off the crossing's east node, a footway ring
    body = (CROSS + arms() + node(80, X0 + D, Y0 - D) + node(81, X0 + 2 * D, Y0 - D)
            + node(82, X0 + 3 * D, Y0) + node(83, X0 + 3 * D, Y0 + D)
            + way(30, [3, 80, 81, 3], highway="residential")
            + way(31, [82, 83, 6, 82], highway="footway", area="yes"))
    city = cim.load(write(tmp_path, osm(body)))
    for net in (city.roads, city.walkways):
        assert net.n_links and np.all(net.link_from != net.link_to)
    loop = [k for k, s in enumerate(city.roads.link_source) if s.startswith("way/30")]
    assert len(loop) == 4  # two pieces, both ways
    assert kernel_network(city.roads).n_links == city.roads.n_links  # the kernel accepts it
