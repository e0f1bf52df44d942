"""Run store: state round trips, time-chunked layers, events table, truncation."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from twin.core.kernel import Table
from twin.errors import StoreError
from twin.store import Run, RunStore
from twin.store.state import decode_state, encode_state

numeric = hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int16,
                                            np.bool_, np.uint8]),
                     shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
values = st.one_of(numeric, st.integers(-2**60, 2**60), st.floats(allow_nan=False),
                   st.text(max_size=5), st.none(), st.booleans(), st.binary(max_size=20),
                   st.lists(st.integers(), max_size=4))


@settings(max_examples=40, deadline=None)
@given(state=st.dictionaries(st.text("abc_", min_size=1, max_size=4), st.one_of(
    values, st.dictionaries(st.text("xyz", min_size=1, max_size=3), values, max_size=3)),
    max_size=5))
def test_state_round_trip_is_exact(tmp_path_factory, state):
    g = zarr.open_group(str(tmp_path_factory.mktemp("s") / "s.zarr"), mode="w")
    tags = encode_state(g, "k", state)
    back = decode_state(g, "k", tags)
    assert back.keys() == state.keys()
    for k, v in state.items():
        _same(v, back[k])


def _same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert type(a) is type(b) and a == b


def test_string_and_object_arrays_round_trip(tmp_path):
    g = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    state = {"ids": np.array(["a:f", "b:b"], dtype=object), "u": np.array(["xy", "z"]),
             "plans": np.array([{"cycle_s": 60}, None], dtype=object),
             "scalar": np.float32(2.5)}
    back = decode_state(g, "k", encode_state(g, "k", state))
    assert back["ids"].dtype == object and list(back["ids"]) == ["a:f", "b:b"]
    assert back["u"].dtype == state["u"].dtype
    assert back["plans"][0] == {"cycle_s": 60} and back["plans"][1] is None
    assert back["scalar"].dtype == np.float32 and back["scalar"] == 2.5


TRIPS = Table("trip", {"trip_id": (np.int64, -1, ""), "t_s": (np.float64, np.nan, "s")})


def _store(tmp_path, chunk=3, members=1):
    st_ = RunStore.create(tmp_path / "r.zarr", attrs={"fingerprint": "x"})
    w = st_.add_layer("traffic", coords={"link": np.array(["l1", "l2"], dtype=object)},
                      dims={"link_flow": ("link",)}, units={"link_flow": "veh/h"},
                      attrs={}, time_chunk=chunk, n_members=members, tables={"trips": TRIPS})
    return st_, w


def test_layer_written_in_time_chunks_and_truncated(tmp_path):
    st_, w = _store(tmp_path)
    for i in range(7):
        w.append(10.0 * (i + 1), {"link_flow": np.array([[i, 2 * i]], np.float32)})
        if i % 3 == 2:
            st_.flush()
            st_.consolidate()
    ds = xr.open_zarr(str(st_.path), group="traffic")
    assert ds.sizes["time"] == 6                     # the 7th record is still buffered
    st_.flush()
    st_.consolidate()
    ds = xr.open_zarr(str(st_.path), group="traffic")
    assert ds.link_flow.dims == ("time", "member", "link") and ds.sizes["time"] == 7
    assert ds.link_flow.encoding["chunks"] == (3, 1, 2)
    assert ds.link_flow.attrs["units"] == "veh/h"
    np.testing.assert_array_equal(ds.link_flow.sel(link="l2", member=0).values,
                                  2 * np.arange(7))
    st_.truncate({"traffic": 4}, 0)
    st_.consolidate()
    ds = xr.open_zarr(str(st_.path), group="traffic")
    assert ds.sizes["time"] == 4 and ds.time.values[-1] == 40.0


def test_shape_change_is_a_store_error(tmp_path):
    _, w = _store(tmp_path)
    w.append(1.0, {"link_flow": np.zeros((1, 2))})
    with pytest.raises(StoreError, match="changed shape"):
        w.append(2.0, {"link_flow": np.zeros((1, 3))})


def test_tables_append_rows_per_member_and_truncate(tmp_path):
    st_, _ = _store(tmp_path, members=2)
    t = st_.table("traffic", "trips")
    t.append({"trip_id": [0, 1], "t_s": [5.0, 7.0]}, member=np.array([0, 1]))
    t.append({"trip_id": [2], "t_s": [9.0]}, member=1)
    assert t.n_rows == 3 and t.n_written == 0           # buffered until a flush
    st_.flush()
    st_.root["traffic"].update_attributes({"tables": {"trips": {
        "dim": "trip", "columns": list(TRIPS.columns)}}})
    st_.consolidate()
    run = Run(st_.path)
    np.testing.assert_array_equal(run.table("traffic", "trips", member=1)["trip_id"], [1, 2])
    np.testing.assert_array_equal(run.table("traffic", "trips")["trip_member"], [0, 1, 1])
    with pytest.raises(StoreError, match="missing"):
        t.append({"trip_id": [3]})
    with pytest.raises(StoreError, match="different lengths"):
        t.append({"trip_id": [3, 4], "t_s": [1.0]})
    st_.truncate({"traffic": 0}, 0, {"traffic/trips": 1})
    assert Run(st_.path).table("traffic", "trips")["trip_id"].tolist() == [0]


def test_checkpoints_rewrite_only_what_changed(tmp_path):
    """An array a checkpoint slot already holds unchanged is not written again."""
    st_, _ = _store(tmp_path)
    big, small = np.arange(1000.0), np.zeros(3)
    for seq in range(4):  # slots a, b, a, b
        small = small + 1
        st_.write_checkpoint(seq, {"n": seq}, {"proc/k": {"big": big, "small": small}})
    chunk = next((st_.path / "checkpoint" / "a" / "proc" / "k" / "big").rglob("c*"))
    before = chunk.stat().st_mtime_ns
    small = small + 1
    st_.write_checkpoint(4, {"n": 4}, {"proc/k": {"big": big, "small": small}})
    assert chunk.stat().st_mtime_ns == before            # unchanged: not rewritten
    meta, arrays = st_.latest_checkpoint()
    assert meta["n"] == 4 and arrays["proc/k"]["small"][0] == 5
    np.testing.assert_array_equal(arrays["proc/k"]["big"], big)
    st_.write_checkpoint(5, {"n": 5}, {"proc/k": {"big": big + 1, "small": small}})
    assert st_.latest_checkpoint()[1]["proc/k"]["big"][0] == 1.0


def test_events_table_and_run_reader(tmp_path):
    st_, _ = _store(tmp_path)
    st_.append_events({"time": np.array([5.0, 9.0]), "kind": np.array(["closure"] * 2),
                       "target": np.array(["l1", "l1"]), "phase": np.array(["start", "end"]),
                       "member": np.array([-1, 0]), "source": np.array(["scenario"] * 2),
                       "details": np.array(['{"a": 1}', "{}"])})
    st_.consolidate()
    run = Run(st_.path)
    df = run.events
    assert list(df.columns) == ["time", "kind", "target", "phase", "member", "source",
                                "details"]
    assert df.details[0] == {"a": 1} and list(df.phase) == ["start", "end"]
    ev = xr.open_zarr(str(st_.path), group="events")
    assert ev.kind.dims == ("event",) and list(ev.event.values) == [0, 1]
    with pytest.raises(StoreError, match="no layer"):
        run.open("water")


def test_open_rejects_non_stores(tmp_path):
    with pytest.raises(StoreError):
        RunStore.open(tmp_path)
    zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    with pytest.raises(StoreError, match="not a run store"):
        RunStore.open(tmp_path / "g.zarr")


def test_unborn_store_is_replaced_other_folders_are_kept(tmp_path):
    """A folder a run was killed in before its root metadata existed holds at most zarr's
    temporary files: create(overwrite=True) replaces it; a folder with anything else is not
    deleted."""
    out = tmp_path / "r.zarr"
    out.mkdir()
    assert RunStore.unborn(out)                                  # empty
    (out / "zarr.0123abcd.partial").write_bytes(b'{"zarr_fo')
    (out / "events").mkdir()
    assert RunStore.unborn(out)
    st_ = RunStore.create(out, overwrite=True, attrs={"fingerprint": "x"})
    assert not RunStore.unborn(out) and st_.root.attrs["fingerprint"] == "x"
    assert not list(out.glob("*.partial"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.partial").write_text("")
    (other / "notes.txt").write_text("keep")
    assert not RunStore.unborn(other) and not RunStore.unborn(tmp_path / "missing")
    with pytest.raises(StoreError, match="not a run store"):
        RunStore.create(other, overwrite=True)
    assert (other / "notes.txt").exists()
