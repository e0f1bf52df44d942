"""The viewer offscreen: frames are not blank and change where the run changed, picking
returns the right id, layers without data are reported, exports are self-contained, and a
layer the viewer has never heard of is drawn from its declaration alone."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import xarray as xr

import twin
from twin.core.kernel import Draw, Kernel, Spec
from twin.kernels.power.process import PowerProcess
from twin.kernels.traffic import TrafficProcess
from twin.kernels.water.process import WaterProcess
from twin.viewer import Scene
from twin.viewer import export as vexport
from twin.viewer.controls import Controls
from twin.viewer.pick import pick, world_to_display

from .lifeline_city import lifeline_city
from .test_lifelines_coupled import COUPLINGS
from .test_runtime_traffic import demand

SIZE = (480, 320)
START = dt.datetime(2024, 5, 14, 8, 0)


class Flood(Kernel):
    """A toy raster kernel (defined here, unknown to the viewer): a pond growing from the
    grid's south-west corner; declares one drawn output and one it never records."""

    name = "flood"
    dt = 60.0
    outputs = {"depth": Spec(("cell_y", "cell_x"), "m")}
    draw = {"depth": Draw("raster", cmap="Blues", clim=(0, 1), hide_below=0.01),
            "velocity": Draw("raster", label="never recorded")}

    def init(self, ctx):
        self.y = np.arange(25.0, 600.0, 50.0)
        self.x = np.arange(25.0, 600.0, 50.0)
        self.coords = {"cell_y": self.y, "cell_x": self.x}

    def step(self, t, dt, ctx):
        if not ctx.record_due:
            return None
        r = 40.0 * (t + dt) / 60.0
        yy, xx = np.meshgrid(self.y, self.x, indexing="ij")
        depth = np.where(np.hypot(xx, yy) < r, 0.8, 0.0)
        return {"depth": depth}


def scenario(events=(), duration=600.0, kernels=None):
    city = lifeline_city()
    return twin.Scenario(
        city=city, duration=duration, seed=5, start=START,
        kernels=kernels or [TrafficProcess(vehicle_slots=16, threads=1), PowerProcess(dt=60),
                            WaterProcess(dt=120), Flood()],
        inputs={"traffic": demand(city)}, couplings=dict(COUPLINGS), events=list(events),
        record_interval=60.0, chunk_records=4, name="viewer")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("viewer")
    base = twin.run(scenario(), out / "base.zarr", progress=False)
    trip = twin.run(scenario([twin.Event("outage", "L2", at=120, duration=360,
                                         layer="power")]), out / "trip.zarr", progress=False)
    return base, trip


@pytest.fixture(scope="module")
def scene(runs):
    s = Scene(runs[1], city=lifeline_city(), size=SIZE)
    yield s
    s.close()


def not_blank(img: np.ndarray) -> None:
    """Assert that a frame shows something: many colours, no single colour dominating."""
    assert img.ndim == 3 and img.shape[2] == 3
    flat = img.reshape(-1, 3)
    colours, counts = np.unique(flat // 8, axis=0, return_counts=True)
    assert len(colours) > 50, len(colours)
    assert counts.max() / len(flat) < 0.6
    assert img.std() > 10


def test_store_time_is_wall_clock(runs):
    base = runs[0]
    raw = xr.open_zarr(str(base.path), group="traffic")
    assert np.issubdtype(raw["clock"].dtype, np.datetime64)
    assert str(raw["clock"].values[0])[:19] == "2024-05-14T08:01:00"
    assert raw["time"].values[0] == 60.0              # seconds stay seconds
    ds = base.open("water")
    assert "clock" in ds.coords and ds.sel(time=240.0).clock.dt.strftime("%H:%M").item() \
        == "08:04"
    assert base.seconds("08:30") == 1800.0 and base.clock(5400) == "09:30:00"
    assert base.seconds("2024-05-14T08:05:30") == 330.0


def test_district_without_run_is_drawn():
    s = Scene(None, city=lifeline_city(), size=SIZE)
    try:
        not_blank(s.image())
        assert s.drawn == {} and s.notes == []
    finally:
        s.close()


def test_frames_differ_where_the_run_changed(scene):
    s = scene
    assert set(s.drawn) >= {"traffic/link_speed", "power/loading", "water/pressure",
                            "flood/depth"}
    s.camera("top")
    d = s.drawn["power/loading"]
    s.set_time("08:01")
    before = s.image()
    v0 = d.series.values(d.series.index_at(s.time)).copy()
    s.set_time("08:04")                                 # L2 is out: its loading drops
    after = s.image()
    v1 = d.series.values(d.series.index_at(s.time))
    not_blank(before)
    not_blank(after)
    j = int(np.nanargmax(np.abs(np.nan_to_num(v1) - np.nan_to_num(v0))))
    assert d.geo.ids[j] == "L2"
    cell = np.flatnonzero(d.geo.cell_object == j)[0]
    x, y = world_to_display(s, d.geo.mesh.extract_cells(cell).center)
    px, py = int(round(x)), SIZE[1] - 1 - int(round(y))
    win = (slice(py - 1, py + 2), slice(px - 1, px + 2))
    assert np.abs(after[win].astype(int) - before[win].astype(int)).max() > 30
    # far from every network and from the pond: unchanged
    x, y = world_to_display(s, np.array([450.0, 150.0, 0.0]) - s.twin.origin)
    px, py = int(round(x)), SIZE[1] - 1 - int(round(y))
    np.testing.assert_array_equal(after[py - 2:py + 3, px - 2:px + 3],
                                  before[py - 2:py + 3, px - 2:px + 3])


def test_picking_returns_the_object_under_the_pixel(scene):
    s = scene
    s.camera("top")
    s.set_time("08:05")
    ctl = Controls(s)
    city = s.city
    k = 4
    b = city.buildings
    centre = b.footprint.centroids()[k][:2]
    top = np.array([centre[0], centre[1], 18.0]) - s.twin.origin
    p = ctl.click(*world_to_display(s, top))
    assert p is not None and p.kind == "building" and p.id == str(b.ids[k])
    assert p.attributes["use"] == "residential"
    d = s.drawn["power/loading"]
    j = list(d.geo.ids).index("L1")
    cell = np.flatnonzero(d.geo.cell_object == j)
    c = d.geo.mesh.extract_cells(cell[len(cell) // 2]).center
    for other in ("traffic/link_speed", "water/flow"):
        s.show_layer(other, False)
    p = pick(s, *world_to_display(s, c))
    assert p is not None and p.kind == "power_link" and p.id == "L1"
    t, v = p.series["power/loading"]
    assert len(t) == len(d.series.times) and np.isfinite(v).all()
    assert "loading (%)" in p.attributes
    s.show_layer("traffic/link_speed", True)


def test_layers_without_data_are_reported_not_drawn(runs, tmp_path):
    s = Scene(runs[0], city=lifeline_city(), size=SIZE, show=["flood/depth", "nope/x"])
    try:
        assert "flood/velocity" not in s.drawn
        assert any("flood/velocity" in n and "not recorded" in n for n in s.notes)
        assert any("nope/x" in n for n in s.notes)
        assert s.layers["flood/depth"] and not s.layers["traffic/link_speed"]
    finally:
        s.close()
    # a run whose layer never recorded: said so, and nothing of it is drawn
    short = twin.run(twin.Scenario(city=lifeline_city(), duration=30.0, seed=1, start=START,
                                   kernels=[Flood()], record_interval=60.0, name="short"),
                     tmp_path / "short.zarr", progress=False)
    s = Scene(short, city=lifeline_city(), size=SIZE)
    try:
        assert s.drawn == {} and any("no records" in n for n in s.notes)
        not_blank(s.image())
    finally:
        s.close()


def test_raster_of_an_unknown_kernel_is_drawn_from_its_declaration(scene):
    s = scene
    s.camera("top")
    d = s.drawn["flood/depth"]
    s.show_layer("flood/depth", True)
    s.set_time("08:01")
    small = np.isfinite(d.geo.mesh.point_data["value"]).sum()
    s.set_time("08:09")
    big = np.isfinite(d.geo.mesh.point_data["value"]).sum()
    assert 0 < small < big                             # dry cells hidden, the pond grows


def test_controls_scrub_play_toggle_and_camera(scene):
    ctl = Controls(scene)
    ctl.attach()
    ctl.seek("08:03")
    assert scene.clock() == "08:03:00"
    ctl.step(2)
    assert scene.clock() == "08:05:00"
    assert ctl.toggle_play() and (ctl.tick() or True) and scene.clock() == "08:06:00"
    ctl.toggle_play(False)
    assert ctl.toggle_layer("water/pressure") is False and not scene.layers["water/pressure"]
    ctl.toggle_layer("water/pressure", True)
    for preset in ("overview", "street", "follow", "top"):
        ctl.camera(preset)
        not_blank(scene.image())


def test_html_is_self_contained(scene, tmp_path):
    path = vexport.html(scene, tmp_path / "a.html", time="08:05")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") or text.lstrip().lower().startswith("<!doctype")
    assert vexport.external_urls(text) == []
    assert "OfflineLocalView.load" in text and "08:05" in text
    assert "https://kitware.github.io/vtk-js/icon" not in text


def test_movie_has_frames(scene, tmp_path):
    import imageio.v3 as iio

    out = vexport.movie(scene, tmp_path / "a.gif", n=4)
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == 4
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 0


def test_cli_view_screenshot(runs, tmp_path):
    import cim
    from twin.cli.main import main

    city_file = tmp_path / "city.city.json"
    cim.write_cityjson(lifeline_city(), city_file)
    png = tmp_path / "v.png"
    assert main(["view", str(runs[1].path), "--city", str(city_file), "--screenshot",
                 str(png), "--time", "08:04", "--size", "320x240"]) == 0
    import imageio.v3 as iio

    not_blank(iio.imread(png)[..., :3])
    assert main(["view", str(tmp_path / "nothing"), "--screenshot", str(png)]) == 1
