import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import DemandError, Profile, default_profiles, parse_clock


def test_default_profiles_sum_to_one_and_peak_where_documented():
    p = default_profiles()
    for prof in p.values():
        assert prof.shares.shape == (96,)
        assert prof.shares.sum() == pytest.approx(1.0)
    work, home = p["to_work"].hourly(), p["to_home"].hourly()
    assert 7 <= int(np.argmax(work)) <= 8        # 07:00–09:00 commute peak
    assert 17 <= int(np.argmax(home)) <= 18      # 17:00–19:00 commute peak
    assert work[7:9].sum() > 0.6 and home[17:19].sum() > 0.5


def test_window_share_and_midnight_wrap():
    p = default_profiles()["to_work"]
    assert p.window_share(0, 86400) == pytest.approx(1.0)
    assert p.window_share(7 * 3600, 3600) == pytest.approx(p.hourly()[7])
    # 22:00 + 4 h crosses midnight: 22, 23, 00, 01
    h = p.hourly()
    assert p.window_share(22 * 3600, 4 * 3600) == pytest.approx(h[22] + h[23] + h[0] + h[1])
    assert p.window_share(0, 2 * 86400) == pytest.approx(2.0)


def test_sample_follows_profile():
    p = default_profiles()["to_work"]
    rng = np.random.default_rng(3)
    t = p.sample(rng, 200_000, 6 * 3600, 4 * 3600)
    assert t.min() >= 0 and t.max() < 4 * 3600
    got = np.bincount((t // 3600).astype(int), minlength=4) / len(t)
    want = p.hourly()[6:10] / p.hourly()[6:10].sum()
    assert np.allclose(got, want, atol=0.005)


@settings(max_examples=60, deadline=None)
@given(start=st.floats(0, 2 * 86400), duration=st.floats(1.0, 3 * 86400),
       seed=st.integers(0, 2**32 - 1))
def test_sample_stays_in_window(start, duration, seed):
    t = Profile.uniform().sample(np.random.default_rng(seed), 50, start, duration)
    assert (t >= 0).all() and (t < duration).all()


def test_from_shares_hourly_and_bad():
    p = Profile.from_shares(np.arange(24) + 1.0)
    assert p.hourly() == pytest.approx((np.arange(24) + 1.0) / 300.0)
    with pytest.raises(DemandError):
        Profile.from_shares([1.0, -1.0] * 48)
    with pytest.raises(DemandError):
        Profile.from_shares(np.zeros(96))


@pytest.mark.parametrize("text,seconds", [("07:00", 25200), ("7:30:15", 27015), (90, 90.0),
                                          ("25:00", 90000), ("12.5", 12.5)])
def test_parse_clock(text, seconds):
    assert parse_clock(text) == seconds


@pytest.mark.parametrize("text", ["7h", "07:61", "-5", "nan", "", "07:00:99"])
def test_parse_clock_bad(text):
    with pytest.raises(DemandError):
        parse_clock(text)
