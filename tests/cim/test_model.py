"""The struct-of-arrays model: ragged polygons, tables, CRS handling, terrain, road assembly."""

import numpy as np
import pyproj
import pytest

import cim
from cim.errors import CRSError, GeometryError, LoadReport, Problems, ValueRangeError
from cim.geometry import PolygonSet, PolygonSetBuilder, check_ring, check_simple_polygon
from cim.model import Attributes, Buildings, CityModel, Sites, Terrain, _obj
from cim.roads import RoadNetworkBuilder

SQUARE = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
HOLE = np.array([[3, 3], [3, 6], [6, 6], [6, 3]], float)  # clockwise
L_SHAPE = np.array([[0, 0], [20, 0], [20, 5], [5, 5], [5, 15], [0, 15]], float)


def _polys():
    b = PolygonSetBuilder(dim=2)
    b.add_object([[SQUARE, HOLE]])
    b.add_object([[L_SHAPE], [SQUARE + 100]])
    b.add_object([[np.vstack([SQUARE, SQUARE[:1]])]])  # closed ring: closing vertex dropped
    return b.build()


def test_polygonset_areas_holes_and_multipolygons():
    ps = _polys()
    assert ps.n_objects == 3 and ps.n_polygons == 4
    np.testing.assert_allclose(ps.areas(), [100 - 9, 20 * 5 + 5 * 10 + 100, 100])
    assert len(ps.polygons_of(2)[0][0]) == 4
    assert ps.to_shapely(1).geom_type == "MultiPolygon"
    assert ps.to_shapely(0).area == pytest.approx(91)
    np.testing.assert_array_equal(ps.object_of_polygon(), [0, 1, 1, 2])


def test_polygonset_select_concat_roundtrip():
    ps = _polys()
    sel = ps.select([2, 0])
    np.testing.assert_allclose(sel.areas(), [100, 91])
    cat = PolygonSet.concat([ps, sel])
    assert cat.n_objects == 5
    np.testing.assert_allclose(cat.areas(), list(ps.areas()) + [100, 91])


def test_area_precise_with_large_projected_coordinates():
    b = PolygonSetBuilder(dim=2)
    b.add_object([[SQUARE + [512345.678, 3491234.567]]])
    assert b.build().areas()[0] == pytest.approx(100, rel=1e-9)


def test_ring_checks():
    with pytest.raises(GeometryError, match="not closed"):
        check_ring(SQUARE, closed_required=True)
    with pytest.raises(GeometryError, match="distinct"):
        check_ring(np.array([[0, 0], [1, 1], [0, 0]]))
    with pytest.raises(GeometryError, match="NaN"):
        check_ring(np.array([[0, 0], [1, np.nan], [1, 1]]))
    with pytest.raises(GeometryError, match="not simple"):
        check_simple_polygon([np.array([[0, 0], [10, 10], [10, 0], [0, 10]], float)])
    check_simple_polygon([SQUARE, HOLE])


def _buildings(n=2):
    b = PolygonSetBuilder(dim=2)
    for i in range(n):
        b.add_object([[SQUARE + [500000 + 50 * i, 3490000]]])
    return Buildings(
        ids=_obj([f"b{i}" for i in range(n)]), footprint=b.build(),
        base_height=np.full(n, 3.0), roof_height=np.full(n, 21.0),
        storeys=np.full(n, 6, np.int32), use=_obj(["residential"] * n),
        floor_area=np.full(n, 600.0), residents=np.full(n, 17.0), jobs=np.zeros(n),
        lod=np.ones(n, np.float32), surfaces=PolygonSet.empty(n, 3),
        attributes=Attributes.from_dicts([{"k": i} for i in range(n)]), parts=_obj([None] * n))


def test_tables_select_concat_and_attributes():
    b = _buildings(3)
    assert len(b) == 3 and b.height.tolist() == [18.0] * 3
    s = b.select([2, 0])
    assert s.ids.tolist() == ["b2", "b0"] and s.attributes.row(0) == {"k": 2}
    c = Buildings.concat([b, s])
    assert len(c) == 5 and c.index_of("b2") == 2
    assert c.attributes.row(4) == {"k": 0}
    a = Attributes.concat([Attributes.from_dicts([{"x": 1}]), Attributes.from_dicts([{"y": 2}])])
    assert a.row(0) == {"x": 1} and a.row(1) == {"y": 2}


def test_crs_transform_bounds_and_merge_rules():
    city = CityModel(buildings=_buildings(), crs=pyproj.CRS("EPSG:4549"))
    lon0, lat0, lon1, lat1 = city.bounds_wgs84()
    assert 119.9 < lon0 < lon1 < 120.1 and 31.4 < lat0 < lat1 < 31.7
    ll = city.to_crs("EPSG:4326")
    assert ll.crs.is_geographic
    back = ll.to_metric()
    np.testing.assert_allclose(back.buildings.footprint.vertices,
                               city.buildings.footprint.vertices, atol=1e-3)
    np.testing.assert_allclose(back.buildings.footprint.areas(), 100, rtol=1e-6)
    with pytest.raises(CRSError):
        CityModel(buildings=_buildings()).bounds_wgs84()
    with pytest.raises(CRSError):
        CityModel.merge([city, CityModel(buildings=_buildings())])
    merged = CityModel.merge([city, ll])
    assert len(merged.buildings) == 4 and merged.crs.to_epsg() == 4549


def test_terrain_reprojects_to_geographic_and_back():
    x = np.arange(40) * 25.0
    z = np.tile(5.0 + x / 100.0, (30, 1))  # rises eastwards, 0.25 m per cell
    city = CityModel(buildings=_buildings(), crs=pyproj.CRS("EPSG:4549"),
                     terrain=Terrain(z, 500000.0, 3490000.0, 25.0))
    ll = city.to_crs("EPSG:4326")
    lon0, lat0, lon1, lat1 = ll.terrain.bounds
    assert 119.9 < lon0 < lon1 < 120.1 and 31.4 < lat0 < lat1 < 31.7
    assert ll.terrain.cell == pytest.approx(25.0 / 95000, rel=0.1)  # ~25 m in degrees
    back = ll.to_metric()
    assert back.crs.to_epsg() == 4549
    bx0, by0, bx1, by1 = back.terrain.bounds
    assert abs(bx0 - 500000) < 50 and abs(by1 - 3490750) < 50
    pts_x = np.array([500300.0, 500600.0, 500900.0])
    np.testing.assert_allclose(back.terrain.sample(pts_x, np.full(3, 3490400.0)),
                               city.terrain.sample(pts_x, np.full(3, 3490400.0)), atol=0.05)


def test_resolve_crs_names():
    from cim.crs import resolve_crs

    for ref in ("EPSG:4549", 4549, "https://www.opengis.net/def/crs/EPSG/0/4549",
                "urn:ogc:def:crs:EPSG::4549", "http://www.opengis.net/def/crs/EPSG/0/4549"):
        assert resolve_crs(ref).to_epsg() == 4549
    with pytest.raises(CRSError, match="cannot be resolved"):
        resolve_crs("EPSG:999999", path="x.json")


def test_terrain_sample_bilinear():
    z = np.array([[2.0, 4.0], [0.0, 2.0]])  # row 0 = north
    t = Terrain(z, x0=0.0, y0=0.0, cell=10.0)
    assert t.bounds == (0, 0, 20, 20)
    # cell centres: (5, 15) -> 2, (15, 15) -> 4, (5, 5) -> 0, (15, 5) -> 2
    np.testing.assert_allclose(t.sample([5, 15, 5, 10], [15, 15, 5, 10]), [2, 4, 0, 2])
    assert np.isnan(t.sample([30.0], [5.0])[0])


def test_road_builder_directions_defaults_and_errors():
    b = RoadNetworkBuilder()
    b.add_segment("r1", "a", "b", [[0, 0], [50, 0], [100, 0]], cls="primary", name="Lihu Ave")
    b.add_segment("r2", "b", "c", [[100, 0], [100, 40]], oneway=True, lanes_forward=2,
                  maxspeed_kmh=36)
    b.set_signal("b", {"cycle_s": 90})
    net = b.build()
    assert net.link_ids.tolist() == ["r1:f", "r1:b", "r2:f"]
    assert net.node_ids[net.link_from].tolist() == ["a", "b", "b"]
    assert net.node_ids[net.link_to].tolist() == ["b", "a", "c"]
    np.testing.assert_allclose(net.link_length, [100, 100, 40])
    assert net.link_lanes.tolist() == [3, 3, 2]
    assert net.link_free_speed[2] == pytest.approx(10.0)
    assert net.node_signal.tolist() == [False, True, False]
    assert net.node_signal_plan[1] == {"cycle_s": 90}
    np.testing.assert_allclose(net.link_geometry(1)[0], [100, 0])
    for bad in ({"lanes_forward": -2}, {"maxspeed_kmh": float("nan")}, {"maxspeed_kmh": "x"}):
        with pytest.raises(ValueRangeError, match="r9"):
            b.add_segment("r9", "c", "d", [[0, 0], [1, 1]], **bad)
    with pytest.raises(ValueRangeError, match="zero length"):
        b.add_segment("r8", "c", "d", [[0, 0], [0, 0]])


def test_road_network_concat_merges_shared_nodes():
    b1, b2 = RoadNetworkBuilder(), RoadNetworkBuilder()
    b1.add_segment("r1", "a", "b", [[0, 0], [100, 0]])
    b2.add_segment("r2", "b", "c", [[100, 0], [200, 0]])
    net = cim.RoadNetwork.concat([b1.build(), b2.build()])
    assert net.n_nodes == 3 and net.n_links == 4
    assert net.node_ids[net.link_from[2]] == "b"


def test_problems_strict_and_lenient():
    report = LoadReport()
    with pytest.raises(GeometryError, match=r"f\.json:7 \[obj\]"):
        Problems("f.json", False, report).handle(GeometryError("bad"), obj_id="obj", line=7)
    Problems("f.json", True, report).handle(ValueRangeError("neg"), obj_id="o2")
    assert report.n_skipped == 1 and report.skipped_by_kind() == {"invalid value": 1}
    assert "o2" in str(report)


def test_sites_and_summary():
    s = Sites(_obj(["s1"]), _obj(["hospital"]), _obj(["H"]), np.zeros((1, 3)), np.ones(1),
              Attributes.from_dicts([{}]))
    city = CityModel(sites=s)
    assert city.summary()["sites"] == 1 and city.bounds() == (0, 0, 0, 0)


def test_load_errors_for_missing_and_unknown_files(tmp_path):
    with pytest.raises(cim.FormatError, match="not found"):
        cim.load(tmp_path / "nope.city.json")
    p = tmp_path / "x.bin"
    p.write_bytes(b"\x00\x01garbage")
    with pytest.raises(cim.FormatError, match="unknown file format"):
        cim.load(p)
    with pytest.raises(cim.CIMError, match="unknown district"):
        cim.load_district("atlantis")
