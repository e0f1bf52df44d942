"""The crowd layer in the viewer, from the crowd kernel's own ``draw`` declaration: the
walkways coloured by crowd density while people walk to a shelter; a city without its
walkway network is reported, not drawn."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import twin
from cim.model import Attributes, Sites
from cim.model.walkway import walkways_from_roads
from twin.kernels.crowd.process import CrowdProcess
from twin.viewer import Scene
from twin.viewer.pick import world_to_display

from .lifeline_city import lifeline_city
from .test_viewer import not_blank

SIZE = (480, 320)


def walk_city(walkways: bool = True):
    """The lifeline city with one shelter at the north-east corner and, with ``walkways``,
    the sidewalks of its streets as its walkway network."""
    city = lifeline_city()
    city.sites = Sites(np.array(["s0"], object), np.array(["shelter"], object),
                       np.array(["shelter"], object), np.array([[600.0, 600.0, 0.0]]),
                       np.array([5000.0]), Attributes(1))
    if walkways:
        city.walkways = walkways_from_roads(city.roads, segment_m=50.0)
    return city


@pytest.fixture(scope="module")
def crowd_run(tmp_path_factory):
    city = walk_city()
    rng = np.random.default_rng(3)
    n = 1500                                   # a crowd leaving the south-west block at once
    people = {"x": rng.uniform(20.0, 120.0, n), "y": rng.uniform(20.0, 120.0, n),
              "depart_s": rng.uniform(0.0, 60.0, n), "mode": np.full(n, "walk")}
    sc = twin.Scenario(city=city, duration=900.0, seed=2, start=dt.datetime(2024, 5, 14, 9),
                       kernels=[CrowdProcess(dt=5.0)], inputs={"crowd": people},
                       record_interval=60.0, name="crowd")
    return city, twin.run(sc, tmp_path_factory.mktemp("crowd") / "c.zarr", progress=False)


def test_walkways_are_drawn_by_crowd_density(crowd_run):
    city, run = crowd_run
    s = Scene(run, city=city, size=SIZE)
    try:
        assert s.layers["crowd/link_density"] and not s.layers["crowd/link_peds"]
        assert not [n for n in s.notes if n.startswith("crowd/")], s.notes
        d = s.drawn["crowd/link_density"]
        assert d.series.ids is not None and len(d.geo.ids) == city.walkways.n_links
        s.camera("top")
        s.set_time(float(s.times[0]))
        peak = int(np.argmax([np.nanmax(d.series.values(i)) for i in range(len(s.times))]))
        v = d.series.values(peak)
        j = int(np.nanargmax(v))                              # the most crowded walkway
        on_j = np.array([d.series.values(i)[j] for i in range(len(s.times))])
        quiet = int(np.nanargmin(on_j))                       # that walkway before or after
        assert on_j[quiet] < 0.25 * v[j]
        s.set_time(float(s.times[quiet]))
        after = s.image()
        s.set_time(float(s.times[peak]))
        during = s.image()
        not_blank(during)
        assert np.nanmax(d.geo.mesh.point_data["value"]) == pytest.approx(v[j])
        cells = np.flatnonzero(d.geo.cell_object == j)
        x, y = world_to_display(s, d.geo.mesh.extract_cells(cells[len(cells) // 2]).center)
        px, py = int(round(x)), SIZE[1] - 1 - int(round(y))
        win = (slice(py - 1, py + 2), slice(px - 1, px + 2))
        assert np.abs(during[win].astype(int) - after[win].astype(int)).max() > 30
    finally:
        s.close()


def test_city_without_walkways_is_reported(crowd_run):
    _, run = crowd_run
    s = Scene(run, city=walk_city(walkways=False), size=SIZE)
    try:
        assert not any(k.startswith("crowd/") for k in s.drawn)
        assert any(n.startswith("crowd/link_density") and "walkway_link" in n
                   for n in s.notes), s.notes
        not_blank(s.image())
    finally:
        s.close()
