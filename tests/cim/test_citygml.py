"""CityGML 2.0 / 3.0 reader: hand-written corner cases and the citygml4j reference samples."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest

import cim
from cim.geometry import SURFACE_CODE

VALIDATION = Path(__file__).resolve().parents[2].parent / "shared" / "validation" / "cim" / "citygml"

NS2 = ('xmlns="http://www.opengis.net/citygml/2.0" xmlns:gml="http://www.opengis.net/gml" '
       'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" '
       'xmlns:gen="http://www.opengis.net/citygml/generics/2.0" '
       'xmlns:xlink="http://www.w3.org/1999/xlink"')
NS3 = ('xmlns="http://www.opengis.net/citygml/3.0" xmlns:gml="http://www.opengis.net/gml/3.2" '
       'xmlns:bldg="http://www.opengis.net/citygml/building/3.0" '
       'xmlns:con="http://www.opengis.net/citygml/construction/3.0" '
       'xmlns:gen="http://www.opengis.net/citygml/generics/3.0" '
       'xmlns:xlink="http://www.w3.org/1999/xlink"')


def ring(pts, tag="posList"):
    if tag == "pos":
        inner = "".join(f"<gml:pos>{' '.join(map(str, p))}</gml:pos>" for p in pts)
    else:
        inner = f"<gml:posList srsDimension=\"3\">{' '.join(str(c) for p in pts for c in p)}</gml:posList>"
    return f"<gml:LinearRing>{inner}</gml:LinearRing>"


def polygon(ext, holes=(), gid=None, tag="posList"):
    a = f' gml:id="{gid}"' if gid else ""
    h = "".join(f"<gml:interior>{ring(r, tag)}</gml:interior>" for r in holes)
    return f"<gml:Polygon{a}><gml:exterior>{ring(ext, tag)}</gml:exterior>{h}</gml:Polygon>"


def box_faces(x0, y0, x1, y1, z0, z1):
    """Return {semantic: [closed outward rings]} of an axis-aligned box."""
    g = [(x0, y0, z0), (x0, y1, z0), (x1, y1, z0), (x1, y0, z0), (x0, y0, z0)]
    r = [(x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1), (x0, y0, z1)]
    walls = [
        [(x0, y0, z0), (x1, y0, z0), (x1, y0, z1), (x0, y0, z1), (x0, y0, z0)],
        [(x1, y0, z0), (x1, y1, z0), (x1, y1, z1), (x1, y0, z1), (x1, y0, z0)],
        [(x1, y1, z0), (x0, y1, z0), (x0, y1, z1), (x1, y1, z1), (x1, y1, z0)],
        [(x0, y1, z0), (x0, y0, z0), (x0, y0, z1), (x0, y1, z1), (x0, y1, z0)],
    ]
    return {"GroundSurface": [g], "RoofSurface": [r], "WallSurface": walls}


def boundary2(faces, lod=2, ids=None):
    out = []
    for sem, rings in faces.items():
        for k, rg in enumerate(rings):
            gid = None if ids is None else f"{ids}-{sem}-{k}"
            out.append(f"<bldg:boundedBy><bldg:{sem}><bldg:lod{lod}MultiSurface><gml:MultiSurface>"
                       f"<gml:surfaceMember>{polygon(rg, gid=gid)}</gml:surfaceMember>"
                       f"</gml:MultiSurface></bldg:lod{lod}MultiSurface></bldg:{sem}></bldg:boundedBy>")
    return "".join(out)


def doc2(body, srs=' srsName="EPSG:4549"'):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<CityModel {NS2}>\n'
            f'<gml:boundedBy><gml:Envelope{srs}><gml:lowerCorner>0 0 0</gml:lowerCorner>'
            f'<gml:upperCorner>1 1 1</gml:upperCorner></gml:Envelope></gml:boundedBy>\n'
            f'{body}\n</CityModel>\n')


def member(inner):
    return f"<cityObjectMember>{inner}</cityObjectMember>\n"


def write(tmp_path, text, name="city.gml"):
    p = tmp_path / name
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        p.write_text(text, encoding="utf-8")
    return p


def volume(ps, i):
    """Closed-surface signed volume (m³) of object i: divergence theorem with Newell normals."""
    v = 0.0
    for rings in ps.polygons_of(i):
        def newell(r):
            r = r - r[0]
            return 0.5 * np.cross(r, np.roll(r, -1, axis=0)).sum(axis=0)
        n = newell(rings[0])
        for h in rings[1:]:
            nh = newell(h)
            n = n - (nh if np.dot(nh, n) > 0 else -nh)
        v += float(np.dot(rings[0][0], n)) / 3.0
    return v


def surface_area(ps, i):
    a = 0.0
    for rings in ps.polygons_of(i):
        def newell(r):
            r = r - r[0]
            return 0.5 * np.cross(r, np.roll(r, -1, axis=0)).sum(axis=0)
        a += np.linalg.norm(newell(rings[0])) - sum(np.linalg.norm(newell(h)) for h in rings[1:])
    return a


# ---- hand-written files ----------------------------------------------------------------

def test_citygml2_box_with_attributes(tmp_path):
    b = ('<bldg:Building gml:id="B1"><gml:name>Town hall</gml:name>'
         '<bldg:function>1000</bldg:function><bldg:measuredHeight uom="m">6</bldg:measuredHeight>'
         '<bldg:storeysAboveGround>2</bldg:storeysAboveGround>'
         '<gen:stringAttribute name="owner"><gen:value>city</gen:value></gen:stringAttribute>'
         '<gen:intAttribute name="residents"><gen:value>12</gen:value></gen:intAttribute>'
         '<gen:doubleAttribute name="ratio"><gen:value>0.5</gen:value></gen:doubleAttribute>'
         + boundary2(box_faces(0, 0, 10, 5, 2, 8)) + "</bldg:Building>")
    city = cim.load(write(tmp_path, doc2(member(b))))
    bl = city.buildings
    assert len(bl) == 1 and bl.ids[0] == "B1"
    assert city.crs.to_epsg() == 4549
    assert bl.base_height[0] == 2 and bl.roof_height[0] == 8 and bl.lod[0] == 2
    assert bl.storeys[0] == 2 and bl.use[0] == "residential"
    assert bl.floor_area[0] == pytest.approx(100.0)
    assert bl.residents[0] == 12
    assert bl.footprint.areas()[0] == pytest.approx(50.0)
    assert bl.surfaces.n_polygons == 6
    assert volume(bl.surfaces, 0) == pytest.approx(300.0)
    attrs = bl.attributes.row(0)
    assert attrs["owner"] == "city" and attrs["ratio"] == 0.5 and attrs["name"] == "Town hall"
    assert attrs["measuredHeight"] == 6.0


def test_citygml3_boundary_xlink_solid_pos_and_hole(tmp_path):
    """3.0: boundary surfaces, a lod2Solid referencing them (not counted twice), gml:pos
    coordinates, an interior ring, 3.0 height and generic attributes."""
    f = box_faces(0, 0, 10, 10, 0, 3)
    hole = [(4, 4, 0), (6, 4, 0), (6, 6, 0), (4, 6, 0), (4, 4, 0)]  # opposite to the ground
    parts, refs = [], []
    for sem, rings in f.items():
        for k, rg in enumerate(rings):
            gid = f"P-{sem}-{k}"
            refs.append(f'<gml:surfaceMember xlink:href="#{gid}"/>')
            holes = [hole] if sem == "GroundSurface" else []
            parts.append(f"<boundary><con:{sem}><lod2MultiSurface><gml:MultiSurface><gml:surfaceMember>"
                         f"{polygon(rg, holes, gid=gid, tag='pos')}</gml:surfaceMember></gml:MultiSurface>"
                         f"</lod2MultiSurface></con:{sem}></boundary>")
    solid = ("<lod2Solid><gml:Solid><gml:exterior><gml:Shell>" + "".join(refs)
             + "</gml:Shell></gml:exterior></gml:Solid></lod2Solid>")
    b = ('<bldg:Building gml:id="B3">' + "".join(parts) + solid
         + '<genericAttribute><gen:IntAttribute><gen:name>jobs</gen:name><gen:value>7</gen:value>'
           '</gen:IntAttribute></genericAttribute>'
           '<con:height><con:Height><con:highReference>highestRoofEdge</con:highReference>'
           '<con:lowReference>lowestGroundPoint</con:lowReference><con:status>measured</con:status>'
           '<con:value uom="m">3</con:value></con:Height></con:height>'
           '<bldg:usage>office</bldg:usage></bldg:Building>')
    text = (f'<?xml version="1.0"?>\n<CityModel {NS3}>' + member(b) + "</CityModel>")
    city = cim.load(write(tmp_path, text, "v3.gml.gz"))
    bl = city.buildings
    assert len(bl) == 1 and bl.surfaces.n_polygons == 6  # not 12: the solid only refers
    assert city.crs is None and any("no srsName" in n for n in city.report.notes)
    assert bl.footprint.areas()[0] == pytest.approx(96.0)  # 100 − 4 (hole)
    assert bl.footprint.ring_count()[0] == 2
    assert bl.jobs[0] == 7 and bl.use[0] == "office"
    assert bl.attributes.row(0)["measuredHeight"] == 3.0
    assert city.metadata["source_format"] == "CityGML 3.0"


def test_building_parts_are_merged(tmp_path):
    part = ('<bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="B1-p2">'
            '<bldg:storeysAboveGround>4</bldg:storeysAboveGround>'
            + boundary2(box_faces(10, 0, 14, 4, 0, 12)) +
            '</bldg:BuildingPart></bldg:consistsOfBuildingPart>')
    b = ('<bldg:Building gml:id="B1"><bldg:storeysAboveGround>2</bldg:storeysAboveGround>'
         + boundary2(box_faces(0, 0, 10, 10, 0, 6)) + part + "</bldg:Building>")
    b2 = '<bldg:Building gml:id="B2">' + boundary2(box_faces(30, 0, 35, 5, 0, 9)) + "</bldg:Building>"
    city = cim.load(write(tmp_path, doc2(member(b) + member(b2))))
    bl = city.buildings
    assert len(bl) == 2 and list(bl.ids) == ["B1", "B2"]
    assert bl.parts[0] == ("B1-p2",) and bl.parts[1] is None
    assert bl.footprint.n_polygons == 3 and bl.roof_height[0] == 12
    assert bl.floor_area[0] == pytest.approx(100 * 2 + 16 * 4)
    assert bl.storeys[1] == -1 and bl.floor_area[1] == pytest.approx(25 * 3)  # 9 m / 3 m
    assert bl.surfaces.n_polygons == 18


def test_lod1_solid_and_footprint_fallbacks(tmp_path):
    f = box_faces(0, 0, 4, 5, 1, 5)
    members = "".join(f"<gml:surfaceMember>{polygon(r)}</gml:surfaceMember>"
                      for rings in f.values() for r in rings)
    b = ('<bldg:Building gml:id="L1"><bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface>'
         + members + '</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid></bldg:Building>')
    bl = cim.load(write(tmp_path, doc2(member(b)))).buildings
    assert bl.lod[0] == 1 and bl.base_height[0] == 1 and bl.roof_height[0] == 5
    assert bl.footprint.areas()[0] == pytest.approx(20.0)  # the lowest horizontal face
    assert np.all(bl.surfaces.semantics == -1)


def test_xlink_forward_reference_to_later_object(tmp_path):
    f = box_faces(0, 0, 2, 2, 0, 2)
    refs = "".join(f'<gml:surfaceMember xlink:href="#S{k}"/>' for k in range(6))
    b = ('<bldg:Building gml:id="B"><bldg:lod2MultiSurface><gml:MultiSurface>' + refs
         + '</gml:MultiSurface></bldg:lod2MultiSurface></bldg:Building>')
    polys = "".join(f"<gml:surfaceMember>{polygon(r, gid=f'S{k}')}</gml:surfaceMember>"
                    for k, r in enumerate(r for rings in f.values() for r in rings))
    other = ('<gen:GenericCityObject gml:id="G"><gen:lod2Geometry><gml:MultiSurface>' + polys
             + '</gml:MultiSurface></gen:lod2Geometry></gen:GenericCityObject>')
    city = cim.load(write(tmp_path, doc2(member(b) + member(other))))
    assert len(city.buildings) == 1 and city.buildings.surfaces.n_polygons == 6
    assert volume(city.buildings.surfaces, 0) == pytest.approx(8.0)
    assert any("GenericCityObject" in n for n in city.report.notes)


# ---- errors ----------------------------------------------------------------------------

def _bad_building(inner_polygon, gid="BAD"):
    return member(f'<bldg:Building gml:id="{gid}"><bldg:boundedBy><bldg:RoofSurface>'
                  f'<bldg:lod2MultiSurface><gml:MultiSurface><gml:surfaceMember>{inner_polygon}'
                  f'</gml:surfaceMember></gml:MultiSurface></bldg:lod2MultiSurface>'
                  f'</bldg:RoofSurface></bldg:boundedBy></bldg:Building>')


GOOD = member('<bldg:Building gml:id="OK">' + boundary2(box_faces(0, 0, 1, 1, 0, 1)) + "</bldg:Building>")


@pytest.mark.parametrize("bad, error, text", [
    (_bad_building("<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 0 1 0 0 1 1 0 0 1 0"
                   "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"),
     cim.GeometryError, "not closed"),
    (_bad_building("<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 0 1 0 0 0 0 0 0 0 0"
                   "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"),
     cim.GeometryError, "distinct"),
    (_bad_building("<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 0 1 0 NaN 1 1 0 0 0 0"
                   "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"),
     cim.GeometryError, "NaN"),
    (_bad_building("<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 0 1 0 0 1 1"
                   "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"),
     cim.GeometryError, "multiple"),
    (_bad_building('<gml:OrientableSurface orientation="-">'
                   '<gml:baseSurface xlink:href="#nowhere"/></gml:OrientableSurface>'),
     cim.MissingReferenceError, "#nowhere"),
    (member('<bldg:Building gml:id="NEG"><bldg:measuredHeight>-3</bldg:measuredHeight>'
            + boundary2(box_faces(0, 0, 1, 1, 0, 1)) + "</bldg:Building>"),
     cim.ValueRangeError, "measuredHeight"),
    (member('<bldg:Building gml:id="9lives">' + boundary2(box_faces(0, 0, 1, 1, 0, 1))
            + "</bldg:Building>"), cim.SchemaError, "gml:id"),
])
def test_bad_building_strict_and_lenient(tmp_path, bad, error, text):
    path = write(tmp_path, doc2(GOOD + bad))
    with pytest.raises(error, match=text) as ei:
        cim.load(path)
    assert ei.value.path == str(path) and ei.value.line is not None and ei.value.obj_id
    city = cim.load(path, lenient=True)
    assert list(city.buildings.ids) == ["OK"]
    assert city.report.n_skipped == 1 and isinstance(city.report.skipped[0], error)


def test_malformed_xml_has_line(tmp_path):
    path = write(tmp_path, doc2(GOOD + "<cityObjectMember><bldg:Building>\n</cityObjectMember>"))
    with pytest.raises(cim.FormatError, match="malformed XML") as ei:
        cim.load(path)
    assert ei.value.line is not None and ei.value.line > 1


def test_unknown_crs(tmp_path):
    path = write(tmp_path, doc2(GOOD, srs=' srsName="EPSG:99999999"'))
    with pytest.raises(cim.CRSError):
        cim.load(path)
    city = cim.load(path, lenient=True)
    assert city.crs is None and city.report.skipped_by_kind() == {"unknown CRS": 1}


@pytest.mark.parametrize("doctype, entity", [
    # billion laughs: must be refused, never expanded
    ('<!DOCTYPE CityModel [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
     '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
     "d"),
    # external entity (XXE)
    ('<!DOCTYPE CityModel [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "xxe"),
])
def test_entity_declarations_are_refused(tmp_path, doctype, entity):
    body = GOOD.replace('gml:id="OK">', f'gml:id="OK"><gml:name>&{entity};</gml:name>')
    text = doc2(body).replace("\n<CityModel", "\n" + doctype + "\n<CityModel", 1)
    path = write(tmp_path, text)
    for lenient in (False, True):
        with pytest.raises(cim.FormatError, match="entit"):
            cim.load(path, lenient=lenient)


# ---- official samples ------------------------------------------------------------------

needs_samples = pytest.mark.skipif(not VALIDATION.is_dir(),
                                   reason=f"validation samples not found at {VALIDATION}")


@needs_samples
@pytest.mark.parametrize("name", ["fzk_lod2_100buildings_citygml2.gml",
                                  "fzk_lod2_100buildings_citygml3.gml"])
def test_fzk_100_buildings_match_expected(name):
    city = cim.load(VALIDATION / name)
    bl = city.buildings
    with open(VALIDATION / "fzk_lod2_100buildings_expected.csv") as f:
        expected = {r["building_id"]: r for r in csv.DictReader(f)}
    assert len(bl) == 100 and set(bl.ids) == set(expected)
    for i, bid in enumerate(bl.ids):
        e = expected[bid]
        assert bl.base_height[i] == pytest.approx(float(e["z_min"]))
        assert bl.roof_height[i] == pytest.approx(float(e["z_max"]))
        n0, n1 = bl.surfaces.object_offsets[i], bl.surfaces.object_offsets[i + 1]
        assert n1 - n0 == int(e["n_polygons"])
        assert surface_area(bl.surfaces, i) == pytest.approx(float(e["surface_area_m2"]), abs=1e-3)
        assert volume(bl.surfaces, i) == pytest.approx(float(e["solid_volume_m3"]), abs=1e-3)
    assert np.all(bl.lod == 2) and np.all(bl.footprint.areas() > 0)
    assert np.isin(bl.surfaces.semantics, [SURFACE_CODE[s] for s in
                                           ("GroundSurface", "WallSurface", "RoofSurface")]).all()


@needs_samples
def test_lod4_building_loads():
    city = cim.load(VALIDATION / "lod4_building_citygml2.gml")
    bl = city.buildings
    assert len(bl) == 1 and bl.lod[0] == 4
    assert city.crs is not None and "UTM zone 32N" in city.crs.name
    assert bl.base_height[0] == 112 and bl.roof_height[0] == 117
    assert bl.footprint.areas()[0] == pytest.approx(50.0)
    sem = set(bl.surfaces.semantics.tolist())
    assert {SURFACE_CODE["Window"], SURFACE_CODE["Door"]} <= sem
    assert SURFACE_CODE["InteriorWallSurface"] not in sem  # rooms are not the outer shell
    assert any("ReliefFeature" in n for n in city.report.notes)
    assert any("interiorRoom" in n for n in city.report.notes)


@needs_samples
def test_ade_sample_loads_and_notes_ade():
    city = cim.load(VALIDATION / "lod2_test_ade_citygml2.gml")
    bl = city.buildings
    assert len(bl) == 1 and bl.surfaces.n_polygons == 7
    assert (bl.surfaces.semantics == SURFACE_CODE["RoofSurface"]).sum() == 2  # ADE roof subtype
    assert volume(bl.surfaces, 0) == pytest.approx(200.0)
    assert any("ADE content ignored" in n and "test:buildingUnit" in n for n in city.report.notes)


@needs_samples
def test_invalid_sample_strict_and_lenient():
    path = VALIDATION / "invalid_building_citygml3.gml"
    with pytest.raises(cim.SchemaError) as ei:
        cim.load(path)
    assert ei.value.obj_id == "1F3E679D-E226-4535-926C-7390977FB25A" and ei.value.line
    city = cim.load(path, lenient=True)
    assert len(city.buildings) == 0 and city.report.n_skipped == 1


def test_detect_by_content(tmp_path):
    path = write(tmp_path, doc2(GOOD), name="noext.xml")
    assert cim.detect_format(path) == "citygml"


def test_citygml3_building_part_and_filling_surface(tmp_path):
    f = box_faces(0, 0, 6, 6, 0, 3)
    win = [(1, 0, 1), (2, 0, 1), (2, 0, 2), (1, 0, 2), (1, 0, 1)]
    bnd = "".join(
        f"<boundary><con:{sem}><lod2MultiSurface><gml:MultiSurface><gml:surfaceMember>{polygon(r)}"
        f"</gml:surfaceMember></gml:MultiSurface></lod2MultiSurface>"
        + ("<con:fillingSurface><con:WindowSurface><lod3MultiSurface><gml:MultiSurface>"
           f"<gml:surfaceMember>{polygon(win)}</gml:surfaceMember></gml:MultiSurface>"
           "</lod3MultiSurface></con:WindowSurface></con:fillingSurface>" if k == 0 and sem == "WallSurface" else "")
        + f"</con:{sem}></boundary>" for sem, rings in f.items() for k, r in enumerate(rings))
    b = ('<bldg:Building gml:id="P"><bldg:buildingPart><bldg:BuildingPart gml:id="P-1">'
         + bnd + "</bldg:BuildingPart></bldg:buildingPart></bldg:Building>")
    text = f'<?xml version="1.0"?>\n<CityModel {NS3}>' + member(b) + "</CityModel>"
    bl = cim.load(write(tmp_path, text)).buildings
    assert len(bl) == 1 and bl.parts[0] == ("P-1",) and bl.lod[0] == 2
    assert bl.surfaces.n_polygons == 6  # the LoD3 window is not mixed into the LoD2 shell
    assert bl.roof_height[0] == 3 and bl.footprint.areas()[0] == pytest.approx(36)


def test_gml_coordinates_and_2d_rings(tmp_path):
    poly = ("<gml:Polygon><gml:exterior><gml:LinearRing><gml:coordinates>0,0 4,0 4,4 0,4 0,0"
            "</gml:coordinates></gml:LinearRing></gml:exterior></gml:Polygon>")
    b = ('<bldg:Building gml:id="F"><bldg:measuredHeight>9</bldg:measuredHeight>'
         '<bldg:lod0FootPrint><gml:MultiSurface><gml:surfaceMember>' + poly
         + '</gml:surfaceMember></gml:MultiSurface></bldg:lod0FootPrint></bldg:Building>')
    bl = cim.load(write(tmp_path, doc2(member(b)))).buildings
    assert bl.lod[0] == 0 and bl.roof_height[0] == 9 and bl.footprint.areas()[0] == 16
    assert bl.surfaces.n_polygons == 0
