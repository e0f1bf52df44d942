"""Generated morning-peak demand on the Lihu pilot district (skipped when its assets are not
generated)."""

import time

import numpy as np
import pytest

import agents
import cim
from agents.trips import THROUGH, TO_WORK


@pytest.fixture(scope="module")
def lihu():
    try:
        return cim.load_district("lihu")
    except cim.CIMError as e:
        if "manifest" in str(e) or "missing" in str(e):
            pytest.skip(f"Lihu assets not generated: {e}")
        raise


def test_lihu_morning_peak_demand(lihu):
    t0 = time.perf_counter()
    trips = agents.generate_trips(lihu, seed=1, start="07:00", duration_s=3 * 3600,
                                  through_veh_per_h=1500, scale=0.1)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0
    meta = trips.meta
    n_work = int((trips.purpose == TO_WORK).sum())
    assert n_work == pytest.approx(meta["expected"]["to_work"], rel=0.05)
    assert int((trips.purpose == THROUGH).sum()) == pytest.approx(450, abs=1)
    assert all(meta["boundary_nodes"][s] > 0 for s in ("north", "south"))
    scc = agents.routable_nodes(lihu.roads)
    assert scc[trips.origin_node].all() and scc[trips.destination_node].all()
    assert (trips.origin_node != trips.destination_node).all()
    assert (trips.depart_s >= 0).all() and (trips.depart_s < 3 * 3600).all()
    s = trips.summary()
    assert s["peak_hour"] == "07:00"
    assert meta["dropped_no_destination"] == 0
    assert np.isfinite(trips.depart_s).all()
