import warnings

import numpy as np
import pytest

from agents import DemandError, generate_trips, read_od_matrix, read_trips
from agents.trips import GIVEN, TO_WORK

from .test_demand import ARRAYS, assert_same


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_to_csv_read_trips_round_trip(city, tmp_path):
    t = generate_trips(city, seed=11, through_veh_per_h=200)
    p = t.to_csv(tmp_path / "trips.csv")
    back = read_trips(p, city, start="07:00")
    assert_same(t, back)
    assert back.start_s == t.start_s
    again = back.to_csv(tmp_path / "again.csv")
    assert again.read_text() == p.read_text()


def test_trip_list_with_clock_times_and_building_ids(city, tmp_path):
    p = write(tmp_path, "t.csv", "id,depart,origin,destination\n"
              "a,07:10,n0_0,n5_5\n"
              "b,30,b0_0,b5_5\n"
              "c,07:00:00,n1_1,b6_6\n")
    t = read_trips(p, city, start="07:00")
    assert list(t.trip_id) == ["c", "b", "a"]
    assert list(t.depart_s) == [0.0, 30.0, 600.0]
    i = city.buildings.index_of("b0_0")
    assert t.origin_building[1] == i and t.destination_building[2] == -1
    assert t.destination_building[0] == city.buildings.index_of("b6_6")
    assert (t.purpose == GIVEN).all()
    assert t.node_ids[t.origin_node[2]] == "n0_0"


def test_trip_list_same_origin_destination_dropped_with_warning(city, tmp_path):
    p = write(tmp_path, "t.csv", "id,depart,origin,destination\n1,0,n1_1,n1_1\n2,5,n1_1,n2_2\n")
    with pytest.warns(UserWarning, match="dropped 1 trips"):
        t = read_trips(p, city)
    assert len(t) == 1 and t.meta["dropped_same_od"] == 1


TRIP_CASES = [
    ("id,depart,origin\n1,0,n0_0\n", 1, "destination"),
    ("id,depart,origin,destination\n1,0,n0_0,n1_1\n2,0,n0_0\n", 3, "columns"),
    ("id,depart,origin,destination\n1,soon,n0_0,n1_1\n", 2, "'soon'"),
    ("id,depart,origin,destination\n1,-5,n0_0,n1_1\n", 2, "negative"),
    ("id,depart,origin,destination\n1,nan,n0_0,n1_1\n", 2, "finite"),
    ("id,depart,origin,destination\n1,0,n0_0,n1_1\n2,10,n0_0,nowhere\n", 3, "'nowhere'"),
    ("id,depart,origin,destination\n1,0,dead,n1_1\n", 2, "strongly connected"),
    ("id,depart,origin,destination\n1,0,n0_0,n1_1\n1,4,n0_0,n2_1\n", 3, "duplicate"),
    ("id,depart,origin,destination\n1,06:59,n0_0,n1_1\n", 2, "before the scenario start"),
    ("id,depart,origin,destination,purpose\n1,0,n0_0,n1_1,fun\n", 2, "'fun'"),
]


@pytest.mark.parametrize("text,line,fragment", TRIP_CASES)
def test_trip_list_bad_input_names_file_and_line(city, tmp_path, text, line, fragment):
    p = write(tmp_path, "bad_trips.csv", text)
    with pytest.raises(DemandError) as e:
        read_trips(p, city, start="07:00")
    msg = str(e.value)
    assert f"bad_trips.csv:{line}:" in msg and fragment in msg
    assert e.value.line == line


def test_trip_list_lenient_skips_bad_lines(city, tmp_path):
    p = write(tmp_path, "t.csv", "id,depart,origin,destination\n1,0,n0_0,n1_1\n2,x,n0_0,n1_1\n"
              "3,5,n0_0,zz\n4,9,n2_2,n1_1\n")
    t = read_trips(p, city, lenient=True)
    assert list(t.trip_id) == ["1", "4"]
    assert len(t.meta["skipped"]) == 2 and "t.csv:3" in t.meta["skipped"][0]


def test_missing_file_and_empty_file(city, tmp_path):
    with pytest.raises(DemandError, match="cannot read"):
        read_trips(tmp_path / "nope.csv", city)
    with pytest.raises(DemandError, match="empty"):
        read_trips(write(tmp_path, "e.csv", "\n"), city)


def test_od_long_counts_zones_window(city, tmp_path):
    p = write(tmp_path, "od.csv", "origin,destination,trips\n"
              "n0_0,n7_7,100\nb0_0,b6_6,50\nn7_0,n0_7,0\n")
    t = read_od_matrix(p, city, start="08:00", duration_s=1800, seed=1)
    assert len(t) == 150
    assert (t.depart_s >= 0).all() and (t.depart_s < 1800).all()
    assert np.sum(t.origin_building == city.buildings.index_of("b0_0")) == 50
    t2 = read_od_matrix(p, city, start="08:00", duration_s=1800, seed=1)
    assert_same(t, t2)
    half = read_od_matrix(p, city, start="08:00", duration_s=1800, seed=1, scale=0.5)
    assert len(half) == 75


def test_od_wide_with_named_zones(city, tmp_path):
    zones = write(tmp_path, "zones.csv", "zone,node\nWest,n0_1\nWest,n0_2\nWest,n0_3\n"
                  "East,n7_1\nEast,n7_2\n")
    p = write(tmp_path, "wide.csv", "zone,West,East\nWest,5,40.5\nEast,30,0\n")
    with pytest.warns(UserWarning, match="dropped 1 OD cells"):
        t = read_od_matrix(p, city, seed=3, zones=zones)
    assert len(t) in (70, 71)
    west = np.flatnonzero(np.isin(city.roads.node_ids.astype(str), ["n0_1", "n0_2", "n0_3"]))
    out = t.select(np.isin(t.origin_node, west))
    assert len(out) in (40, 41) and len(np.unique(out.origin_node)) == 3
    assert t.meta["dropped_same_od"] == 1
    with pytest.warns(UserWarning):
        same = read_od_matrix(p, city, seed=3, zones={"West": ["n0_1", "n0_2", "n0_3"],
                                                       "East": ["n7_1", "n7_2"]})
    assert_same(t, same)


OD_CASES = [
    ("origin,destination,trips\nn0_0,n1_1,5\nn0_0,atlantis,3\n", 3, "'atlantis'"),
    ("origin,destination,trips\nn0_0,n1_1,nan\n", 2, "finite"),
    ("origin,destination,trips\nn0_0,n1_1,-2\n", 2, "negative"),
    ("origin,destination,trips\nn0_0,n1_1,many\n", 2, "'many'"),
    ("origin,destination,trips\nn0_0,n1_1\n", 2, "columns"),
    ("zone,n0_0,mars\nn1_1,1,2\n", 1, "'mars'"),
    ("zone,n0_0,n1_1\nn2_2,1,x\n", 2, "'x'"),
    ("zone,n0_0,n1_1\nvenus,1,2\n", 2, "'venus'"),
    ("origin,destination,trips\ndead,n1_1,2\n", 2, "strongly connected"),
]


@pytest.mark.parametrize("text,line,fragment", OD_CASES)
def test_od_bad_input_names_file_and_line(city, tmp_path, text, line, fragment):
    p = write(tmp_path, "bad_od.csv", text)
    with pytest.raises(DemandError) as e:
        read_od_matrix(p, city, seed=1)
    msg = str(e.value)
    assert f"bad_od.csv:{line}:" in msg and fragment in msg


def test_od_then_to_csv_round_trip(city, tmp_path):
    p = write(tmp_path, "od.csv", "origin,destination,trips\nn0_0,n7_7,12.4\nn3_3,b0_0,7\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = read_od_matrix(p, city, start="07:00", duration_s=600, seed=2)
    back = read_trips(t.to_csv(tmp_path / "o.csv"), city)
    for f in ARRAYS:
        assert np.array_equal(getattr(t, f), getattr(back, f)), f
    assert not (back.purpose == TO_WORK).any()
