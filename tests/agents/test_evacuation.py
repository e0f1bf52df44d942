"""Evacuation of a zone through the runtime (``"crowd"`` kernel + ``agents.evacuation``):
households and their pre-movement times, shelters with capacity, walking and driving (the
traffic kernel), nobody lost, the same seed giving the same run, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import twin
from agents.errors import AgentsError
from agents.evacuation import HOUSEHOLD_SIZE, Evacuation, circle, polygon
from cim.model import Attributes
from cim.model.tables import Sites
from cim.model.walkway import walkways_from_roads
from twin.errors import ScenarioError
from twin.kernels.traffic import TrafficProcess

from .conftest import make_city

ZONE = circle(300.0, 300.0, 420.0, hazard="chemical leak")


def shelters(xy, cap, kind="shelter"):
    n = len(xy)
    return Sites(np.array([f"s{i}" for i in range(n)], object), np.full(n, kind, object),
                 np.array([f"shelter {i}" for i in range(n)], object),
                 np.c_[np.asarray(xy, float), np.zeros(n)], np.asarray(cap, float),
                 Attributes(n))


@pytest.fixture(scope="module")
def ecity():
    city = make_city(6, 6, 200.0)
    city.sites = shelters([[1000.0, 1000.0], [0.0, 1000.0]], [1000.0, np.nan])
    return city


def scenario(city, evac, kernels=None, duration=3600.0, members=1, seed=7, **kw):
    ks = kernels or ["crowd"]
    inputs = {"crowd": evac}
    if any(getattr(k, "name", k) == "traffic" for k in ks):
        inputs["traffic"] = {"depart_s": np.zeros(0), "origin_node": np.zeros(0, int),
                             "destination_node": np.zeros(0, int)}
    return twin.Scenario(city=city, duration=duration, seed=seed, kernels=ks, inputs=inputs,
                         record_interval=60.0, members=members, name="evac", **kw)


def test_households_and_lognormal_premovement(ecity):
    ev = Evacuation(ZONE, premovement_median_s=600.0, premovement_sigma=0.8)
    p = ev.draw(ecity, np.random.default_rng(1))
    xy = ecity.buildings.footprint.centroids()
    inside = ZONE.contains(xy)
    assert p["x"].size == int(np.rint(ecity.buildings.residents[inside]).sum())
    hh, first, size = np.unique(p["household"], return_index=True, return_counts=True)
    assert size.mean() == pytest.approx(HOUSEHOLD_SIZE, rel=0.05)
    for h in hh[:20]:                                 # one departure per household
        assert np.unique(p["depart_s"][p["household"] == h]).size == 1
    pre = p["depart_s"][first]
    ks = stats.kstest(pre, stats.lognorm(s=0.8, scale=600.0).cdf)
    assert ks.pvalue > 0.01
    assert set(p["building"]) == set(ecity.buildings.ids[inside])
    # a polygon zone picks the same buildings as the equivalent square
    sq = polygon([[-200, -200], [700, -200], [700, 700], [-200, 700]])
    assert sq.contains(xy).sum() >= inside.sum() > 0


@pytest.fixture(scope="module")
def walk_runs(ecity, tmp_path_factory):
    d = tmp_path_factory.mktemp("evac")
    ev = Evacuation(ZONE, premovement_median_s=300.0)
    runs = [twin.run(scenario(ecity, ev, members=2), out=d / f"r{i}.zarr", progress=False)
            for i in range(2)]
    return ev, runs


def test_same_seed_gives_identical_runs(walk_runs):
    _, (a, b) = walk_runs
    ta, tb = a.table("crowd", "evacuees"), b.table("crowd", "evacuees")
    for c in ta:
        assert np.array_equal(np.asarray(ta[c]), np.asarray(tb[c]), equal_nan=True), c
    xa, xb = a.open("crowd"), b.open("crowd")
    assert np.array_equal(xa["link_peds"].values, xb["link_peds"].values)
    # the two members have different seeds: different pre-movement times
    m = np.asarray(ta["evacuee_member"])
    s = np.asarray(ta["evac_start_s"])
    assert not np.array_equal(np.sort(s[m == 0])[:50], np.sort(s[m == 1])[:50])


def test_nobody_is_lost_and_shelter_capacity_holds(walk_runs, ecity):
    ev, (run, _) = walk_runs
    t = run.table("crowd", "evacuees")
    m = np.asarray(t["evacuee_member"])
    people = ev.draw(ecity, np.random.default_rng(0))["x"].size
    assert (np.bincount(m) == people).all()
    status = np.asarray(t["evac_status"], dtype=object).astype(str)
    arr = np.asarray(t["evac_arrival_s"])
    ok = status == "arrived"
    assert (ok == np.isfinite(arr)).all()
    assert np.all(ok | np.char.startswith(status, "not_evacuated"))
    assert ok.mean() > 0.95                            # an hour is enough for ~1.5 km
    sh = np.asarray(t["evac_shelter"], dtype=object).astype(str)
    for k in (0, 1):
        assert ((sh == "s0") & (m == k)).sum() <= 1000  # capacity 1000 persons
    assert (sh == "s1").any()                          # the overflow goes to the other
    ds = run.open("crowd")
    last = ds["evacuated"].isel(time=-1).values
    assert (last == np.bincount(m[ok], minlength=2)).all()
    total = sum(ds[v].isel(time=-1).values for v in
                ("evacuated", "home", "walking", "driving", "not_evacuated"))
    assert (total == people).all()
    kp = {k.name: k.value for k in twin.kpis(run).layers["crowd"][0]}
    assert kp["not_evacuated"] == (m[~ok] == 0).sum()
    assert kp["t90_evacuated"] <= 3600 and kp["max_bottleneck_density"] > 0


def test_no_room_is_reported_not_lost(ecity, tmp_path):
    city = make_city(6, 6, 200.0)
    city.sites = shelters([[1000.0, 1000.0]], [100.0])
    run = twin.run(scenario(city, Evacuation(ZONE, premovement_median_s=60.0),
                            duration=1800.0), out=tmp_path / "r.zarr", progress=False)
    t = run.table("crowd", "evacuees")
    st = np.asarray(t["evac_status"], dtype=object).astype(str)
    assert (st == "arrived").sum() <= 100
    assert (st == "not_evacuated:no_room").sum() >= st.size - 100


def test_cars_drive_in_the_traffic_kernel(ecity, tmp_path):
    ev = Evacuation(ZONE, premovement_median_s=300.0, car_share=0.5)
    sc = scenario(ecity, ev, kernels=[TrafficProcess(vehicle_slots=64, threads=1), "crowd"],
                  duration=2400.0)
    run = twin.run(sc, out=tmp_path / "c.zarr", progress=False)
    t = run.table("crowd", "evacuees")
    mode = np.asarray(t["evac_mode"], dtype=object).astype(str)
    st = np.asarray(t["evac_status"], dtype=object).astype(str)
    assert (mode == "car").any() and (mode == "walk").any()
    car, walk = mode == "car", mode == "walk"
    assert (st[car] == "arrived").mean() > 0.9
    tt = np.asarray(t["evac_travel_s"])
    assert np.nanmedian(tt[car]) < np.nanmedian(tt[walk])     # driving is faster
    trips = run.table("traffic", "trips")
    n_hh = np.unique(np.asarray(t["evac_household"], dtype=object).astype(str)[car]).size
    assert len(np.asarray(next(iter(trips.values())))) == n_hh   # one car per household


# ---- bad input -----------------------------------------------------------------------------
def test_zone_without_households_is_a_clear_error(ecity, tmp_path):
    ev = Evacuation(circle(5000.0, 5000.0, 100.0, hazard="fire"))
    with pytest.raises(AgentsError, match="no household"):
        ev.draw(ecity, np.random.default_rng(0))
    with pytest.raises(ScenarioError, match="fire zone .* no household"):
        twin.run(scenario(ecity, ev), out=tmp_path / "x.zarr", progress=False)


def test_shelter_off_the_network_is_a_clear_error(tmp_path):
    city = make_city(6, 6, 200.0)
    city.sites = shelters([[1000.0, 1000.0], [5000.0, 400.0]], [500.0, 500.0])
    with pytest.raises(ScenarioError, match="shelter 's1' is .* off the walkway network"):
        twin.run(scenario(city, Evacuation(ZONE)), out=tmp_path / "x.zarr", progress=False)


def test_other_bad_inputs(ecity, tmp_path):
    city = make_city(6, 6, 200.0)
    city.sites = shelters([[1000.0, 1000.0]], [500.0], kind="hospital")
    with pytest.raises(ScenarioError, match="no site of kind 'shelter'"):
        twin.run(scenario(city, Evacuation(ZONE)), out=tmp_path / "a.zarr", progress=False)
    with pytest.raises(ScenarioError, match="no traffic kernel"):
        twin.run(scenario(ecity, Evacuation(ZONE, car_share=1.0)), out=tmp_path / "b.zarr",
                 progress=False)
    with pytest.raises(AgentsError, match="radius"):
        circle(0.0, 0.0, -5.0)
    with pytest.raises(AgentsError, match="car_share"):
        Evacuation(ZONE, car_share=1.5)
    with pytest.raises(AgentsError, match="polygon"):
        polygon([[0, 0], [1, 1]])


def test_sidewalks_from_streets(ecity):
    w = walkways_from_roads(ecity.roads, segment_m=50.0)
    streets = np.unique(np.minimum(ecity.roads.link_from, ecity.roads.link_to) * 1000
                        + np.maximum(ecity.roads.link_from, ecity.roads.link_to)).size
    # two sides of every street, each in 50 m pieces
    per_side = np.ceil(np.asarray(ecity.roads.link_length) / 50.0 - 1e-9)
    assert w.n_links % 2 == 0 and (w.link_side == 1).sum() == (w.link_side == -1).sum()
    assert np.unique(np.asarray(w.link_street)).size == streets
    assert w.link_length.sum() == pytest.approx(
        2 * np.asarray(ecity.roads.link_length)[_first_of_pairs(ecity.roads)].sum())
    assert per_side.max() >= 4 and (w.link_width > 0).all()


def _first_of_pairs(roads):
    a, b = np.asarray(roads.link_from), np.asarray(roads.link_to)
    key = np.minimum(a, b) * roads.n_nodes + np.maximum(a, b)
    _, first = np.unique(key, return_index=True)
    return first


def test_member_of_a_batch_equals_the_member_alone(ecity, walk_runs, tmp_path):
    ev, (run, _) = walk_runs
    alone = twin.run(scenario(ecity, ev, members=2).member(1), out=tmp_path / "m1.zarr",
                     progress=False)
    ta, tb = run.table("crowd", "evacuees"), alone.table("crowd", "evacuees")
    m = np.asarray(ta["evacuee_member"]) == 1
    for c in ("evac_start_s", "evac_arrival_s"):
        assert np.array_equal(np.asarray(ta[c])[m], np.asarray(tb[c]), equal_nan=True), c
    assert np.array_equal(run.open("crowd")["link_peds"].isel(member=1).values,
                          alone.open("crowd")["link_peds"].isel(member=0).values)


@pytest.mark.slow
def test_resume_after_a_crash_is_bit_identical(ecity, tmp_path):
    """Walkers and cars: killed mid-run, resumed from the last checkpoint."""
    from tests.twin.runcompare import assert_runs_equal
    from tests.twin.test_runtime_traffic import Crash

    ev = Evacuation(ZONE, premovement_median_s=300.0, car_share=0.3)

    def sc(crash=None):
        ks = [TrafficProcess(vehicle_slots=64, threads=1), "crowd", Crash(crash)]
        return scenario(ecity, ev, kernels=ks, duration=900.0, chunk_records=3)

    full = twin.run(sc(), out=tmp_path / "full.zarr", progress=False)
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(sc(500.0), out=tmp_path / "r.zarr", progress=False)
    run = twin.run(sc(), out=tmp_path / "r.zarr", resume=True, progress=False)
    assert_runs_equal(full, run, ("crowd",), tables=(("crowd", "evacuees"),
                                                     ("crowd", "bottlenecks")))
