"""The crashes the fuzzers found, each as a fixed case: a CIMError naming the file."""

from __future__ import annotations

import json

import pytest

import cim

from .fuzztools import check_load, write_case
from .test_fuzz_json import GEOJSON, SEQ, _cityjson_seed, _pp_seed
from .test_fuzz_text import GRID

DEEP = "[" * 100_000 + "]" * 100_000


def _seq(lines) -> str:
    return "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines)


def _doc_with(path, value, seed):
    doc = json.loads(json.dumps(seed))
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


CASES = {
    "asc ncols nan": (GRID.replace("ncols 4", "ncols nan"), ".asc"),
    "cityjson header nested deeply": (
        json.dumps(_cityjson_seed()).replace('"CityJSON"', "__D__", 1).replace("__D__", DEEP),
        ".city.json"),
    "cityjsonseq line nested deeply": (_seq([SEQ[0], DEEP, SEQ[1]]), ".city.jsonl"),
    "cityjsonseq feature id a list": (
        _seq([SEQ[0], _doc_with(("id",), ["b1"], SEQ[1])]), ".city.jsonl"),
    "cityjson parents not a list": (
        json.dumps(_doc_with(("CityObjects", "b1p", "parents"), True, _cityjson_seed())),
        ".city.json"),
    "cityjson children hold a list": (
        json.dumps(_doc_with(("CityObjects", "b1", "children"), [["b1p"]], _cityjson_seed())),
        ".city.json"),
    "geojson MultiPolygon without coordinates": (
        json.dumps(_doc_with(("features", 2, "geometry", "coordinates"), None, GEOJSON)),
        ".geojson"),
    "geojson geometry type a list": (
        json.dumps(_doc_with(("features", 1, "geometry", "type"), [1], GEOJSON)), ".geojson"),
    "geojson nested deeply": (DEEP, ".geojson"),
    "geojson first position beyond float": (
        json.dumps(_doc_with(("features", 0, "geometry", "coordinates", 0, 0, 0), 10**400,
                             GEOJSON)), ".geojson"),
    "cityjson instance of templates without vertices": (json.dumps({
        **_cityjson_seed(), "geometry-templates": {
            "templates": [{"type": "MultiSurface", "lod": "1", "boundaries": [[[0, 1, 2]]]}],
            "vertices-templates": None},
        "CityObjects": {"t": {"type": "SolitaryVegetationObject", "geometry": [{
            "type": "GeometryInstance", "template": 0, "boundaries": [0],
            "transformationMatrix": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]}]}}}),
        ".city.json"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("lenient", [False, True])
def test_fixed_crash(name, lenient):
    text, suffix = CASES[name]
    p = write_case(text, suffix)
    outcome = check_load(p, lenient=lenient)
    if not lenient:
        assert outcome == "rejected"


def test_pandapower_index_beyond_int64():
    seed = _pp_seed()
    if seed is None:
        pytest.skip("pandapower's case9.json not found")
    doc = json.loads(json.dumps(seed))
    doc["_object"]["bus"]["_object"]["index"][0] = 2**64
    for v in doc["_object"].values():
        if isinstance(v, dict) and v.pop("__inner", False):
            v["_object"] = json.dumps(v["_object"])
    p = write_case(json.dumps(doc), ".json")
    with pytest.raises(cim.SchemaError, match="OverflowError") as ei:
        cim.load(p)
    assert str(p) in str(ei.value)
