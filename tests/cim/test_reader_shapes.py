"""Readers on file shapes seen in real data: LoD1 solids without semantics next to
MultiSurface roads/land use/bridges (CityJSON), bz2 input and output."""

from __future__ import annotations

import bz2
import json

import numpy as np
import pyproj
import pytest
import shapely

import cim

from .cjtools import document


def _lod1_city(n_buildings=160, n_other=100) -> dict:
    """LoD1 Solids without semantic surfaces (every 7th with a sloped bottom, so no face is
    horizontal and the footprint falls back to the union of the projections) plus roads,
    land use and bridges as MultiSurface — more non-building objects than buildings."""
    verts: list = []
    objs = {}
    for i in range(n_buildings):
        x, tilt, b = i * 20.0, (0.3 if i % 7 == 0 else 0.0), len(verts)
        pts = [(x, 0.0), (x + 10, 0.0), (x + 10, 8.0), (x, 8.0)]
        verts += [[a, c, tilt * k] for k, (a, c) in enumerate(pts)]
        verts += [[a, c, 12.0] for a, c in pts]
        walls = [[[b + k, b + (k + 1) % 4, b + 4 + (k + 1) % 4, b + 4 + k]] for k in range(4)]
        objs[f"b{i}"] = {"type": "Building", "geometry": [{
            "type": "Solid", "lod": "1",
            "boundaries": [[[[b + 3, b + 2, b + 1, b]], [[b + 4, b + 5, b + 6, b + 7]]]
                           + walls]}]}

    def ms(x, y):
        b = len(verts)
        verts.extend([[x, y, 0], [x + 5, y, 0], [x + 5, y + 5, 0], [x, y + 5, 0]])
        return {"type": "MultiSurface", "lod": "1", "boundaries": [[[b, b + 1, b + 2, b + 3]]]}

    for i in range(n_other):
        objs[f"r{i}"] = {"type": "Road", "geometry": [ms(i * 10.0, 100.0)]}
        objs[f"l{i}"] = {"type": "LandUse", "geometry": [ms(i * 10.0, 200.0)]}
        objs[f"br{i}"] = {"type": "Bridge", "geometry": [ms(i * 10.0, 300.0)]}
    return document(objs, verts, scale=0.001)


def test_lod1_solids_without_semantics_and_multisurface_others(tmp_path):
    p = tmp_path / "lod1.city.json"
    p.write_text(json.dumps(_lod1_city()))
    city = cim.load(p)
    b = city.buildings
    assert len(b) == 160 and len(city.land_use) == 100 and len(city.others) == 200
    ref = shapely.box(0, 0, 10, 8).area  # every footprint is a 10 m x 8 m rectangle
    np.testing.assert_allclose(b.footprint.areas(), ref)
    # the fallback (sloped-bottom) buildings got their own footprint, not another row's
    for i in (0, 7, 154):
        (rings,) = b.footprint.polygons_of(i)
        assert np.allclose(rings[0][:, 0].min(), 20.0 * i)
    np.testing.assert_allclose(b.roof_height, 12.0)


def test_bz2_input(tmp_path):
    p = tmp_path / "lod1.city.json.bz2"
    p.write_bytes(bz2.compress(json.dumps(_lod1_city(10, 3)).encode()))
    assert cim.detect_format(p) == "cityjson"
    assert len(cim.load(p).buildings) == 10


def test_bz2_writers_round_trip(tmp_path):
    from cim.formats import esri_ascii
    from cim.model import Terrain

    src = tmp_path / "lod1.city.json"
    src.write_text(json.dumps(_lod1_city(5, 2)))
    city = cim.load(src)
    out = cim.write_cityjson(city, tmp_path / "out.city.json.bz2")
    assert out.read_bytes()[:3] == b"BZh"
    back = cim.load(out)
    np.testing.assert_allclose(back.buildings.footprint.areas(), city.buildings.footprint.areas())
    t = Terrain(np.arange(12.0).reshape(3, 4), 10.0, 20.0, 5.0)
    p = esri_ascii.write(t, tmp_path / "dem.asc.bz2", crs="EPSG:4549")
    assert (tmp_path / "dem.prj").is_file()
    dem = cim.load(p)
    np.testing.assert_array_equal(dem.terrain.z, t.z)
    assert dem.crs.to_epsg() == 4549


def _tokyo_city(lat_first: bool) -> dict:
    """One 4 m x 2.5 m LoD1 building near Tokyo Station in EPSG:6697 degrees (scale 1e-9°)."""
    from .cjtools import prism

    lat0, lon0, dlat, dlon = 35.681, 139.767, 2.5 / 110_940.0, 4.0 / 90_500.0
    ring = [(lon0, lat0), (lon0 + dlon, lat0), (lon0 + dlon, lat0 + dlat), (lon0, lat0 + dlat)]
    verts: list = []
    g = prism(verts, [ring], 3.0, 12.0, semantics=False)
    if lat_first:
        verts = [[y, x, z] for x, y, z in verts]
    return document({"b": {"type": "Building", "geometry": [g]}}, verts,
                    scale=[1e-9, 1e-9, 1e-3], translate=(0.0, 0.0, 0.0),
                    crs="https://www.opengis.net/def/crs/EPSG/0/6697")


def test_cityjson_geographic_metres_and_axis_order(tmp_path):
    geod = pyproj.Geod(ellps="GRS80")
    for lat_first in (False, True):
        p = tmp_path / f"tokyo{int(lat_first)}.city.json"
        p.write_text(json.dumps(_tokyo_city(lat_first)))
        city = cim.load(p)
        lon0, lat0, _, _ = city.bounds_wgs84()
        assert lon0 == pytest.approx(139.767, abs=1e-6) and lat0 == pytest.approx(35.681, abs=1e-6)
        b = city.buildings
        (rings,) = b.footprint.polygons_of(0)  # kept: 10 m² is ~1e-9 deg²
        area, _ = geod.polygon_area_perimeter(rings[0][:, 0], rings[0][:, 1])
        assert abs(area) == pytest.approx(10.0, rel=0.01)
        assert b.floor_area[0] == pytest.approx(3 * abs(area), rel=0.01)  # 9 m: 3 storeys
        assert any("swapped" in n for n in city.report.notes) == lat_first


def test_geojson_latitude_first_positions_are_swapped(tmp_path):
    lat0, lon0, d = 35.681, 139.767, 3e-5
    ring = [[lon0, lat0], [lon0 + d, lat0], [lon0 + d, lat0 + d], [lon0, lat0 + d],
            [lon0, lat0]]
    for lat_first in (False, True):
        r = [[b, a] for a, b in ring] if lat_first else ring
        doc = {"type": "FeatureCollection", "features": [{
            "type": "Feature", "id": "b", "properties": {"building": "yes", "height": 9},
            "geometry": {"type": "Polygon", "coordinates": [r]}}]}
        p = tmp_path / f"b{int(lat_first)}.geojson"
        p.write_text(json.dumps(doc))
        city = cim.load(p)
        lon_min, lat_min, _, _ = city.bounds_wgs84()
        assert (lon_min, lat_min) == pytest.approx((lon0, lat0))
        m = city.to_metric().buildings.footprint.areas()[0]
        assert city.buildings.floor_area[0] == pytest.approx(3 * m, rel=0.01)
