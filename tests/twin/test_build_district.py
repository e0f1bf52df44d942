"""twin.build on a pilot district (skipped while the district assets are not generated)."""

from __future__ import annotations

import numpy as np
import pytest

import cim
import twin


@pytest.fixture(scope="module")
def lihu():
    try:
        city = cim.load_district("lihu")
    except cim.CIMError as e:
        pytest.skip(f"district not available: {e}")
    return twin.build(city)


def test_lihu_twin(lihu, tmp_path):
    city = lihu.city
    b = lihu.layers["buildings"]
    assert b.n_objects == len(city.buildings)
    assert b.mesh.is_watertight and b.mesh.is_winding_consistent
    lod1 = np.diff(city.buildings.surfaces.object_offsets) == 0
    expected = (city.buildings.footprint.areas() * city.buildings.height)[lod1].sum()
    if lod1.all():
        assert b.mesh.volume == pytest.approx(expected, rel=1e-3)
    # every face picks the building whose contiguous face range holds it
    faces = np.random.default_rng(0).integers(0, len(b.mesh.faces), 200)
    owners = np.searchsorted(b.face_offsets, faces, side="right") - 1
    assert list(lihu.pick("buildings", faces)) == list(b.object_ids[owners])
    s = lihu.summary()
    assert s["counts"]["buildings"] == len(city.buildings)
    assert s["roads"]["link_length_km"] > 50 and s["counts"]["water_bodies"] >= 1
    assert lihu.road_graph.shape == (city.roads.n_nodes,) * 2
    # a route across the district exists between two far-apart nodes
    xy = city.roads.node_xy
    a, z = lihu.nearest_node(*xy.min(axis=0)), lihu.nearest_node(*xy.max(axis=0))
    length, path = lihu.shortest_path(a, z)
    assert np.isfinite(length) and path[0] == a and path[-1] == z
