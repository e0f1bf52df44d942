"""The peak scenarios' demand scale reproduces Wuxi's published peak network speed (issue 10
part 6; ``benchmarks/demand_calibration.py``).

Reference: mean road-network speed of Wuxi's urban area in the peak periods, 27.9 km/h (Wuxi's
first comprehensive urban transport survey, Wuxi Natural Resources and Planning Bureau; Wuxi
Daily 2022-12-02, http://hzgou.cn/news/chengshi/wuxi/2022-12-02/110222.html). At its
``SCALE`` each peak's simulated network speed (the traffic KPI ``mean_speed_kmh``: VKT / VHT
over 07:00–09:00) must lie within ±15 % of it, with few trips teleported out of deadlocks and
most trips finished. The check fails when the scale drifts off the calibration: at the former
scale 0.25 the peaks run at ~36–38 km/h (> 32.1 km/h), at 1.0 at 10–12 km/h.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import twin
from twin.analysis import kpis
from twin.cli import scenario_file

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
PUBLISHED_KMH = 27.9  # Wuxi transport survey 2022: peak-period road-network mean speed
TOLERANCE = 0.15
END_S = 7200.0  # 07:00–09:00


def peak_at_scale(path: str, function: str, tmp_path) -> tuple[dict, float]:
    """Run the scenario's peak at its module's SCALE from 07:00 to 09:00; return its traffic
    KPIs {name: value} and the share of trips teleported at least once."""
    m = scenario_file.load_module(SCENARIOS / path)
    sc = getattr(m, function)()
    d = sc.inputs["traffic"]
    keep = np.asarray(d["depart_s"]) < END_S
    sc.inputs["traffic"] = {k: v[keep] if isinstance(v, np.ndarray) else v for k, v in d.items()}
    sc.duration = END_S
    run = twin.run(sc, tmp_path / "peak.zarr", progress=False)
    k = kpis.compute(run)
    names = ("mean_speed_kmh", "trips_completed", "trips_unfinished", "trips_stuck")
    out = {n: k.value("traffic", n) for n in names}
    out["trips"] = int(keep.sum())
    tele = np.asarray(run.table("traffic", "trips")["trip_teleports"])
    return out, float((tele > 0).sum()) / out["trips"]


def check(k: dict, teleported: float) -> None:
    assert abs(k["mean_speed_kmh"] / PUBLISHED_KMH - 1.0) <= TOLERANCE, k
    assert teleported < 0.02, teleported            # no gridlock
    assert k["trips_completed"] > 0.9 * k["trips"], k  # trips finish (late departures aside)


def test_liangxi_peak_runs_at_wuxi_peak_speed(tmp_path):
    check(*peak_at_scale("liangxi_signal_retiming.py", "baseline", tmp_path))


@pytest.mark.slow  # ~11 s on a busy machine, more with a cold out/cache/
def test_lihu_peak_runs_at_wuxi_peak_speed(tmp_path):
    check(*peak_at_scale("lihu_morning_peak.py", "scenario", tmp_path))
