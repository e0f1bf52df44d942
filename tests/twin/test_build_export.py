"""GLB export with per-object names, and the twin summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

import twin
from cim.model import CityModel
from tests.twin.test_build_cities import make_city


@pytest.fixture(scope="module")
def tw():
    return twin.build(make_city())


def test_glb_reloads_with_object_names(tw, tmp_path):
    path = tw.export_glb(tmp_path / "city.glb")
    scene = trimesh.load(path)
    assert isinstance(scene, trimesh.Scene)
    names = set(scene.geometry)
    for bid in tw.layers["buildings"].object_ids:
        assert bid in names
    assert {"ab", "be2", "lake", "fs1", "terrain:mesh"} <= names
    nodes = set(scene.graph.nodes)
    assert {"district", "buildings", "roads", "water", "terrain", "sites", "box"} <= nodes
    # per-object geometry round-trips (float32, local frame) with its faces
    b = tw.layers["buildings"]
    i = list(b.object_ids).index("court")
    v, f, _ = b.object_arrays(i)
    g = scene.geometry["court"]
    assert len(g.faces) == len(f)
    assert g.volume == pytest.approx(trimesh.Trimesh(v, f, process=False).volume, rel=1e-5)
    # the scene is Y-up: heights become +y in the world frame
    transform, _ = scene.graph["court"]
    world = trimesh.transform_points(g.vertices, transform)
    assert world[:, 1].max() == pytest.approx(20.0, abs=1e-3)
    meta = scene.metadata
    assert meta["crs"] == "EPSG:4549" and meta["origin"] == tw.origin.tolist()


def test_glb_layer_subset_and_per_layer_nodes(tw, tmp_path):
    path = tw.export_glb(tmp_path / "b.glb", layers=["buildings", "roads"],
                         per_object=("buildings",))
    scene = trimesh.load(path)
    assert "roads:mesh" in scene.geometry and "terrain:mesh" not in scene.geometry


def test_summary_numbers(tw):
    s = tw.summary()
    json.dumps(s)                                         # JSON-serialisable, no NaN
    assert s["counts"] == {"buildings": 5, "road_nodes": 6, "road_links": 15,
                           "road_segments": 8, "water_bodies": 1, "land_use_zones": 0,
                           "sites": 3, "other_objects": 0}
    b = s["buildings"]
    assert b["footprint_area_m2"] == pytest.approx(200 + 800 + 500 + 200 + 80)
    # floor areas estimated from height / 3 m: box 5, court 6, ell 3 (8 m → 3), towers 20, house 3
    assert b["floor_area_m2"] == pytest.approx(200 * 5 + 800 * 6 + 500 * 3 + 200 * 20 + 80 * 3)
    assert b["floor_area_estimated"] == 5
    assert b["population"] == 144 and b["jobs"] == 450
    r = s["roads"]
    detour = 2 * np.hypot(25, 25) + 50
    assert r["segment_length_km"] == pytest.approx((7 * 100 + detour) / 1000)
    assert r["link_length_km"] == pytest.approx((13 * 100 + 2 * detour) / 1000)
    # lanes: primary 3/dir, secondary 2, residential 1, service 1
    lane_m = 2 * 100 * 3 * 2 + 3 * 100 * 2 * 2 + 100 * 1 + 100 * 1 * 2 + detour * 2
    assert r["lane_km"] == pytest.approx(lane_m / 1000)
    assert r["signalized_nodes"] == 2
    lon0, lat0, lon1, lat1 = s["extent"]["wgs84"]
    assert 119.9 < lon0 < lon1 < 120.1 and 31.3 < lat0 < lat1 < 31.5
    assert s["meshes"]["buildings"]["faces"] == len(tw.layers["buildings"].mesh.faces)
    assert s["faces"] == sum(len(layer.mesh.faces) for layer in tw.layers.values())


def colours_of(geom) -> np.ndarray:
    """Return (n_vertices, 4) uint8 colours of a mesh loaded from glTF: its COLOR_0 vertex
    colours, else its material's base colour on every vertex."""
    attrs = geom.visual.vertex_attributes
    if "color" in attrs:
        return np.asarray(attrs["color"])
    base = np.asarray(geom.visual.material.baseColorFactor)
    return np.tile(base, (len(geom.vertices), 1))


def test_glb_matches_the_trimesh_scene_and_handles_empty_twins(tw, tmp_path):
    from twin.export.gltf import to_scene

    scene = trimesh.load(tw.export_glb(tmp_path / "a.glb"))
    ref = to_scene(tw)
    assert set(scene.geometry) == set(ref.geometry)
    for name in ("ell", "lake", "be2", "fs1", "terrain:mesh"):
        a, b = scene.geometry[name], ref.geometry[name]
        np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-3)
        np.testing.assert_array_equal(a.faces, b.faces)
        np.testing.assert_array_equal(colours_of(a), b.visual.vertex_colors)
    empty = twin.build(CityModel())
    path = empty.export_glb(tmp_path / "empty.glb")
    reloaded = trimesh.load(path)
    assert len(reloaded.geometry) == 0
