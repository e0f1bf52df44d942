"""``twin view RUN|DISTRICT --web [--port N]``: the viewer in a browser, through trame.

The same :class:`~twin.viewer.scene.Scene` and :class:`~twin.viewer.controls.Controls` as on
the desktop: the scene renders offscreen on the server (no display needed) and a trame
remote view streams its images to the page. The page adds the controls: a time slider
(with the wall clock), play / pause, one checkbox per layer, camera presets, and a click on
the 3D view picks the element under it (its id, attributes and values in the side panel,
its time series as a small chart in the view).

    >>> from twin.viewer import Scene
    >>> from twin.viewer.web import serve
    >>> serve(Scene("out/runs/x.zarr"), port=8080)      # blocks; prints the URL

The server binds to 127.0.0.1 unless told otherwise. Query parameters of the page URL set
its start: ``?time=08:30`` (a time the run's clock understands) and ``?camera=top``.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import sys

import numpy as np

from .controls import Controls
from .pick import show_pick
from .scene import CAMERAS

#: seconds between frames while playing
PLAY_INTERVAL_S = 0.4
_names = itertools.count()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def url_of(host: str, port: int) -> str:
    """Return the page's URL for a server bound to ``host``:``port``."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def remote_view(plotter, **kwargs):
    """Return a server-rendered trame view of ``plotter`` (pyvista's, else trame-vtk's)."""
    kwargs.setdefault("picking_modes", ("pick_modes", ["click"]))
    try:
        from trame_pyvista.widgets import PyVistaRemoteView
    except ImportError:
        from trame.widgets.vtk import VtkRemoteView

        return VtkRemoteView(plotter.render_window, interactive_ratio=1, still_ratio=1,
                             **kwargs)
    return PyVistaRemoteView(plotter, **kwargs)


class WebViewer:
    """A trame app showing ``scene``: ``server`` (trame Server), ``controls``
    (:class:`Controls`), ``view`` (the remote view). Its handlers (``set_frame``,
    ``set_layers``, ``set_camera``, ``click``, ``play``) are plain methods, so tests drive
    them without a browser; the page's widgets call them through the trame state."""

    def __init__(self, scene, server=None, title: str = "twin view"):
        from trame.app import get_server

        self.scene = scene
        self.controls = Controls(scene)
        self.server = server or get_server(f"twin-view-{next(_names)}", client_type="vue3")
        self.title = title
        self.view = None
        self._task = None
        st = self.server.state
        st.update({
            "frame": self.controls.frame,
            "n_frames": len(scene.times),
            "clock": scene.clock(),
            "playing": False,
            "layer_keys": list(scene.layers),
            "layers_on": [k for k, on in scene.layers.items() if on],
            "camera": "overview",
            "cameras": list(CAMERAS),
            "pick_text": "",
            "notes": list(scene.notes),
            "url_query": "",
        })
        st.change("frame")(lambda frame, **_: self.set_frame(frame))
        st.change("layers_on")(lambda layers_on, **_: self.set_layers(layers_on))
        st.change("camera")(lambda camera, **_: self.set_camera(camera))
        st.change("playing")(lambda playing, **_: self.play(playing))
        st.change("url_query")(lambda url_query, **_: self.apply_query(url_query))
        self._preset = "overview"
        self._cam = self._camera_state()
        scene.plotter.render_window.AddObserver("WindowResizeEvent", self._resized)
        self._layout()

    def _camera_state(self) -> tuple:
        c = self.scene.plotter.camera
        return tuple(c.position) + tuple(c.focal_point) + tuple(c.up)

    def _resized(self, window, _event) -> None:
        """The page sized the server's window to its view: frame the camera preset again
        for the new shape, unless the camera was moved by hand since it was set."""
        w, h = window.GetSize()
        if w < 8 or h < 8 or (w, h) == tuple(self.scene.size):
            return
        untouched = self._camera_state() == self._cam
        self.scene.size = (int(w), int(h))
        if untouched:
            self.scene.camera(self._preset)
            self._cam = self._camera_state()

    # ---- handlers (the page's widgets call these through the state) ---------------------
    def set_frame(self, frame) -> None:
        """Show record ``frame`` (index into ``scene.times``)."""
        frame = int(np.clip(int(frame), 0, len(self.scene.times) - 1))
        if frame != self.controls.frame or self.scene.time != self.scene.times[frame]:
            # Controls._show without its render: the image push below renders once
            self.controls.frame = frame
            self.scene.set_time(float(self.scene.times[frame]))
            if self.controls.picked is not None:
                show_pick(self.scene, self.controls.picked)
        self.server.state.clock = self.scene.clock()
        if self.controls.picked is not None:
            self.server.state.pick_text = self.controls.picked.text(self.scene.clock())
        self._push()

    def set_layers(self, keys) -> None:
        """Show exactly the layers ``keys`` (series keys and ``base:<name>``)."""
        keys = set(keys or ())
        for key, on in self.scene.layers.items():
            if (key in keys) != on:
                self.scene.show_layer(key, key in keys)
        self._push()

    def set_camera(self, preset: str) -> None:
        if preset in CAMERAS:
            self.controls.camera(preset)
            self._preset, self._cam = preset, self._camera_state()
            self._push()

    def reframe(self) -> None:
        """Set the chosen camera preset again (after the view was turned by hand)."""
        self.set_camera(self._preset)

    def click(self, event) -> None:
        """Pick at a click of the remote view (``event``: vtk.js's ``{position: {x, y},
        size: [w, h]}``, canvas pixels from the bottom left)."""
        if not isinstance(event, dict) or "position" not in event:
            return
        pos, size = event["position"], event.get("size") or self.scene.plotter.window_size
        w, h = self.scene.plotter.window_size
        x = float(pos["x"]) * w / max(float(size[0]), 1.0)
        y = float(pos["y"]) * h / max(float(size[1]), 1.0)
        p = self.controls.click(x, y)
        self.server.state.pick_text = "" if p is None else p.text(self.scene.clock())
        self._push()

    def play(self, on) -> None:
        """Start or stop playing (one record every :data:`PLAY_INTERVAL_S`)."""
        self.controls.toggle_play(bool(on))
        if self.controls.playing and (self._task is None or self._task.done()):
            try:
                self._task = asyncio.get_running_loop().create_task(self._run())
            except RuntimeError:      # no event loop (not served): nothing to animate
                self._task = None

    async def _run(self) -> None:
        st = self.server.state
        while self.controls.playing:
            await asyncio.sleep(PLAY_INTERVAL_S)
            if not self.controls.playing:
                break
            with st:
                self.set_frame((self.controls.frame + 1) % len(self.scene.times))
                st.frame = self.controls.frame

    def apply_query(self, query: str) -> None:
        """Apply the page URL's query (``time=08:30``, ``camera=top``)."""
        from urllib.parse import parse_qs

        q = {k: v[-1] for k, v in parse_qs((query or "").lstrip("?")).items()}
        st = self.server.state
        if q.get("camera") in CAMERAS:
            st.camera = q["camera"]
        if "time" in q:
            try:
                self.controls.seek(q["time"])
            except (ValueError, TypeError, KeyError):
                return
            st.frame = self.controls.frame
            st.clock = self.scene.clock()
            self._push()

    def _push(self) -> None:
        if self.view is not None:
            self.view.update()

    # ---- the page ------------------------------------------------------------------------------
    def _layout(self) -> None:
        from trame.ui.vuetify3 import SinglePageWithDrawerLayout
        from trame.widgets import client, html
        from trame.widgets import vuetify3 as v3

        with SinglePageWithDrawerLayout(self.server, full_height=True) as layout:
            layout.title.set_text(self.title)
            with layout.toolbar:
                v3.VSpacer()
                v3.VBtn(text=("playing ? 'Pause' : 'Play'",), click="playing = !playing",
                        variant="tonal", classes="mx-2", id="twin-play")
                v3.VSlider(v_model=("frame",), min=0, max=("n_frames - 1",), step=1,
                           hide_details=True, density="compact", classes="mx-4",
                           style="max-width: 40%;", id="twin-time")
                html.Span("{{ clock }}", classes="text-h6 mx-2", id="twin-clock")
                v3.VSelect(v_model=("camera",), items=("cameras",), density="compact",
                           hide_details=True, style="max-width: 150px;", label="camera")
                v3.VBtn(text="frame", click=self.reframe, variant="text", classes="mx-1",
                        title="the camera preset again")
            with layout.drawer:
                html.Div("Layers", classes="text-subtitle-1 px-3 pt-2")
                v3.VCheckbox(v_for="key in layer_keys", key="key", v_model=("layers_on",),
                             value=("key",), label=("key",), density="compact",
                             hide_details=True, classes="px-2")
                html.Div("Picked (click the view)", classes="text-subtitle-1 px-3 pt-3")
                html.Pre("{{ pick_text }}", id="twin-pick",
                         style="font-size: 11px; white-space: pre-wrap;", classes="px-3")
                html.Div("{{ note }}", v_for="note in notes", key="note",
                         classes="text-caption text-red-darken-3 px-3")
            with layout.content:
                with v3.VContainer(fluid=True, classes="pa-0 fill-height", id="twin-view"):
                    self.view = remote_view(self.scene.plotter, click=(self.click, "[$event]"))
            # the page's URL query (?time=08:30) reaches the server once the page is up
            client.ClientTriggers(mounted="url_query = window.location.search")
        self.layout = layout

    # ---- serving ---------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0, *, timeout: int = 0,
              quiet: bool = False) -> None:
        """Serve on ``host``:``port`` (0: a free one) until interrupted; prints the URL."""
        port = int(port) or free_port(host)
        url = url_of(host, port)
        if not quiet:
            self.server.controller.on_server_ready.add(
                lambda **_: print(f"twin view: serving {url}  (Ctrl-C to stop)", flush=True))
        argv, sys.argv = sys.argv, sys.argv[:1]   # trame parses sys.argv: not ours
        try:
            self.server.start(host=host, port=port, open_browser=False, timeout=timeout,
                              show_connection_info=False, disable_logging=True)
        finally:
            sys.argv = argv


def serve(scene, host: str = "127.0.0.1", port: int = 0, *, timeout: int = 0) -> int:
    """Serve ``scene`` in a browser at http://host:port/ until interrupted; return 0.

    ``timeout`` s: stop after that long without a connected page (0: never)."""
    from ..errors import TwinError

    try:
        import trame  # noqa: F401
        import trame_vtk  # noqa: F401
        import trame_vuetify  # noqa: F401
    except ImportError as e:
        scene.close()
        raise TwinError(f"twin view --web needs trame, trame-vtk and trame-vuetify "
                        f"(pip install 'district-twin[web]'): {e}") from e
    try:
        WebViewer(scene).start(host, port, timeout=timeout)
    finally:
        scene.close()
    return 0
