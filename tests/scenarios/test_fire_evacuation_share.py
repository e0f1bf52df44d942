"""Why the evacuated share of ``scenarios/liangxi_chemical_fire.py`` (quick) plateaus between
minutes 15 and 40: the plateau is the car households, in before any walker can be — the
shelters are ~3 km away along the sidewalks, so no walker arrives before that distance at
the free walking speed; once the walkers arrive the share climbs to the end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cim
import twin
from twin.cli import scenario_file
from twin.kernels.crowd.fd import Weidmann
from twin.kernels.crowd.net import WalkNet, routes_to
from twin.kernels.crowd.process import walk_network

SCRIPT = Path(__file__).resolve().parents[2] / "scenarios" / "liangxi_chemical_fire.py"


@pytest.mark.slow
def test_share_plateau_is_the_cars_before_the_first_walker(tmp_path):
    sc = scenario_file.build_scenario(SCRIPT, quick=True)
    run = twin.run(sc, tmp_path / "f.zarr", progress=False)
    e = {k: np.asarray(v) for k, v in run.table("crowd", "evacuees").items()}
    mode = np.array([str(m) for m in e["evac_mode"]])
    shelter = np.array([str(s) for s in e["evac_shelter"]])
    arr = e["evac_arrival_s"]
    walk, car = mode == "walk", mode == "car"
    # the shortest walk from any evacuee's door node to the shelter it was given (m)
    city = cim.load_district("liangxi")
    net = WalkNet.from_network(walk_network(city, 50.0, None))
    ids = np.asarray(city.sites.ids).astype(str)
    used = np.unique(shelter[walk & np.isfinite(arr)])
    sxy = np.asarray(city.sites.xyz)[[int(np.flatnonzero(ids == s)[0]) for s in used], :2]
    snode, _ = net.nearest_node(sxy)
    _, dist = routes_to(net, snode)
    b = city.buildings
    bidx = {str(s): i for i, s in enumerate(b.ids)}
    bxy = b.footprint.centroids()[:, :2]
    home = np.array([bidx[str(x)] for x in e["evac_building"][walk]])
    start, _ = net.nearest_node(bxy[home])
    shortest = dist[np.searchsorted(used, shelter[walk]), start]
    fin = np.isfinite(arr[walk])
    assert shortest[fin].min() > 2500.0                 # the shelters are far on foot
    v0 = Weidmann().v0
    first_walker = np.nanmin(arr[walk])
    assert first_walker >= shortest[fin].min() / v0      # no walker faster than v0
    # until then only cars have arrived: the share is at most the car share
    c = run.open("crowd").isel(member=0)
    t, share = c.time.values, c.evacuated_share.values
    n = mode.size
    plateau = (t >= 15 * 60) & (t < first_walker)
    assert plateau.sum() >= 10
    assert (share[plateau] <= car.sum() / n + 1e-9).all()
    np.testing.assert_allclose(share[plateau][-1], (arr[car] <= t[plateau][-1]).sum() / n)
    assert share[-1] > 0.9
