"""Flooding calls made from flood depth (:mod:`agents.responders.flood_calls`): none when
dry, calls only at buildings and roads the water reached, once each, seeded and independent
of the steps at which the crossings are seen."""

from __future__ import annotations

import numpy as np
import pytest

from agents.responders import DispatchError, FloodCallRule, FloodCalls

NB, NR = 400, 300


def _calls(seed=7, rule=None, usable=None):
    rng = np.random.default_rng(0)
    return FloodCalls(np.array([f"b{i}" for i in range(NB)], object),
                      rng.integers(0, NR, NB), rng.random((NB, 2)) * 1000,
                      np.full(NB, "z", object), np.array([f"r{i}" for i in range(NR)], object),
                      rng.random((NR, 2)) * 1000, np.full(NR, "z", object), seed,
                      rule or FloodCallRule(building_share=0.5, road_share=0.5),
                      road_usable=usable)


def _depths(seed=1):
    rng = np.random.default_rng(seed)
    return rng.random(NB) * 0.3, np.where(rng.random(NR) < 0.3, 0.0, 0.6)


def test_no_calls_when_dry():
    fc = _calls()
    for t in (0.0, 60.0, 120.0):
        assert fc.check(t, np.zeros(NB), np.ones(NR)) is None
    # shallow water below the thresholds: still none
    assert fc.check(180.0, np.full(NB, 0.149), np.full(NR, 0.05)) is None


def test_calls_at_flooded_buildings_and_closed_roads_once_each():
    rule = FloodCallRule(building_share=1.0, road_share=1.0, delay_s=300.0)
    fc = _calls(rule=rule)
    depth, sf = _depths()
    inc, links, xy, zones, z = fc.check(600.0, depth, sf)
    wet_b = {f"b{i}" for i in np.flatnonzero(depth >= 0.15)}
    wet_r = {f"r{i}" for i in np.flatnonzero(sf <= 0.0)}
    b = inc.building.astype(str)
    r = inc.road_link.astype(str)
    assert set(b[b != ""]) == wet_b and set(r[r != ""]) == wet_r
    assert len(inc) == len(wet_b) + len(wet_r)
    assert (inc.type == "flooding").all() and (inc.time >= 600.0).all()
    assert inc.time.mean() - 600.0 == pytest.approx(300.0, rel=0.2)   # mean report delay
    # road calls are placed on their own link
    on_road = r != ""
    np.testing.assert_array_equal(links[on_road], [int(s[1:]) for s in r[on_road]])
    # the same water again: no second call; more water: calls from the new places only
    assert fc.check(660.0, depth, sf) is None
    more = fc.check(720.0, depth + 0.01, sf)[0]
    new = {f"b{i}" for i in np.flatnonzero(depth + 0.01 >= 0.15)} - wet_b
    assert new and set(more.building.astype(str)) == new


def test_same_seed_same_calls_whatever_the_steps():
    depth, sf = _depths()
    a = _calls(seed=3).check(0.0, depth, sf)[0]
    # the same crossings seen in two steps (half the buildings later): same calls, each
    # at its crossing time plus its own delay
    fc = _calls(seed=3)
    early = np.where(np.arange(NB) % 2 == 0, depth, 0.0)
    p1 = fc.check(0.0, early, sf)[0]
    p2 = fc.check(0.0, depth, sf)[0]
    got = sorted(zip(np.r_[p1.building, p2.building], np.r_[p1.road_link, p2.road_link],
                     np.r_[p1.time, p2.time]))
    assert got == sorted(zip(a.building, a.road_link, a.time))
    b = _calls(seed=4).check(0.0, depth, sf)[0]
    assert sorted(a.building) != sorted(b.building)


def test_unusable_roads_never_call_and_bad_rules_are_errors():
    usable = np.arange(NR) % 2 == 0
    fc = _calls(rule=FloodCallRule(building_share=0.0, road_share=1.0), usable=usable)
    inc = fc.check(0.0, np.zeros(NB), np.zeros(NR))[0]
    assert sorted(int(s[1:]) for s in inc.road_link) == list(np.flatnonzero(usable))
    with pytest.raises(DispatchError, match="building_share"):
        FloodCallRule(building_share=1.5).check()
    with pytest.raises(DispatchError, match="building_depth"):
        _calls(rule=FloodCallRule(building_depth_m=0.0))
    with pytest.raises(DispatchError, match="building_depth has"):
        _calls().check(0.0, np.zeros(3), None)
