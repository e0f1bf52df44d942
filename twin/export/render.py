"""Offscreen PNG snapshot of a twin with pyvista (VTK software rendering works; no display)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..build.meshes import SITE_COLOURS, USE_COLOURS

#: Camera: from the south-south-west, this many degrees above the horizon.
CAMERA_ELEVATION_DEG = 38.0
CAMERA_AZIMUTH_DEG = 200.0     # compass bearing from the district centre to the camera
_CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")
LAYER_STYLE = {
    "terrain": {"ambient": 0.35, "diffuse": 0.7},
    "water": {"ambient": 0.3, "specular": 0.4, "specular_power": 30},
    "roads": {"ambient": 0.5, "diffuse": 0.5},
    "buildings": {"ambient": 0.25, "diffuse": 0.8},
    "sites": {"ambient": 0.5, "diffuse": 0.6},
}


def polydata(vertices: np.ndarray, faces: np.ndarray, colours: np.ndarray | None = None):
    """Return a pyvista.PolyData of a triangle mesh (faces prefixed with their 3s), with
    ``colours`` (n_vertices, 3|4) uint8 as the point array ``"rgb"``."""
    import pyvista as pv

    faces = np.asarray(faces, np.int64)
    cells = np.column_stack([np.full(len(faces), 3, np.int64), faces]).ravel()
    pd = pv.PolyData(np.asarray(vertices, np.float64), cells)
    if colours is not None and len(colours):
        pd.point_data["rgb"] = np.asarray(colours, np.uint8)[:, :3]
    return pd


def snapshot(twin, path, size=(1600, 1200), *, title: str | None = None,
             layers=None, legend: bool = True) -> Path:
    """Render an oblique view of ``twin`` to a PNG at ``path`` and return the path.

    Terrain in earth tones, water blue, roads dark grey, buildings in their layer colours
    (by use or height, see :func:`twin.build`), sites as pins coloured by kind; the camera
    looks from the south-south-west and frames the district; ``title`` defaults to the
    city's title.
    """
    import pyvista as pv

    pv.OFF_SCREEN = True
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [n for n in ("terrain", "water", "roads", "buildings", "sites")
             if n in twin.layers and (layers is None or n in layers)]
    pl = pv.Plotter(off_screen=True, window_size=[int(size[0]), int(size[1])])
    try:
        pl.set_background("#f4f1ea", top="#9cc4e4")
        drawn = []
        for name in names:
            mesh = twin.layers[name].mesh
            if len(mesh.faces) == 0:
                continue
            pd = polydata(mesh.vertices, mesh.faces, mesh.visual.vertex_colors)
            pl.add_mesh(pd, scalars="rgb", rgb=True, show_scalar_bar=False,
                        smooth_shading=False, **LAYER_STYLE.get(name, {}))
            drawn.append(mesh.bounds)
        if drawn:
            _frame(pl, np.array(drawn), size[0] / size[1])
        label = title if title is not None else (twin.city.metadata.get("title")
                                                 or "district twin")
        n_b = twin.layers["buildings"].n_objects if "buildings" in twin.layers else 0
        n_l = twin.city.roads.n_links
        pl.add_text(f"{display_title(label)}\n{n_b:,} buildings · {n_l:,} road links",
                    position="upper_left", font_size=12, color="black")
        if legend and "buildings" in names:
            _legend(pl, twin)
        pl.screenshot(str(path), window_size=[int(size[0]), int(size[1])])
    finally:
        pl.close()
    return path


def _frame(pl, bounds: np.ndarray, aspect: float) -> None:
    """Point the camera at the district from the south-south-west, as close as it can be
    with the whole extent (ground and roofs) in view."""
    lo = bounds[:, 0].min(axis=0)
    hi = bounds[:, 1].max(axis=0)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])
    centre = (lo + hi) / 2
    el, az = np.radians(CAMERA_ELEVATION_DEG), np.radians(CAMERA_AZIMUTH_DEG)
    back = np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])
    forward = -back
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    view_angle = 30.0
    t_v = np.tan(np.radians(view_angle / 2)) * 0.94        # a small margin
    t_h = t_v * aspect
    for _ in range(3):
        rel = corners - centre
        d, h, v = rel @ forward, rel @ right, rel @ up
        distance = float(np.max(np.maximum(np.abs(h) / t_h, np.abs(v) / t_v) - d))
        # re-centre on the middle of the projected extent, then fit again
        sh, sv = h / (d + distance), v / (d + distance)
        centre = centre + distance * (right * (sh.max() + sh.min()) / 2
                                      + up * (sv.max() + sv.min()) / 2)
    cam = pl.camera
    cam.view_angle = view_angle
    cam.focal_point = tuple(centre)
    cam.position = tuple(centre + distance * back)
    cam.up = tuple(up)
    # a tight depth range: with VTK's default (near = far / 1000) water half a metre above
    # the lake bed z-fights with it kilometres away
    depth = (corners - (centre + distance * back)) @ forward
    cam.clipping_range = (max(0.5 * float(depth.min()), 1.0), 1.5 * float(depth.max()))


def display_title(text: str) -> str:
    """Return ``text`` without the CJK characters VTK's bundled fonts cannot draw (and the
    brackets left empty by removing them)."""
    text = _CJK.sub("", text)
    return re.sub(r"\s*[(（]\s*[)）]", "", text).strip()


def _legend(pl, twin) -> None:
    """Add a legend of the building uses (or nothing for height colouring) and site kinds."""
    entries = []
    if twin.info.get("colour_by", "use") == "use":
        present = {str(u) for u in twin.city.buildings.use}
        for use, rgb in USE_COLOURS.items():
            if use in present:
                entries.append([use, np.array(rgb) / 255.0])
    kinds = {str(k) for k in twin.city.sites.kind}
    for kind, rgb in SITE_COLOURS.items():
        if kind in kinds:
            entries.append([kind.replace("_", " ") + " ▼", np.array(rgb) / 255.0])
    if entries:
        pl.add_legend(entries, bcolor="#4a4a4a", border=True,
                      size=(0.15, min(0.022 * len(entries), 0.4)), loc="lower left",
                      face="rectangle")
