"""The report's key moment of traffic: the flow-weighted peak of congestion, not the mean
over the links (which the first minute wins, when a handful of vehicles crawl onto an empty
network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.analysis.report import activity, worst_index
from twin.core.kernel import Draw
from twin.viewer.source import Series

SPEED = Draw("road_link", worse="low")


class _Run:
    """The part of a twin.Run that :func:`activity` reads: ``_root``."""

    def __init__(self, root):
        self._root = root


def _store(tmp_path, speed, flow):
    import zarr

    root = zarr.open_group(str(tmp_path / "r.zarr"), mode="w")
    g = root.create_group("traffic")
    n_t, n = speed.shape
    for name, data, units in (("link_speed", speed, "m/s"), ("link_flow", flow, "veh/h"),
                              ("link_density", np.ones_like(speed), "veh/m/lane")):
        a = g.create_array(name, shape=(n_t, 1, n), chunks=(2, 1, n), dtype="f8",
                           dimension_names=["time", "member", "road_link"])
        a[...] = data[:, None, :]
        a.attrs["units"] = units
    return _Run(root), g


def _series(g, n_t):
    s = Series("traffic", "link_speed", SPEED, "m/s", np.arange(n_t) * 60.0,
               np.array(["a", "b", "c", "d"], dtype=object), ("road_link",), 0)
    s._arrays = {"link_speed": g["link_speed"]}
    return s


def test_key_moment_is_the_busiest_congestion(tmp_path):
    nan = np.nan
    # record 0: one vehicle crawls onto an empty network; 1: every link busy and slowed;
    # 2: busy, a little faster; 3: drained, free flow
    speed = np.array([[4.0, nan, nan, nan],
                      [9.0, 8.0, 9.0, 8.5],
                      [11.0, 10.0, 12.0, 11.0],
                      [14.0, 14.0, 14.0, 14.0]])
    flow = np.array([[60.0, 0, 0, 0],
                     [1500, 1400, 1600, 1500],
                     [1300, 1200, 1200, 1300],
                     [200, 200, 200, 200]])
    run, g = _store(tmp_path, speed, flow)
    s = _series(g, 4)
    assert worst_index(s) == 0                   # the old choice: the lowest mean speed
    w = activity(run, s)
    assert w is not None and w.basename == "link_flow"
    assert worst_index(s, w) == 1
    # weights matter: the same speeds with the flow peaking in record 2 move the moment there
    flow[2] *= 3.0
    run, g = _store(tmp_path, speed, flow)
    assert worst_index(_series(g, 4), activity(run, _series(g, 4))) == 2


def test_no_flow_output_keeps_the_mean(tmp_path):
    speed = np.array([[4.0, 20, 20, 20], [9.0, 8, 9, 8], [14.0, 14, 14, 14]])
    run, g = _store(tmp_path, speed, np.ones_like(speed))
    g["link_flow"].attrs["units"] = "1"          # not a flow: no weights
    s = _series(g, 3)
    assert activity(run, s) is None and worst_index(s, None) == 1


LIHU = Path(__file__).resolve().parents[2] / "out" / "runs" / "lihu_morning_peak.zarr"


@pytest.mark.skipif(not (LIHU / "zarr.json").exists(), reason="no Lihu morning-peak run "
                    "(python benchmarks/viewer_frames.py makes one)")
def test_lihu_peak_congestion_is_in_the_busy_hour():
    import cim
    import twin
    from twin.viewer.source import plan

    run = twin.Run(LIHU)
    s = next(x for x in plan(run, cim.load_district("lihu").to_metric())[0]
             if x.key == "traffic/link_speed")
    i = worst_index(s, activity(run, s))
    g = run._root["traffic"]
    total = np.nansum(np.asarray(g["link_flow"][:, 0]), axis=1)
    # the chosen moment carries at least 70 % of the peak total flow (07:01 carries 3 %)
    assert total[i] >= 0.7 * total.max(), (run.clock(s.times[i]), total[i] / total.max())
    assert worst_index(s) == 0                   # what the unweighted mean picked
