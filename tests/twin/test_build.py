"""twin.build meshes: LoD1 solids (holes, concave), LoD2 surfaces, picking, layers."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st

import twin
from cim.geometry import PolygonSet
from cim.model import Attributes, Buildings, CityModel, _obj
from tests.twin.test_build_cities import FOOTPRINT_AREA, X0, Y0, gabled_house, make_city
from twin.build.triangulate import triangulate


@pytest.fixture(scope="module")
def tw():
    return twin.build(make_city())


def top_face_at(mesh, xy) -> int:
    """Return the index of the highest face above local point ``xy`` (a vertical ray cast
    from above), −1 if none."""
    tri = mesh.triangles
    a, b, c = tri[:, 0, :2], tri[:, 1, :2], tri[:, 2, :2]
    p = np.asarray(xy, float)[:2]
    d = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
    ok = np.abs(d) > 1e-12
    d = np.where(ok, d, 1.0)
    l1 = ((b[:, 1] - c[:, 1]) * (p[0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (p[1] - c[:, 1])) / d
    l2 = ((c[:, 1] - a[:, 1]) * (p[0] - c[:, 0]) + (a[:, 0] - c[:, 0]) * (p[1] - c[:, 1])) / d
    l3 = 1 - l1 - l2
    inside = ok & (l1 >= 0) & (l2 >= 0) & (l3 >= 0)
    if not inside.any():
        return -1
    z = l1 * tri[:, 0, 2] + l2 * tri[:, 1, 2] + l3 * tri[:, 2, 2]
    return int(np.flatnonzero(inside)[np.argmax(z[inside])])


def object_mesh(layer, i) -> trimesh.Trimesh:
    v, f, _ = layer.object_arrays(i)
    return trimesh.Trimesh(v, f, process=False)


def test_lod1_solids_are_watertight_with_exact_volume(tw):
    b = tw.layers["buildings"]
    city = tw.city
    for i, bid in enumerate(b.object_ids):
        m = object_mesh(b, i)
        assert m.is_watertight, bid
        assert m.is_winding_consistent, bid
        if bid in FOOTPRINT_AREA:
            h = city.buildings.height[i]
            assert m.volume == pytest.approx(FOOTPRINT_AREA[bid] * h, rel=1e-3), bid
    assert b.mesh.is_watertight and b.mesh.volume > 0   # outward normals: positive volume


def test_courtyard_hole_is_open_and_lshape_is_not_filled(tw):
    b = tw.layers["buildings"]
    for bid, area in (("court", 800.0), ("ell", 500.0)):
        m = object_mesh(b, list(b.object_ids).index(bid))
        up = m.face_normals[:, 2] > 0.99
        assert m.area_faces[up].sum() == pytest.approx(area)
    court = object_mesh(b, list(b.object_ids).index("court"))
    assert top_face_at(court, tw.to_local([X0 + 55, Y0 + 15])) == -1
    assert top_face_at(court, tw.to_local([X0 + 45, Y0 + 15])) >= 0


def test_walls_face_outwards(tw):
    b = tw.layers["buildings"]
    m = object_mesh(b, list(b.object_ids).index("box"))
    walls = np.abs(m.face_normals[:, 2]) < 1e-9
    centre = m.vertices.mean(axis=0)
    out = m.triangles_center[walls] - centre
    assert np.all(np.einsum("ij,ij->i", out, m.face_normals[walls]) > 0)


def test_lod2_surfaces_keep_their_area_and_close(tw):
    b = tw.layers["buildings"]
    _, _, _, area = gabled_house()
    m = object_mesh(b, list(b.object_ids).index("house"))
    assert m.area == pytest.approx(area, rel=1e-9)
    assert m.is_watertight and m.volume == pytest.approx(10 * 8 * 6 + 10 * 8 * 3 / 2)
    assert tw.info["buildings"]["lod2_buildings"] == 1


def test_lod1_option_extrudes_lod2_buildings_too():
    t1 = twin.build(make_city(), lod=1)
    b = t1.layers["buildings"]
    m = object_mesh(b, list(b.object_ids).index("house"))
    assert m.volume == pytest.approx(80 * 9)


def test_pick_finds_the_building_under_a_ray(tw):
    b = tw.layers["buildings"]
    mesh = b.mesh
    for bid, (x, y) in {"box": (5, 10), "court": (45, 5), "ell": (20, 45),
                        "twin_towers": (100, 5), "house": (45, 52)}.items():
        face = top_face_at(mesh, tw.to_local([X0 + x, Y0 + y]))
        assert face >= 0
        assert tw.pick("buildings", face) == bid
    faces = np.arange(len(mesh.faces))
    ids = tw.pick("buildings", faces)
    assert ids.shape == faces.shape
    assert set(ids) == set(b.object_ids)
    with pytest.raises(IndexError):
        tw.pick("buildings", len(mesh.faces))
    with pytest.raises(KeyError, match="layers"):
        tw.pick("parks", 0)


def test_layers_and_origin(tw):
    assert set(tw.layers) == {"buildings", "roads", "water", "terrain", "sites"}
    assert tw.origin.tolist() == [499_900.0, 3_479_700.0, 0.0]
    # meshes are local: small numbers; to_world brings them back
    b = tw.layers["buildings"].mesh
    assert np.abs(b.vertices[:, :2]).max() < 1000
    assert tw.to_world(b.vertices).min(axis=0)[0] == pytest.approx(X0)
    # roads: one ribbon per undirected segment, above the terrain
    r = tw.layers["roads"]
    assert r.n_objects == 8 and "de" in set(r.object_ids)
    ground = tw.city.terrain.sample(*tw.to_world(r.mesh.vertices[:, :2]).T)
    assert np.nanmin(r.mesh.vertices[:, 2] - ground) > 0
    assert np.all(r.mesh.face_normals[:, 2] > 0.9)
    # water: lake with an island (hole) at its own level
    w = tw.layers["water"].mesh
    assert w.area == pytest.approx(110 * 80 - 100)
    assert np.allclose(w.vertices[:, 2], 3.0)
    # terrain: NaN cells dropped, the rest meshed
    t = tw.layers["terrain"].mesh
    assert np.isfinite(t.vertices).all() and len(t.vertices) == 40 * 40 - 9
    assert tw.pick("terrain", 0) == "terrain"
    # sites: one closed pin each, tip on the ground
    s = tw.layers["sites"]
    assert list(s.object_ids) == ["fs1", "h1", "s1"]
    assert s.mesh.is_watertight


def test_progress_and_timings(capsys):
    t = twin.build(make_city(with_terrain=False), progress=True)
    assert "twin.build" in capsys.readouterr().err
    assert t.info["timings_s"]["total"] > 0
    assert len(t.layers["terrain"].mesh.faces) == 0


def test_geographic_city_is_built_in_metric():
    # (without terrain: CityModel.to_crs keeps a DEM's cell size in CRS units)
    city = make_city(with_terrain=False).to_crs("EPSG:4326")
    t = twin.build(city)
    assert t.crs.to_epsg() == 4549
    b = t.layers["buildings"]
    m = object_mesh(b, list(b.object_ids).index("box"))
    assert m.volume == pytest.approx(200 * 15, rel=1e-3)


def test_empty_city_builds():
    t = twin.build(CityModel())
    assert all(len(layer.mesh.faces) == 0 for layer in t.layers.values())
    assert t.summary()["counts"]["buildings"] == 0


def test_missing_heights_are_filled():
    city = make_city()
    city.buildings.roof_height[0] = np.nan
    city.buildings.storeys[0] = 4
    t = twin.build(city)
    m = object_mesh(t.layers["buildings"], 0)
    assert m.volume == pytest.approx(200 * 12)
    assert t.info["buildings"]["heights_filled"] == 1


# ---- many random buildings ------------------------------------------------------------------

def star_polygon(rng, n_vertices, r_min=0.3, hole=False):
    """Return rings of a random star-shaped (often concave) polygon around the origin, with an
    optional square hole around the origin that fits inside it; orientation random."""
    k = np.arange(n_vertices)
    ang = 2 * np.pi * (k + rng.uniform(0, 0.45, n_vertices)) / n_vertices
    rad = rng.uniform(r_min, 1.0, n_vertices) * 20
    ring = np.column_stack([rad * np.cos(ang), rad * np.sin(ang)])
    if rng.random() < 0.5:
        ring = ring[::-1]
    rings = [ring]
    if hole:
        clearance = shapely.Polygon(ring).exterior.distance(shapely.Point(0, 0))
        s = 0.6 * clearance / np.sqrt(2)
        rings.append(np.array([(-s, -s), (s, -s), (s, s), (-s, s)]))
    return rings


def buildings_from(polys, heights) -> Buildings:
    """Return Buildings (one polygon each) from lists of rings, base 0."""
    verts, ring_len, poly_rings = [], [], []
    for i, rings in enumerate(polys):
        for r in rings:
            verts.append(r + (X0 + 50 * i, Y0))
            ring_len.append(len(r))
        poly_rings.append(len(rings))
    n = len(polys)
    fp = PolygonSet(np.concatenate(verts), np.concatenate([[0], np.cumsum(ring_len)]),
                    np.concatenate([[0], np.cumsum(poly_rings)]), np.arange(n + 1),
                    np.full(n, -1, np.int16))
    return Buildings(_obj([f"r{i}" for i in range(n)]), fp, np.zeros(n), np.asarray(heights),
                     np.full(n, -1, np.int32), _obj(["other"] * n), np.full(n, np.nan),
                     np.zeros(n), np.zeros(n), np.ones(n, np.float32), PolygonSet.empty(n, 3),
                     Attributes(n, {}), _obj([None] * n))


def check_solids(city):
    t = twin.build(city)
    layer = t.layers["buildings"]
    expected = city.buildings.footprint.areas() * city.buildings.height
    assert layer.mesh.is_watertight and layer.mesh.is_winding_consistent
    vols = [object_mesh(layer, i).volume for i in range(layer.n_objects)]
    np.testing.assert_allclose(vols, expected, rtol=1e-3)


def test_many_random_buildings_in_one_build():
    rng = np.random.default_rng(3)
    polys = [star_polygon(rng, int(rng.integers(3, 14)), hole=bool(rng.random() < 0.3))
             for _ in range(300)]
    city = CityModel(buildings=buildings_from(polys, rng.uniform(3, 90, 300)),
                     crs=pyproj.CRS("EPSG:4549"))
    check_solids(city)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(3, 16), st.booleans(), st.floats(1.0, 200.0)),
                min_size=1, max_size=8),
       st.integers(0, 2**31 - 1))
def test_property_extrusion_volume(specs, seed):
    rng = np.random.default_rng(seed)
    polys = [star_polygon(rng, n, hole=h) for n, h, _ in specs]
    city = CityModel(buildings=buildings_from(polys, [z for _, _, z in specs]))
    check_solids(city)


def test_triangulate_is_exact_on_holes_and_orientation():
    xy = np.array([[0, 0], [0, 10], [10, 10], [10, 0], [3, 3], [6, 3], [6, 6], [3, 6]], float)
    tri, poly = triangulate(xy, np.array([0, 4, 8]), np.array([0, 2]))
    a, b, c = xy[tri[:, 0]], xy[tri[:, 1]], xy[tri[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    assert cross.sum() / 2 == pytest.approx(91.0)  # 10 x 10 square less the 3 x 3 hole
    assert np.all(cross > 0) and np.all(poly == 0)


def test_terrain_mesh_goes_below_water_the_dem_does_not_carve():
    city = make_city()
    city.terrain.z[:] = 5.0                              # above the lake surface (3 m)
    before = city.terrain.z.copy()
    t = twin.build(city)
    v = t.to_world(t.layers["terrain"].mesh.vertices)
    lake = shapely.Polygon([(X0 + 150, Y0), (X0 + 260, Y0), (X0 + 260, Y0 + 80),
                            (X0 + 150, Y0 + 80)])
    inside = shapely.contains_xy(lake, v[:, 0], v[:, 1])
    assert inside.sum() > 50
    assert np.all(v[inside, 2] <= 2.5 + 1e-9)
    far = ~shapely.contains_xy(lake.buffer(30), v[:, 0], v[:, 1])
    assert np.all(v[far, 2] == 5.0)
    np.testing.assert_array_equal(city.terrain.z, before)   # the DEM itself is untouched
