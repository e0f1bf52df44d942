"""Dispatch in the 100-year rainstorm (``scenarios/lihu_rainstorm_100yr.py``, quick version):
the storm run against its dry twin (same seed, same kernels, no rain).

- the same calls are not answered faster in the flood: for the Poisson calls that a unit
  answered from its station in both runs (calls answered by a unit on its way home are left
  out: its start differs between the runs), at least 3 in 4 take as long or longer, none is
  faster by more than one signal cycle (a microscopic model: a slowed unit can make a green
  light it missed when dry), and the median, the 90th percentile and the mean grow;
- no unit enters a link the water has made impassable: every link a unit entered had, at
  that time, a speed factor >= the dispatcher's threshold (0.1: about 0.28 m of water,
  Pregnolato et al. 2017; closed at 0.3 m) on the bus, and the flood layer (recorded every
  60 s) does not show it below through the minutes around the entry;
- flooding calls come from depth: none in the dry run; in the storm run every flooding call
  is at a building whose recorded depth reached 0.15 m, or a road the water closed, by
  its call time; the Poisson calls are the same in both runs (seeded)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import cim
import twin
from agents.responders.routing import IMPASSABLE

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "lihu_rainstorm_100yr.py"
CLOSED_M = 0.3          # Pregnolato et al. (2017): impassable at 0.3 m
SIGNAL_CYCLE_S = 110.0  # the longest signal cycle of the Lihu plans


def _module():
    spec = importlib.util.spec_from_file_location("lihu_rainstorm_100yr", SCENARIO)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _table(run, layer, name):
    return {k: (np.array([str(x) for x in v]) if np.asarray(v).dtype.kind in "OUT"
                else np.asarray(v)) for k, v in run.table(layer, name).items()}


@pytest.fixture(scope="module")
def storm_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rainstorm")
    mod = _module()
    runs = {dry: twin.run(mod.scenario(quick=True, dry=dry, flood_record_s=60.0),
                          d / f"{'dry' if dry else 'wet'}.zarr", progress=False)
            for dry in (False, True)}
    return mod, runs[False], runs[True]


@pytest.mark.slow
def test_flood_delays_the_same_calls(storm_runs):
    mod, wet, dry = storm_runs
    r = mod.dispatch_delays(wet, dry)
    both = np.isfinite(r["wet_s"]) & np.isfinite(r["dry_s"])
    station = both & ~r["from_road_wet"] & ~r["from_road_dry"]
    assert station.sum() >= 10
    # a microscopic model: a unit slowed a little by the water may make a green light it
    # missed when dry, so a call may gain up to one signal cycle (the longest in Lihu)
    bad = station & (r["wet_s"] < r["dry_s"] - SIGNAL_CYCLE_S)
    assert not bad.any(), list(zip(r["call_id"][bad], r["wet_s"][bad], r["dry_s"][bad]))
    assert (r["wet_s"][station] >= r["dry_s"][station]).mean() >= 0.75
    assert r["median_wet_s"] > r["median_dry_s"] and r["p90_wet_s"] > r["p90_dry_s"]
    assert r["mean_delay_s"] > 60.0
    # the Poisson calls are the same calls (seeded): same times, types and places
    a, b = _table(wet, "dispatch", "calls"), _table(dry, "dispatch", "calls")
    for t in (a, b):
        keep = t["call_type"] != "flooding"
        order = np.argsort(t["call_id"][keep])
        for k in list(t):
            t[k] = t[k][keep][order]
    for col in ("call_id", "call_time_s", "call_type", "call_building", "call_road_link"):
        np.testing.assert_array_equal(a[col], b[col], err_msg=col)


@pytest.mark.slow
def test_no_unit_enters_a_link_the_water_closed(storm_runs):
    _, wet, _ = storm_runs
    legs = _table(wet, "dispatch", "unit_links")
    assert legs["leg_trip"].size > 100
    assert (legs["leg_speed_factor"] >= IMPASSABLE).all()
    f = wet.open("flood").isel(member=0)
    sf = f.speed_factor.values                                   # (time, road_link)
    tf = f.time.values.astype(float)                             # s from the start
    col = {str(s): i for i, s in enumerate(wet.open("traffic").road_link.values)}
    k = np.array([col[s] for s in legs["leg_road_link"]])
    t = legs["leg_enter_s"]
    # the records from one minute before the entry to one after: not all impassable
    win = (tf[None, :] >= t[:, None] - 60.0) & (tf[None, :] <= t[:, None] + 60.0)
    cut = np.where(win, sf[:, k].T < IMPASSABLE, True).all(1)
    assert not cut.any(), legs["leg_road_link"][cut][:5]
    assert (sf.min(0) < IMPASSABLE).sum() >= 5, "the storm makes some roads impassable"


@pytest.mark.slow
def test_flooding_calls_come_from_depth(storm_runs):
    _, wet, dry = storm_runs
    assert (_table(dry, "dispatch", "calls")["call_type"] != "flooding").all()
    c = _table(wet, "dispatch", "calls")
    fl = c["call_type"] == "flooding"
    assert fl.sum() >= 5
    f = wet.open("flood").isel(member=0)
    tf = f.time.values.astype(float)                             # s from the start
    city = cim.load_district("lihu")         # the flood layer's axes are in city order
    bcol = {str(s): i for i, s in enumerate(city.buildings.ids)}
    rcol = {str(s): i for i, s in enumerate(city.roads.link_ids)}
    bd, rdp = f.building_depth.values, f.road_depth.values
    for b, road, t in zip(c["call_building"][fl], c["call_road_link"][fl],
                          c["call_time_s"][fl]):
        upto = tf <= t + 60.0
        if b:
            assert bd[upto, bcol[b]].max() >= 0.15, (b, t)
        else:
            assert rdp[upto, rcol[road]].max() >= CLOSED_M, (road, t)
