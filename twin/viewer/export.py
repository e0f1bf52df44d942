"""Offscreen outputs of a :class:`~twin.viewer.scene.Scene`: PNG frames, movies, and a
self-contained interactive HTML file of one moment.

The HTML is trame-vtk's standalone vtk.js viewer with the scene serialised into it (the
same serialisers a trame web view uses, run without a server); nothing is loaded from the
network when it is opened.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

#: the standalone viewer adds favicon links to a web site at load time: dropped
_FAVICON = re.compile(r"https://kitware\.github\.io/vtk-js/icon/favicon-\$\{t\}x\$\{t\}\.png")


def frames(scene, times=None, n: int | None = None):
    """Yield (t s, (h, w, 3) uint8 image) at ``times`` (default: every record, or ``n``
    evenly spaced ones)."""
    times = scene.times if times is None else np.asarray(
        [scene.run.seconds(t) if scene.run is not None else float(t) for t in times])
    if n is not None and len(times) > n:
        times = times[np.linspace(0, len(times) - 1, n).round().astype(int)]
    for t in times:
        scene.set_time(t)
        yield float(t), scene.image()


def movie(scene, path, times=None, fps: float = 6.0, n: int | None = None) -> Path:
    """Write a movie of the scene over ``times`` to ``path`` and return the path written:
    MP4 (H.264 through imageio-ffmpeg) when ``path`` ends in .mp4 and an encoder is there,
    else an animated GIF next to it (``.gif``)."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".mp4", ".m4v", ".mov", ".avi", ".mkv"):
        try:
            import imageio_ffmpeg  # noqa: F401

            w = imageio.get_writer(str(path), fps=fps, codec="libx264", quality=7,
                                   macro_block_size=8, ffmpeg_log_level="error")
        except (ImportError, RuntimeError, OSError):
            path = path.with_suffix(".gif")
        else:
            with w:
                for _, img in frames(scene, times, n):
                    w.append_data(img)
            return path
    with imageio.get_writer(str(path), mode="I", duration=1000.0 / fps, loop=0) as w:
        for _, img in frames(scene, times, n):
            w.append_data(img[::2, ::2])          # half size: GIFs are large
    return path


def scene_state(plotter) -> dict:
    """Return the vtk.js standalone state of ``plotter``'s render window: {"scene",
    "hashes"} as trame-vtk's local view exports it."""
    from trame_vtk.modules.vtk.serializers import (
        SynchronizationContext,
        extract_array_hash,
        initialize_serializers,
        reference_id,
        serialize,
    )

    initialize_serializers()
    ctx = SynchronizationContext()
    rw = plotter.render_window
    rw.Render()
    camera = plotter.renderer.GetActiveCamera()
    view = serialize(None, rw, reference_id(rw), ctx, 1)
    view["extra"] = {"vtkRefId": reference_id(rw), "centerOfRotation": camera.GetFocalPoint(),
                     "camera": reference_id(camera)}
    hashes = {}
    for entry in extract_array_hash(view):
        h = entry.get("hash")
        hashes[h] = dict(**entry, content=ctx.get_cached_data_array(h, False))
    return {"hashes": hashes, "scene": view}


def html(scene, path, time=None) -> Path:
    """Write a self-contained interactive HTML file of the scene at ``time`` (default: the
    time shown) and return its path. Rotate, zoom and pan work in any browser without
    Python or a network."""
    from trame_vtk.tools.vtksz2html import write_html

    if time is not None:
        scene.set_time(time)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = scene_state(scene.plotter)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("index.json", json.dumps(state))
    out = io.StringIO()
    write_html(buf.getvalue(), out)
    text = _FAVICON.sub("data:,", out.getvalue())
    title = f"{scene._title_text} {scene.clock()}".replace("<", "&lt;")
    text = text.replace("<head>", f"<head><title>{title}</title>", 1)
    path.write_text(text, encoding="utf-8")
    return path


def external_urls(text: str) -> list[str]:
    """Return the external resources an HTML text would load (src/href/url()/@import to
    http(s) or protocol-relative addresses)."""
    pat = re.compile(r"""(?:\bsrc\s*=\s*|\bhref\s*=\s*|url\(\s*|@import\s+)["'`]?"""
                     r"""((?:https?:)?//[^"'`)\s>]+)""", re.I)
    return sorted(set(pat.findall(text)))
