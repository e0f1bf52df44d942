"""``twin view --web``: the trame page in headless Chromium shows a rendered 3D view, the
URL's ``?time=`` and the time slider move it, and the page's handlers (layers, camera,
picking, play) act on the scene.

The browser tests need Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright``
Python package (driving that chromium; no browser is downloaded); they skip without them.
"""

from __future__ import annotations

import asyncio
import io
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import twin

from .lifeline_city import lifeline_city
from .test_viewer import scenario

pytest.importorskip("trame")
pytest.importorskip("trame_vtk")
pytest.importorskip("trame_vuetify")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("web")
    return twin.run(scenario([twin.Event("outage", "L2", at=120, duration=360,
                                         layer="power")]), out / "trip.zarr", progress=False)


# ---- the handlers, without a browser -------------------------------------------------------
def test_handlers_drive_the_scene(run):
    from twin.viewer import Scene
    from twin.viewer.pick import world_to_display
    from twin.viewer.web import WebViewer

    s = Scene(run, city=lifeline_city(), size=(480, 320))
    try:
        w = WebViewer(s)
        st = w.server.state
        assert st.n_frames == len(s.times) == 10 and st.frame == 0
        w.set_frame(3)
        assert s.time == s.times[3] and st.clock == s.clock() == "08:04:00"
        # layers: exactly the checked ones are shown
        on = [k for k, v in s.layers.items() if v]
        assert "traffic/link_speed" in on
        w.set_layers([k for k in on if k != "traffic/link_speed"] + ["power/loading"])
        assert not s.layers["traffic/link_speed"] and s.layers["power/loading"]
        # the URL's query sets the time and the camera
        w.apply_query("?time=08:07&camera=top")
        assert st.frame == 6 and st.camera == "top" and st.clock == "08:07:00"
        w.set_camera("top")
        top = w._camera_state()
        s.plotter.camera.Azimuth(40.0)                # turned by hand …
        assert w._camera_state() != top
        w.reframe()                                   # … and back to the preset
        assert np.allclose(w._camera_state(), top)
        # a click (vtk.js canvas pixels, bottom-left origin, at half the server's size)
        # picks the building under it
        b = s.city.buildings
        centre = b.footprint.centroids()[4][:2]
        x, y = world_to_display(s, np.array([centre[0], centre[1], 18.0]) - s.twin.origin)
        w_px, h_px = s.plotter.window_size
        w.click({"position": {"x": x / 2, "y": y / 2, "z": 0}, "size": [w_px / 2, h_px / 2]})
        assert w.controls.picked is not None and w.controls.picked.id == str(b.ids[4])
        assert str(b.ids[4]) in st.pick_text and "residential" in st.pick_text
        w.click({"position": {"x": 1, "y": 1, "z": 0}, "size": [w_px, h_px]})  # the sky
        assert st.pick_text == ""
        # play advances the frame on the server's event loop; pause stops it

        async def play():
            w.play(True)
            await asyncio.sleep(1.0)
            w.play(False)
            await asyncio.sleep(0.5)

        before = w.controls.frame
        asyncio.run(play())
        assert w.controls.frame != before and st.frame == w.controls.frame
        assert s.time == s.times[w.controls.frame]
    finally:
        s.close()


def test_a_district_without_a_run():
    from twin.viewer import Scene
    from twin.viewer.web import WebViewer

    s = Scene(city=lifeline_city(), size=(320, 240))
    try:
        w = WebViewer(s)
        assert w.server.state.n_frames == 1 and "base:buildings" in w.server.state.layer_keys
        w.set_frame(5)                                # clipped to the only frame
        w.apply_query("?time=08:30&camera=street")    # no clock: the time is ignored
        assert w.controls.frame == 0 and w.server.state.camera == "street"
        w.set_layers([])
        assert not any(s.layers.values())
    finally:
        s.close()


# ---- the page in headless Chromium ---------------------------------------------------------
def _foreground(img: np.ndarray) -> float:
    """Return the share of pixels that differ from their row's median colour (a blank
    view, its background a vertical gradient, gives ~0)."""
    img = img.astype(int)
    med = np.median(img, axis=1, keepdims=True)
    return float((np.abs(img - med).sum(axis=2) > 40).mean())


@pytest.fixture(scope="module")
def server(run, tmp_path_factory):
    import cim
    from twin.viewer.web import free_port

    city = tmp_path_factory.mktemp("webcity") / "city.city.json"
    cim.write_cityjson(lifeline_city(), city)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "view", str(run.path), "--city", str(city),
         "--web", "--port", str(port), "--size", "800x500"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    url, seen = None, []
    deadline = time.monotonic() + 90
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if "serving http://" in line:
            url = line.split("serving ", 1)[1].split()[0]
    if url is None:
        proc.kill()
        pytest.fail("the web viewer did not start:\n" + "".join(seen[-30:]))
    assert url == f"http://127.0.0.1:{port}/"     # loopback by default, the URL printed
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def page(server):
    if CHROMIUM is None:
        pytest.skip("no chromium (Debian's chromium package) to load the page")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright (Python package) drives chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu"])
        pg = browser.new_page(viewport={"width": 1100, "height": 720})
        yield pg
        browser.close()


def _view(pg) -> np.ndarray:
    from PIL import Image

    png = pg.locator("#twin-view").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _wait(pg, ok, what: str, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while True:
        img = _view(pg)
        if ok(img):
            return img
        if time.monotonic() > end:
            pytest.fail(f"the page did not show {what} within {timeout:.0f} s")
        pg.wait_for_timeout(300)


def test_page_renders_and_the_time_slider_moves_it(page, server):
    pg = page
    pg.goto(server + "?time=08:02")
    pg.wait_for_selector("#twin-clock")
    first = _wait(pg, lambda im: _foreground(im) > 0.05, "a rendered 3D view")
    # the URL's time reached the server (the view's clock text, the page's clock)
    end = time.monotonic() + 20
    while "08:02" not in pg.locator("#twin-clock").inner_text() and time.monotonic() < end:
        pg.wait_for_timeout(200)
    assert "08:02:00" in pg.locator("#twin-clock").inner_text()
    pg.wait_for_timeout(800)
    first = _view(pg)
    colours = np.unique(first.reshape(-1, 3) // 8, axis=0)
    assert len(colours) > 50 and first.std() > 10
    # move the slider to its end with the keyboard: the last record, a different picture
    thumb = pg.get_by_role("slider").first
    thumb.focus()
    thumb.press("End")
    h, w = first.shape[:2]

    def changed(im):
        if im.shape != first.shape:
            return False
        diff = np.abs(im.astype(int) - first.astype(int)).sum(axis=2) > 40
        diff[: int(0.2 * h), : int(0.45 * w)] = False        # not only the clock text
        return diff.mean() > 0.005

    last = _wait(pg, changed, "a new frame after moving the time slider")
    assert "08:10:00" in pg.locator("#twin-clock").inner_text()
    assert _foreground(last) > 0.05


def test_click_in_the_page_picks_a_road(page, server, run):
    pg = page
    img = _view(pg).astype(int)
    # road ribbons coloured by speed (green near the free speed), inside a green
    # neighbourhood (not an edge), left of the colour bars and below the title
    g = (img[..., 1] > img[..., 0] + 50) & (img[..., 1] > img[..., 2] + 50)
    g = g & np.roll(g, 2, 0) & np.roll(g, -2, 0) & np.roll(g, 2, 1) & np.roll(g, -2, 1)
    h, w = g.shape
    g[:, int(0.75 * w):] = False
    g[: int(0.2 * h)] = False
    ys, xs = np.nonzero(g)
    assert len(xs) > 20, "no road drawn in the view"
    box = pg.locator("#twin-view").bounding_box()
    links = {str(v) for v in run.open("traffic")["road_link"].values}
    text = ""
    for k in (len(xs) // 2, len(xs) // 3, 2 * len(xs) // 3):
        pg.mouse.click(float(box["x"] + xs[k]), float(box["y"] + ys[k]))
        end = time.monotonic() + 15
        while not text and time.monotonic() < end:
            pg.wait_for_timeout(250)
            text = pg.locator("#twin-pick").inner_text().strip()
        if text:
            break
    kind, elem = text.split()[:2]
    assert kind == "road_link" and elem in links, text
    assert "speed (km/h)" in text
