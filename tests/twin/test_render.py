"""Offscreen snapshot of a twin (pyvista; VTK software rendering)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import twin
from tests.twin.test_build_cities import make_city
from twin.export.render import polydata


def test_polydata_from_arrays():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], float)
    f = np.array([[0, 1, 2], [1, 3, 2]])
    pd = polydata(v, f, np.full((4, 4), 200, np.uint8))
    assert pd.n_points == 4 and pd.n_cells == 2
    assert pd.point_data["rgb"].shape == (4, 3)


def test_snapshot_writes_a_coloured_png(tmp_path):
    tw = twin.build(make_city())
    path = tw.snapshot(tmp_path / "city.png", size=(640, 480))
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (480, 640, 3)
    assert img.std() > 20
    colours = {tuple(c) for c in (img.reshape(-1, 3) // 32)}
    assert len(colours) > 20
    # buildings, water, roads and terrain all show: count pixels near their colours
    flat = img.reshape(-1, 3).astype(int)

    def share(rgb, tol=40):
        return np.mean(np.abs(flat - rgb).sum(axis=1) < tol)

    assert share((55, 115, 190), 90) > 0.001             # water (shaded blue)
    assert share((45, 45, 50), 40) > 0.001               # roads (dark grey)
    # the camera looks at the district: the middle of the image is not background
    mid = img[200:280, 280:360].reshape(-1, 3).astype(int)
    assert np.mean(np.abs(mid - (244, 241, 234)).sum(axis=1) > 30) > 0.5


@pytest.mark.parametrize("colour_by", ["height"])
def test_snapshot_colour_by_height(tmp_path, colour_by):
    tw = twin.build(make_city(), colour_by=colour_by)
    path = tw.snapshot(tmp_path / "h.png", size=(320, 240), title="by height")
    assert Image.open(path).size == (320, 240)
