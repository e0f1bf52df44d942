"""Trips cancelled in a running traffic simulation (a unit called away on its way home):
:func:`twin.kernels.traffic._process_trips.cancel_trips` on the reference grid, with the
kernel's debug checks on (no overlap, no backward motion, vehicle conservation every step),
and ``TrafficProcess.cancel_trips`` inside the runtime (the trips table keeps the trip)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.kernels import traffic
from twin.kernels.traffic import consts
from twin.kernels.traffic._process_trips import CANCELLED, cancel_trips
from twin.kernels.traffic.grid import grid, grid_trips
from twin.kernels.traffic.trips import trip_rows

PARAMS = traffic.TrafficParams(debug=True, reroute_period=60.0)


def _state(n=400):
    g = grid(3)
    t, o, d, *_ = grid_trips(g, n_trips=n, seed=5, t_demand=300.0)
    trips = traffic.Trips(t, o, d, member=np.zeros(n, np.int64), trip_id=np.arange(n))
    st = traffic.init_state(g.net, trips, PARAMS, seed=[4], n_members=1)
    return g, trips, st


def _lane_members(st):
    """Vehicle indices in the occupied slots of member 0's lanes."""
    a = st.arrays
    s0, cnt = a["lane_slot0"][:-1], a["lane_count"][0]
    slots = np.repeat(s0, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    return a["lane_buf"][0][slots]


def test_cancel_active_waiting_and_scheduled_trips_conserves_vehicles():
    g, trips, st = _state()
    traffic.run(g.net, trips, PARAMS, until=120.0, state=st, stop_when_done=False)
    a = st.arrays
    f = traffic.follow(st, np.arange(400), 0)
    pick = {}
    for code in (consts.ACTIVE, consts.WAITING, consts.SCHEDULED, consts.ARRIVED):
        ids = np.flatnonzero(f["status"] == code)
        if ids.size:
            pick[code] = int(ids[ids.size // 2])
    assert consts.ACTIVE in pick and consts.SCHEDULED in pick
    # an active vehicle in the middle of a lane (others ahead and behind)
    act = f["status"] == consts.ACTIVE
    lane = a["v_lane"][f["index"]]
    counts = np.bincount(lane[act], minlength=1)
    busy = int(np.argmax(counts))
    mid = np.flatnonzero(act & (lane == busy))[1]
    pick["mid"] = int(mid)
    ids = np.array(sorted(set(pick.values())))
    c0 = traffic.counts(st)
    before = cancel_trips(st, ids, 0)
    np.testing.assert_array_equal(before, f["status"][ids])
    after = traffic.follow(st, ids, 0)
    live = before < consts.ARRIVED
    assert (after["status"][live] == CANCELLED).all()
    assert (after["status"][~live] == before[~live]).all()
    assert np.all(a["v_arrive"][after["index"][live]] == st.time)
    n_cancel = int(live.sum())
    assert int(a["cancelled"][0]) == n_cancel
    # off the lanes and queues; the counts still add up
    assert not np.isin(after["index"][live], _lane_members(st)).any()
    c1 = traffic.counts(st)
    released_gone = int((before[live] != consts.SCHEDULED).sum())
    assert c1["released"][0] == c0["released"][0] - released_gone
    assert c1["released"][0] == (c1["waiting"] + c1["in_network"] + c1["arrived"]
                                 + c1["stuck"])[0]
    np.testing.assert_array_equal(a["lane_count"][0], np.bincount(
        a["v_lane"][a["v_status"] == consts.ACTIVE], minlength=a["lane_count"].shape[1]))
    # cancelling again changes nothing
    again = cancel_trips(st, ids, 0)
    assert (again[live] == CANCELLED).all() and int(a["cancelled"][0]) == n_cancel
    # the run goes on (debug checks every step); every other trip ends, none is lost
    traffic.run(g.net, trips, PARAMS, until=3000.0, state=st, stop_when_done=False)
    f = traffic.follow(st, np.arange(400), 0)
    gone = np.isin(np.arange(400), ids[live])
    assert (f["status"][gone] == CANCELLED).all()
    assert (f["status"][~gone] >= consts.ARRIVED).all()
    assert (f["status"][~gone] != CANCELLED).all()
    c2 = traffic.counts(st)
    assert c2["arrived"][0] + c2["stuck"][0] + n_cancel == 400
    rows, _ = trip_rows(st, -1.0, True)
    assert rows["trip_id"].size == 400 and np.unique(rows["trip_id"]).size == 400
    k = np.isin(rows["trip_id"], ids[live])
    assert np.isnan(rows["trip_arrival_s"][k]).all() and np.isnan(rows["trip_stuck_s"][k]).all()
    assert set(rows["trip_status"][k]) == {"cancelled"}
    assert np.all(rows["trip_cancelled_s"][k] >= 120.0)
    ended = rows["trip_status"][~k]
    assert set(ended) <= {"arrived", "stuck"} and np.isnan(rows["trip_cancelled_s"][~k]).all()
    np.testing.assert_array_equal(ended == "arrived", ~np.isnan(rows["trip_arrival_s"][~k]))


def test_redirect_is_cancel_then_insert_from_the_current_link():
    """A vehicle cancelled on link L and re-inserted from L to another destination arrives
    there; the old destination is never reached by that trip."""
    g, trips, st = _state(200)
    traffic.run(g.net, trips, PARAMS, until=60.0, state=st, stop_when_done=False)
    f = traffic.follow(st, np.arange(200), 0)
    v = int(np.flatnonzero(f["status"] == consts.ACTIVE)[0])
    link = int(f["link"][v])
    new_dest = int(np.flatnonzero(g.net.turn_from == link)[0])
    new_dest = int(g.net.turn_to_arr[new_dest])
    cancel_trips(st, [v], 0)
    idx = traffic.add_trips(g.net, st, depart=[st.time], origin=[link],
                            destination=[new_dest], member=[0], trip_id=[5000])
    assert idx.size == 1
    traffic.run(g.net, trips, PARAMS, until=1500.0, state=st, stop_when_done=False)
    f2 = traffic.follow(st, [v, 5000], 0)
    assert f2["status"][0] == CANCELLED and f2["status"][1] == consts.ARRIVED
    assert f2["destination"][1] == new_dest


def test_cancel_unknown_trip_is_an_error():
    g, trips, st = _state(50)
    with pytest.raises(traffic.TrafficError, match="no trip 999"):
        cancel_trips(st, [999], 0)
