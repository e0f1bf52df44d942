"""The kernel contract, proved from outside ``twin/``: a small power-grid kernel defined here
(its own element ids, bus arrays, outputs, events, table and KPIs) runs beside traffic with
coupling both ways, in batches of members, through ``twin run`` and ``twin compare``.

The grid: feeders ``F0``, ``F1`` supply the road nodes (node k from feeder k mod 2). A feeder
carries a base load plus 2 kW per vehicle on the road links leaving the nodes it feeds (read
from traffic's ``link_count``); a failed feeder leaves its nodes dark (``signal_power`` 0,
which traffic reads: a dark signal works as an all-way stop).
"""

from __future__ import annotations

import numpy as np
import pytest

import twin
from twin.kernels.traffic import TrafficProcess

from .runcompare import assert_runs_equal
from .test_runtime_traffic import demand, grid_city

FEEDERS = np.array(["F0", "F1"])
BASE_KW = 100.0
KW_PER_VEHICLE = 2.0


@twin.register_kernel("test_grid")
class Grid(twin.Kernel):
    """A per-member (not batched) toy power grid: the test's new kernel."""

    dt = 5.0
    publishes = {"signal_power": twin.Spec(("road_node",), "1"),
                 "feeder_load": twin.Spec(("feeder",), "kW")}
    reads = {"vehicles": twin.Spec(("road_link",), "veh")}
    outputs = {"feeder_load": twin.Spec(("feeder",), "kW"),
               "energized": twin.Spec(("feeder",), "1"),
               "unserved_kw": twin.Spec((), "kW")}
    event_kinds = {"failure": "feeder", "repair": "feeder"}
    tables = {"outages": twin.Table("outage", {
        "outage_feeder": (np.int64, -1, ""), "outage_start_s": (np.float64, np.nan, "s"),
        "outage_end_s": (np.float64, np.nan, "s")})}

    def __init__(self, name: str = "grid", extra_kw: float = 0.0):
        self.name = name
        self.extra_kw = extra_kw

    def element_ids(self, city):
        return {"feeder": FEEDERS}

    def init(self, ctx):
        roads = ctx.city.roads
        self.node_feeder = np.arange(roads.n_nodes) % len(FEEDERS)
        self.link_feeder = self.node_feeder[roads.link_from]
        self.energized = np.ones(len(FEEDERS), bool)
        self.load = np.full(len(FEEDERS), BASE_KW + self.extra_kw)
        self.open_outages: dict[int, float] = {}
        self.done_outages: list[tuple] = []
        self.unserved_kws = 0.0
        self.coords = {"feeder": FEEDERS}
        self._publish(ctx)

    def _publish(self, ctx):
        power = self.energized[self.node_feeder].astype(float)
        ctx.bus.publish(f"{self.name}/signal_power", power, dims=("road_node",), units="1")
        ctx.bus.publish(f"{self.name}/feeder_load", self.load, dims=("feeder",), units="kW")

    def step(self, t, dt, ctx):
        veh = ctx.read("vehicles")
        per = np.zeros(len(FEEDERS)) if veh is None else np.bincount(
            self.link_feeder, weights=veh, minlength=len(FEEDERS))
        self.load = BASE_KW + self.extra_kw + KW_PER_VEHICLE * per
        unserved = float(self.load[~self.energized].sum())
        self.unserved_kws += unserved * dt
        self._publish(ctx)
        if ctx.record_due:
            return {"feeder_load": self.load.copy(), "energized": self.energized.astype(np.int8),
                    "unserved_kw": unserved}
        return None

    def apply_event(self, ev, index, ctx):
        down = (ev.kind == "failure") == (ev.phase == "start")
        self.energized[index] = not down
        if down:
            self.open_outages.setdefault(index, ctx.now)
        elif index in self.open_outages:
            self.done_outages.append((index, self.open_outages.pop(index), ctx.now))
        self._publish(ctx)
        return {"energized": bool(self.energized[index])}

    def on_checkpoint(self, final, ctx):
        rows = list(self.done_outages)
        if final:
            rows += [(i, t0, np.nan) for i, t0 in sorted(self.open_outages.items())]
        self.done_outages = []
        if rows:
            f, t0, t1 = (np.array(c) for c in zip(*rows))
            ctx.table("outages").append({"outage_feeder": f, "outage_start_s": t0,
                                         "outage_end_s": t1})

    def get_state(self):
        return {"energized": self.energized, "load": self.load,
                "unserved_kws": self.unserved_kws,
                "open": np.array(sorted(self.open_outages.items()), float).reshape(-1, 2),
                "done": np.array(self.done_outages, float).reshape(-1, 3)}

    def set_state(self, s):
        self.energized, self.load = s["energized"].copy(), s["load"].copy()
        self.unserved_kws = float(s["unserved_kws"])
        self.open_outages = {int(i): float(t) for i, t in s["open"]}
        self.done_outages = [(int(i), float(a), float(b)) for i, a, b in s["done"]]

    @classmethod
    def kpis(cls, layer):
        ds = layer.ds
        dt = np.diff(ds.time.values, prepend=0.0)
        outages = layer.tables["outages"]
        return [twin.KPI("energy_not_served_kwh", float((ds.unserved_kw.values * dt).sum())
                         / 3600.0, "kWh", True, "energy not served", "{:,.1f}"),
                twin.KPI("peak_load_kw", float(ds.feeder_load.max()), "kW", True,
                         "peak feeder load", "{:,.0f}"),
                twin.KPI("outages", float(len(outages["outage_feeder"])), "", True,
                         "feeder outages", "{:,.0f}")]


def signal_feeder() -> str:
    """Return the feeder of the grid city's only signal (node n11)."""
    roads = grid_city().roads
    return str(FEEDERS[list(roads.node_ids).index("n11") % len(FEEDERS)])


SIG = signal_feeder()
OTHER = str(FEEDERS[FEEDERS != SIG][0])


def scenario(events=(), members=1, inputs=None, grid=None, duration=600.0, **kw):
    city = grid_city()
    return twin.Scenario(
        city=city, duration=duration, seed=5, members=members,
        kernels=[TrafficProcess(vehicle_slots=16, threads=1), grid or Grid()],
        inputs=inputs or {"traffic": demand(city)},
        couplings={"traffic/signal_power": "grid/signal_power",
                   "grid/vehicles": "traffic/link_count"},
        events=list(events), record_interval=30.0, chunk_records=5, name="grid", **kw)


def layer_arrays(run, layer, member=None) -> dict:
    ds = run.open(layer)
    if member is not None:
        ds = ds.isel(member=member)
    return {k: np.asarray(v.values) for k, v in ds.data_vars.items()
            if "member" in v.dims or member is not None and "time" in v.dims}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("grid")
    base = twin.run(scenario(), out / "base.zarr", progress=False)
    fail = twin.run(scenario([twin.failure(SIG, at=120, duration=240, layer="grid")]),
                    out / "fail.zarr", progress=False)
    return base, fail


def test_the_new_kernel_owns_ids_outputs_events_table_and_kpis(runs):
    base, fail = runs
    g = fail.open("grid").isel(member=0)
    assert list(g.feeder.values) == ["F0", "F1"] and g.feeder_load.dims == ("time", "feeder")
    other = str(FEEDERS[FEEDERS != SIG][0])
    on = g.energized.sel(feeder=SIG)
    # events at t act after the steps that end at t: the record at 120 s is still on
    assert on.sel(time=slice(None, 120)).all() and not on.sel(time=slice(150, 360)).any()
    assert on.sel(time=slice(390, None)).all() and (g.energized.sel(feeder=other) == 1).all()
    ev = fail.events
    assert list(ev.target) == [SIG, SIG] and list(ev.phase) == ["start", "end"]
    assert list(ev.time) == [120.0, 360.0] and ev.details[0]["energized"] is False
    out = fail.table("grid", "outages")
    assert out["outage_feeder"].tolist() == [list(FEEDERS).index(SIG)]
    assert out["outage_start_s"].tolist() == [120.0]
    assert out["outage_end_s"].tolist() == [360.0]
    k = twin.kpis(fail)
    assert set(k.layers) == {"traffic", "grid"}
    assert k.value("grid", "outages") == 1 and twin.kpis(base).value("grid", "outages") == 0
    assert k.value("grid", "energy_not_served_kwh") > 240 * BASE_KW / 3600 * 0.99


def test_coupling_both_ways(runs):
    base, fail = runs
    # grid <- traffic: the feeder load follows the vehicles on the links it supplies
    g, tr = base.open("grid").isel(member=0), base.open("traffic").isel(member=0)
    load = g.feeder_load.sel(time=tr.time).values
    roads = grid_city().roads
    link_feeder = (np.arange(roads.n_nodes) % 2)[roads.link_from]
    veh = tr.link_count.values  # the 30 s records; the grid read the same step's counts
    expected = BASE_KW + KW_PER_VEHICLE * np.stack(
        [veh[:, link_feeder == f].sum(1) for f in (0, 1)], axis=1)
    np.testing.assert_allclose(load, expected)
    assert load.max() > BASE_KW
    # traffic <- grid: the failed feeder supplies the signal at n11: dark from 120 s to 360 s
    a, b = base.open("traffic").isel(member=0), fail.open("traffic").isel(member=0)
    before = a.time.values <= 120
    np.testing.assert_array_equal(a.link_count.values[before], b.link_count.values[before])
    assert not np.array_equal(a.link_count.values, b.link_count.values)


def test_a_dark_signal_meters_its_approaches_like_an_all_way_stop(tmp_path):
    """Node n11 dark for the whole run: each approach discharges at most one vehicle per
    ALL_WAY_STOP_HEADWAY_S s."""
    from twin.kernels.traffic.process import ALL_WAY_STOP_HEADWAY_S

    city = grid_city()
    roads = city.roads
    into = roads.link_to == list(roads.node_ids).index("n11")
    flows = []
    for events in ([], [twin.failure(SIG, at=0, layer="grid")]):
        sc = scenario(events, inputs={"traffic": demand(city, n_trips=1500, horizon=480.0)})
        run = twin.run(sc, tmp_path / f"dark{len(events)}.zarr", progress=False)
        ds = run.open("traffic").isel(member=0)
        flows.append(ds.link_flow.values[:, into])         # veh/h over 30 s records
    lit, dark = flows
    cap = 3600.0 / ALL_WAY_STOP_HEADWAY_S                    # veh/h per approach
    busy = dark[2:-2]                                        # 60 s .. 540 s: queues waiting
    assert busy.mean(0).max() <= cap * 1.02
    assert dark.max() <= cap + 2 * 120.0   # a 30 s record may hold two vehicles of credit
    assert busy.mean() > 0.5 * cap and lit.max() > dark.max()


def test_per_element_trigger_fires_per_feeder_and_ends_when_clear(tmp_path):
    """One vectorized condition over the feeder array: each feeder over 150 kW trips (a
    failure event targeting that feeder), and comes back when its load is under it."""
    trip = twin.Event("failure", when=twin.When("grid/feeder_load", ">", 150.0, each=True),
                      until="clear", layer="grid")
    run = twin.run(scenario([trip]), tmp_path / "trig.zarr", progress=False)
    ev = run.events
    assert set(ev.source) == {"trigger"} and set(ev.target) == {"F0", "F1"}
    g = run.open("grid").isel(member=0)
    for f in ("F0", "F1"):
        mine = ev[ev.target == f]
        phases = list(mine.phase)
        # start, end, start, …: an event ends when its element clears, then re-arms
        assert phases == ["start", "end"] * (len(phases) // 2) + ["start"] * (len(phases) % 2)
        load = g.feeder_load.sel(feeder=f)
        first_over = float(load.time[(load > 150.0).values][0])
        assert mine.time.iloc[0] <= first_over      # checked every 5 s, recorded every 30 s
        # the feeder is off exactly between its events (a record at t precedes events at t)
        times, phase = mine.time.values, mine.phase.values
        for t, on in zip(g.time.values, g.energized.sel(feeder=f).values):
            last = phase[times < t]
            assert on == (len(last) == 0 or last[-1] == "end"), (f, t)
    assert (ev.target == "F0").sum() >= 3                      # F0 tripped again after clearing


def test_conditions_and_couplings_are_checked_before_the_run(tmp_path):
    out = tmp_path / "x.zarr"
    cases = [
        (dict(couplings={"traffic/signal_power": "grid/nothing"}), "no kernel publishes"),
        (dict(couplings={"traffic/signal_power": "grid/feeder_load"}), "dims ('feeder',)"),
        (dict(couplings={"grid/solar": "traffic/link_count"}), "no such read port"),
        (dict(events=[twin.failure("F9", at=10, layer="grid")]), "unknown feeder 'F9'"),
        (dict(events=[twin.failure("F0", when=twin.When("grid/feeder_load", ">", 1,
                                                        at="n11"))]), "unknown feeder 'n11'"),
        (dict(events=[twin.Event("closure", when=twin.When("grid/feeder_load", ">", 1,
                                                           each=True))]),
         "fires per feeder, but 'closure' events target a road_link"),
    ]
    for change, match in cases:
        sc = scenario(**{k: v for k, v in change.items() if k == "events"})
        if "couplings" in change:
            sc.couplings = change["couplings"]
        with pytest.raises(twin.ScenarioError, match=match.replace("(", r"\(").replace(
                ")", r"\)")):
            twin.run(sc, out, progress=False)
        assert not out.exists()


# ---- members --------------------------------------------------------------------------------
def member_scenario():
    city = grid_city()
    return scenario(
        members=3, seeds=[11, 12, 13],
        inputs={"traffic": twin.per_member([demand(city, seed=s) for s in (1, 2, 3)])},
        events=[twin.failure(SIG, at=120, duration=240, layer="grid", member=1),
                twin.failure(OTHER, at=60, duration=120, layer="grid")])


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    return twin.run(member_scenario(), tmp_path_factory.mktemp("b") / "batch.zarr",
                    progress=False)


def test_members_are_independent_and_each_equals_its_scenario_run_alone(batch, tmp_path):
    ds = batch.open("traffic")
    assert ds.sizes["member"] == 3 and list(ds.member.values) == [0, 1, 2]
    assert batch.open("grid").feeder_load.dims == ("time", "member", "feeder")
    trips = batch.table("traffic", "trips")
    ids = [set(trips["trip_id"][trips["trip_member"] == m]) for m in range(3)]
    assert all(ids)                                        # every member has its trips
    counts = ds.link_count.values
    assert not np.array_equal(counts[:, 0], counts[:, 1])  # different demand, different runs
    sc = member_scenario()
    for m in (1, 2):
        alone = twin.run(sc.member(m), tmp_path / f"m{m}.zarr", progress=False)
        for layer in ("traffic", "grid"):
            a, b = layer_arrays(batch, layer, m), layer_arrays(alone, layer, 0)
            assert a.keys() == b.keys()
            for k in a:
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"{layer}/{k} member {m}")
        for name in ("trips", ):
            t_b, t_a = batch.table("traffic", name, m), alone.table("traffic", name, 0)
            for c in t_a:
                if c != "trip_member":
                    np.testing.assert_array_equal(t_b[c], t_a[c], err_msg=c)
    ev = batch.events
    assert set(ev[ev.target == SIG].member) == {1} and set(ev[ev.target == OTHER].member) == {-1}
    k = twin.kpis(batch)
    assert len(k.layers["grid"]) == 3
    assert k.value("grid", "outages", 1) == 2 and k.value("grid", "outages", 0) == 1


def test_members_resume_bit_identical(batch, tmp_path):
    from .test_runtime_traffic import Crash

    sc = member_scenario()
    sc.kernels.append(Crash(at=400))
    with pytest.raises(RuntimeError, match="crash"):
        twin.run(sc, tmp_path / "r.zarr", progress=False)
    sc = member_scenario()
    sc.kernels.append(Crash())
    run = twin.run(sc, tmp_path / "r.zarr", resume=True, progress=False)
    assert run.provenance["resumed"] == 1
    assert_runs_equal(batch, run, ("traffic", "grid"), (("traffic", "trips"), ("grid", "outages")))


# ---- the command line --------------------------------------------------------------------------
SCRIPT = '''"""A grid scenario from outside twin/."""
import twin
from tests.twin import test_kernel_contract as t


def scenario(quick=False):
    return t.scenario({events})


if __name__ == "__main__":
    raise SystemExit(twin.cli.scenario_file.main(__file__))
'''


def test_twin_run_and_compare_show_the_new_kernel(tmp_path, capsys, monkeypatch):
    from twin.cli import main as cli

    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parents[2]))
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(SCRIPT.format(events=""))
    b.write_text(SCRIPT.format(events=f'[twin.failure("{SIG}", at=120, layer="grid")]'))
    for s in (a, b):
        assert cli(["run", str(s), "--out", str(tmp_path / f"{s.stem}.zarr"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "[grid]" in out and "energy not served" in out and "[traffic]" in out
    assert cli(["compare", str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr")]) == 0
    out = capsys.readouterr().out
    assert "[grid]" in out and "[traffic]" in out
    line = next(x for x in out.splitlines() if "energy not served" in x)
    assert "worse" in line
    assert (tmp_path / "b.zarr.compare.png").stat().st_size > 10_000


# ---- traffic's link ports, from a batched kernel ---------------------------------------------
class Flood(twin.Kernel):
    """A batched toy flood: from ``at`` s, water on the links of the first grid row (names
    ``h0*``) slows them to ``speed`` × their free speed and their outflow to ``capacity`` ×;
    member k's water is k times as bad (so member 0 is dry)."""

    batched = True
    dt = 10.0
    publishes = {"speed_factor": twin.Spec(("road_link",), "1"),
                 "capacity_factor": twin.Spec(("road_link",), "1")}

    def __init__(self, name="flood", at=0.0):
        self.name, self.at = name, at

    def init(self, ctx):
        ids = ctx.city.roads.link_ids.astype(str)
        self.wet = np.char.startswith(ids, "h0")
        self.k = np.arange(ctx.n_members)[:, None]
        self._publish(ctx, 0.0)

    def _publish(self, ctx, t):
        wet = self.wet[None, :] & (self.k > 0) & (t >= self.at)
        ctx.bus.publish(f"{self.name}/speed_factor", np.where(wet, 0.5 ** self.k, 1.0),
                        dims=("road_link",), units="1")
        ctx.bus.publish(f"{self.name}/capacity_factor", np.where(wet, 0.5 ** self.k, 1.0),
                        dims=("road_link",), units="1")

    def step(self, t, dt, ctx):
        self._publish(ctx, t + dt)


def test_speed_and_capacity_factors_from_a_batched_kernel(tmp_path):
    city = grid_city()
    sc = twin.Scenario(
        city=city, duration=600.0, seed=5, members=3,
        kernels=[Flood(at=100.0), TrafficProcess(vehicle_slots=16, threads=1)],
        inputs={"traffic": demand(city)},
        couplings={"traffic/speed_factor": "flood/speed_factor",
                   "traffic/capacity_factor": "flood/capacity_factor"},
        record_interval=30.0, chunk_records=5, name="flood")
    run = twin.run(sc, tmp_path / "flood.zarr", progress=False)
    ds = run.open("traffic")
    wet = np.array([str(x).startswith("h0") for x in ds.road_link.values])
    free = ds.link_free_speed.values
    late = ds.time.values > 150
    for m, factor in ((1, 0.5), (2, 0.25)):
        ratio = (ds.link_speed.isel(member=m).values[late][:, wet] / free[wet]).ravel()
        ratio = ratio[np.isfinite(ratio)]
        # a vehicle that has just entered brakes within a step or two: a few records show it
        assert np.percentile(ratio, 90) <= factor + 1e-9 and ratio.max() < 2 * factor
    v0 = ds.link_speed.isel(member=0).values[late][:, wet]
    assert np.nanmax(v0 / free[wet]) > 0.5                   # member 0 stays dry
    flow = ds.link_flow.values[late][:, :, wet].sum(axis=(0, 2))
    assert flow[0] > flow[2]                                 # less gets through the water
