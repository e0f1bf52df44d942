"""scenarios/lihu_emergency_response_day.py end to end (quick version): Poisson and scripted calls on
the Lihu district, the main break isolated when its crew arrives, response KPIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import twin
from twin.cli import scenario_file

SCRIPT = Path(__file__).resolve().parents[2] / "scenarios" / "lihu_emergency_response_day.py"


@pytest.mark.slow
def test_quick_emergency_day(tmp_path):
    sc = scenario_file.build_scenario(SCRIPT, quick=True)
    assert sc.duration == 1800.0 and [a.name for a in sc.agents] == ["dispatch"]
    run = twin.run(sc, tmp_path / "e.zarr", progress=False)
    c = run.table("dispatch", "calls")
    assert len(c["call_id"]) >= 3 and set(c["call_scripted"]) == {0, 1}
    arrived = np.isfinite(c["call_arrived_s"])
    assert arrived.sum() >= 3
    # every response includes call taking and turnout: at least 2 minutes
    assert (c["call_response_s"][arrived] >= 120.0).all()
    burst = list(c["call_type"]).index("pipe_burst")
    ev = run.events
    iso = ev[ev.kind == "isolation"]
    assert list(iso.time) == [c["call_arrived_s"][burst]]
    assert list(iso.target) == [c["call_water_link"][burst]]
    trips = run.table("traffic", "trips")
    assert set(c["call_trip_scene"][arrived]) <= set(trips["trip_id"])
    assert np.isnan(trips["trip_stuck_s"][np.isin(trips["trip_id"],
                                                  c["call_trip_scene"][arrived])]).all()
    k = twin.kpis(run)
    assert 120 <= k.value("dispatch", "response_p50_s") <= k.value("dispatch", "response_p90_s")
    assert k.value("dispatch", "unit_utilisation_mean") > 0
