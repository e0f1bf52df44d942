"""CityJSONSeq reader: streaming, per-feature vertices, root ids, errors, cjio interop."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cim
from cim.errors import FormatError, GeometryError, MissingReferenceError, SchemaError

from .cjtools import CRS_4549, VALIDATION, prism, square
from .test_cityjson import assert_same, sample_model

HEADER = {"type": "CityJSON", "version": "2.0",
          "transform": {"scale": [0.001, 0.001, 0.001], "translate": [1000.0, 2000.0, 0.0]},
          "metadata": {"referenceSystem": CRS_4549, "title": "seq"},
          "CityObjects": {}, "vertices": []}


def feature(fid, x0, height, *, part=False):
    """Return a CityJSONFeature: building ``fid`` (with one BuildingPart when ``part``)."""
    v: list = []
    g = prism(v, [square(x0, 0, x0 + 10, 10)], 0.0, height)
    objs = {fid: {"type": "Building", "geometry": [g], "attributes": {"storeysAboveGround": 2}}}
    if part:
        pg = prism(v, [square(x0 + 10, 0, x0 + 15, 10)], 0.0, height + 5)
        objs[fid]["children"] = [fid + "-p"]
        objs[fid + "-p"] = {"type": "BuildingPart", "parents": [fid], "geometry": [pg]}
    q = np.round((np.asarray(v) - [1000.0, 2000.0, 0.0]) / 0.001).astype(int).tolist()
    return {"type": "CityJSONFeature", "id": fid, "CityObjects": objs, "vertices": q}


def write_seq(tmp_path, lines, name="s.city.jsonl"):
    p = tmp_path / name
    p.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n"
                         for ln in lines))
    return p


def test_stream_of_features(tmp_path):
    p = write_seq(tmp_path, [HEADER, feature("a", 1000, 6), feature("b", 1020, 9, part=True),
                             feature("c", 1040, 3)])
    assert cim.detect_format(p) == "cityjsonseq"
    city = cim.load(p)
    b = city.buildings
    assert list(b.ids) == ["a", "b", "c"] and city.crs.to_epsg() == 4549
    assert b.roof_height.tolist() == [6, 14, 3] and b.parts[1] == ("b-p",)
    np.testing.assert_allclose(b.footprint.polygons_of(0)[0][0], square(1000, 0, 1010, 10))
    assert b.footprint.object_offsets.tolist() == [0, 1, 3, 4]
    assert city.metadata["title"] == "seq" and city.report.counts["features"] == 3


def test_feature_root_id_and_lenient(tmp_path):
    bad = feature("x", 1060, 5)
    bad["id"] = "ghost"
    lines = [HEADER, feature("a", 1000, 6), bad, feature("c", 1040, 3)]
    p = write_seq(tmp_path, lines)
    with pytest.raises(MissingReferenceError, match=r"s\.city\.jsonl:3 \[ghost\]"):
        cim.load(p)
    city = cim.load(p, lenient=True)
    assert list(city.buildings.ids) == ["a", "c"] and city.report.n_skipped == 1


def test_errors_name_line_and_object(tmp_path):
    p = write_seq(tmp_path, [HEADER, feature("a", 1000, 6), '{"type": "CityJSONFeature", }',
                             feature("c", 1040, 3)])
    with pytest.raises(FormatError, match=r"s\.city\.jsonl:3: .*malformed JSON"):
        cim.load(p)
    assert list(cim.load(p, lenient=True).buildings.ids) == ["a", "c"]
    f = feature("b", 1020, 4)
    f["CityObjects"]["b"]["geometry"][0]["boundaries"][0][0][0][0] = 99
    p = write_seq(tmp_path, [HEADER, feature("a", 1000, 6), f])
    with pytest.raises(GeometryError, match=r"\[b\].*vertex index 99"):
        cim.load(p)
    p = write_seq(tmp_path, [HEADER, {"type": "Feature", "id": "z"}])
    with pytest.raises(SchemaError, match=r":2 \[z\]"):
        cim.load(p)
    hdr = dict(HEADER, metadata={})
    del hdr["version"]
    with pytest.raises(SchemaError, match="version"):
        cim.load(write_seq(tmp_path, [hdr, feature("a", 1000, 6)]))


def test_pretty_printed_and_headerless(tmp_path):
    p = tmp_path / "pretty.city.jsonl"
    p.write_text(json.dumps(feature("a", 1000, 6), indent=2) + "\n"
                 + json.dumps(feature("b", 1020, 4), indent=1) + "\n")
    city = cim.load(p)  # no header: raw (quantized) coordinates, no CRS, with a note
    assert list(city.buildings.ids) == ["a", "b"] and city.crs is None
    assert any("no CityJSON header" in n for n in city.report.notes)
    p.write_text(json.dumps(feature("a", 1000, 6), indent=2)[:-3])
    with pytest.raises(FormatError, match=r"pretty\.city\.jsonl:\d+"):
        cim.load(p)


@pytest.mark.skipif(not VALIDATION.exists(), reason=f"validation data not found at {VALIDATION}")
def test_corpus_feature_cases():
    base = VALIDATION / "cityjson-corpus"
    ok = cim.load(base / "conformance" / "v2_0" / "cityjsonfeature_minimal" /
                  "cityjsonfeature_minimal.city.jsonl")
    assert list(ok.buildings.ids) == ["myid"]
    bad = base / "invalid" / "invalid_cityjsonfeature_root_id_unresolved" / \
        "invalid_cityjsonfeature_root_id_unresolved.city.jsonl"
    with pytest.raises(MissingReferenceError, match="missing-main-object"):
        cim.load(bad)
    assert cim.load(bad, lenient=True).report.n_skipped == 1


def test_cjio_export_reads_like_the_file(tmp_path):
    cjio = pytest.importorskip("cjio.cityjson")
    city = sample_model()
    out = cim.write_cityjson(city, tmp_path / "s.city.json")
    with open(out, encoding="utf-8") as f:
        cm = cjio.reader(f)
    seq = tmp_path / "s.city.jsonl"
    seq.write_text(cm.export2jsonl().getvalue())
    back = cim.load(seq)
    direct = cim.load(out)
    assert set(back.buildings.ids) == set(direct.buildings.ids)
    order = [back.buildings.index_of(i) for i in direct.buildings.ids]
    b = back.buildings.select(order)
    np.testing.assert_allclose(b.roof_height, direct.buildings.roof_height, atol=1e-3)
    np.testing.assert_allclose(b.footprint.areas(), direct.buildings.footprint.areas(),
                               rtol=1e-6)
    assert_same(direct, cim.load(out))
