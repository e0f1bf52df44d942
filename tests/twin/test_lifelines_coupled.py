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
    # every junction serves one building here: the buildings' unserved demand adds up to the
    # junctions', and a building's share is its unserved ÷ its required demand
    np.testing.assert_allclose(w.unserved.values.sum(1), w.unserved_total.values, atol=1e-12)
    assert ((w.unserved_share.values >= 0) & (w.unserved_share.values <= 1)).all()
    assert (w.unserved_share.values[dry].max(1) > 0).all()
    assert (w0.unserved_total.values < 1e-9).all()
    # after the restoration the pump runs again and everyone is served
    after = t >= 600
    np.testing.assert_allclose(w.pressure.values[after], w0.pressure.values[after], atol=1e-6)
    k = twin.kpis(trip)
    assert k.value("water", "unserved_m3") > 0 and twin.kpis(base).value("water",
                                                                          "unserved_m3") < 1e-6
    assert k.value("power", "energy_not_served_mwh") > 0


def _pipe_under(city, road_link: str) -> str:
    """The water pipe laid along road link ``road_link``."""
    roads, w = city.roads, city.water_network
    k = list(roads.link_ids).index(road_link)
    a, b = roads.node_ids[roads.link_from[k]], roads.node_ids[roads.link_to[k]]
    ends = {f"J{a}", f"J{b}"}
    for i, (f, t) in enumerate(zip(w.link_from, w.link_to)):
        if {w.node_ids[f], w.node_ids[t]} == ends:
            return str(w.link_ids[i])
    raise KeyError(road_link)


@pytest.fixture(scope="module")
def main_break(tmp_path_factory):
    city = lifeline_city()
    road = str(city.roads.link_ids[city.roads.link_from == list(city.roads.node_ids).index(
        "n01")][0])
    pipe = _pipe_under(city, road)
    events = [twin.Event("burst", pipe, at=120, layer="water", details={"area_m2": 0.0005}),
              twin.Event("isolation", pipe, at=300, layer="water"),
              twin.Event("repair", pipe, at=600, layer="water")]
    out = tmp_path_factory.mktemp("break")
    run = twin.run(scenario(events), out / "break.zarr", progress=False)
    return run, pipe, city, road


def test_a_burst_leaks_takes_a_lane_and_isolation_cuts_the_segment(main_break, runs):
    run, pipe, city, road = main_break
    base = runs[0].open("water").isel(member=0)
    w = run.open("water").isel(member=0)
    t = w.time.values
    leak = (t > 120) & (t <= 300)
    p_idx = list(city.water_network.link_ids).index(pipe)
    # the leak draws water: the pump delivers more, pressure falls
    assert (w.pump_power.values[leak].ravel() > base.pump_power.values[leak].ravel()).all()
    assert (w.min_pressure.values[leak] < base.min_pressure.values[leak]).all()
    # isolated: the valves around the pipe's segment are closed; its pipe carries nothing
    iso = (t > 300) & (t <= 600)
    assert np.abs(w.flow.values[iso, p_idx]).max() < 1e-6
    ev = run.events
    row = [i for i, k in enumerate(ev.kind) if k == "isolation" and ev.phase[i] == "start"][0]
    assert ev.details[row]["valves"] and ev.details[row]["nodes_cut"] >= 0
    table = run.table("water", "isolations")
    assert table["isolation_link"].tolist() == [pipe]
    assert table["isolation_start_s"].tolist() == [300.0]
    assert table["isolation_end_s"].tolist() == [600.0]
    # repaired: the network is back to the base case
    after = t >= 720
    np.testing.assert_allclose(w.pressure.values[after], base.pressure.values[after],
                               atol=1e-6)
    # the burst took one of the two lanes of the streets above it while it leaked
    burst = [i for i, k in enumerate(ev.kind) if k == "burst" and ev.phase[i] == "start"][0]
    roads = ev.details[burst]["road_links"]
    assert road in roads
    assert len(roads) < city.roads.n_links / 2
    tr = run.open("traffic").isel(member=0)
    assert tr.sizes["road_link"] == city.roads.n_links


def test_members_in_one_batch_equal_separate_runs(tmp_path):
    ev = twin.Event("outage", "L1", at=120, duration=240, layer="power", member=1)
    both = twin.run(scenario([ev], members=2, duration=480), tmp_path / "both.zarr",
                    progress=False)
    one = twin.run(scenario([twin.Event("outage", "L1", at=120, duration=240,
                                        layer="power")], duration=480),
                   tmp_path / "one.zarr", progress=False)
    zero = twin.run(scenario([], duration=480), tmp_path / "zero.zarr", progress=False)
    for layer in ("water", "power"):
        b = both.open(layer)
        for m, single in ((0, zero), (1, one)):
            s = single.open(layer).isel(member=0)
            for v in ("pressure", "unserved_total") if layer == "water" else (
                    "energized", "shed_mw"):
                np.testing.assert_allclose(b[v].isel(member=m).values, s[v].values,
                                           atol=1e-9, err_msg=f"{layer}/{v} member {m}")


def test_an_event_kind_of_two_kernels_needs_a_layer():
    with pytest.raises(twin.ScenarioError, match="layer="):
        twin.run(scenario([twin.Event("closure", "P1", at=60)]), None, progress=False)


def test_interrupted_run_resumes_bit_identical(tmp_path, main_break):
    from .runcompare import assert_runs_equal
    from .test_runtime_traffic import Crash

    run, pipe, city, _ = main_break
    events = [twin.Event("burst", pipe, at=120, layer="water", details={"area_m2": 0.0005}),
              twin.Event("isolation", pipe, at=300, layer="water"),
              twin.Event("repair", pipe, at=600, layer="water"),
              twin.Event("outage", "L1", at=200, duration=200, layer="power")]
    full = twin.run(scenario(events), tmp_path / "full.zarr", progress=False)
    sc = scenario(events)
    sc.kernels.append(Crash(at=420))
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(sc, tmp_path / "r.zarr", progress=False)
    sc = scenario(events)
    sc.kernels.append(Crash())
    again = twin.run(sc, tmp_path / "r.zarr", resume=True, progress=False)
    assert again.provenance["resumed"] == 1
    assert_runs_equal(full, again, ("traffic", "water", "power"),
                      (("water", "isolations"), ("power", "outages"), ("traffic", "trips")))


def test_fire_flow_draws_from_the_hydrant_and_stops_at_the_end(tmp_path):
    ev = twin.Event("fire_flow", "Jn22", at=120, duration=300, layer="water",
                    details={"flow_lps": 8.0})
    run = twin.run(scenario([ev], duration=600), tmp_path / "fire.zarr", progress=False)
    w = run.open("water").isel(member=0)
    t = w.time.values
    on = (t > 120) & (t <= 420)
    # the hydrant draws about what was asked at the pressure it met, less as pressure falls
    assert (w.leak_flow.values[on] > 0.004).all() and (w.leak_flow.values[on] <= 0.0081).all()
    assert (w.leak_flow.values[~on] < 1e-9).all()
    node = list(w.water_node.values).index("Jn22")
    assert (w.pressure.values[on, node] < w.pressure.values[t <= 120, node].min() - 1).all()
