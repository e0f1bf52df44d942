"""The scenario-input cache (:mod:`twin.store.cache`): hits, invalidation by changed files,
code or arguments, unreadable entries, the off switch, and a cached district equal to a
freshly read one."""

from __future__ import annotations

import importlib
import os
import pickle
import sys

import numpy as np
import pytest

from twin.store import cache


def _builder(value):
    calls = []

    def build():
        calls.append(1)
        return value

    return build, calls


def test_cached_builds_once_per_key(tmp_path):
    build, calls = _builder({"a": np.arange(3)})
    k1 = cache.key_of("x", 1)
    v1 = cache.cached("demo", k1, build, root=tmp_path)
    v2 = cache.cached("demo", k1, build, root=tmp_path)
    assert len(calls) == 1
    np.testing.assert_array_equal(v2["a"], [0, 1, 2])
    assert v2 is not v1                                   # read back from the file
    cache.cached("demo", cache.key_of("x", 2), build, root=tmp_path)   # another argument
    assert len(calls) == 2


def test_unreadable_or_foreign_entry_is_rebuilt(tmp_path):
    build, calls = _builder(42)
    key = cache.key_of("y")
    assert cache.cached("demo", key, build, root=tmp_path) == 42
    (entry,) = tmp_path.glob("demo-*.pkl")
    entry.write_bytes(b"\x80\x05truncated")
    assert cache.cached("demo", key, build, root=tmp_path) == 42
    entry.write_bytes(pickle.dumps(("another key", 7)))  # a prefix collision: not used
    assert cache.cached("demo", key, build, root=tmp_path) == 42
    assert len(calls) == 3


def test_cache_off_and_pruned(tmp_path, monkeypatch):
    build, calls = _builder(1)
    monkeypatch.setenv("TWIN_CACHE", "off")
    cache.cached("demo", cache.key_of(0), build, root=tmp_path)
    cache.cached("demo", cache.key_of(0), build, root=tmp_path)
    assert len(calls) == 2 and not list(tmp_path.iterdir())
    monkeypatch.delenv("TWIN_CACHE")
    for i in range(cache.KEEP + 3):
        cache.cached("demo", cache.key_of(i), build, root=tmp_path)
        os.utime(next(tmp_path.glob(f"demo-{cache.key_of(i)[:32]}.pkl")), (i, i))
    assert len(list(tmp_path.glob("demo-*.pkl"))) <= cache.KEEP + 1


def test_files_digest_follows_content_not_times(tmp_path):
    a, b = tmp_path / "a.inp", tmp_path / "b.json"
    a.write_text("[JUNCTIONS]\nJ1 10\n")
    b.write_text("{}")
    d0 = cache.files_digest([a, b])
    os.utime(a, (1, 1))
    assert cache.files_digest([b, a]) == d0
    a.write_text("[JUNCTIONS]\nJ1 11\n")
    assert cache.files_digest([a, b]) != d0


def test_source_digest_follows_code(tmp_path, monkeypatch):
    pkg = tmp_path / "cachepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import cachepkg

    d0 = cache.source_digest(cachepkg)
    (pkg / "mod.py").write_text("X = 2\n")
    assert cache.source_digest(cachepkg) != d0
    sys.modules.pop("cachepkg", None)


def test_district_key_changes_with_an_asset(tmp_path, monkeypatch):
    districts = importlib.import_module("cim.districts")  # cim.districts: a function
    fake = tmp_path / "assets" / "lihu"
    fake.mkdir(parents=True)
    (fake / "manifest.json").write_text('{"files": []}')
    (fake / "water.inp").write_text("[TITLE]\n")
    monkeypatch.setattr(districts, "ASSETS", tmp_path / "assets")
    k0 = cache.district_key("lihu")
    (fake / "water.inp").write_text("[TITLE]\nx\n")
    assert cache.district_key("lihu") != k0


@pytest.mark.slow
def test_cached_district_equals_a_fresh_read(tmp_path):
    import cim

    try:
        fresh = cim.load_district("lihu")
    except cim.CIMError as e:
        pytest.skip(f"the lihu district cannot be read here: {e}")
    cache.load_district("lihu", root=tmp_path)           # builds and stores
    cached = cache.load_district("lihu", root=tmp_path)  # reads the entry
    assert len(list(tmp_path.glob("city-*.pkl"))) == 1
    r0, r1 = fresh.roads, cached.roads
    np.testing.assert_array_equal(r0.link_ids, r1.link_ids)
    np.testing.assert_array_equal(r0.link_length, r1.link_length)
    assert list(r0.node_signal_plan) == list(r1.node_signal_plan)
    assert fresh.summary() == cached.summary()
