"""GeoJSON reader: buildings, sites, areas, streets; RFC 7946 checks and lenient mode."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cim

LON, LAT = 120.30, 31.50
D = 0.0001  # about 10 m


def square(x, y, d=D):
    return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]


def feature(geom_type, coords, fid=None, **props):
    f = {"type": "Feature", "geometry": {"type": geom_type, "coordinates": coords},
         "properties": props}
    if fid is not None:
        f["id"] = fid
    return f


def write(tmp_path, features, name="city.geojson", **extra):
    p = tmp_path / name
    p.write_text(json.dumps({"type": "FeatureCollection", "features": features, **extra}))
    return p


def test_all_kinds_of_features(tmp_path):
    feats = [
        feature("Polygon", [square(LON, LAT)], "b1", height=12, min_height=2, building="office"),
        feature("MultiPolygon", [[square(LON + 0.001, LAT)], [square(LON + 0.002, LAT)]],
                **{"building:levels": 4, "residents": 30}),
        feature("Polygon", [square(LON, LAT + 0.01, 0.001)], "lake", natural="water",
                name="Li Lake"),
        feature("Polygon", [square(LON, LAT + 0.02, 0.001)], "z1", landuse="residential"),
        feature("Point", [LON, LAT, 5.0], "fs1", kind="fire_station", name="Station 1",
                capacity=6, phone="119"),
        feature("LineString", [[LON, LAT], [LON + 0.001, LAT]], "r1", highway="primary",
                lanes=4, maxspeed="60", name="Lihu Avenue"),
        feature("LineString", [[LON + 0.001, LAT], [LON + 0.001, LAT + 0.001]], "r2",
                highway="residential", oneway="yes"),
        feature("Point", [LON, LAT]),  # no kind: not read, noted
    ]
    city = cim.load(write(tmp_path, feats))
    assert city.crs.to_epsg() == 4326
    b = city.buildings
    assert list(b.ids) == ["b1", "city.geojson#1"]
    assert b.base_height[0] == 2 and b.roof_height[0] == 12 and b.use[0] == "office"
    assert b.roof_height[1] == 12 and b.storeys[1] == 4 and b.residents[1] == 30
    assert b.footprint.n_polygons == 3 and np.all(b.lod == 1)
    assert list(city.water_bodies.name) == ["Li Lake"] and list(city.land_use.kind) == ["residential"]
    s = city.sites
    assert s.kind[0] == "fire_station" and s.capacity[0] == 6 and s.xyz[0, 2] == 5.0
    assert s.attributes.row(0) == {"phone": "119"}
    r = city.roads
    assert r.n_nodes == 3 and r.n_links == 3  # r1 both ways, r2 one way; shared node
    k = list(r.link_ids).index("r1:f")
    assert r.link_lanes[k] == 2 and r.link_free_speed[k] == pytest.approx(60 / 3.6)
    assert r.link_length[k] == pytest.approx(94.9, abs=0.2)  # geodesic metres, not degrees
    assert any("Point" in n for n in city.report.notes)


def test_legacy_crs_member_projected(tmp_path):
    feats = [feature("Polygon", [[[0, 0], [10, 0], [10, 5], [0, 5], [0, 0]]], "b", height=9),
             feature("LineString", [[0, 0], [30, 40]], "r", highway="service",
                     start_node="A", end_node="B")]
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}
    city = cim.load(write(tmp_path, feats, crs=crs))
    assert city.crs.to_epsg() == 4549
    assert city.buildings.floor_area[0] == pytest.approx(50 * 3)
    assert list(city.roads.node_ids) == ["A", "B"] and city.roads.link_length[0] == 50.0


@pytest.mark.parametrize("feat, error, text", [
    (feature("Polygon", [square(LON, LAT)[:-1]], "open", height=5), cim.GeometryError, "closed"),
    (feature("Polygon", [[[LON, LAT], [LON + D, LAT + D], [LON + D, LAT], [LON, LAT + D],
                          [LON, LAT]]], "bowtie", height=5), cim.GeometryError, "not simple"),
    (feature("Polygon", [square(LON, LAT)], "neg", height=-4), cim.ValueRangeError, "height"),
    (feature("Polygon", [square(LON, LAT)], "nanh", height=float("nan")), cim.ValueRangeError,
     "height"),
    (feature("Polygon", [[[LON, LAT], [float("nan"), LAT], [LON, LAT + D], [LON, LAT]]], "nanc",
             height=3), cim.GeometryError, "NaN"),
    (feature("LineString", [[LON, LAT], [LON + D, LAT]], "lanes", highway="primary", lanes=-2),
     cim.ValueRangeError, "lanes"),
])
def test_bad_feature_strict_and_lenient(tmp_path, feat, error, text):
    good = feature("Polygon", [square(LON + 0.01, LAT)], "good", height=3)
    path = write(tmp_path, [good, feat])
    with pytest.raises(error, match=text) as ei:
        cim.load(path)
    assert ei.value.obj_id == feat["id"] and ei.value.path == str(path)
    city = cim.load(path, lenient=True)
    assert len(city.buildings) == 1 and city.report.n_skipped == 1


def test_malformed_json_has_line(tmp_path):
    p = tmp_path / "bad.geojson"
    p.write_text('{"type": "FeatureCollection",\n "features": [\n {"type": "Feature",]}')
    with pytest.raises(cim.FormatError, match="malformed JSON") as ei:
        cim.load(p)
    assert ei.value.line == 3


def test_unknown_crs(tmp_path):
    crs = {"type": "name", "properties": {"name": "EPSG:99999999"}}
    path = write(tmp_path, [feature("Polygon", [[[0, 0], [1, 0], [1, 1], [0, 0]]], height=3)],
                 crs=crs)
    with pytest.raises(cim.CRSError):
        cim.load(path)
    city = cim.load(path, lenient=True)
    assert city.crs is None and len(city.buildings) == 1 and city.report.n_skipped == 1
