"""The flood layer in the viewer, from the flood kernel's own ``draw`` declaration: the depth
raster over the ground and the buildings by the depth around them; what the city cannot
show is reported, not drawn."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import cim
import twin
from twin.kernels.flood import FloodProcess, rain
from twin.viewer import Scene
from twin.viewer.pick import world_to_display

from .lifeline_city import lifeline_city
from .test_runtime_traffic import grid_city
from .test_viewer import not_blank

SIZE = (480, 320)


def bowl_city():
    """The lifeline city on a 25 m DEM sloping 4 m down to a hollow at (300, 300)."""
    city = lifeline_city()
    cell, n = 25.0, 30
    c = (np.arange(n) + 0.5) * cell - 75.0                     # centres, -62.5 … 662.5 m
    x, y = np.meshgrid(c, c[::-1])                             # row 0 is north
    z = 10.0 + 4.0 * np.minimum(np.hypot(x - 300.0, y - 300.0) / 350.0, 1.0)
    city.terrain = cim.Terrain(z, -75.0, -75.0, cell)
    return city


@pytest.fixture(scope="module")
def flood_run(tmp_path_factory):
    city = bowl_city()
    sc = twin.Scenario(city, duration=1800.0, seed=1, start=dt.datetime(2024, 7, 1, 14),
                       kernels=[FloodProcess(dt=300, cell=25.0, infiltration=None)],
                       inputs={"flood": rain.uniform(120.0, 1800)}, record_interval=300.0,
                       name="bowl")
    return city, twin.run(sc, tmp_path_factory.mktemp("flood") / "f.zarr", progress=False)


def test_flood_depth_and_flooded_buildings_are_drawn(flood_run):
    city, run = flood_run
    s = Scene(run, city=city, size=SIZE)
    try:
        assert {"flood/depth", "flood/building_depth"} <= {k for k, on in s.layers.items()
                                                           if on}
        assert not [n for n in s.notes if n.startswith("flood/")], s.notes
        s.camera("top")
        s.set_time(float(s.times[0]))
        early = s.image()
        s.set_time(float(s.times[-1]))
        late = s.image()
        not_blank(late)
        d = s.drawn["flood/depth"]
        v = d.geo.mesh.point_data["value"]
        assert np.isfinite(v).sum() > 0                   # wet cells drawn, dry ones hidden
        wet = np.nanargmax(v)                             # the hollow: the deepest water
        x, y = world_to_display(s, d.geo.mesh.points[wet])
        px, py = int(round(x)), SIZE[1] - 1 - int(round(y))
        assert 0 <= px < SIZE[0] and 0 <= py < SIZE[1]
        b = s.drawn["flood/building_depth"]
        vb = b.geo.mesh.point_data["value"]
        assert np.isfinite(vb).all() and vb.max() > 0     # every building coloured, some wet
        assert not s.layers["base:buildings"]             # the depth replaces the use colours
        assert np.abs(late.astype(int) - early.astype(int)).max() > 30   # the water rose
        # the colour at the deepest cell is the depth colour map's (blue), not the ground's
        r, g, bl = late[py, px].astype(int)
        assert bl > r and bl > g, late[py, px]
    finally:
        s.close()


def test_flood_without_buildings_or_terrain_is_reported(flood_run):
    _, run = flood_run
    bare = grid_city()                                   # streets only: no buildings, no DEM
    s = Scene(run, city=bare, size=SIZE)
    try:
        assert any(n.startswith("flood/building_depth") and "no building" in n
                   for n in s.notes), s.notes
        assert "flood/building_depth" not in s.drawn
        assert s.layers["flood/depth"]                    # the raster needs no city geometry
        s.set_time(float(s.times[-1]))
        not_blank(s.image())
    finally:
        s.close()
