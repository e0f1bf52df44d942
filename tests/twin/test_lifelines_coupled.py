"""Lifelines coupled on the bus (:mod:`tests.twin.lifeline_city`): a power outage darkens the
signal (traffic) and stops the pump (water: pressure falls, demand goes unserved); a burst
takes a lane from the street above it; crews isolate it by the right valves and repair it."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from twin.kernels.power.process import PowerProcess
from twin.kernels.traffic import TrafficProcess
from twin.kernels.water.process import WaterProcess

from .lifeline_city import lifeline_city
from .test_runtime_traffic import demand

COUPLINGS = {"traffic/signal_power": "power/signal_power",
             "water/pump_power": "power/pump_power",
             "power/pump_load": "water/pump_load",
             "traffic/capacity_factor": "water/capacity_factor"}


def scenario(events=(), members=1, duration=900.0, kernels=None, **kw):
    city = lifeline_city()
    return twin.Scenario(
        city=city, duration=duration, seed=5, members=members,
        kernels=kernels or [TrafficProcess(vehicle_slots=8, threads=1), PowerProcess(dt=30),
                            WaterProcess(dt=60)],
        inputs={"traffic": demand(city)}, couplings=dict(COUPLINGS), events=list(events),
        record_interval=60.0, chunk_records=5, name="lifelines", **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("lifelines")
    base = twin.run(scenario(), out / "base.zarr", progress=False)
    trip = twin.run(scenario([twin.Event("outage", "L1", at=120, duration=360,
                                         layer="power")]), out / "trip.zarr", progress=False)
    return base, trip


def test_power_outage_darkens_the_signal_and_stops_the_pump(runs):
    base, trip = runs
    p = trip.open("power").isel(member=0)
    t = p.time.values
    out = (t > 120) & (t <= 480)
    assert (p.energized.sel(power_node="B1").values[out] == 0).all()
    assert (p.energized.sel(power_node="B1").values[~out] == 1).all()
    assert (p.signals_dark.values[out] == 1).all() and (p.signals_dark.values[~out] == 0).all()
    w, w0 = trip.open("water").isel(member=0), base.open("water").isel(member=0)
    # the pump stops: pressures fall from pump head to the reservoir's, demand goes unserved
    dry = out & (t >= 180)
    assert (w.pump_power.values[dry] == 0).all() and (w0.pump_power.values > 0).all()
    assert (w.min_pressure.values[dry] < 11.0).all() and (w0.min_pressure.values > 30).all()
    assert (w.unserved_total.values[dry] > 0).all()
    assert (w0.unserved_total.values < 1e-9).all()
    # after the restoration the pump runs again and everyone is served
    after = t >= 600
    np.testing.assert_allclose(w.pressure.values[after], w0.pressure.values[after], atol=1e-6)
    k = twin.kpis(trip)
    assert k.value("water", "unserved_m3") > 0 and twin.kpis(base).value("water",
                                                                          "unserved_m3") < 1e-6
    assert k.value("power", "energy_not_served_mwh") > 0
