"""The pilot districts: the generator is deterministic and the committed files load with the
properties the spec promises (connectivity, population, centre, names, sites), and with the
counts the generator recorded in each manifest (an independent count of what it wrote)."""

from __future__ import annotations

import json
import re

import numpy as np
import pyproj
import pytest
import shapely

import cim
from assets import generate
from assets.streets import SIGNAL_CLASSES
from cim.districts import ASSETS
from cim.graph import csr, largest_strong_component

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


def manifest_stats(name: str) -> dict:
    """Return the counts the generator recorded when it wrote district ``name``."""
    return json.loads((ASSETS / name / "manifest.json").read_text())["stats"]


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
    stats = manifest_stats(name)
    assert len(b) == stats["buildings"]          # the loader reads every building written
    pop, jobs = b.residents.sum(), b.jobs.sum()
    assert pop == pytest.approx(stats["population"], abs=1)
    assert jobs == pytest.approx(stats["jobs"], abs=1)
    lo, hi = spec["targets"]["population"]
    assert lo <= pop <= hi, pop
    lo, hi = spec["targets"]["jobs"]
    assert lo <= jobs <= hi, jobs
    assert (b.height > 2).all() and (b.floor_area > 0).all() and (b.storeys >= 1).all()
    assert b.footprint.n_polygons == len(b)


def test_road_network_connected(district):
    name, city, _ = district
    r = city.roads
    stats = manifest_stats(name)
    assert (r.n_nodes, r.n_links) == (stats["road_nodes"], stats["road_links"])
    scc = largest_strong_component(csr(r.n_nodes, r.link_from, r.link_to))
    assert scc.mean() >= 0.99
    assert scc.mean() == pytest.approx(stats["largest_scc_share"], abs=1e-4)


def test_signals_sit_where_main_roads_cross_and_have_consistent_plans(district):
    name, city, _ = district
    r = city.roads
    assert r.node_signal.sum() == manifest_stats(name)["signals"] > 0
    has_plan = np.array([p is not None for p in r.node_signal_plan])
    np.testing.assert_array_equal(has_plan, r.node_signal)   # a plan exactly where signalized
    for plan in r.node_signal_plan[r.node_signal]:
        assert sum(plan["green_s"]) + len(plan["green_s"]) * plan["yellow_s"] == plan["cycle_s"]
        assert 0 <= plan["offset_s"] < plan["cycle_s"]
    main = np.isin(r.link_class.astype(str), SIGNAL_CLASSES)
    for k in np.flatnonzero(r.node_signal):
        at = (r.link_from == k) | (r.link_to == k)
        neighbours = set(r.link_to[r.link_from == k]) | set(r.link_from[r.link_to == k])
        assert len(neighbours) >= 3                          # an intersection
        assert len(set(r.link_name[at & main])) >= 2         # of two different main roads


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
    name, city, _ = district
    stats = manifest_stats(name)
    assert len(city.sites) == stats["sites"]
    assert REQUIRED_SITES <= set(city.sites.kind)
    src = city.sites.attributes.columns["source"]
    assert all(isinstance(s, str) and s for s in src)
    assert len(city.water_bodies) >= 1


def test_land_use_covers_every_parcel_and_building(district):
    name, city, _ = district
    lu = city.land_use
    # parcel zones are named "<district>-p<parcel>-<part>"; parks "<district>-park<k>"
    parcels = {m.group(1) for m in map(re.compile(rf"{name}-p(\d+)-\d+").fullmatch,
                                       lu.ids.astype(str)) if m}
    assert len(parcels) == manifest_stats(name)["parcels"]
    tree = shapely.STRtree([lu.polygons.to_shapely(i) for i in range(len(lu))])
    centroids = shapely.points(city.buildings.footprint.centroids())
    inside = tree.query(centroids, predicate="within")[0]
    assert len(np.unique(inside)) == len(city.buildings)    # every building on a zone
