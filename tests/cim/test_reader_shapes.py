"""Readers on file shapes seen in real data: LoD1 solids without semantics next to
MultiSurface roads/land use/bridges (CityJSON), bz2 input and output."""

from __future__ import annotations

import bz2
import json

import numpy as np
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
