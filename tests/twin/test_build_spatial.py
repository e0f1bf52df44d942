"""The twin's spatial index: nearest road node, buildings near a point."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

import twin
from cim.model import CityModel
from cim.roads import RoadNetworkBuilder
from tests.twin.test_build import buildings_from, star_polygon
from tests.twin.test_build_cities import X0, Y0, make_city


@pytest.fixture(scope="module")
def tw():
    return twin.build(make_city(with_terrain=False))


def test_nearest_node_scalar_and_vectorised(tw):
    # nodes: a (0, -100) b (100, -100) c (200, -100) d (0, -200) e (100, -200) f (200, -200)
    assert tw.nearest_node(X0 + 5, Y0 - 95) == "a"
    ids, dist = tw.nearest_node([X0 + 90, X0 + 260], [Y0 - 190, Y0 - 100],
                                return_distance=True)
    assert list(ids) == ["e", "c"]
    np.testing.assert_allclose(dist, [np.hypot(10, 10), 60])


def test_nearest_node_against_brute_force():
    rng = np.random.default_rng(1)
    rb = RoadNetworkBuilder()
    pts = rng.uniform(0, 1000, (60, 2))
    for k in range(59):
        rb.add_segment(f"s{k}", f"n{k}", f"n{k + 1}", [pts[k], pts[k + 1]])
    t = twin.build(CityModel(roads=rb.build()))
    q = rng.uniform(-100, 1100, (500, 2))
    got = t.nearest_node(q[:, 0], q[:, 1])
    d = np.hypot(*(q[:, None, :] - t.city.roads.node_xy[None]).transpose(2, 0, 1))
    np.testing.assert_array_equal(got, t.city.roads.node_ids[np.argmin(d, axis=1)])


def test_buildings_within_by_footprint_and_centroid(tw):
    # 'box' spans x 0..10, y 0..20; 'ell' starts at y = 40
    assert list(tw.buildings_within(X0 + 5, Y0 + 10, 0)) == ["box"]
    assert list(tw.buildings_within(X0 + 5, Y0 + 25, 6)) == ["box"]
    near = tw.buildings_within(X0 + 5, Y0 + 30, 12)
    assert list(near) == ["box", "ell"]                 # nearest first
    # courtyard: a point in the hole is 5 m from the footprint
    assert list(tw.buildings_within(X0 + 55, Y0 + 15, 4.9)) == []
    assert list(tw.buildings_within(X0 + 55, Y0 + 15, 5.1)) == ["court"]
    # by centroid: box centroid is (5, 10)
    assert list(tw.buildings_within(X0 + 5, Y0 + 25, 14, exact=False)) == []
    assert list(tw.buildings_within(X0 + 5, Y0 + 25, 15.5, exact=False)) == ["box"]
    with pytest.raises(ValueError):
        tw.buildings_within(X0, Y0, -1)


def test_buildings_within_against_brute_force():
    rng = np.random.default_rng(5)
    polys = [star_polygon(rng, int(rng.integers(3, 10)), hole=bool(rng.random() < 0.3))
             for _ in range(80)]
    b = buildings_from(polys, np.full(80, 10.0))
    t = twin.build(CityModel(buildings=b, crs=pyproj.CRS("EPSG:4549")))
    geoms = [b.footprint.to_shapely(i) for i in range(80)]
    for _ in range(20):
        x, y = X0 + rng.uniform(-50, 4000), Y0 + rng.uniform(-60, 60)
        r = rng.uniform(0, 120)
        d = np.array([g.distance(shapely.Point(x, y)) for g in geoms])
        expected = set(b.ids[d <= r])
        assert set(t.buildings_within(x, y, r)) == expected
    centroids = t.spatial.building_centroids
    for i in (0, 17, 42):
        c = shapely.centroid(geoms[i])
        assert centroids[i] == pytest.approx([c.x, c.y])
