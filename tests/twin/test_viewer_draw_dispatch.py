"""The dispatch layer in the viewer, from the responders' own ``draw`` declaration: units as
dots that move to their calls; a run without unit positions is reported, not drawn."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from agents.responders import DispatchProcess, incident
from twin.core.kernel import Draw
from twin.viewer import Scene
from twin.viewer.pick import world_to_display

from ..agents.dispatch_city import dispatch_city, scenario
from .test_viewer import not_blank

SIZE = (480, 320)


@pytest.fixture(scope="module")
def dispatch_run(tmp_path_factory):
    city = dispatch_city()
    calls = [incident("fire", at=60.0, building="bn11", on_scene_s=600.0),
             incident("medical", at=120.0, building="bn02", on_scene_s=300.0)]
    sc = scenario(city, [DispatchProcess(calls)], n_trips=60, duration=900.0)
    return city, twin.run(sc, tmp_path_factory.mktemp("dispatch") / "d.zarr", progress=False)


def test_units_are_drawn_as_moving_dots(dispatch_run):
    city, run = dispatch_run
    s = Scene(run, city=city, size=SIZE)
    try:
        assert s.layers["dispatch/unit_stage"]
        assert not [n for n in s.notes if n.startswith("dispatch/")], s.notes
        d = s.drawn["dispatch/unit_stage"]
        s.camera("top")
        s.set_time(float(s.times[0]))
        p0 = np.array(d.geo.mesh.points)
        at_home = s.image()
        xy = np.array([np.column_stack(d.series.positions(i)) for i in range(len(s.times))])
        step = np.hypot(*np.diff(xy, axis=0).transpose(2, 0, 1))       # (n_t - 1, units)
        far = np.hypot(*(xy - xy[0]).transpose(2, 0, 1))                 # from home
        # a unit driving to its call: it moves from the record before and the one after
        drive = (step[:-1] > 20.0) & (step[1:] > 20.0) & (far[1:-1] > 50.0)
        assert drive.any()                              # a unit is out on a call
        i, k = (int(a[0]) for a in np.nonzero(drive))
        i += 1
        s.set_time(float(s.times[i]))
        out = s.image()
        not_blank(out)
        p1 = np.array(d.geo.mesh.points)
        assert np.linalg.norm(p1[k, :2] - p0[k, :2]) > 50.0   # its dot moved with it
        # its dot is drawn where the unit is now, and gone from where it was (unless another
        # unit waits at the same station)
        checks = [(out, at_home, p1[k])]
        if not (np.hypot(*(xy[i] - xy[0, k]).T) < 20.0).any():
            checks.append((at_home, out, p0[k]))
        for img_a, img_b, p in checks:
            px, py = world_to_display(s, p)
            px, py = int(round(px)), SIZE[1] - 1 - int(round(py))
            win = (slice(py - 1, py + 2), slice(px - 1, px + 2))
            assert np.abs(img_a[win].astype(int) - img_b[win].astype(int)).max() > 30
    finally:
        s.close()


def test_units_at_a_building_show_on_its_roof(dispatch_run):
    city, run = dispatch_run
    s = Scene(run, city=city, size=SIZE)
    try:
        d = s.drawn["dispatch/unit_stage"]
        fp = city.buildings.footprint.centroids()[:, :2]
        hits = []
        for i in range(len(s.times)):
            x, y = d.series.positions(i)
            near = np.hypot(x[:, None] - fp[None, :, 0], y[:, None] - fp[None, :, 1]) < 3.0
            hits += [(i, int(u)) for u in np.flatnonzero(near.any(1))]
        assert hits                                      # a unit stood at a building
        i, u = hits[0]
        s.camera("top")
        s.set_time(float(s.times[i]))
        z = d.geo.mesh.points[u, 2]
        roof = s.twin.layers["buildings"].mesh.vertices[:, 2].max()
        assert z > roof                                  # above the roof, not inside
        img = s.image()
        px, py = world_to_display(s, d.geo.mesh.points[u])
        px, py = int(round(px)), SIZE[1] - 1 - int(round(py))
        lut = d.actor.GetMapper().GetLookupTable()
        rgb = [0.0] * 3
        lut.GetColor(float(d.geo.mesh.point_data["value"][u]), rgb)
        rgb = np.array(rgb) * 255
        win = img[py - 1:py + 2, px - 1:px + 2].reshape(-1, 3).astype(float)
        assert np.abs(win - rgb).max(1).min() < 40        # its stage colour is seen there
    finally:
        s.close()


def test_units_without_positions_are_reported(dispatch_run):
    city, run = dispatch_run
    draws = {"dispatch": {"unit_stage": Draw("points", x="unit_lon", y="unit_lat")}}
    s = Scene(run, city=city, size=SIZE, draws=draws)
    try:
        assert "dispatch/unit_stage" not in s.drawn
        assert any(n.startswith("dispatch/unit_stage") and "unit_lon" in n for n in s.notes)
        not_blank(s.image())
    finally:
        s.close()
