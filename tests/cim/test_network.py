"""Networks in the city model: every slot handled alike — id maps, CRS transforms, merge."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

import cim
from cim.model import (
    Attributes,
    CityModel,
    Network,
    PowerGrid,
    RoadNetwork,
    WaterNetwork,
    _obj,
)
from cim.roads import RoadNetworkBuilder

from .test_model import _buildings

X0, Y0 = 500000.0, 3490000.0    # EPSG:4549 metres near Wuxi


def water(prefix: str, x0: float = X0, *, shared: str | None = None) -> WaterNetwork:
    """Return a hand-built water network: reservoir R → junction J1 → junction J2 (pipes P1,
    P2, the second with a bend); ``shared`` renames R to a node id another part also has."""
    r = shared or f"{prefix}R"
    xy = np.array([[x0, Y0], [x0 + 100, Y0], [x0 + 200, Y0 + 50]])
    geom = [xy[[0, 1]], np.array([xy[1], [x0 + 150, Y0], xy[2]])]
    return WaterNetwork(
        node_ids=_obj([r, f"{prefix}J1", f"{prefix}J2"]), node_xy=xy,
        link_ids=_obj([f"{prefix}P1", f"{prefix}P2"]),
        link_from=np.array([0, 1]), link_to=np.array([1, 2]),
        link_length=np.array([100.0, 50 + np.hypot(50, 50)]),
        geometry_offsets=np.array([0, 2, 5]), geometry_xy=np.concatenate(geom),
        node_attributes=Attributes.from_dicts([{"head_m": 30.0}, {}, {}]),
        link_attributes=Attributes.from_dicts([{"diameter_mm": 300}, {"diameter_mm": 200}]))


def roads(prefix: str, x0: float = X0) -> RoadNetwork:
    b = RoadNetworkBuilder()
    b.add_segment(f"{prefix}r1", f"{prefix}a", f"{prefix}b", [[x0, Y0 - 10], [x0 + 90, Y0 - 10]])
    b.add_segment(f"{prefix}r2", f"{prefix}b", f"{prefix}c", [[x0 + 90, Y0 - 10],
                                                              [x0 + 90, Y0 + 80]], oneway=True)
    b.set_signal(f"{prefix}b", {"cycle_s": 60})
    return b.build()


def city(prefix: str = "", x0: float = X0, **kw) -> CityModel:
    return CityModel(buildings=_buildings(2), roads=roads(prefix, x0), water_network=water(
        prefix, x0), crs=pyproj.CRS("EPSG:4549"), **kw)


# ---- the network base ----------------------------------------------------------------
def test_kinds_and_empty_networks():
    assert (RoadNetwork.kind, WaterNetwork.kind, PowerGrid.kind) == ("road", "water", "power")
    assert (cim.DrainageNetwork.kind, cim.WalkwayNetwork.kind) == ("drainage", "walkway")
    e = RoadNetwork.empty()
    assert e.is_empty and e.n_nodes == e.n_links == 0
    assert e.node_xy.shape == (0, 2) and e.geometry_offsets.tolist() == [0]
    assert e.link_lanes.dtype == np.int16 and e.node_signal.dtype == bool
    w = water("w")
    assert w.n_nodes == 3 and len(w) == w.n_links == 2 and not w.is_empty
    np.testing.assert_allclose(w.link_geometry(1)[1], [X0 + 150, Y0])
    assert w.bounds() == (X0, Y0, X0 + 200, Y0 + 50)
    assert w.id_maps() == {"water_node": {"wR": 0, "wJ1": 1, "wJ2": 2},
                           "water_link": {"wP1": 0, "wP2": 1}}


def test_concat_of_different_kinds_is_an_error():
    with pytest.raises(TypeError, match="different classes"):
        Network.concat([water("a"), roads("b")])


# ---- id maps ---------------------------------------------------------------------------
def test_id_maps_kinds_and_dense_indices():
    c = city("x")
    maps = c.id_maps()
    assert set(maps) == {"building", "site", "road_node", "road_link", "water_node",
                         "water_link"}
    tables = {"building": c.buildings.ids, "site": c.sites.ids,
              "road_node": c.roads.node_ids, "road_link": c.roads.link_ids,
              "water_node": c.water_network.node_ids, "water_link": c.water_network.link_ids}
    for kind, ids in tables.items():
        m = maps[kind]
        assert list(m.values()) == list(range(len(ids))), kind   # indices are positions
        assert all(ids[i] == k for k, i in m.items()), kind
        assert all(isinstance(k, str) for k in m)
    assert maps["road_link"]["xr1:b"] == c.roads.link_ids.tolist().index("xr1:b")


def test_id_maps_of_an_empty_model_and_of_clashing_kinds():
    assert CityModel().id_maps() == {"building": {}, "site": {}, "road_node": {},
                                     "road_link": {}}
    assert set(CityModel(power_grid=PowerGrid.empty()).id_maps()) == {
        "building", "site", "road_node", "road_link"}           # empty networks are left out
    clash = CityModel(water_network=water("a"), drainage=water("b"))
    with pytest.raises(ValueError, match="water"):
        clash.id_maps()


def test_networks_lists_the_non_empty_slots():
    c = city()
    assert list(c.networks()) == ["roads", "water_network"]
    assert list(CityModel(water_network=water("w")).networks()) == ["water_network"]
    assert CityModel().networks() == {}
    s = c.summary()
    assert (s["road_nodes"], s["road_links"]) == (3, 3)
    assert (s["water_nodes"], s["water_links"]) == (3, 2)


# ---- reference systems and bounds ------------------------------------------------------
def test_to_crs_transforms_a_water_network():
    c = CityModel(water_network=water("w"), crs=pyproj.CRS("EPSG:4549"))
    ll = c.to_crs("EPSG:4326")
    tr = pyproj.Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
    w0, w1 = c.water_network, ll.water_network
    assert isinstance(w1, WaterNetwork)
    np.testing.assert_allclose(w1.node_xy, np.column_stack(tr.transform(*w0.node_xy.T)))
    np.testing.assert_allclose(w1.geometry_xy,
                               np.column_stack(tr.transform(*w0.geometry_xy.T)))
    assert 119.9 < w1.node_xy[0, 0] < 120.1 and 31.4 < w1.node_xy[0, 1] < 31.6
    np.testing.assert_array_equal(w1.link_from, w0.link_from)
    np.testing.assert_allclose(w1.link_length, w0.link_length)     # metres, unchanged
    np.testing.assert_array_equal(w0.node_xy[0], [X0, Y0])           # the original is kept
    back = ll.to_crs("EPSG:4549").water_network
    np.testing.assert_allclose(back.geometry_xy, w0.geometry_xy, atol=1e-6)
    assert ll.roads.is_empty


def test_bounds_include_every_network():
    c = CityModel(water_network=water("w", X0 + 1000), crs=pyproj.CRS("EPSG:4549"))
    assert c.bounds() == (X0 + 1000, Y0, X0 + 1200, Y0 + 50)
    both = CityModel(roads=roads("r"), water_network=water("w", X0 + 1000))
    assert both.bounds() == (X0, Y0 - 10, X0 + 1200, Y0 + 80)
    lon0, _, lon1, _ = c.bounds_wgs84()
    assert 119.9 < lon0 < lon1 < 120.1


# ---- merge ---------------------------------------------------------------------------
def test_merge_joins_every_network_and_rebases_link_ends():
    a, b = city("a"), city("b", X0 + 5000)
    merged = CityModel.merge([a, b])
    for slot in ("roads", "water_network"):
        na, nb, m = getattr(a, slot), getattr(b, slot), getattr(merged, slot)
        assert type(m) is type(na)
        assert m.node_ids.tolist() == na.node_ids.tolist() + nb.node_ids.tolist()
        assert m.link_ids.tolist() == na.link_ids.tolist() + nb.link_ids.tolist()
        # each link still joins the nodes (by id) it joined in its own model
        ends = [(p.node_ids[p.link_from], p.node_ids[p.link_to]) for p in (na, nb)]
        np.testing.assert_array_equal(m.node_ids[m.link_from],
                                      np.concatenate([e[0] for e in ends]))
        np.testing.assert_array_equal(m.node_ids[m.link_to],
                                      np.concatenate([e[1] for e in ends]))
        assert m.link_from[na.n_links:].min() >= na.n_nodes     # b's ends point past a's nodes
        for k in range(nb.n_links):
            np.testing.assert_array_equal(m.link_geometry(na.n_links + k), nb.link_geometry(k))
    w = merged.water_network
    assert w.link_attributes.row(3) == {"diameter_mm": 200}
    assert w.node_attributes.row(3) == {"head_m": 30.0}
    assert merged.roads.node_signal.tolist() == [False, True, False] * 2
    assert set(merged.id_maps()["water_link"]) == {"aP1", "aP2", "bP1", "bP2"}
    assert merged.summary()["water_links"] == 4


def test_merge_shares_nodes_by_id_and_keeps_a_network_only_one_model_has():
    a = CityModel(water_network=water("a"))
    b = CityModel(water_network=water("b", X0 + 300, shared="aJ2"))   # b's R is a's J2
    w = CityModel.merge([a, b]).water_network
    assert w.n_nodes == 5 and w.n_links == 4
    assert w.node_ids[w.link_from[2]] == "aJ2" and w.link_from[2] == 2
    np.testing.assert_array_equal(w.node_xy[2], [X0 + 200, Y0 + 50])   # first position wins
    only = CityModel.merge([CityModel(roads=roads("r")), CityModel(water_network=water("w"))])
    assert only.water_network.link_ids.tolist() == ["wP1", "wP2"]
    assert only.roads.n_links == 3 and only.power_grid is None


def test_merge_transforms_networks_to_the_first_crs():
    a = CityModel(roads=roads("a"), crs=pyproj.CRS("EPSG:4549"))
    b = city("b", X0 + 2000).to_crs("EPSG:4326")
    merged = CityModel.merge([a, b])
    np.testing.assert_allclose(merged.water_network.node_xy[0], [X0 + 2000, Y0], atol=1e-3)
    np.testing.assert_allclose(merged.roads.node_xy[3], [X0 + 2000, Y0 - 10], atol=1e-3)
