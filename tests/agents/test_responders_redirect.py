"""A unit on its way home takes a new call (``DispatchProcess(redirect=True)``): its trip home
is cancelled where it is (the traffic kernel's ``cancel_trips``: the trip stays in the trips
table, with no arrival), and it drives to the new scene from the link it was on, with no
turnout; without redirects the call waits until the unit is home."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from agents.responders import DispatchProcess, incident

from .dispatch_city import dispatch_city, scenario

AMBULANCE = [("A1", "ambulance", "h1", "h20:f")]


def _run(tmp_path, name, second_at, redirect):
    calls = [incident("medical", at=100.0, building="bn22", on_scene_s=60.0, transport=False)]
    if second_at is not None:
        calls.append(incident("medical", at=second_at, building="bn11", on_scene_s=60.0,
                              transport=False))
    disp = DispatchProcess(calls, units=AMBULANCE, redirect=redirect)
    return twin.run(scenario(dispatch_city(), [disp], n_trips=10, duration=1200.0),
                    tmp_path / name, progress=False)


@pytest.mark.slow
def test_returning_unit_takes_the_call_from_the_road(tmp_path):
    first = _run(tmp_path, "one.zarr", None, False).table("dispatch", "calls")
    cleared, back = float(first["call_cleared_s"][0]), float(first["call_back_s"][0])
    assert back - cleared > 60.0, "the way home is long enough to be interrupted"
    # the second call is requested (after 60 s of call processing) half way home
    at = round(0.5 * (cleared + back)) - 60.0
    runs = {r: _run(tmp_path, f"r{int(r)}.zarr", at, r) for r in (False, True)}
    c = {}
    for r, run in runs.items():
        t = run.table("dispatch", "calls")
        order = np.argsort(t["call_id"])
        c[r] = {k: np.asarray(v)[order] for k, v in t.items()}
    wait, red = c[False], c[True]
    # without redirects: dispatched when the unit is home, after the turnout
    assert wait["call_dispatched_s"][1] == wait["call_back_s"][0]
    assert wait["call_from_road"].tolist() == [0, 0]
    # with redirects: dispatched at the request, from the road, no turnout
    t_req = at + 60.0
    assert red["call_dispatched_s"][1] == t_req
    assert red["call_departed_s"][1] == t_req
    assert red["call_from_road"].tolist() == [0, 1]
    assert red["call_redirected"].tolist() == [1, 0]
    assert red["call_back_s"][0] == t_req          # its first call ends there
    assert red["call_response_s"][1] < wait["call_response_s"][1]
    # the cancelled trip home is in the trips table once, with no arrival and not stuck
    trips = {k: np.asarray(v) for k, v in runs[True].table("traffic", "trips").items()}
    home = int(red["call_trip"][0])
    row = np.flatnonzero(trips["trip_id"] == home)
    assert row.size == 1
    assert np.isnan(trips["trip_arrival_s"][row[0]]) and np.isnan(trips["trip_stuck_s"][row[0]])
    # the new trip starts on the link the unit was on (not at its station)
    new = np.flatnonzero(trips["trip_id"] == int(red["call_trip_scene"][1]))
    assert new.size == 1
    links = runs[True].open("traffic").road_link.values
    assert str(links[int(trips["trip_origin_link"][new[0]])]) != "h20:f"
    # every unit trip the dispatcher inserted is in the table, none lost
    legs = runs[True].table("dispatch", "unit_links")
    assert set(legs["leg_trip"]) <= set(trips["trip_id"])


@pytest.mark.slow
def test_unit_is_sent_round_water_rising_ahead_of_it(tmp_path):
    """A link on the unit's route floods while it drives: the dispatcher cancels its trip
    where it is and sends it on by the fastest passable route; it never enters the flooded
    link and still arrives."""
    from twin.kernels.traffic import TrafficProcess

    from .test_dispatch import FakeFlood

    city = dispatch_city()
    ids = city.roads.link_ids
    fire = incident("fire", at=60.0, building="bn22", on_scene_s=60.0)
    units = [("E1", "fire_engine", "fs1")]

    def go(name, flood_at):
        kw = {"kernels": [TrafficProcess(vehicle_slots=16, threads=1),
                          FakeFlood(cut, at=flood_at)],
              "couplings": {"dispatch/speed_factor": "flood/speed_factor"}}
        return twin.run(scenario(city, [DispatchProcess([fire], units=units)], n_trips=10,
                                 duration=900.0, **kw), tmp_path / name, progress=False)

    cut = str(ids[0])
    dry = go("dry.zarr", 1e9)
    c0 = dry.table("dispatch", "calls")
    legs = {k: np.asarray(v) for k, v in dry.table("dispatch", "unit_links").items()}
    scene = legs["leg_trip"] == int(c0["call_trip_scene"][0])
    route = [str(s) for s in legs["leg_road_link"][scene]]
    t_in = legs["leg_enter_s"][scene]
    assert len(route) >= 4
    # flood the third link of its way 20 s before the unit would enter it
    cut, at = route[2], float(t_in[2]) - 20.0
    assert at > float(c0["call_departed_s"][0])
    wet = go("wet.zarr", at)
    c = wet.table("dispatch", "calls")
    assert int(c["call_reroutes"][0]) == 1
    assert np.isfinite(c["call_response_s"][0])
    legs = {k: np.asarray(v) for k, v in wet.table("dispatch", "unit_links").items()}
    later = legs["leg_enter_s"] >= at
    assert cut not in {str(s) for s in legs["leg_road_link"][later]}
    # the first trip was cancelled where it was, the second one arrived at the scene
    trips = {k: np.asarray(v) for k, v in wet.table("traffic", "trips").items()}
    first = np.unique(legs["leg_trip"])[0]
    k = np.flatnonzero(trips["trip_id"] == first)
    assert k.size == 1 and np.isnan(trips["trip_arrival_s"][k[0]])
    k2 = np.flatnonzero(trips["trip_id"] == int(c["call_trip_scene"][0]))
    assert k2.size == 1 and np.isfinite(trips["trip_arrival_s"][k2[0]])
