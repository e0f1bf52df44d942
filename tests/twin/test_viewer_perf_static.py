"""What keeps the viewer's frames cheap under software rendering, checked on what it draws
(timings are too noisy on a shared machine): static layers carry baked lighting and are
drawn unlit, building floors are dropped and back faces culled, the terrain grid is
simplified without moving the surface more than 1 cm, series at the same place share one
mesh and one of them is shown, and a screenshot renders the frame once."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

import twin
from twin.kernels.traffic import TrafficProcess
from twin.viewer import Scene
from twin.viewer import geometry as vgeo

from .lifeline_city import lifeline_city
from .test_runtime_traffic import demand
from .test_viewer_draw_flood import bowl_city

SIZE = (480, 320)


@pytest.fixture(scope="module")
def district():
    s = Scene(None, city=bowl_city(), size=SIZE)
    yield s
    s.close()


def test_static_layers_are_lit_once_not_per_frame(district):
    s = district
    assert set(s.base) >= {"terrain", "roads", "buildings"}
    for name, actor in s.base.items():
        assert not actor.GetProperty().GetLighting(), name
    assert s.plotter.renderer.GetLights().GetNumberOfItems() <= 1
    # the baked light tells faces apart: a building's walls and roof differ in brightness
    pd = pv.wrap(s.base["buildings"].GetMapper().GetInput())
    rgb = np.asarray(pd.cell_data["rgb"], float).sum(1)
    b0 = np.flatnonzero(s.base_cells["buildings"] == 0)
    assert len(np.unique(rgb[b0])) >= 3


def test_buildings_lose_their_floors_and_face_out(district):
    s = district
    layer = s.twin.layers["buildings"]
    actor = s.base["buildings"]
    pd = pv.wrap(actor.GetMapper().GetInput())
    assert actor.GetProperty().GetBackfaceCulling()
    n_faces = len(layer.mesh.faces)
    assert pd.n_cells == n_faces - layer.n_objects * 2      # each box's two floor triangles
    pts = np.asarray(pd.points)
    tri = np.asarray(pd.faces).reshape(-1, 4)[:, 1:]
    n = np.cross(pts[tri[:, 1]] - pts[tri[:, 0]], pts[tri[:, 2]] - pts[tri[:, 0]])
    assert (n[:, 2] >= -1e-9).all()                          # nothing faces down
    centre = np.array([pts[layer.mesh.faces[layer.face_object == k].ravel()].mean(0)
                       for k in range(layer.n_objects)])
    own = s.base_cells["buildings"]
    out = ((pts[tri].mean(1) - centre[own]) * n).sum(1)
    assert (out > 0).all()                                   # every face wound outward


def test_terrain_grid_simplified_within_a_centimetre():
    # a 40 × 30 grid of 10 m cells: a plane tilted 2 % (merged), a 3 m bump (kept)
    x, y = np.meshgrid(np.arange(40) * 10.0, np.arange(30) * 10.0)
    z = 5.0 + 0.02 * x + 3.0 * np.exp(-((x - 200) ** 2 + (y - 150) ** 2) / 30.0 ** 2)
    z[z - 5.0 - 0.02 * x < 1e-4] = (5.0 + 0.02 * x)[z - 5.0 - 0.02 * x < 1e-4]
    ny, nx = z.shape
    vid = np.arange(ny * nx).reshape(ny, nx)
    sw, se, nw, ne = (vid[:-1, :-1].ravel(), vid[:-1, 1:].ravel(), vid[1:, :-1].ravel(),
                      vid[1:, 1:].ravel())
    f = np.concatenate([np.column_stack([sw, se, ne]), np.column_stack([sw, ne, nw])])
    v = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    rgb = np.column_stack([z.ravel()] * 3) * 10.0
    v2, f2, c2 = vgeo.simplify_surface(v, f, rgb)
    assert len(f2) < 0.4 * len(f)
    # every original vertex lies within 1 cm of the simplified surface (closest point)
    import vtk

    loc = vtk.vtkStaticCellLocator()
    loc.SetDataSet(pv.PolyData(v2, vgeo._cells(f2)))
    loc.BuildLocator()
    cp, cid, sid, d2 = [0.0] * 3, vtk.reference(0), vtk.reference(0), vtk.reference(0.0)
    worst = 0.0
    for p in v:
        loc.FindClosestPoint(p, cp, cid, sid, d2)
        worst = max(worst, d2.get() ** 0.5)
    assert worst <= vgeo.TERRAIN_TOLERANCE_M
    # the same ground area, the kept vertices keep their colours
    def area(vv, ff):
        return 0.5 * np.abs(np.cross(vv[ff[:, 1]] - vv[ff[:, 0]],
                                     vv[ff[:, 2]] - vv[ff[:, 0]])[:, 2]).sum()

    assert area(v2, f2) == pytest.approx(area(v, f), rel=1e-12)
    np.testing.assert_array_equal(c2, v2[:, 2:3].repeat(3, 1) * 10.0)
    # the bump's cells are not merged: its peak vertex is still there
    assert np.isclose(v2[:, 2].max(), z.max())


def test_series_at_one_place_share_a_mesh_and_one_is_shown(tmp_path):
    city = lifeline_city()
    run = twin.run(twin.Scenario(city=city, duration=180.0, seed=5,
                                 kernels=[TrafficProcess(vehicle_slots=16, threads=1)],
                                 inputs={"traffic": demand(city, n_trips=60, horizon=120.0)},
                                 record_interval=60.0, name="perf"),
                   tmp_path / "r.zarr", progress=False)
    s = Scene(run, city=city, size=SIZE)
    try:
        roads = [d for d in s.drawn.values() if d.series.draw.geometry == "road_link"]
        assert len(roads) >= 2 and len({id(d.geo) for d in roads}) == 1
        assert sum(d.visible for d in roads) == 1
        for d in roads:                           # all on, one after the other
            s.show_layer(d.key, True)
            assert [x.key for x in roads if x.visible] == [d.key]
            i = d.series.index_at(s.time)
            want = d.series.values(i)[d.lookup.clip(max=len(d.series.values(i)) - 1)]
            np.testing.assert_array_equal(
                np.isfinite(d.geo.mesh.point_data["value"]), np.isfinite(want))
        # a screenshot renders the frame once (pyvista's resize renders it twice more)
        count = []
        rw = s.plotter.render_window
        tag = rw.AddObserver("StartEvent", lambda *_: count.append(1))
        s.set_time(float(s.times[-1]))
        img = s.image()
        rw.RemoveObserver(tag)
        assert img.shape == (SIZE[1], SIZE[0], 3) and len(count) == 1
    finally:
        s.close()
