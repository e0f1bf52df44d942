"""The flood kernel in the runtime and on a city: twin.flood on the Lihu district (rasters with
x/y and the CRS, mass balance), FloodProcess members in one batch, impacts on roads and
sites, the Pregnolato depth–speed function, and the kernel registry."""

from __future__ import annotations

import numpy as np
import pytest

import cim
import twin
from twin.kernels.flood import FloodProcess, rain
from twin.kernels.flood.impacts import speed_factor


@pytest.fixture(scope="module")
def lihu():
    return cim.load_district("lihu")


def test_pregnolato_depth_speed_function():
    """Pregnolato et al. (2017): 86.9 km/h on a dry road, 0 from 300 mm; at 100 mm the
    published curve gives 0.0009·100² − 0.5529·100 + 86.9448 = 40.7 km/h."""
    f = speed_factor(np.array([0.0, 0.1, 0.2999, 0.3, 1.0]))
    assert f[0] == 1.0
    assert abs(f[1] * 86.9448 - 40.6548) < 1e-9
    assert 0 < f[2] < 0.05
    assert (f[3:] == 0).all()


def test_flood_on_the_district_keeps_mass_and_names_the_crs(lihu):
    ds = twin.flood(lihu, rain.chicago(100, 1800, step=300), 1800.0, cell=100.0,
                    record_every=900)
    assert ds.depth.dims == ("time", "y", "x")
    assert ds.attrs["crs"] == "EPSG:4549" and "CGCS2000" in ds.spatial_ref.attrs["crs_wkt"]
    x0, y0, x1, y1 = lihu.terrain.bounds
    assert x0 < float(ds.x.min()) < float(ds.x.max()) < x1
    assert float(ds.y[0]) > float(ds.y[-1])  # row 0 is north
    assert float(ds.mass_rel_error.max()) < 1e-9
    assert float(ds.infiltration[-1]) > 0 and float(ds.water_bodies[-1]) > 0
    assert float(ds.depth.min()) >= 0.0
    rain_mm = rain.chicago(100, 1800, step=300).total_mm()
    area = ds.sizes["x"] * ds.sizes["y"] * 100.0 ** 2
    assert abs(float(ds.rain[-1]) - rain_mm * 1e-3 * area) < 1e-6 * float(ds.rain[-1])


def test_flood_process_members_and_impacts(lihu, tmp_path):
    storms = [rain.chicago(100, 1800, step=300), rain.uniform(0.0, 1800)]
    sc = twin.Scenario(lihu, duration=1800, seed=1, kernels=[FloodProcess(dt=600, cell=100.0)],
                       inputs={"flood": twin.per_member(storms)}, members=2)
    run = twin.run(sc, out=tmp_path / "f.zarr")
    ds = run.open("flood")
    assert ds.depth.dims == ("time", "member", "y", "x")
    assert ds.road_depth.dims == ("time", "member", "road_link")
    wet, dry = ds.isel(member=0), ds.isel(member=1)
    assert float(wet.storage_m3[-1]) > 0 and float(dry.storage_m3[-1]) == 0.0
    assert float(abs(ds.mass_rel_error).max()) < 1e-9
    assert float(dry.speed_factor.min()) == 1.0
    assert float(wet.speed_factor.min()) < 1.0
    # the published speed factor follows the recorded road depth through Pregnolato's curve
    np.testing.assert_allclose(wet.speed_factor[-1], speed_factor(wet.road_depth[-1]))
    k = {x.name: x.value for x in twin.kpis(run).layers["flood"][0]}
    assert k["flooded_area_km2"] >= 0 and k["mass_rel_error"] < 1e-9


def test_flood_is_a_builtin_kernel():
    from twin.core.kernel import kernel_class

    assert kernel_class("flood") is FloodProcess
    assert "flood" in twin.kernels.BUILTIN


@pytest.mark.slow
def test_interrupted_flood_run_resumes_bit_identical(lihu, tmp_path):
    from .runcompare import assert_runs_equal
    from .test_runtime_traffic import Crash

    def scenario(crash_at=None, crash=False):
        ks = [FloodProcess(dt=300, cell=200.0)] + ([Crash(crash_at)] if crash else [])
        return twin.Scenario(lihu, duration=2400, seed=3, kernels=ks,
                             inputs={"flood": rain.chicago(50, 2400, step=300)},
                             checkpoint_interval=600)

    full = twin.run(scenario(), tmp_path / "full.zarr", progress=False)
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(scenario(1500, True), tmp_path / "r.zarr", progress=False)
    again = twin.run(scenario(None, True), tmp_path / "r.zarr", resume=True, progress=False)
    assert again.provenance["resumed"] == 1
    assert_runs_equal(full, again, ("flood",), ())


def test_spatial_rain_equals_uniform_rain_of_the_same_field():
    """A spatial hyetograph that is the same everywhere gives the uniform run; one that rains
    on the west half only puts all its water there."""
    from twin.kernels.flood.grid import make_grid

    yy, xx = np.mgrid[0:30, 0:40]
    z = 0.01 * xx + 0.2 * np.sin(yy / 3.0)
    g = make_grid(z, 10.0)
    edges = np.array([0.0, 600.0, 1200.0])
    mmh = np.array([30.0, 60.0])
    uni = twin.flood(g, rain.from_series(edges, mmh), 1200.0, boundary="closed")
    field = np.broadcast_to(mmh[:, None, None], (2, 30, 40))
    spa = twin.flood(g, rain.from_series(edges, field), 1200.0, boundary="closed")
    np.testing.assert_allclose(spa.depth.values, uni.depth.values, rtol=1e-12, atol=1e-15)
    west = field * (xx < 20)[None]
    half = twin.flood(g, rain.from_series(edges, west), 600.0, boundary="closed",
                      record_every=600.0)
    assert float(half.depth.isel(time=-1).values[:, 25:].max()) == 0.0
    assert abs(float(half.rain[-1]) - 30.0 / 3.6e6 * 600 * 600 * 100.0) < 1e-9
