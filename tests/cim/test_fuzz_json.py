"""Fuzzing the JSON readers (CityJSON, CityJSONSeq, GeoJSON, pandapower JSON): mutated valid
files load or raise a CIMError naming the file (see :mod:`tests.cim.fuzztools`)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .cjtools import VALIDATION, document, prism, square
from .fuzztools import FUZZ, check_load, dump_json, json_mutation, write_case

_CORPUS = VALIDATION / "cityjson-corpus" / "conformance" / "v2_0"


def _cityjson_seed() -> dict:
    verts: list = []
    objs = {
        "b1": {"type": "Building", "attributes": {"measuredHeight": 9.0, "function": "office"},
               "children": ["b1p"], "geometry": [prism(verts, [square(0, 0, 10, 8)], 0, 9)]},
        "b1p": {"type": "BuildingPart", "parents": ["b1"],
                "geometry": [prism(verts, [square(10, 0, 14, 8)], 0, 6, lod="2")]},
        "b2": {"type": "Building", "geometry": [prism(verts, [square(20, 0, 30, 8)], 0, 12,
                                                      semantics=False)]},
        "lu": {"type": "LandUse", "attributes": {"function": "park"}, "geometry": [{
            "type": "MultiSurface", "lod": "1",
            "boundaries": [[[0, 1, 2, 3]]]}]},
        "r": {"type": "Road", "attributes": {"start_node": "n1", "end_node": "n2", "lanes": 2},
              "geometry": [{"type": "MultiLineString", "lod": "0",
                            "boundaries": [[4, 5]]}]},
    }
    return document(objs, verts, scale=0.001)


def _seeds_cityjson() -> list[dict]:
    seeds = [_cityjson_seed()]
    for case in ("cityjson_fake_complete", "geometry_instance", "semantic_complete",
                 "cityobject_building_address"):
        p = _CORPUS / case / f"{case}.city.json"
        if p.is_file():
            seeds.append(json.loads(p.read_text()))
    return seeds


CITYJSON = _seeds_cityjson()


@FUZZ
@given(data=st.data())
def test_fuzz_cityjson(data):
    seed = CITYJSON[data.draw(st.integers(0, len(CITYJSON) - 1))]
    tree = data.draw(json_mutation(seed))
    check_load(write_case(dump_json(tree), ".city.json"), lenient=data.draw(st.booleans()))


def _seq_lines() -> list[dict]:
    doc = _cityjson_seed()
    header = {k: v for k, v in doc.items() if k not in ("CityObjects", "vertices")}
    header.update(CityObjects={}, vertices=[])
    lines = [header]
    verts = doc["vertices"]
    for fid in ("b1", "b2"):
        objs = {fid: doc["CityObjects"][fid]}
        if fid == "b1":
            objs["b1p"] = doc["CityObjects"]["b1p"]
        lines.append({"type": "CityJSONFeature", "id": fid, "CityObjects": objs,
                      "vertices": verts})
    return lines


SEQ = _seq_lines()


@FUZZ
@given(data=st.data())
def test_fuzz_cityjsonseq(data):
    lines = [json.dumps(v) for v in SEQ]
    k = data.draw(st.integers(0, len(lines) - 1))
    lines[k] = dump_json(data.draw(json_mutation(SEQ[k])))
    if data.draw(st.booleans()):
        lines.insert(data.draw(st.integers(0, len(lines))), lines[data.draw(
            st.integers(0, len(lines) - 1))])  # a duplicated feature (duplicate ids)
    text = "\n".join(lines)
    if data.draw(st.integers(0, 4)) == 0:
        text = text[:data.draw(st.integers(0, len(text)))]
    check_load(write_case(text, ".city.jsonl"), lenient=data.draw(st.booleans()))


GEOJSON = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "id": "b1", "properties": {"building": "yes", "height": 12,
                                                   "building:levels": 4},
     "geometry": {"type": "Polygon", "coordinates": [[[120.30, 31.50], [120.3002, 31.50],
                                                      [120.3002, 31.5002], [120.30, 31.5002],
                                                      [120.30, 31.50]]]}},
    {"type": "Feature", "id": "r1", "properties": {"highway": "primary", "lanes": 2,
                                                   "oneway": "yes", "maxspeed": 50},
     "geometry": {"type": "LineString", "coordinates": [[120.30, 31.49], [120.31, 31.49]]}},
    {"type": "Feature", "id": "w1", "properties": {"natural": "water"},
     "geometry": {"type": "MultiPolygon", "coordinates": [[[[120.32, 31.5], [120.33, 31.5],
                                                            [120.33, 31.51], [120.32, 31.5]]]]}},
    {"type": "Feature", "id": "s1", "properties": {"kind": "hospital", "capacity": 300},
     "geometry": {"type": "Point", "coordinates": [120.305, 31.505]}},
]}


@FUZZ
@given(data=st.data())
def test_fuzz_geojson(data):
    tree = data.draw(json_mutation(GEOJSON))
    check_load(write_case(dump_json(tree), ".geojson"), lenient=data.draw(st.booleans()))


@functools.cache
def _pp_seed() -> dict | None:
    pp = pytest.importorskip("pandapower")
    p = Path(pp.__file__).parent / "networks" / "power_system_test_case_jsons" / "case9.json"
    if not p.is_file():
        return None
    doc = json.loads(p.read_text())
    for v in doc["_object"].values():  # tables are DataFrames serialized as JSON strings
        if isinstance(v, dict) and isinstance(v.get("_object"), str):
            try:
                v["_object"] = json.loads(v["_object"])
                v["__inner"] = True
            except ValueError:
                pass
    # warm up (imports, first-call compilation) outside the examples' deadline
    assert check_load(p) == "loaded"
    return doc


def _pp_dump(tree) -> str:
    obj = tree.get("_object") if isinstance(tree, dict) else None
    for v in (obj.values() if isinstance(obj, dict) else []):
        if isinstance(v, dict) and v.pop("__inner", False):
            v["_object"] = dump_json(v.get("_object"))
    return dump_json(tree)


@FUZZ
@given(data=st.data())
def test_fuzz_pandapower_json(data):
    seed = _pp_seed()
    if seed is None:
        pytest.skip("pandapower's case9.json not found")
    tree = data.draw(json_mutation(seed))
    text = _pp_dump(json.loads(json.dumps(tree)))
    if data.draw(st.integers(0, 5)) == 0:
        text = text[:data.draw(st.integers(0, len(text)))]
    check_load(write_case(text, ".json"), lenient=data.draw(st.booleans()))
