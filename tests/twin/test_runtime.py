"""Runtime: clock, kernels as processes, bus, events, mesa agents, determinism, errors.

The toy kernels here are also used by the kill-and-resume tests (imported in a subprocess).
"""

from __future__ import annotations

import mesa
import numpy as np
import pytest
import xarray as xr

import cim
import twin
from cim.roads import RoadNetworkBuilder
from twin.errors import ScenarioError, StoreError

N_SLOTS = 4


def small_city() -> cim.CityModel:
    """Return a 4-node square of two-way streets, signal at node b."""
    b = RoadNetworkBuilder()
    pts = {"a": (0, 0), "b": (200, 0), "c": (200, 200), "d": (0, 200)}
    for rid, (u, v) in {"ab": "ab", "bc": "bc", "cd": "cd", "da": "da"}.items():
        b.add_segment(rid, u, v, [pts[u], pts[v]], cls="secondary")
    b.set_signal("b", {"cycle_s": 60, "offset_s": 0, "green_s": [25, 25], "yellow_s": 3})
    city = cim.CityModel(roads=b.build())
    city.metadata["district"] = "square"
    return city


class Toy(twin.Kernel):
    """A deterministic toy kernel: per-link values with noise, closures zero a link, a
    signal plan (cycle) scales the queue; records link values and padded 'vehicle' slots."""

    dt = 1.0
    event_kinds = {"closure": "road_link", "signal_plan": "road_node",
                   "capacity_drop": "road_link"}
    publishes = {"queue_length": twin.Spec(("road_link",), "veh")}
    outputs = {"link_value": twin.Spec(("road_link",), "m"),
               "queue_length": twin.Spec(("road_link",), "veh"),
               "vehicle_x": twin.Spec(("vehicle_slot",), "m")}

    def __init__(self, name="toy", crash_at=None, sleep=0.0):
        self.name = name
        self.crash_at = crash_at
        self.sleep = sleep

    def config(self):  # crash_at and sleep disturb the run, they are not part of it
        return {"name": self.name}

    def init(self, ctx):
        links = ctx.city.roads.link_ids.astype(str)
        n = len(links)
        self.value = np.zeros(n)
        self.queue = np.zeros(n)
        self.closed = np.zeros(n, bool)
        self.cycle = np.full(ctx.city.roads.n_nodes, 60.0)
        self.coords = {"road_link": links, "vehicle_slot": np.arange(N_SLOTS)}
        ctx.bus.publish(f"{self.name}/queue_length", self.queue, dims=("road_link",),
                        units="veh")

    def step(self, t, dt, ctx):
        if self.crash_at is not None and t >= self.crash_at:
            raise RuntimeError(f"toy crash at {t}")
        if self.sleep:
            import time
            time.sleep(self.sleep)
        noise = ctx.rng.normal(size=self.value.shape)
        self.value = np.where(self.closed, 0.0, self.value + dt * noise)
        self.queue = np.maximum(0.0, self.queue + dt * (0.5 + noise) * 60.0 / self.cycle[1])
        ctx.bus.publish(f"{self.name}/queue_length", self.queue)
        k = int(ctx.rng.integers(0, N_SLOTS + 1))
        vx = np.full(N_SLOTS, np.nan)
        vx[:k] = ctx.rng.uniform(0, 200, size=k)
        return {"link_value": self.value, "queue_length": self.queue, "vehicle_x": vx}

    def apply_event(self, ev, index, ctx):
        if ev.kind == "closure":
            self.closed[index] = ev.phase == "start"
        elif ev.kind == "signal_plan":
            old = self.cycle[index]
            self.cycle[index] = ev.details["plan"]["cycle_s"] if ev.phase == "start" else 60.0
            return {"previous_cycle_s": float(old)}
        elif ev.kind == "capacity_drop":
            self.queue[index] += 100.0 if ev.phase == "start" else 0.0
        return None

    def get_state(self):
        return {"value": self.value, "queue": self.queue, "closed": self.closed,
                "cycle": self.cycle}

    def set_state(self, s):
        self.value, self.queue = s["value"].copy(), s["queue"].copy()
        self.closed, self.cycle = s["closed"].copy(), s["cycle"].copy()

    @classmethod
    def kpis(cls, layer):
        ds = layer.ds
        return [twin.KPI("mean_queue_veh", float(ds.queue_length.mean()), "veh", True),
                twin.KPI("max_value_m", float(ds.link_value.max()), "m", None)]


class Reader:
    """A slower kernel coupled through the bus; no get_state (pickled by the runtime)."""

    dt = 5.0
    name = "reader"

    def init(self, ctx):
        self.total = np.zeros(1)
        self.draws = []
        self.outputs = {"total_queue": ((), "veh")}

    def step(self, t, dt, ctx):
        q = ctx.bus.get("toy/queue_length")
        self.total = self.total + q.sum() * dt + ctx.rng.random()
        self.draws.append(float(ctx.rng.random()))
        return {"total_queue": self.total[0]}


class Operator(mesa.Agent):
    """Lengthens the cycle at node b when the queue on link ab:f exceeds a threshold."""

    def __init__(self, model, threshold):
        super().__init__(model)
        self.threshold = threshold

    def step(self):
        ctx = self.model.ctx
        q = ctx.bus.get("toy/queue_length")[ctx.index("road_link", "ab:f")]
        if not self.model.plan_changed and q > self.threshold:
            ctx.apply(twin.Event("signal_plan", "b",
                                 details={"plan": {"cycle_s": 120, "green_s": [55, 55]}}))
            self.model.plan_changed = True


class OperatorModel(mesa.Model):
    def __init__(self, ctx, threshold=30.0):
        super().__init__(seed=ctx.seed)
        self.ctx = ctx
        self.plan_changed = False
        Operator.create_agents(self, 2, threshold=threshold)

    def step(self):
        self.agents.shuffle_do("step")


def make_operators(ctx):
    return OperatorModel(ctx)


def scenario(seed=7, duration=600.0, crash_at=None, sleep=0.0, **kw) -> twin.Scenario:
    kw.setdefault("events", [] if duration < 300 else [
        twin.Event("closure", "bc:f", at=100, duration=200),
        twin.Event("capacity_drop", "cd:b", details={"factor": 0.5}, duration=60,
                   when=twin.When("toy/queue_length", ">", 40.0, at="cd:b"))])
    return twin.Scenario(
        city=small_city(), duration=duration, seed=seed,
        kernels=[Toy(crash_at=crash_at, sleep=sleep), Reader()],
        agents=[twin.MesaProcess(make_operators, dt=10.0, name="operators")],
        name="toy", **{"chunk_records": 20, "record_interval": 10.0, **kw})


def closure(link, **kw):
    return twin.Event("closure", link, **kw)


def arrays(path) -> dict:
    out = {}
    for layer in ("toy", "reader", "events"):
        ds = xr.open_zarr(str(path), group=layer)
        for k, v in ds.variables.items():
            out[f"{layer}/{k}"] = np.asarray(v.values)
    return out


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        if a[k].dtype.kind == "f":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # NaN == NaN here
        else:
            assert (a[k] == b[k]).all(), k


# ---- tests -------------------------------------------------------------------------------------
def test_run_records_layers_with_named_dims_and_coords(tmp_path):
    run = twin.run(scenario(), tmp_path / "r.zarr", progress=False)
    assert run.status == "complete"
    full = xr.open_zarr(str(tmp_path / "r.zarr"), group="toy")
    assert full.link_value.dims == ("time", "member", "road_link")
    assert full.vehicle_x.dims == ("time", "member", "vehicle_slot")
    ds = full.isel(member=0)
    np.testing.assert_array_equal(ds.time.values, np.arange(10.0, 601.0, 10.0))
    assert list(ds.road_link.values) == list(small_city().roads.link_ids)
    assert ds.queue_length.attrs["units"] == "veh"
    assert ds.time.attrs["units"] == "s"
    assert np.isnan(ds.vehicle_x.values).any()
    # links can be selected by id: labelled data with no glue
    assert ds.link_value.sel(road_link="bc:f").shape == (60,)
    rd = run.open("reader")
    assert rd.total_queue.dims == ("time", "member") and rd.sizes["time"] == 60
    assert set(run.layers) == {"toy", "reader"}


def test_events_table_closure_and_trigger(tmp_path):
    run = twin.run(scenario(), tmp_path / "r.zarr", progress=False)
    ev = run.events
    closure = ev[ev.kind == "closure"]
    assert list(closure.phase) == ["start", "end"]
    assert list(closure.time) == [100.0, 300.0]
    assert set(closure.target) == {"bc:f"} and set(closure.source) == {"scenario"}
    ds = run.open("toy").isel(member=0)
    v = ds.link_value.sel(road_link="bc:f")
    assert (v.sel(time=slice(110, 300)) == 0).all()      # closed → zeroed
    assert (v.sel(time=slice(320, 600)) != 0).any()
    drop = ev[ev.kind == "capacity_drop"]
    assert list(drop.phase) == ["start", "end"] and set(drop.source) == {"trigger"}
    assert drop.time.iloc[1] - drop.time.iloc[0] == 60.0
    assert xr.open_zarr(str(tmp_path / "r.zarr"), group="events").time.dims == ("event",)


def test_mesa_operator_changes_signal_plan(tmp_path):
    run = twin.run(scenario(), tmp_path / "r.zarr", progress=False)
    ev = run.events
    plan = ev[ev.kind == "signal_plan"]
    assert len(plan) == 1                       # the operators act once
    row = plan.iloc[0]
    assert row["source"] == "operators" and row["target"] == "b"
    assert row["details"]["previous_cycle_s"] == 60.0
    assert row["details"]["plan"]["cycle_s"] == 120
    # they act at their first step (every 10 s) that sees the queue above 30 veh
    q = run.open("toy").isel(member=0).queue_length.sel(road_link="ab:f")
    assert float(q.sel(time=row["time"])) > 30.0
    assert (q.sel(time=slice(None, row["time"] - 10)) <= 30.0).all()


def test_same_seed_bit_identical_other_seed_differs(tmp_path):
    twin.run(scenario(seed=3), tmp_path / "a.zarr", progress=False)
    twin.run(scenario(seed=3), tmp_path / "b.zarr", progress=False)
    twin.run(scenario(seed=4), tmp_path / "c.zarr", progress=False)
    a, b, c = (arrays(tmp_path / f"{x}.zarr") for x in "abc")
    assert_same(a, b)
    assert not np.array_equal(a["toy/link_value"], c["toy/link_value"])


def test_scenario_object_can_be_run_twice(tmp_path):
    sc = scenario()
    twin.run(sc, tmp_path / "a.zarr", progress=False)
    twin.run(sc, tmp_path / "b.zarr", progress=False)
    assert_same(arrays(tmp_path / "a.zarr"), arrays(tmp_path / "b.zarr"))


def test_resume_after_crash_matches_uninterrupted(tmp_path):
    ref = twin.run(scenario(chunk_records=4), tmp_path / "ref.zarr", progress=False)
    with pytest.raises(RuntimeError, match="toy crash"):
        twin.run(scenario(crash_at=333.0, chunk_records=4), tmp_path / "r.zarr",
                 progress=False)
    part = twin.open_run(tmp_path / "r.zarr")
    assert part.status == "interrupted"
    ds = part.open("toy")                       # flushed chunks readable
    assert 0 < ds.sizes["time"] < 60 and ds.time.values[-1] <= 333
    resumed = twin.run(scenario(chunk_records=4), tmp_path / "r.zarr", resume=True,
                       progress=False)
    assert resumed.status == "complete"
    assert resumed.provenance["resumed"] == 1
    assert_same(arrays(ref.path), arrays(resumed.path))
    # resuming a finished run is a no-op
    again = twin.run(scenario(chunk_records=4), tmp_path / "r.zarr", resume=True,
                     progress=False)
    assert_same(arrays(ref.path), arrays(again.path))


def test_refuses_to_overwrite(tmp_path):
    out = tmp_path / "r.zarr"
    twin.run(scenario(duration=60), out, progress=False)
    with pytest.raises(StoreError, match="already exists"):
        twin.run(scenario(duration=60), out, progress=False)
    assert twin.open_run(out).status == "complete"            # nothing lost
    twin.run(scenario(duration=60, seed=1), out, overwrite=True, progress=False)
    assert twin.open_run(out).provenance["seed"] == 1
    with pytest.raises(StoreError, match="different scenario"):
        twin.run(scenario(duration=60, seed=2), out, resume=True, progress=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(StoreError, match="not a run store"):
        twin.run(scenario(duration=60), other, overwrite=True, progress=False)
    assert (other / "keep.txt").exists()


def test_provenance_and_kpis(tmp_path):
    run = twin.run(scenario(), tmp_path / "r.zarr", progress=False)
    p = run.provenance
    assert p["seed"] == 7 and p["district"] == "square"
    assert "def scenario(" in p["scenario_source"]        # this file's text
    assert p["package_version"] and p["created"] and p["wall_time_s"] > 0
    assert "git_commit" in p
    k = twin.kpis(run)
    assert set(k.layers) == {"toy"} and k.value("toy", "mean_queue_veh") > 0
    assert float(run.open("toy").queue_length.mean()) == k.value("toy", "mean_queue_veh")


@pytest.mark.parametrize("change, match", [
    (dict(duration=0), "duration"),
    (dict(duration=-5), "duration"),
    (dict(city="atlantis"), "unknown district"),
    (dict(events=[closure("nope:f", at=10)]), "unknown road_link 'nope:f'"),
    (dict(events=[twin.Event("signal_plan", "zz", at=10)]), "unknown road_node 'zz'"),
    (dict(events=[closure("ab:f", at=601)]), "after the end"),
    (dict(events=[closure("ab:f", at=-1)]), "before the start"),
    (dict(events=[twin.Event("flood", "ab:f", at=1)]), "no kernel handles"),
    (dict(events=[twin.Event("closure", "ab:f")]), "exactly one of at"),
    (dict(dt={"toy": 0}), "dt of kernel 'toy'"),
    (dict(dt={"toy": -1}), "dt of kernel 'toy'"),
    (dict(dt={"ghost": 1}), "unknown kernel"),
    (dict(record_interval=7.5), "not a multiple"),
    (dict(seed=-1), "seed"),
    (dict(events=[closure("ab:f", when=twin.When("toy/queue_length", ">", 1, at="q"))]),
     "unknown road_link 'q'"),
    (dict(events=[closure("ab:f", when=twin.When("toy/queue_length", "=>", 1))]),
     "unknown comparison"),
    (dict(events=[closure("ab:f", when=twin.When("x/q", ">", 1))]),
     "'x/q', which no kernel publishes"),
    (dict(events=[closure("ab:f", when=twin.When("toy/nothing", ">", 1))]),
     "'toy/nothing', which no kernel publishes"),
    (dict(events=[closure("ab:f", when=twin.When("toy/queue_length", ">", 1, at="b"))]),
     "unknown road_link 'b'"),  # a node id where the array is over road links
    (dict(events=[closure("ab:f", when=twin.When("toy/queue_length", ">", 1),
                          duration=5, until="clear")]), "not both"),
    (dict(inputs={"ghost": 1}), "unknown kernel"),
    (dict(members=0), "members"),
    (dict(events=[closure("ab:f", at=5, member=3)]), "member 3"),
])
def test_bad_scenarios_fail_before_the_run(tmp_path, change, match):
    out = tmp_path / "r.zarr"
    with pytest.raises(ScenarioError, match=match):
        twin.run(scenario(**change) if "city" not in change else twin.Scenario(
            city=change["city"], duration=60, kernels=[Toy()]), out, progress=False)
    assert not out.exists()


def test_progress_bar(tmp_path, capsys):
    twin.run(scenario(duration=60), tmp_path / "a.zarr", progress=False)
    assert capsys.readouterr().err == ""
    twin.run(scenario(duration=60), tmp_path / "b.zarr", progress=True)
    err = capsys.readouterr().err
    assert "twin run toy" in err and "sim-s" in err


def test_bus_errors_name_known_arrays():
    bus = twin.Bus(n_members=2)
    bus.publish("toy/q", np.zeros((2, 3)), dims=("road_link",), units="veh")
    assert bus.meta("toy/q").units == "veh" and "toy/q" in bus
    with pytest.raises(KeyError, match="toy/q"):
        bus.get("toy/x")
    with pytest.raises(twin.TwinError, match="2 dims"):
        bus.publish("toy/q2", np.zeros((2, 3)), dims=("a", "b"))
    with pytest.raises(twin.TwinError, match="member axis"):
        bus.publish("toy/q3", np.zeros(3), dims=("road_link",))


def test_an_event_ends_when_its_until_condition_holds(tmp_path):
    """A triggered capacity drop on cd:b (queue > 40) that ends when the queue passes 200
    veh, not after a fixed time (the toy's queue grows by 100 at the drop)."""
    drop = twin.Event("capacity_drop", "cd:b", details={"factor": 0.5},
                      when=twin.When("toy/queue_length", ">", 40.0, at="cd:b"),
                      until=twin.When("toy/queue_length", ">", 200.0, at="cd:b"))
    run = twin.run(scenario(events=[drop]), tmp_path / "u.zarr", progress=False)
    ev = run.events
    assert list(ev[ev.kind == "capacity_drop"].phase) == ["start", "end"]
    t0, t1 = ev[ev.kind == "capacity_drop"].time
    q = run.open("toy").isel(member=0).queue_length.sel(road_link="cd:b")
    assert float(q.sel(time=slice(None, t1 - 1e-9)).max()) <= 200.0 or t1 % 10 != 0
    assert float(q.sel(time=slice(t1, None))[0]) > 200.0      # first record after the end
    assert (q.sel(time=slice(None, t0 - 1e-9)) <= 40.0).all()
