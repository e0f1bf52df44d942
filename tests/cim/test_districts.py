"""The pilot districts: the generator is deterministic and the committed files load with the
properties the spec promises (size, connectivity, population, centre, names, sites)."""

from __future__ import annotations

import json

import numpy as np
import pyproj
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import cim
from assets import generate

NAMES = ("lihu", "liangxi")
REQUIRED_SITES = {"fire_station", "hospital", "shelter", "school", "substation",
                  "pumping_station", "sensor", "metro_station", "landmark"}
MAIN_ROADS = {"lihu": ["Lihu Avenue", "Huanhu Road", "Jincheng West Road", "Lihu Road",
                       "Jinshi Road", "Shanshui East Road", "Gaolang Road", "Zhenze Road"],
              "liangxi": ["Jianghai Road", "Xingyuan North Road", "Tongjiang Avenue",
                          "Fengxiang Road", "Guangshi Road"]}


@pytest.fixture(scope="module", params=NAMES)
def district(request):
    name = request.param
    return name, cim.load_district(name), generate.load_spec(name)


def test_generator_is_deterministic_and_seeded(tmp_path):
    for run in ("a", "b"):
        generate.main(["--district", "liangxi", "--seed", "11", "--out", str(tmp_path / run)])
    generate.main(["--district", "liangxi", "--seed", "12", "--out", str(tmp_path / "c")])
    a, b, c = (tmp_path / r / "liangxi" for r in "abc")
    files = json.loads((a / "manifest.json").read_text())["files"]
    for f in files + ["manifest.json", "terrain.prj"]:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / "liangxi.city.json.gz").read_bytes() != (c / "liangxi.city.json.gz").read_bytes()
    ca = cim.load(a / "liangxi.city.json.gz")
    cc = cim.load(c / "liangxi.city.json.gz")
    assert ca.metadata["seed"] == 11 and cc.metadata["seed"] == 12
    assert (len(ca.buildings) != len(cc.buildings)
            or not np.allclose(ca.buildings.floor_area, cc.buildings.floor_area))


def test_size_and_population(district):
    name, city, spec = district
    b = city.buildings
    assert len(b) >= 5000
    pop, jobs = b.residents.sum(), b.jobs.sum()
    lo, hi = spec["targets"]["population"]
    assert lo <= pop <= hi, pop
    lo, hi = spec["targets"]["jobs"]
    assert lo <= jobs <= hi, jobs
    assert (b.height > 2).all() and (b.floor_area > 0).all() and (b.storeys >= 1).all()
    assert b.footprint.n_polygons == len(b)


def test_road_network_connected(district):
    _, city, _ = district
    r = city.roads
    g = coo_matrix((np.ones(r.n_links), (r.link_from, r.link_to)), shape=(r.n_nodes,) * 2)
    _, labels = connected_components(g, directed=True, connection="strong")
    assert np.bincount(labels).max() >= 0.99 * r.n_nodes
    assert r.node_signal.sum() > 20
    for plan in r.node_signal_plan[r.node_signal]:
        assert sum(plan["green_s"]) + len(plan["green_s"]) * plan["yellow_s"] == plan["cycle_s"]


def test_named_main_roads(district):
    name, city, _ = district
    names = set(city.roads.link_name)
    for road in MAIN_ROADS[name]:
        assert road in names, road
    if name == "lihu":
        r = city.roads
        tunnel = r.link_tunnel & (r.link_name == "Lihu Avenue")
        assert tunnel.sum() >= 4            # two tunnels, both directions
        assert (r.link_bridge & (r.link_name == "Lihu Avenue")).any()  # Lihu Bridge


def test_centre_metadata_and_extent(district):
    name, city, spec = district
    md = city.metadata
    assert md["synthetic"] is True and md["facts"] == f"assets/{name}/spec.json"
    c = city.buildings.footprint.centroids()
    x = 0.5 * (c[:, 0].min() + c[:, 0].max())
    y = 0.5 * (c[:, 1].min() + c[:, 1].max())
    lon, lat = pyproj.Transformer.from_crs(city.crs, "EPSG:4326", always_xy=True).transform(x, y)
    _, _, dist = pyproj.Geod(ellps="WGS84").inv(lon, lat, spec["centre"]["lon"],
                                                spec["centre"]["lat"])
    assert dist < 1000
    e, m = spec["extent"], 0.003
    w, s, east, n = city.bounds_wgs84()
    assert e["west"] - m <= w and s >= e["south"] - m and east <= e["east"] + m
    assert n <= e["north"] + m
    tx0, ty0, tx1, ty1 = city.terrain.bounds
    tr = pyproj.Transformer.from_crs("EPSG:4326", city.crs, always_xy=True)
    cx, cy = tr.transform([e["west"], e["east"], e["east"], e["west"]],
                          [e["south"], e["south"], e["north"], e["north"]])
    assert tx0 <= min(cx) and ty0 <= min(cy) and tx1 >= max(cx) and ty1 >= max(cy)
    assert np.isfinite(city.terrain.z).all()


def test_sites_and_water(district):
    _, city, _ = district
    assert REQUIRED_SITES <= set(city.sites.kind)
    src = city.sites.attributes.columns["source"]
    assert all(isinstance(s, str) and s for s in src)
    assert len(city.water_bodies) >= 1 and len(city.land_use) > 100
