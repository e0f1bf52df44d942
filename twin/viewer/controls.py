"""Interaction on a :class:`~twin.viewer.scene.Scene`: time slider, play/pause, layer
toggles, picking and camera presets.

:class:`Controls` holds the logic (each action is a plain method, so tests drive it
offscreen); :meth:`Controls.attach` adds the VTK widgets and key bindings of the desktop
window, which call the same methods.

Keys: space play/pause, ←/→ one record, 1–4 cameras (overview, top, street, follow),
click to pick (text and a time-series chart of the element).
"""

from __future__ import annotations

import numpy as np

from .pick import pick, show_pick
from .scene import CAMERAS


class Controls:
    """The viewer's actions on ``scene``: ``playing``, ``frame`` (index in
    ``scene.times``), ``picked`` (the last :class:`~twin.viewer.pick.Pick`)."""

    def __init__(self, scene):
        self.scene = scene
        self.playing = False
        self.frame = int(np.searchsorted(scene.times, scene.time))
        self.picked = None
        self.slider = None
        self._buttons: dict = {}

    # ---- actions ------------------------------------------------------------------------
    def seek(self, t) -> None:
        """Show time ``t`` (s, "08:30"): snapped to the nearest record."""
        s = self.scene
        t = s.run.seconds(t) if s.run is not None else float(t)
        self.frame = int(np.argmin(np.abs(s.times - t)))
        self._show()

    def step(self, n: int = 1) -> None:
        """Move ``n`` records (wraps around at the end)."""
        self.frame = (self.frame + n) % len(self.scene.times)
        self._show()

    def toggle_play(self, on=None) -> bool:
        self.playing = (not self.playing) if on is None else bool(on)
        return self.playing

    def tick(self) -> None:
        """Advance one record when playing (the desktop's timer calls this)."""
        if self.playing:
            self.step(1)

    def toggle_layer(self, key: str, on=None) -> bool:
        on = (not self.scene.layers[key]) if on is None else bool(on)
        self.scene.show_layer(key, on)
        self.scene.render()
        return on

    def click(self, x: float, y: float):
        """Pick at display pixel (x, y) and show what was hit (None clears the panel)."""
        self.picked = pick(self.scene, x, y)
        show_pick(self.scene, self.picked)
        self.scene.render()
        return self.picked

    def camera(self, preset: str) -> None:
        self.scene.camera(preset)
        self.scene.render()

    def _show(self) -> None:
        s = self.scene
        s.set_time(float(s.times[self.frame]))
        if self.slider is not None:
            self.slider.GetRepresentation().SetValue(float(s.times[self.frame]) / 60.0)
        if self.picked is not None:  # keep the chart's marker on the time shown
            show_pick(s, self.picked)
        s.render()

    # ---- desktop widgets ----------------------------------------------------------------------
    def attach(self, interval_ms: int = 250) -> None:
        """Add the slider, play button, layer checkboxes, picking and keys to the plotter."""
        s, pl = self.scene, self.scene.plotter
        t0, t1 = float(s.times[0]) / 60.0, float(s.times[-1]) / 60.0
        if t1 > t0:
            self.slider = pl.add_slider_widget(
                lambda v: self.seek(v * 60.0), [t0, t1], value=s.time / 60.0,
                title="minutes from start", pointa=(0.25, 0.06), pointb=(0.75, 0.06),
                style="modern", fmt="%.0f", interaction_event="always")
        self._buttons["play"] = pl.add_checkbox_button_widget(
            lambda on: self.toggle_play(on), value=False, position=(10, 60), size=30,
            color_on="green", color_off="grey")
        pl.add_text("play", position=(45, 65), font_size=8, color="black")
        for k, key in enumerate(s.layers):
            y = 110 + 34 * k
            self._buttons[key] = pl.add_checkbox_button_widget(
                lambda on, key=key: self.toggle_layer(key, on), value=s.layers[key],
                position=(10, y), size=26, color_on="#3070c0", color_off="#c0c0c0")
            pl.add_text(key, position=(42, y + 4), font_size=8, color="black")
        def on_click(pos):  # normalised viewport coordinates -> pixels
            w, h = pl.window_size
            self.click(pos[0] * w, pos[1] * h)

        pl.track_click_position(on_click, side="left", viewport=True)
        pl.add_key_event("space", lambda: self.toggle_play())
        pl.add_key_event("Right", lambda: self.step(1))
        pl.add_key_event("Left", lambda: self.step(-1))
        for i, preset in enumerate(CAMERAS):
            pl.add_key_event(str(i + 1), lambda p=preset: self.camera(p))
        pl.add_timer_event(max_steps=10**9, duration=interval_ms, callback=lambda _: self.tick())
