"""CityJSON reader and writer: hand-written corner cases, the official samples, errors."""

from __future__ import annotations

import copy
import csv
import gzip
import json
import math

import numpy as np
import pyproj
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cim
from cim.errors import (
    CRSError,
    FormatError,
    GeometryError,
    MissingReferenceError,
    SchemaError,
    ValueRangeError,
)
from cim.formats import Source, cityjson, cityjsonseq
from cim.geometry import SURFACE_CODE, PolygonSetBuilder
from cim.model import Areas, Attributes, Buildings, CityModel, CityObjects, Sites, _obj
from cim.roads import RoadNetworkBuilder

from .cjtools import (
    VALIDATION,
    check_cityjson,
    document,
    prism,
    save,
    signed_volume,
    square,
)

needs_validation = pytest.mark.skipif(not VALIDATION.exists(),
                                      reason=f"validation data not found at {VALIDATION}")
G, W, R = SURFACE_CODE["GroundSurface"], SURFACE_CODE["WallSurface"], SURFACE_CODE["RoofSurface"]


def load_doc(tmp_path, doc, **kw):
    return cim.load(save(tmp_path, doc), **kw)


# ---- hand-written corner cases -------------------------------------------------------------
def test_transform_quantized_lod1_building(tmp_path):
    v: list = []
    g = prism(v, [square(500010.0, 3500020.0, 500030.0, 3500035.0)], 4.0, 22.0)
    doc = document({"b1": {"type": "Building", "geometry": [g], "attributes": {
        "storeysAboveGround": 6, "function": " Residential ", "residents": 40, "jobs": 2,
        "roofType": "flat"}}}, v, scale=0.01, translate=(500000.0, 3500000.0, 0.0))
    city = load_doc(tmp_path, doc)
    b = city.buildings
    assert list(b.ids) == ["b1"] and city.crs.to_epsg() == 4549
    assert b.base_height[0] == pytest.approx(4.0) and b.roof_height[0] == pytest.approx(22.0)
    ring = b.footprint.polygons_of(0)[0][0]
    np.testing.assert_allclose(ring, square(500010.0, 3500020.0, 500030.0, 3500035.0))
    assert b.storeys[0] == 6 and b.use[0] == "residential" and b.lod[0] == 1
    assert b.residents[0] == 40 and b.jobs[0] == 2
    assert b.attributes.row(0) == {"roofType": "flat"}
    assert b.floor_area[0] == pytest.approx(20 * 15 * 6)
    assert b.surfaces.n_polygons == 0  # LoD1: footprint and heights only


def test_courtyard_hole_without_semantics(tmp_path):
    v: list = []
    g = prism(v, [square(0, 0, 30, 30), square(10, 10, 20, 20, cw=True)], 0.0, 9.0,
              semantics=False)
    city = load_doc(tmp_path, document({"c": {"type": "Building", "geometry": [g]}}, v))
    b = city.buildings
    rings = b.footprint.polygons_of(0)[0]
    assert len(rings) == 2
    assert b.footprint.areas()[0] == pytest.approx(900 - 100)
    assert b.storeys[0] == -1 and b.use[0] == ""
    assert b.floor_area[0] == pytest.approx(800 * 3)  # 9 m / 3 m per storey


def test_lod2_semantics_and_highest_lod(tmp_path):
    v: list = []
    lod1 = prism(v, [square(0, 0, 10, 10)], 0.0, 6.0)
    lod2 = prism(v, [square(0, 0, 10, 10)], 0.0, 8.0, lod="2.2")
    city = load_doc(tmp_path, document({"b": {"type": "Building",
                                               "geometry": [lod1, lod2]}}, v))
    b = city.buildings
    assert b.lod[0] == pytest.approx(2.2) and b.roof_height[0] == 8.0
    assert b.surfaces.n_polygons == 6
    assert sorted(b.surfaces.semantics.tolist()) == sorted([G, R, W, W, W, W])
    assert signed_volume(b.surfaces.polygons_of(0)) == pytest.approx(800.0)


def test_building_parts_merge_into_parent(tmp_path):
    v: list = []
    p1 = prism(v, [square(0, 0, 10, 10)], 1.0, 10.0)
    p2 = prism(v, [square(10, 0, 20, 10)], 2.0, 25.0)
    doc = document({
        "B": {"type": "Building", "children": ["P1", "P2"], "attributes": {"storeysAboveGround": 3}},
        "P1": {"type": "BuildingPart", "parents": ["B"], "geometry": [p1]},
        "P2": {"type": "BuildingPart", "parents": ["B"], "geometry": [p2],
               "children": ["P3"]},
        "P3": {"type": "BuildingPart", "parents": ["P2"]},
        "Other": {"type": "Building", "geometry": [prism(v, [square(50, 0, 60, 5)], 0, 3)]},
    }, v)
    city = load_doc(tmp_path, doc)
    b = city.buildings
    assert len(b) == 2 and list(b.ids) == ["B", "Other"]
    i = b.index_of("B")
    assert b.footprint.object_offsets[i + 1] - b.footprint.object_offsets[i] == 2
    assert b.base_height[i] == 1.0 and b.roof_height[i] == 25.0
    assert set(b.parts[i]) == {"P1", "P2", "P3"} and b.parts[1] is None
    assert len(city.others) == 0


def test_geometry_template_instance(tmp_path):
    tmpl = {"type": "MultiSurface", "lod": "2",
            "boundaries": [[[0, 1, 2]], [[0, 2, 3]]]}
    doc = document({"tree": {"type": "SolitaryVegetationObject", "geometry": [{
        "type": "GeometryInstance", "template": 0, "boundaries": [0],
        "transformationMatrix": [2, 0, 0, 5, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]}]}},
        [[100.0, 200.0, 3.0]], scale=0.001,
        **{"geometry-templates": {"templates": [tmpl], "vertices-templates": [
            [0, 0, 0], [1, 0, 0], [1, 1, 1], [0, 1, 1]]}})
    city = load_doc(tmp_path, doc)
    o = city.others
    assert list(o.type) == ["SolitaryVegetationObject"] and o.lod[0] == 2
    tri = o.surfaces.polygons_of(0)[0][0]
    np.testing.assert_allclose(tri, [[105, 200, 3], [107, 200, 3], [107, 202, 4]])
    bad = copy.deepcopy(doc)
    bad["CityObjects"]["tree"]["geometry"][0]["template"] = 3
    with pytest.raises(MissingReferenceError, match=r"\[tree\].*template 3"):
        load_doc(tmp_path, bad)


@pytest.mark.parametrize("version", ["1.1", "2.0"])
def test_versions(tmp_path, version):
    v: list = []
    g = prism(v, [square(0, 0, 4, 4)], 0, 3)
    city = load_doc(tmp_path, document({"b": {"type": "Building", "geometry": [g]}}, v,
                                       version=version, scale=0.001))
    assert len(city.buildings) == 1 and city.buildings.roof_height[0] == 3


def test_road_network_convention_signals_areas_sites(tmp_path):
    v = [[0, 0, 0], [100, 0, 0], [100, 80, 0], [0, 80, 0], [50, 40, 0], [10, 10, 2]]
    objs = {
        "r1": {"type": "Road", "attributes": {"start_node": "n1", "end_node": "n2",
                                              "lanes_forward": 2, "maxspeed_kmh": 50,
                                              "name": "Lihu Ave", "class": "primary"},
               "geometry": [{"type": "MultiLineString", "lod": "0", "boundaries": [[0, 1]]}]},
        "r2": {"type": "Road", "attributes": {"start_node": "n2", "end_node": "n3",
                                              "oneway": True, "bridge": True},
               "geometry": [{"type": "MultiLineString", "lod": "0", "boundaries": [[1, 2]]}]},
        "sq": {"type": "Road", "geometry": [{"type": "MultiSurface", "lod": "1",
                                             "boundaries": [[[0, 1, 2, 3]]]}]},
        "sig": {"type": "CityFurniture", "attributes": {
            "function": "traffic_signal", "node": "n2", "signal_cycle_s": 90,
            "signal_green_s": [40, 40], "signal_yellow_s": 3},
            "geometry": [{"type": "MultiPoint", "lod": "0", "boundaries": [1]}]},
        "lake": {"type": "WaterBody", "attributes": {"class": "lake", "name": "Lihu"},
                 "geometry": [{"type": "MultiSurface", "lod": "1",
                               "boundaries": [[[0, 1, 2, 3]]]}]},
        "zone": {"type": "LandUse", "attributes": {"function": "residential"},
                 "geometry": [{"type": "MultiSurface", "lod": "1",
                               "boundaries": [[[0, 1, 2, 3]]]}]},
        "fs1": {"type": "GenericCityObject", "attributes": {
            "site_kind": "fire_station", "name": "Station 1", "capacity": 6, "source": "x"},
            "geometry": [{"type": "MultiPoint", "lod": "1", "boundaries": [5]}]},
    }
    city = load_doc(tmp_path, document(objs, v))
    rn = city.roads
    assert list(rn.link_ids) == ["r1:f", "r1:b", "r2:f"]
    assert rn.n_nodes == 3 and rn.link_lanes.tolist() == [2, 2, 1]
    assert rn.link_length[0] == 100 and rn.link_free_speed[0] == pytest.approx(50 / 3.6)
    assert rn.link_bridge.tolist() == [False, False, True]
    k = list(rn.node_ids).index("n2")
    assert rn.node_signal.tolist() == [x == k for x in range(3)]
    assert rn.node_signal_plan[k] == {"cycle_s": 90, "yellow_s": 3, "green_s": [40, 40]}
    assert list(city.others.ids) == ["sq"] and city.others.type[0] == "Road"
    assert list(city.water_bodies.kind) == ["lake"] and city.water_bodies.name[0] == "Lihu"
    assert list(city.land_use.kind) == ["residential"]
    s = city.sites
    assert list(s.ids) == ["fs1"] and s.kind[0] == "fire_station" and s.capacity[0] == 6
    np.testing.assert_allclose(s.xyz[0], [10, 10, 2])
    assert s.attributes.row(0) == {"source": "x"}
    back = cim.load(cim.write_cityjson(city, tmp_path / "rt.city.json"))
    assert list(back.roads.link_ids) == list(rn.link_ids)
    np.testing.assert_allclose(back.roads.link_capacity, rn.link_capacity)
    assert back.roads.node_signal_plan[k] == rn.node_signal_plan[k]
    assert list(back.sites.ids) == ["fs1"] and list(back.others.ids) == ["sq"]


def test_metadata_and_crs(tmp_path):
    doc = document({}, [], crs=None, metadata={"title": "t", "synthetic": True})
    city = load_doc(tmp_path, doc)
    assert city.crs is None and city.metadata["title"] == "t" and city.metadata["synthetic"]
    assert any("file coordinates" in n for n in city.report.notes)
    with pytest.raises(CRSError, match="t.city.json"):
        load_doc(tmp_path, document({}, [], crs="https://www.opengis.net/def/crs/EPSG/0/999999"))


def test_sniff():
    assert cityjson.sniff(b'{"type": "CityJSON", "version": "2.0"}', "x.json")
    assert cityjson.sniff(b'{"CityObjects": {}, "type": "CityJSON"}', "x")
    assert not cityjson.sniff(b'{"type": "FeatureCollection"}', "x.geojson")
    seq = b'{"type":"CityJSON","version":"2.0","CityObjects":{},"vertices":[]}\n' \
          b'{"type":"CityJSONFeature","id":"a","CityObjects":{},"vertices":[]}\n'
    assert cityjsonseq.sniff(seq, "x.jsonl") and not cityjson.sniff(seq, "x.jsonl")


# ---- errors -------------------------------------------------------------------------------
def _one_building(**attrs):
    v: list = []
    g = prism(v, [square(0, 0, 10, 10)], 0, 6)
    ok = prism(v, [square(20, 0, 30, 10)], 0, 6)
    return document({"bad": {"type": "Building", "geometry": [g], "attributes": attrs},
                     "good": {"type": "Building", "geometry": [ok]}}, v)


def test_malformed_json_names_line_and_column(tmp_path):
    with pytest.raises(FormatError, match=r"t\.city\.json:3: .*line 3, column \d+"):
        load_doc(tmp_path, '{"type": "CityJSON",\n"version": "2.0",\n"CityObjects": {,}}')


def test_missing_type(tmp_path):
    doc = _one_building()
    del doc["CityObjects"]["bad"]["type"]
    with pytest.raises(SchemaError, match=r"t\.city\.json \[bad\]: .*no type"):
        load_doc(tmp_path, doc)
    city = load_doc(tmp_path, doc, lenient=True)
    assert list(city.buildings.ids) == ["good"] and city.report.n_skipped == 1
    del doc["type"]
    with pytest.raises(SchemaError, match='no "type"'):
        load_doc(tmp_path, doc)


def test_vertex_index_out_of_range(tmp_path):
    doc = _one_building()
    doc["CityObjects"]["bad"]["geometry"][0]["boundaries"][0][2][0][1] = 999
    with pytest.raises(GeometryError, match=r"\[bad\].*vertex index 999 is out of range"):
        load_doc(tmp_path, doc)
    city = load_doc(tmp_path, doc, lenient=True)
    assert list(city.buildings.ids) == ["good"]
    assert city.report.skipped_by_kind() == {"invalid geometry": 1}


def test_degenerate_and_self_intersecting_rings(tmp_path):
    doc = _one_building()
    shell = doc["CityObjects"]["bad"]["geometry"][0]["boundaries"][0]
    for face in shell:
        face[0][:] = [face[0][0]] * 2 + [face[0][1]]  # every face < 3 distinct vertices
    with pytest.raises(GeometryError, match=r"\[bad\].*fewer than 3 distinct"):
        load_doc(tmp_path, doc)
    # a sliver face among good ones is dropped, with a note
    doc = _one_building()
    doc["CityObjects"]["bad"]["geometry"][0]["boundaries"][0].append([[0, 1, 1, 0]])
    doc["CityObjects"]["bad"]["geometry"][0]["semantics"]["values"][0].append(None)
    city = load_doc(tmp_path, doc)
    assert len(city.buildings) == 2 and any("degenerate" in n for n in city.report.notes)
    # a bow-tie footprint
    v = [[0, 0, 0], [10, 0, 0], [0, 8, 0], [10, 10, 0], [5, 5, 9]]
    doc = document({"bow": {"type": "Building", "geometry": [{
        "type": "MultiSurface", "lod": "2", "boundaries": [[[0, 1, 2, 3]], [[0, 1, 4]]],
        "semantics": {"surfaces": [{"type": "GroundSurface"}], "values": [0, None]}}]}}, v)
    with pytest.raises(GeometryError, match=r"\[bow\].*intersects itself"):
        load_doc(tmp_path, doc)
    assert load_doc(tmp_path, doc, lenient=True).report.n_skipped == 1


@pytest.mark.parametrize("attrs", [{"storeysAboveGround": -2}, {"residents": float("nan")},
                                   {"jobs": "many"}, {"measuredHeight": -5},
                                   {"floor_area_m2": 1e12}])
def test_absurd_values(tmp_path, attrs):
    doc = _one_building(**attrs)
    with pytest.raises(ValueRangeError, match=r"t\.city\.json \[bad\]"):
        load_doc(tmp_path, doc)
    assert list(load_doc(tmp_path, doc, lenient=True).buildings.ids) == ["good"]


def test_missing_parent_and_child(tmp_path):
    doc = _one_building()
    doc["CityObjects"]["bad"]["children"] = ["ghost"]
    with pytest.raises(MissingReferenceError, match=r"\[bad\].*child 'ghost'"):
        load_doc(tmp_path, doc)
    doc["CityObjects"]["orphan"] = {"type": "BuildingPart", "parents": ["nobody"]}
    city = load_doc(tmp_path, doc, lenient=True)
    assert city.report.n_skipped == 2 and list(city.buildings.ids) == ["good"]


# ---- official samples -----------------------------------------------------------------------
CJIO_FILES = ["cube", "minimal", "dummy", "composite_solid_with_material",
              "multisurface_with_material", "rotterdam_one", "delft_1b"]


@needs_validation
@pytest.mark.parametrize("name", CJIO_FILES)
def test_cjio_samples_load_and_round_trip(tmp_path, name):
    city = cim.load(VALIDATION / f"{name}.city.json")
    n_objects = len(json.loads((VALIDATION / f"{name}.city.json").read_text())["CityObjects"])
    assert len(city.buildings) + len(city.others) == n_objects
    assert (city.buildings.roof_height >= city.buildings.base_height).all()
    back = cim.load(cim.write_cityjson(city, tmp_path / "rt.city.json"))
    assert_same(city, back)


def test_cjio_sample_details():
    if not VALIDATION.exists():
        pytest.skip(f"validation data not found at {VALIDATION}")
    delft = cim.load(VALIDATION / "delft_1b.city.json")
    assert delft.crs.to_epsg() == 7415 and delft.buildings.lod[0] == 1
    rot = cim.load(VALIDATION / "rotterdam_one.city.json")
    assert rot.buildings.lod[0] == 2 and rot.buildings.surfaces.n_polygons > 10
    assert rot.buildings.footprint.areas()[0] > 10
    comp = cim.load(VALIDATION / "composite_solid_with_material.city.json")
    assert list(comp.others.type) == ["+GenericCityObject"]
    assert comp.metadata[cityjson.EXTRA_KEY]["extensions"]


CORPUS = VALIDATION / "cityjson-corpus"
CASES = sorted(p.name for p in (CORPUS / "conformance" / "v2_0").glob("*")) \
    if CORPUS.exists() else []


@needs_validation
@pytest.mark.parametrize("case", CASES)
def test_conformance_cases_load_and_round_trip(tmp_path, case):
    folder = CORPUS / "conformance" / "v2_0" / case
    data = next(p for p in folder.iterdir() if p.name.startswith(case + ".city."))
    inv = json.loads((folder / "invariants.json").read_text())
    assert inv["kind"] == "positive"
    city = cim.load(data)
    if data.suffix == ".jsonl":
        return
    doc = json.loads(data.read_text())
    ids = set(doc["CityObjects"])
    got = set(city.buildings.ids) | set(city.others.ids) | set(city.sites.ids)
    got |= set(city.water_bodies.ids) | set(city.land_use.ids)
    got |= {p for parts in city.buildings.parts if parts for p in parts}
    assert got == ids
    checks = {c["id"] for c in inv["checks"]}
    if checks & {"roundtrip_stable", "roundtrip_stable_with_extra_members",
                 "cityobject_structure_preserved", "metadata_properties_preserved",
                 "metadata_extra_properties_preserved", "extension_member_preserved",
                 "geometry_semantics_preserved", "semantic_surface_preserved",
                 "cityobject_extension_type_preserved", "geometry_instance_preserved"}:
        out = cim.write_cityjson(city, tmp_path / "rt.city.json")
        check_cityjson(json.loads(out.read_text()))
        assert_same(city, cim.load(out))
    if "geometry_semantics_preserved" in checks or "semantic_surface_preserved" in checks:
        g = next(o for o in doc["CityObjects"].values() if o.get("geometry"))["geometry"][0]
        want = _flat_semantics(g)
        surf = city.others.surfaces if len(city.others) else city.buildings.surfaces
        if want:
            assert surf.semantics.tolist() == want


def _flat_semantics(g):
    t, sem = g["type"], g.get("semantics")
    if not sem or t in ("MultiPoint", "MultiLineString"):
        return None
    codes = [SURFACE_CODE.get(s["type"], -1) for s in sem["surfaces"]]
    vals = sem["values"]
    flat = vals if t.endswith("Surface") else [v for shell in vals for v in shell] \
        if t == "Solid" else [v for solid in vals for shell in (solid or []) for v in shell]
    return [-1 if v is None else codes[v] for v in flat]


@needs_validation
def test_conformance_specifics():
    base = CORPUS / "conformance" / "v2_0"
    fake = cim.load(base / "cityjson_fake_complete" / "cityjson_fake_complete.city.json")
    tv = np.array([[0.0, 0.5, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [2.1, 4.2, 1.2]])
    tree = fake.others.surfaces.polygons_of(fake.others.index_of("a-tree"))
    np.testing.assert_allclose(tree[0][0], 2 * tv[[0, 3, 2, 1]] + [11, 910, 43])
    assert fake.metadata["title"] == "Complete and fake CityJSON"
    assert fake.metadata[cityjson.EXTRA_KEY]["+census"] == {"percent_men": 49.5,
                                                            "percent_women": 51.5}
    assert fake.crs.to_epsg() == 2355
    allt = cim.load(base / "cityobject_all_types" / "cityobject_all_types.city.json")
    assert list(allt.buildings.ids) == ["Building"]
    assert allt.buildings.parts[0] == ("BuildingPart",)
    md = cim.load(base / "metadata_extra_properties" / "metadata_extra_properties.city.json")
    assert md.metadata["notInSchema"] == 42 and md.metadata["alsoNotInSchema"] == "more42"
    for case in ("ecef", "local", "stateplane", "utm", "wgs84", "worst", ""):
        name = f"coordinates_precision_{case}" if case else "vertices"
        doc = json.loads((base / name / f"{name}.city.json").read_text())
        got = cityjson.vertices_of(doc["vertices"], cityjson.transform_of(doc, name), name)
        from decimal import Decimal
        tr = doc["transform"]
        for row, want in zip(got, doc["vertices"]):
            exact = [Decimal(str(w)) * Decimal(str(s)) + Decimal(str(t))
                     for w, s, t in zip(want, tr["scale"], tr["translate"])]
            assert max(abs(float(Decimal(float(g)) - e)) for g, e in zip(row, exact)) < 1e-4


@needs_validation
@pytest.mark.parametrize("case,error", [
    ("invalid_missing_type", SchemaError),
    ("invalid_out_of_range_vertex_index", GeometryError),
    ("invalid_u64_f64_bounds", ValueRangeError),
    ("invalid_cityjsonfeature_root_id_unresolved", MissingReferenceError),
])
def test_invalid_cases_are_rejected(case, error):
    folder = CORPUS / "invalid" / case
    assert json.loads((folder / "invariants.json").read_text())["expected_result"] == "reject"
    data = next(p for p in folder.iterdir() if p.name.startswith(case + "."))
    with pytest.raises(error, match=case):
        cim.load(data)
    if error in (GeometryError, MissingReferenceError):  # per object: lenient skips it
        assert cim.load(data, lenient=True).report.n_skipped == 1


@needs_validation
def test_fzk_100_buildings_match_expected():
    city = cim.load(VALIDATION / "citygml" / "fzk_lod2_100buildings.city.json")
    b = city.buildings
    rows = list(csv.DictReader((VALIDATION / "citygml" /
                                "fzk_lod2_100buildings_expected.csv").open()))
    assert len(b) == len(rows) == 100
    for r in rows:
        i = b.index_of(r["building_id"])
        assert b.base_height[i] == pytest.approx(float(r["z_min"]), abs=1e-3)
        assert b.roof_height[i] == pytest.approx(float(r["z_max"]), abs=1e-3)
        polys = b.surfaces.polygons_of(i)
        assert len(polys) == int(r["n_polygons"])
        assert signed_volume(polys) == pytest.approx(float(r["solid_volume_m3"]), rel=1e-6)
        assert b.footprint.areas()[i] > 0 and b.lod[i] == 2


# ---- writer -------------------------------------------------------------------------------
def sample_model() -> CityModel:
    fp = PolygonSetBuilder(2)
    fp.add_object([[np.array(square(0, 0, 30, 30)), np.array(square(10, 10, 20, 20, cw=True))]])
    fp.add_object([[np.array(square(40, 0, 50, 10))], [np.array(square(60, 0, 70, 10))]])
    fp.add_object([[np.array(square(80, 0, 90, 10))]])
    surf = PolygonSetBuilder(3)
    surf.add_object([])
    surf.add_object([])
    v: list = []
    g = prism(v, [square(80, 0, 90, 10)], 2.0, 12.0)
    va = np.asarray(v, float)
    surf.add_object([[va[r] for r in face] for face in g["boundaries"][0]],
                    [G, R, W, W, W, W])
    b = Buildings(
        ids=_obj(["court", "twin", "lod2"]), footprint=fp.build(),
        base_height=np.array([1.0, 0.0, 2.0]), roof_height=np.array([19.5, 7.25, 12.0]),
        storeys=np.array([6, -1, 3], np.int32), use=_obj(["office", "", "residential"]),
        floor_area=np.array([4800.0, 400.0, 300.0]), residents=np.array([0.0, 3, 9]),
        jobs=np.array([120.0, 0, 0]), lod=np.array([1, 1, 2], np.float32),
        surfaces=surf.build(),
        attributes=Attributes.from_dicts([{"name": "Tower 蠡湖", "year": 2020}, {},
                                          {"tags": ["a", "b"]}]),
        parts=_obj([None, ("twin-a", "twin-b"), None]))
    rb = RoadNetworkBuilder()
    rb.add_segment("s1", "a", "b", [[0, -10], [50, -10], [100, -10]], cls="secondary",
                   name="Liangxi Rd")
    rb.add_segment("s2", "b", "c", [[100, -10], [100, 50]], oneway=True, lanes_forward=2)
    rb.set_signal("b", {"cycle_s": 60.0, "green_s": [27.0, 27.0], "yellow_s": 3.0})
    water = PolygonSetBuilder(3)
    water.add_object([[np.array([[0, 100, 1.5], [50, 100, 1.5], [50, 150, 1.5]])]])
    return CityModel(
        buildings=b, roads=rb.build(),
        water_bodies=Areas(_obj(["lake"]), _obj(["lake"]), _obj(["Lihu"]), water.build(),
                           Attributes.from_dicts([{"depth_m": 2.5}])),
        sites=Sites(_obj(["h1"]), _obj(["hospital"]), _obj(["No.2 People's Hospital"]),
                    np.array([[5.0, 5.0, 1.0]]), np.array([800.0]),
                    Attributes.from_dicts([{"source": "osm"}])),
        others=CityObjects(_obj(["bench"]), _obj(["CityFurniture"]),
                           water.build(), np.array([2], np.float32), Attributes(1, {})),
        crs=pyproj.CRS("EPSG:4549"),
        metadata={"title": "sample", "synthetic": True, "sources": ["spec"]})


def assert_same(a: CityModel, b: CityModel, tol=1e-3) -> None:
    """Assert that two models have the same ids, attributes and geometry (to ``tol`` m)."""
    for name in ("buildings", "water_bodies", "land_use", "sites", "others"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert list(ta.ids) == list(tb.ids), name
        for i in range(len(ta)):
            assert ta.attributes.row(i) == tb.attributes.row(i), (name, ta.ids[i])
    ba, bb = a.buildings, b.buildings
    for col in ("storeys", "use", "lod", "parts", "residents", "jobs"):
        assert list(getattr(ba, col)) == list(getattr(bb, col)), col
    np.testing.assert_allclose(bb.floor_area, ba.floor_area, rtol=1e-9)
    for col in ("base_height", "roof_height"):
        np.testing.assert_allclose(getattr(bb, col), getattr(ba, col), atol=tol)
    for ps in ("footprint", "surfaces"):
        pa, pb = getattr(ba, ps), getattr(bb, ps)
        assert pa.object_offsets.tolist() == pb.object_offsets.tolist(), ps
        np.testing.assert_allclose(pb.vertices, pa.vertices, atol=tol)
        assert pa.semantics.tolist() == pb.semantics.tolist()
    assert list(a.others.type) == list(b.others.type)
    for ps_a, ps_b in ((a.others.surfaces, b.others.surfaces),
                       (a.water_bodies.polygons, b.water_bodies.polygons)):
        assert ps_a.object_offsets.tolist() == ps_b.object_offsets.tolist()
        np.testing.assert_allclose(ps_b.vertices, ps_a.vertices, atol=tol)
    np.testing.assert_allclose(b.sites.xyz, a.sites.xyz, atol=tol)
    assert list(a.roads.link_ids) == list(b.roads.link_ids)
    assert (a.crs is None) == (b.crs is None) and (a.crs is None or a.crs.equals(b.crs))
    meta = {k: v for k, v in a.metadata.items() if k != "formats"}
    assert meta == {k: v for k, v in b.metadata.items() if k != "formats"}


def test_writer_round_trip_and_validity(tmp_path):
    city = sample_model()
    out = cim.write_cityjson(city, tmp_path / "s.city.json")
    doc = json.loads(out.read_text())
    check_cityjson(doc)
    assert doc["metadata"]["referenceSystem"].endswith("/EPSG/0/4549")
    assert doc["metadata"]["synthetic"] is True and doc["transform"]["scale"] == [0.001] * 3
    assert doc["CityObjects"]["court"]["geometry"][0]["type"] == "Solid"
    assert doc["CityObjects"]["twin"]["geometry"][0]["type"] == "MultiSolid"
    assert doc["CityObjects"]["twin-a"]["parents"] == ["twin"]
    back = cim.load(out)
    assert_same(city, back)
    assert back.buildings.footprint.areas()[0] == pytest.approx(800)
    assert list(back.roads.link_ids) == ["s1:f", "s1:b", "s2:f"]
    np.testing.assert_allclose(back.roads.geometry_xy, city.roads.geometry_xy, atol=1e-3)
    assert back.roads.node_signal_plan[1] == city.roads.node_signal_plan[1]
    assert back.sites.capacity[0] == 800 and back.sites.name[0] == "No.2 People's Hospital"


def test_writer_is_deterministic_and_gzips(tmp_path):
    city = sample_model()
    a = cim.write_cityjson(city, tmp_path / "a.city.json").read_bytes()
    b = cim.write_cityjson(city, tmp_path / "b.city.json").read_bytes()
    assert a == b and a.startswith(b'{"type":"CityJSON","version":"2.0"')
    z1 = cim.write_cityjson(city, tmp_path / "a.city.json.gz").read_bytes()
    z2 = cim.write_cityjson(city, tmp_path / "b.city.json.gz").read_bytes()
    assert z1 == z2 and gzip.decompress(z1) == a
    assert_same(city, cim.load(tmp_path / "a.city.json.gz"))


def test_writer_output_loads_in_cjio(tmp_path):
    before = cim.write_cityjson(sample_model(), tmp_path / "before.city.json").read_bytes()
    cjio = pytest.importorskip("cjio.cityjson")  # patches json.encoder to round floats
    out = cim.write_cityjson(sample_model(), tmp_path / "s.city.json")
    assert out.read_bytes() == before
    with open(out, encoding="utf-8") as f:
        cm = cjio.reader(f)  # also rejects duplicate keys
    cm.check_version()
    assert cm.get_epsg() == 4549
    n_before = len(cm.j["vertices"])
    cm.remove_duplicate_vertices()
    assert len(cm.j["vertices"]) == n_before
    assert "Building" in "".join(cm.get_info())


def test_writer_geographic_scale(tmp_path):
    city = sample_model()
    city.sites.xyz[:] = [[120.28, 31.52, 4.0]]
    geo = CityModel(sites=city.sites, crs=pyproj.CRS("EPSG:4326"))
    out = cim.write_cityjson(geo, tmp_path / "g.city.json")
    assert json.loads(out.read_text())["transform"]["scale"] == [1e-9, 1e-9, 0.001]
    np.testing.assert_allclose(cim.load(out).sites.xyz, geo.sites.xyz, atol=1e-8)


def test_source_sniffing_dispatch(tmp_path):
    p = cim.write_cityjson(sample_model(), tmp_path / "noext.dat")
    assert cim.detect_format(p) == "cityjson"
    assert Source.open_path(p).head.startswith(b'{"type":"CityJSON"')


def test_no_crs_model_round_trip(tmp_path):
    city = sample_model()
    city.crs = None
    back = cim.load(cim.write_cityjson(city, tmp_path / "x.city.json"))
    assert back.crs is None and math.isclose(back.buildings.roof_height[0], 19.5)


# ---- property: round trip of random small models -------------------------------------------

_RESERVED = {"storeysAboveGround", "function", "usage", "use", "floor_area_m2", "residents",
             "jobs", "measuredHeight", "height", "site_kind", "name", "capacity"}
_values = st.one_of(st.integers(-10**6, 10**6), st.booleans(),
                    st.floats(-1e6, 1e6, allow_nan=False), st.text(max_size=8))
_attrs = st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k not in _RESERVED),
                         _values, max_size=3)


@st.composite
def _building(draw, k):
    n = draw(st.integers(3, 7))
    r = draw(st.floats(2.0, 40.0))
    a0 = draw(st.floats(0, 2 * math.pi))
    cx, cy = 500000.0 + 200.0 * k, 3500000.0 + draw(st.floats(-50, 50))
    ang = a0 + 2 * math.pi * np.arange(n) / n
    rings = [np.column_stack([cx + r * np.cos(ang), cy + r * np.sin(ang)])]
    if draw(st.booleans()):
        rings.append(np.column_stack([cx + 0.4 * r * np.cos(ang), cy + 0.4 * r * np.sin(ang)])
                     [::-1])
    base = draw(st.floats(-5, 50))
    return dict(rings=rings, base=base, roof=base + draw(st.floats(0.5, 150)),
                storeys=draw(st.integers(-1, 40)), use=draw(st.sampled_from(
                    ["", "residential", "office", "mixed"])),
                floor_area=draw(st.floats(0, 1e5)), residents=float(draw(st.integers(0, 500))),
                jobs=float(draw(st.integers(0, 500))), attrs=draw(_attrs))


@st.composite
def _models(draw):
    nb = draw(st.integers(0, 4))
    blds = [draw(_building(k)) for k in range(nb)]
    fp = PolygonSetBuilder(2)
    for d in blds:
        fp.add_object([d["rings"]])
    ids = draw(st.lists(st.text(min_size=1, max_size=8), min_size=nb + 2, max_size=nb + 2,
                        unique=True))
    b = Buildings(
        ids=_obj(ids[:nb]), footprint=fp.build(),
        base_height=np.array([d["base"] for d in blds]),
        roof_height=np.array([d["roof"] for d in blds]),
        storeys=np.array([d["storeys"] for d in blds], np.int32),
        use=_obj([d["use"] for d in blds]), floor_area=np.array([d["floor_area"] for d in blds]),
        residents=np.array([d["residents"] for d in blds]),
        jobs=np.array([d["jobs"] for d in blds]), lod=np.ones(nb, np.float32),
        surfaces=PolygonSetBuilder(3).build() if nb == 0 else _empty_surfaces(nb),
        attributes=Attributes.from_dicts([d["attrs"] for d in blds]), parts=_obj([None] * nb))
    site_xyz = np.array([[draw(st.floats(499000, 501000)), draw(st.floats(3499000, 3501000)),
                          draw(st.floats(-5, 50))] for _ in range(2)])
    sites = Sites(_obj(ids[nb:]), _obj(["shelter", "sensor"]), _obj(["", "s"]), site_xyz,
                  np.array([draw(st.floats(0, 1e4)), np.nan]),
                  Attributes.from_dicts([draw(_attrs), draw(_attrs)]))
    return CityModel(buildings=b, sites=sites, crs=pyproj.CRS("EPSG:4549"),
                     metadata={"title": draw(st.text(max_size=10))})


def _empty_surfaces(n):
    s = PolygonSetBuilder(3)
    for _ in range(n):
        s.add_object([])
    return s.build()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(city=_models())
def test_round_trip_property(tmp_path, city):
    out = cim.write_cityjson(city, tmp_path / "p.city.json")
    check_cityjson(json.loads(out.read_text()))
    back = cim.load(out)
    assert_same(city, back)
    assert back.report.n_skipped == 0


def test_signal_plan_with_phase_roads_round_trips(tmp_path):
    import cim
    from cim.model import CityModel
    from cim.roads import RoadNetworkBuilder

    b = RoadNetworkBuilder()
    b.add_segment("r1", "a", "b", [[0, 0], [100, 0]], name="Main", cls="primary")
    b.add_segment("r2", "c", "b", [[100, -80], [100, 0]], name="Side", cls="tertiary")
    plan = {"cycle_s": 90.0, "offset_s": 5.0, "green_s": [50.0, 32.0], "yellow_s": 4.0,
            "phase_roads": [["Main"], ["Side"]]}
    b.set_signal("b", plan)
    path = cim.write_cityjson(CityModel(roads=b.build()), tmp_path / "sig.city.json")
    back = cim.load(path).roads
    i = list(back.node_ids).index("b")
    assert back.node_signal[i] and back.node_signal_plan[i] == plan
