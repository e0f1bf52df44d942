"""Generated morning-peak demand on the Lihu pilot district (skipped when its assets are not
generated). How fast it is generated is measured in benchmarks/, not asserted here."""

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
    through_veh_per_h, duration_s, scale = 1500, 3 * 3600, 0.1
    trips = agents.generate_trips(lihu, seed=1, start="07:00", duration_s=duration_s,
                                  through_veh_per_h=through_veh_per_h, scale=scale)
    meta = trips.meta
    n_work = int((trips.purpose == TO_WORK).sum())
    assert n_work == pytest.approx(meta["expected"]["to_work"], rel=0.05)
    n_through = through_veh_per_h * duration_s / 3600 * scale
    assert int((trips.purpose == THROUGH).sum()) == pytest.approx(n_through, abs=1)
    assert all(meta["boundary_nodes"][s] > 0 for s in ("north", "south"))
    scc = agents.routable_nodes(lihu.roads)
    assert scc[trips.origin_node].all() and scc[trips.destination_node].all()
    assert (trips.origin_node != trips.destination_node).all()
    assert (trips.depart_s >= 0).all() and (trips.depart_s < duration_s).all()
    s = trips.summary()
    assert s["peak_hour"] == "07:00"
    assert meta["dropped_no_destination"] == 0
    assert np.isfinite(trips.depart_s).all()
