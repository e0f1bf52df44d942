"""Incident generators: Poisson counts over a long run match the documented rates (per type,
per building use, per hour of the day, per km of main), with a fixed seed; the same seed
gives the same incidents; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from agents.responders import PROFILES, DispatchError, generate_incidents, incident
from agents.responders.places import Locator

from .dispatch_city import dispatch_city

YEAR = 365 * 86400.0
DAYS = 400


@pytest.fixture(scope="module")
def city():
    """The grid city with mixed uses: 4 residential (20 residents), 3 offices (500 jobs),
    2 shops (40 residents, 100 jobs)."""
    c = dispatch_city()
    b = c.buildings
    b.use[:] = np.array(["residential"] * 4 + ["office"] * 3 + ["commercial"] * 2, object)
    b.residents[:] = [20, 20, 20, 20, 0, 0, 0, 40, 40]
    b.jobs[:] = [0, 0, 0, 0, 500, 500, 500, 100, 100]
    return c


def _scale(city, typ, n=3000.0):
    """The rate scale that gives about ``n`` incidents of ``typ`` over the long run."""
    return n / _expected(city, typ, 1.0)


def _long_run(city, typ, seed=20240501):
    """400 days from midnight, rates scaled to ~3,000 incidents of ``typ``."""
    return generate_incidents(city, DAYS * 86400.0, np.random.default_rng(seed),
                              scale=_scale(city, typ), types=[typ])


def _expected(city, typ, scale):
    """Incidents expected over the long run, from the rates in the module documentation."""
    b, roads, w, g = city.buildings, city.roads, city.water_network, city.power_grid
    res, jobs = b.residents.sum(), b.jobs.sum()
    main = np.isin(roads.link_class.astype(str), ["trunk", "primary", "secondary"])
    per_year = {
        "fire": 2e-4 * res + 1e-4 * jobs, "medical": 0.04 * res + 0.005 * jobs,
        "traffic_crash": (0.3 * roads.link_length[main].sum()
                          + 0.1 * roads.link_length[~main].sum()) / 1000.0,
        "pipe_burst": 0.1 * w.link_length[w.link_type == "pipe"].sum() / 1000.0,
        "power_fault": 0.03 * g.link_length.sum() / 1000.0,
        "flooding": 1e-4 * len(b)}[typ]
    return per_year * scale * DAYS * 86400.0 / YEAR


@pytest.mark.parametrize("typ", ["fire", "medical", "traffic_crash", "pipe_burst",
                                 "power_fault", "flooding"])
def test_poisson_counts_match_the_rates(city, typ):
    scale = _scale(city, typ)
    lam = _expected(city, typ, scale)
    n = _long_run(city, typ).counts().get(typ, 0)
    assert abs(n - lam) < 4 * np.sqrt(lam), (typ, n, lam)     # 4 sigma of a Poisson count
    # with every type drawn (another seed): still this type's rate
    both = generate_incidents(city, 40 * 86400.0, np.random.default_rng(7), scale=scale / 10)
    assert abs(both.counts().get(typ, 0) - lam / 100) < 4 * np.sqrt(lam / 100)


def test_incidents_are_where_and_when_the_rates_say(city):
    inc = _long_run(city, "medical")
    assert (np.diff(inc.time) >= 0).all() and inc.time.min() >= 0
    assert inc.time.max() < DAYS * 86400.0
    med = inc.type == "medical"
    # per building: counts in proportion to 0.04 residents + 0.005 jobs
    ids = list(city.buildings.ids)
    obs = np.bincount([ids.index(s) for s in inc.building[med]], minlength=len(ids))
    w = 0.04 * city.buildings.residents + 0.005 * city.buildings.jobs
    assert stats.chisquare(obs, obs.sum() * w / w.sum()).pvalue > 1e-3
    # per hour of the day: in proportion to the medical profile
    hour = (inc.time[med] // 3600).astype(int) % 24
    prof = PROFILES["medical"]
    obs = np.bincount(hour, minlength=24)
    assert stats.chisquare(obs, obs.sum() * prof / prof.sum()).pvalue > 1e-3
    # flat types: uniform in time; bursts per pipe in proportion to its length
    # every incident can be placed on the road network
    links, xy = Locator(city).place(inc)
    assert (links >= 0).all() and np.isfinite(xy).all()
    inc = _long_run(city, "pipe_burst")
    burst = inc.type == "pipe_burst"
    assert burst.all()
    assert stats.kstest(inc.time[burst] / (DAYS * 86400.0), "uniform").pvalue > 1e-3
    wn = city.water_network
    pipes = list(wn.link_ids)
    obs = np.bincount([pipes.index(s) for s in inc.water_link[burst]], minlength=len(pipes))
    ln = np.where(wn.link_type == "pipe", wn.link_length, 0.0)
    keep = ln > 0
    assert obs[~keep].sum() == 0
    assert stats.chisquare(obs[keep], obs.sum() * ln[keep] / ln.sum()).pvalue > 1e-3


def test_same_seed_same_incidents_and_partial_hours(city):
    kw = dict(start_s=7.5 * 3600, scale=50000.0)
    a = generate_incidents(city, 5400.0, np.random.default_rng(3), **kw)
    b = generate_incidents(city, 5400.0, np.random.default_rng(3), **kw)
    c = generate_incidents(city, 5400.0, np.random.default_rng(4), **kw)
    assert len(a) > 10
    for col in a.COLUMNS:
        np.testing.assert_array_equal(getattr(a, col), getattr(b, col))
    assert not np.array_equal(a.time, c.time[:len(a)]) or len(a) != len(c)
    assert a.time.min() >= 0 and a.time.max() < 5400.0
    np.testing.assert_array_equal(np.round(a.time * 1000), a.time * 1000)   # 1 ms clock
    only = generate_incidents(city, 5400.0, np.random.default_rng(3), types=["fire"], **kw)
    assert set(only.type) <= {"fire"}
    assert len(generate_incidents(city, 3600.0, np.random.default_rng(3), scale=0.0)) == 0


def test_bad_generator_input(city):
    rng = np.random.default_rng(0)
    with pytest.raises(DispatchError, match="scale"):
        generate_incidents(city, 3600.0, rng, scale=-1.0)
    with pytest.raises(DispatchError, match="unknown types"):
        generate_incidents(city, 3600.0, rng, types=["alien"])
    with pytest.raises(DispatchError, match="24 non-negative"):
        generate_incidents(city, 3600.0, rng, profiles={"fire": np.ones(5)})
    with pytest.raises(DispatchError, match="negative or non-finite"):
        generate_incidents(city, 3600.0, rng, rates={"fire": {"per_resident": {"*": -1.0}}})
    with pytest.raises(DispatchError, match="unknown type"):
        incident("meteor", at=1.0, building="bn00")
    with pytest.raises(DispatchError, match="water_link"):
        incident("pipe_burst", at=1.0, building="bn00")
