"""Traffic KPIs against hand computations, and read back from a run store."""

import numpy as np
import pytest

from twin.analysis import kpis as generic
from twin.errors import StoreError
from twin.kernels.traffic import TrafficProcess, kpis
from twin.store import Run, RunStore


def two_links() -> kpis.TrafficData:
    """Two 100 m links in a row (nodes 0 → 1 → 2), free speed 10 m/s; two 60 s records."""
    return kpis.TrafficData(
        time=np.array([60.0, 120.0]), interval=np.array([60.0, 60.0]),
        link_ids=np.array(["a", "b"], object), link_names=np.array(["A Road", ""], object),
        link_length=np.array([100.0, 100.0]), link_free_speed=np.array([10.0, 10.0]),
        count=np.array([[2.0, 0.0], [1.0, 1.0]]),
        speed=np.array([[5.0, np.nan], [10.0, 2.0]]),
        flow=np.array([[1.0, 0.0], [2.0, 1.0]]),
        queue=np.array([[7.5, 0.0], [0.0, 15.0]]),
        trips={"travel_time": np.array([25.0, 30.0, 60.0]),
               "arrival": np.array([50.0, 70.0, 110.0]),
               "origin": np.array([0, 0, 0]), "destination": np.array([1, 1, 1])},
        released=5, link_from=np.array([0, 1]), link_to=np.array([1, 2]))


def test_kpis_equal_the_hand_computation():
    k = kpis.compute_from(two_links())
    s = k.scalars
    assert s["trips_completed"] == 3 and s["trips_unfinished"] == 2
    # VHT: (2 + 0) veh × 60 s + (1 + 1) veh × 60 s = 240 veh·s
    assert s["vht_h"] == pytest.approx(240 / 3600)
    # VKT: 4 link exits × 100 m
    assert s["vkt_km"] == pytest.approx(0.4)
    assert s["mean_speed_kmh"] == pytest.approx(0.4 / (240 / 3600))
    assert s["mean_trip_time_s"] == pytest.approx(115 / 3)
    # free flow a → b = 10 s + 10 s; delays 5, 10, 40 s
    assert s["mean_delay_s"] == pytest.approx(55 / 3)
    assert s["p95_delay_s"] == pytest.approx(10 + 0.9 * 30)
    # link delay: a: 2 veh × 60 s × (1 − 5/10) = 60 veh·s; b: 1 × 60 × (1 − 2/10) = 48
    assert s["delay_vh"] == pytest.approx(108 / 3600)
    assert s["max_queue_m"] == 15.0
    assert [w["link"] for w in k.worst_links] == ["a", "b"]
    assert k.worst_links[0]["name"] == "A Road"
    assert k.worst_links[0]["delay_vh"] == pytest.approx(60 / 3600)
    assert k.worst_links[1]["mean_queue_m"] == 7.5 and k.worst_links[1]["flow_veh"] == 1
    ser = k.series
    np.testing.assert_allclose(ser["vehicles_in_network"], [2, 2])
    np.testing.assert_allclose(ser["mean_speed_kmh"], [5 * 3.6, 6 * 3.6])
    np.testing.assert_allclose(ser["vht_h"], [120 / 3600, 120 / 3600])
    np.testing.assert_allclose(ser["trips_completed"], [1, 3])
    np.testing.assert_allclose(ser["queue_km"], [0.0075, 0.015])
    assert "A Road" in kpis.worst_links_text(k)
    named = {x.name: x for x in kpis.kpi_list(k)}
    assert named["mean_delay_s"].lower_is_better and not named["trips_completed"].lower_is_better
    assert named["p95_delay_s"].label == "95th percentile delay"


def test_free_flow_time_of_the_shortest_path():
    d = two_links()
    # a parallel slow link 0 → 2 is not taken when the two-link path is faster
    d.link_from, d.link_to = np.array([0, 1, 0]), np.array([1, 2, 2])
    d.link_length = np.array([100.0, 100.0, 1000.0])
    d.link_free_speed = np.array([10.0, 10.0, 10.0])
    ff = kpis.free_flow_times(d, [0, 0, 2, 1], [1, 0, 2, 1])
    np.testing.assert_allclose(ff, [20.0, 10.0, 100.0, 10.0])
    assert np.isnan(kpis.free_flow_times(d, [1], [0])[0])  # no way back


def test_no_trips_gives_nan_not_an_error():
    d = two_links()
    d.trips, d.released = {}, None
    s = kpis.compute_from(d).scalars
    assert s["trips_completed"] == 0
    assert np.isnan(s["mean_trip_time_s"]) and np.isnan(s["p95_delay_s"])
    assert np.isnan(s["trips_unfinished"])
    assert "n/a" in [x.text() for x in kpis.kpi_list(kpis.compute_from(d))]


def write_store(path, d: kpis.TrafficData, arrived=(1, 3), veh_seconds=250.0) -> Run:
    """Write ``d`` as a run store the way the runtime writes a traffic layer (member axis,
    flows in veh/h, link attributes as static variables, the trips table written in two
    checkpoints)."""
    L = ("road_link",)
    st = RunStore.create(path, attrs={"fingerprint": "x", "provenance": {},
                                      "scenario": {"name": path.stem, "members": 1}})
    cls = TrafficProcess
    attrs = {"record_interval_s": 60.0, "n_trips_unroutable": [7],
             "kernel": f"{cls.__module__}:{cls.__qualname__}",
             "tables": {"trips": {"dim": "trip", "columns": list(cls.tables["trips"].columns)}}}
    w = st.add_layer("traffic", coords={"road_link": np.asarray(d.link_ids, str),
                                        "link_length": (L, d.link_length),
                                        "link_free_speed": (L, d.link_free_speed),
                                        "link_name": (L, np.asarray(d.link_names, str)),
                                        "link_lanes": (L, np.ones(len(d.link_ids))),
                                        "link_from": (L, d.link_from),
                                        "link_to": (L, d.link_to)},
                     dims={"link_flow": L, "link_speed": L, "link_count": L, "queue_length": L,
                           "in_network": (), "waiting": (), "arrived": (), "stuck": (),
                           "vehicle_seconds": ()},
                     units={"link_flow": "veh/h"}, attrs=attrs, time_chunk=4,
                     tables=cls.tables)
    for i, t in enumerate(d.time):
        rec = {"link_flow": d.flow[i] * 3600.0 / d.interval[i],
               "link_speed": d.speed[i], "link_count": d.count[i],
               "queue_length": d.queue[i], "in_network": d.count[i].sum(),
               "waiting": 0, "arrived": arrived[i], "stuck": 0,
               "vehicle_seconds": veh_seconds * (i + 1) / len(d.time)}
        w.append(t, {k: np.asarray(v)[None] for k, v in rec.items()})
    nan = np.nan
    enter = np.array([25.0, 40.0, 50.0, 100.0, 110.0])
    arrival = np.array([50.0, 70.0, 110.0, nan, nan])
    table = st.table("traffic", "trips")
    # two flushes, as at two checkpoints: the trip done by 60 s, then the rest
    for rows in (slice(0, 1), slice(1, 5)):
        table.append({
            "trip_id": np.arange(5)[rows], "trip_origin_link": np.zeros(5, np.int64)[rows],
            "trip_destination_link": np.ones(5, np.int64)[rows],
            "trip_depart_s": np.array([20.0, 40.0, 50.0, 100.0, 110.0])[rows],
            "trip_enter_s": enter[rows], "trip_arrival_s": arrival[rows],
            "trip_travel_time_s": (arrival - enter)[rows],
            "trip_stuck_s": np.full(5, nan)[rows],
            "trip_teleports": np.zeros(5, np.int64)[rows],
            "trip_status": np.array(["arrived"] * 3 + ["active"] * 2, object)[rows],
            "trip_cancelled_s": np.full(5, nan)[rows]}, member=0)
        st.flush()
    st.set_attrs(status="complete")
    st.consolidate()
    return Run(path)


def test_kpis_read_from_a_run_store(tmp_path):
    run = write_store(tmp_path / "r.zarr", two_links())
    k = kpis.compute_from(kpis.load_traffic(generic.layer_data(run, "traffic", 0)))
    s = k.scalars
    assert s["trips_completed"] == 3 and s["trips_unfinished"] == 2
    assert s["trips_stuck"] == 0 and s["trips_unroutable"] == 7
    assert s["vht_h"] == pytest.approx(250 / 3600)  # the kernel's exact sum wins
    assert s["vkt_km"] == pytest.approx(0.4)
    assert s["mean_trip_time_s"] == pytest.approx(115 / 3)
    assert s["p95_delay_s"] == pytest.approx(37.0)
    assert k.worst_links[0]["name"] == "A Road"
    np.testing.assert_allclose(k.series["trips_completed"], [1, 3])
    # the generic analysis finds the same through the layer's kernel class
    g = generic.compute(run)
    assert g.meta["status"] == "complete"
    assert g.value("traffic", "mean_trip_time_s") == pytest.approx(115 / 3)
    assert "A Road" in generic.format_table(g) and "95th percentile delay" in generic.format_table(g)


def test_not_a_traffic_run(tmp_path):
    st = RunStore.create(tmp_path / "r.zarr", attrs={"fingerprint": "x"})
    st.consolidate()
    k = generic.compute(tmp_path / "r.zarr")
    assert k.layers == {} and "no KPIs" in generic.format_table(k)
    with pytest.raises(StoreError, match="no KPIs for layer 'traffic'"):
        generic.require(k, "traffic")
    with pytest.raises(StoreError, match="not a run store"):
        generic.compute(tmp_path / "nothing.zarr")


def test_free_flow_times_search_from_either_end_alike():
    """Many origins, few destinations (searched backwards) and the reverse agree."""
    rng = np.random.default_rng(3)
    n = 30
    lf, lt = rng.integers(0, n, 200), rng.integers(0, n, 200)
    d = two_links()
    d.link_from, d.link_to = lf, lt
    d.link_length, d.link_free_speed = rng.uniform(50, 500, 200), np.full(200, 10.0)
    many, few = rng.integers(0, 200, 150), rng.integers(0, 200, 150) % 7
    a = kpis.free_flow_times(d, many, few)     # 7 destinations: backwards from them
    b = kpis.free_flow_times(d, few, many)     # 7 origins: forwards
    ref = np.array([kpis.free_flow_times(d, [o], [t])[0] for o, t in zip(many, few)])
    np.testing.assert_allclose(a, ref, rtol=1e-12)
    ref_b = np.array([kpis.free_flow_times(d, [o], [t])[0] for o, t in zip(few, many)])
    np.testing.assert_allclose(b, ref_b, rtol=1e-12)
    assert np.isfinite(a).sum() > 10
