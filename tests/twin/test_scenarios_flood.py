"""The 100-year rainstorm scenario runs (quick version): roads and buildings flood, the flood's
mass balance closes, and every substation the flood marks flooded has its buses out (and back
when it dries), the pumps next to a flooded pumping station stop.

The design storm leaves the substations below the scenario's 0.3 m, so the cascade test runs
the same scenario with a 0.05 m site threshold: the flood kernel then marks several
substations flooded, and the power kernel must trip exactly those."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import twin

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "lihu_rainstorm_100yr.py"


def _module():
    spec = importlib.util.spec_from_file_location("lihu_rainstorm_100yr", SCENARIO)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_rainstorm_floods_roads_and_trips_flooded_substations(tmp_path):
    mod = _module()
    sc = mod.scenario(quick=True, site_depth_m=0.05)
    run = twin.run(sc, tmp_path / "storm.zarr", progress=False)
    f = run.open("flood").isel(member=0)
    assert (f.speed_factor.values.min(0) < 0.5).sum() > 100       # flooded roads
    assert f.buildings_flooded.values.max() > 0
    assert np.abs(f.mass_rel_error.values).max() < 1e-6
    assert f.rain_m3.values[-1] > 0
    city = sc.city
    sites = city.sites.ids.astype(str)
    zone = np.asarray(city.power_grid.node_zone, object).astype(str)
    sub = np.flatnonzero(np.isin(sites, zone))
    wet = f.site_depth.values[:, sub] >= 0.05                      # (time, substation)
    assert wet.any(), "the test threshold floods some substation"
    p = run.open("power").isel(member=0)
    en = p.energized.values
    tf = f.time.values
    for k, j in enumerate(sub):
        inzone = zone == sites[j]
        vn = np.nan_to_num(city.power_grid.node_vn_kv)
        top = inzone & (vn == vn[inzone].max())          # the substation's own buses
        for i, t in enumerate(tf):
            row = int(np.flatnonzero(p.time.values == t)[0])
            assert (en[row, top] == 0).all() == bool(wet[i, k]), (sites[j], t)
    tab = run.table("power", "outages")
    assert set(tab["outage_target"].tolist()) == set(sites[sub[wet.any(0)]].tolist())
    assert set(tab["outage_kind"].tolist()) == {"flood"}
    risk = mod.sites_at_risk(run, city)
    kinds = np.isin(city.sites.kind.astype(str), ["substation", "pumping_station"])
    assert len(risk) == kinds.sum()
    assert risk[0][2] == pytest.approx(f.site_depth.values[:, kinds].max())
