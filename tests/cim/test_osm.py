"""OSM XML reader: splitting at intersections, lane/speed/oneway tags, buildings, errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import cim
from cim.formats.osm import maxspeed_kmh, road_fields

D = 0.001  # about 100 m in longitude at 31.5°N


def node(nid, lon, lat, **tags):
    t = "".join(f'<tag k="{k.replace("_", ":")}" v="{v}"/>' for k, v in tags.items())
    return f'<node id="{nid}" lat="{lat}" lon="{lon}">{t}</node>\n'


def way(wid, refs, **tags):
    nd = "".join(f'<nd ref="{r}"/>' for r in refs)
    t = "".join(f'<tag k="{k.replace("__", ":")}" v="{v}"/>' for k, v in tags.items())
    return f'<way id="{wid}">{nd}{t}</way>\n'


def osm(body):
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n{body}</osm>\n'


def write(tmp_path, text, name="map.osm"):
    p = tmp_path / name
    p.write_bytes(gzip.compress(text.encode(), mtime=0) if name.endswith(".gz") else text.encode())
    return p


NODES = (node(1, 120.300, 31.5) + node(2, 120.301, 31.5, highway="traffic_signals")
         + node(3, 120.302, 31.5) + node(4, 120.301, 31.501) + node(5, 120.301, 31.499)
         + node(10, 120.3100, 31.5) + node(11, 120.3101, 31.5) + node(12, 120.3101, 31.5001)
         + node(13, 120.3100, 31.5001)
         + node(20, 120.32, 31.5) + node(21, 120.33, 31.5) + node(22, 120.33, 31.51))


def test_streets_split_at_intersections_with_tags(tmp_path):
    body = NODES + (
        way(100, [1, 2, 3], highway="primary", lanes=4, maxspeed="60", name="Lihu Avenue",
            name__en="Lihu Ave")
        + way(101, [4, 2, 5], highway="secondary", oneway="-1", lanes=2, maxspeed="30 mph",
              tunnel="yes")
        + way(102, [10, 11, 12, 13, 10], building="apartments", building__levels=6)
        + way(103, [20, 21, 22, 20], natural="water", name="pond")
        + way(104, [10, 11, 12, 10], landuse="commercial")
        + '<relation id="9"><member type="way" ref="100" role=""/></relation>\n')
    city = cim.load(write(tmp_path, osm(body), "map.osm.gz"))
    assert city.crs.to_epsg() == 4326
    r = city.roads
    assert sorted(r.node_ids) == ["1", "2", "3", "4", "5"]
    assert set(r.link_source) == {"way/100-0", "way/100-1", "way/101-0", "way/101-1"}
    assert r.n_links == 6  # way 100 two-way (2 segments × 2), way 101 one-way (2 segments)
    assert r.node_signal[list(r.node_ids).index("2")]
    k = list(r.link_ids).index("way/100-0:f")
    assert r.link_lanes[k] == 2 and r.link_free_speed[k] == pytest.approx(60 / 3.6)
    assert r.link_length[k] == pytest.approx(95.0, abs=0.5) and r.link_name[k] == "Lihu Avenue"
    k = list(r.link_ids).index("way/101-0:f")
    assert r.node_ids[r.link_from[k]] == "2" and r.node_ids[r.link_to[k]] == "4"  # reversed
    assert r.link_lanes[k] == 2 and r.link_tunnel[k]
    assert r.link_free_speed[k] == pytest.approx(30 * 1.609344 / 3.6)
    assert city.metadata["road_name_en"] == {"way/100": "Lihu Ave"}
    b = city.buildings
    assert list(b.ids) == ["way/102"] and b.roof_height[0] == 18 and b.storeys[0] == 6
    assert b.use[0] == "residential" and b.footprint.areas()[0] > 0
    assert list(city.water_bodies.name) == ["pond"] and list(city.land_use.kind) == ["commercial"]
    assert any("relations" in n for n in city.report.notes)


def test_tag_helpers():
    assert maxspeed_kmh("CN:urban") is None and maxspeed_kmh("none") is None
    assert maxspeed_kmh("50") == 50 and maxspeed_kmh("20 mph") == pytest.approx(32.18688)
    f = road_fields({"highway": "tertiary", "lanes": "3"})
    assert (f["lanes_forward"], f["lanes_backward"], f["oneway"]) == (2, 1, False)
    f = road_fields({"highway": "tertiary", "lanes": "1"})
    assert (f["lanes_forward"], f["lanes_backward"]) == (1, 1)
    f = road_fields({"highway": "primary", "lanes": "5", "lanes:forward": "3"})
    assert (f["lanes_forward"], f["lanes_backward"]) == (3, 2)
    f = road_fields({"highway": "motorway", "lanes": "3"})
    assert f["oneway"] and f["lanes_forward"] == 3 and f["lanes_backward"] == 0
    assert road_fields({"highway": "primary", "oneway": "no"})["lanes_forward"] is None
    assert road_fields({"highway": "primary", "bridge": "viaduct"})["bridge"]


@pytest.mark.parametrize("bad, error, text", [
    (way(200, [1, 99], highway="residential"), cim.MissingReferenceError, "node 99"),
    (way(200, [1, 3], highway="residential", lanes=-2), cim.ValueRangeError, "lanes"),
    (way(200, [1, 3], highway="residential", maxspeed="fast"), cim.ValueRangeError, "maxspeed"),
    (way(200, [10, 11, 12, 13, 10], building="yes", height="abc"), cim.ValueRangeError, "height"),
    (way(200, [10, 11, 12, 13, 10], building="yes", height="-5"), cim.ValueRangeError, "height"),
    (way(200, [10, 11, 12, 13], building="yes"), cim.GeometryError, "closed"),
    (way(200, [10, 12, 11, 13, 10], building="yes"), cim.GeometryError, "not simple"),
])
def test_bad_way_strict_and_lenient(tmp_path, bad, error, text):
    good = way(300, [20, 21, 22, 20], building="house", height="7 m")
    path = write(tmp_path, osm(NODES + good + bad))
    with pytest.raises(error, match=text) as ei:
        cim.load(path)
    assert ei.value.obj_id == "way/200" and ei.value.line is not None
    city = cim.load(path, lenient=True)
    assert list(city.buildings.ids) == ["way/300"] and city.buildings.roof_height[0] == 7
    assert city.report.n_skipped == 1 and city.roads.n_links == 0


def test_malformed_and_entities(tmp_path):
    with pytest.raises(cim.FormatError, match="malformed XML") as ei:
        cim.load(write(tmp_path, osm(NODES + "<way id='1'>\n<nd ref='1'>\n</way>")))
    assert ei.value.line and ei.value.line > 10
    evil = osm(NODES + way(100, [1, 3], highway="primary", name="&x;")).replace(
        "<osm ", '<!DOCTYPE osm [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<osm ', 1)
    with pytest.raises(cim.FormatError, match="entit"):
        cim.load(write(tmp_path, evil, "evil.osm"), lenient=True)


def test_geodesic_length_is_metres(tmp_path):
    city = cim.load(write(tmp_path, osm(NODES + way(1, [20, 21], highway="service", oneway="yes"))))
    assert city.roads.link_length[0] == pytest.approx(950.0, rel=1e-3)
    assert np.allclose(city.roads.link_geometry(0), [[120.32, 31.5], [120.33, 31.5]])
