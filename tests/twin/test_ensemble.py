"""Ensembles on dask.distributed (``twin.run_ensemble``): a LocalCluster of 2 worker processes
on loopback gives the store the members give run one by one; a worker killed mid-task is
replaced and its task resumed; a failed ensemble resumes by running only its missing members;
a bad ``vary`` parameter stops before anything runs; ensemble KPIs and ``twin compare``.

The scenario is the kernel-contract grid (traffic + a per-member toy power grid, per-member
demand and a member-specific event), cut to 300 s; a test kernel (:class:`Probe`) logs which
members each task initialises and kills its worker or fails once on demand.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

import twin
from twin.errors import ScenarioError

from . import test_kernel_contract as kc
from .runcompare import assert_runs_equal

distributed = pytest.importorskip("distributed")

LAYERS = ("traffic", "grid")
TABLES = (("traffic", "trips"), ("grid", "outages"))


class Probe:
    """A batched test kernel: logs the member seeds of each task it starts in; at ``at`` s,
    in the task that holds seed ``seed``, once (a marker file), ``os._exit``s the worker
    (``action="exit"``) or raises (``"raise"``). None of this is part of what the run
    computes (``config`` is empty), so every variant has the same fingerprint."""

    name, dt, batched = "probe", 30.0, True

    def __init__(self, log=None, action=None, at=200.0, seed=None):
        self.log, self.action, self.at, self.seed = log, action, at, seed

    def config(self):
        return {}

    def init(self, ctx):
        if self.log:
            with open(self.log, "a") as f:
                f.write(" ".join(map(str, ctx.scenario.member_seeds())) + "\n")

    def step(self, t, dt, ctx):
        if (self.action and t >= self.at and self.seed in ctx.scenario.member_seeds()
                and not Path(f"{self.log}.fired").exists()):
            Path(f"{self.log}.fired").touch()
            if self.action == "exit":
                ctx._sim.store.wait()  # the last checkpoint is on disk: resume from it
                os._exit(1)
            raise RuntimeError("probe failure")

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def scenario(probe=None):
    sc = kc.member_scenario()  # 3 members, seeds 11-13, per-member demand and an event
    sc.duration = 300.0
    sc.kernels.append(probe or Probe())
    return sc


def logged(log) -> list[str]:
    return Path(log).read_text().splitlines() if Path(log).exists() else []


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"}) as cluster, \
            Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def reference(client, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ens")
    log = tmp / "log"
    run = twin.run_ensemble(scenario(Probe(log)), out=tmp / "ref.zarr", client=client,
                            batch=2)
    return run, logged(log)


def run_alone(sc, path):
    """Run ``sc`` by itself with ``twin.run`` (on a worker: the members run one by one, in
    separate runs, two at a time)."""
    twin.run(sc, path, progress=False)
    return str(path)


def test_two_workers_give_the_store_of_the_members_run_one_by_one(reference, client,
                                                                    tmp_path):
    ens, log = reference
    assert sorted(log) == ["11 12", "13"]          # two tasks: members 0-1 batched, 2 alone
    assert ens.status == "complete" and ens.n_members == 3
    ds = ens.open("traffic")
    assert ds.link_flow.dims == ("time", "member", "road_link")
    assert list(ds.member.values) == [0, 1, 2] and ds.link_flow.encoding["chunks"][1] == 2
    sc = scenario()
    ka = twin.kpis(ens)
    alone_runs = client.gather([client.submit(run_alone, sc.member(m), tmp_path / f"m{m}.zarr",
                                              pure=False) for m in range(3)])
    for m in range(3):
        alone = twin.open_run(alone_runs[m])
        for layer in LAYERS:
            a, b = kc.layer_arrays(ens, layer, m), kc.layer_arrays(alone, layer, 0)
            assert a.keys() == b.keys() and a
            for k in a:
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"{layer}/{k} member {m}")
        for layer, name in TABLES:
            ta, tb = ens.table(layer, name, m), alone.table(layer, name, 0)
            assert len(ta[next(iter(ta))]) == len(tb[next(iter(tb))])
            for c in tb:
                if not c.endswith("_member"):
                    np.testing.assert_array_equal(ta[c], tb[c], err_msg=f"{name}/{c} m{m}")
        ea, eb = ens.events, alone.events
        ea = ea[ea.member == m].reset_index(drop=True)
        assert len(ea) == len(eb) > 0
        for c in ("time", "kind", "target", "phase", "details"):
            assert list(ea[c]) == list(eb[c]), c
        # the KPIs of the ensemble store are the members' own
        kb = twin.kpis(alone)
        for layer in LAYERS:
            for x, y in zip(ka.layers[layer][m], kb.layers[layer][0]):
                assert x.name == y.name and (x.value == y.value or np.isnan(x.value)
                                             and np.isnan(y.value)), x.name
    prov = ens.attrs["ensemble"]["members"]
    assert [(p["member"], p["seed"], p["params"]) for p in prov] == [
        (0, 11, {}), (1, 12, {}), (2, 13, {})]
    assert not Path(str(ens.path) + ".parts").exists()


def test_a_killed_worker_is_replaced_and_its_task_resumed(reference, client, tmp_path):
    log = tmp_path / "log"
    run = twin.run_ensemble(scenario(Probe(log, "exit", at=200.0, seed=13)),
                            out=tmp_path / "kill.zarr", client=client, batch=2,
                            keep_parts=True)
    assert (tmp_path / "log.fired").exists()
    assert sorted(logged(log)) == ["11 12", "13", "13"]    # the killed task ran again …
    part = twin.open_run(tmp_path / "kill.zarr.parts" / "task_00001.zarr")
    assert part.provenance["resumed"] == 1                  # … from its checkpoint
    assert run.status == "complete"
    assert_runs_equal(reference[0], run, LAYERS, TABLES)
    assert reference[0].events.equals(run.events)


def test_a_failed_ensemble_resumes_only_its_missing_members(reference, client, tmp_path):
    from twin.ensemble import EnsembleError

    log, out = tmp_path / "log", tmp_path / "res.zarr"
    with pytest.raises(EnsembleError, match=r"1 member\(s\) of 3 failed \(\[2\]\).*resume"):
        twin.run_ensemble(scenario(Probe(log, "raise", at=200.0, seed=13)), out=out,
                          client=client, batch=2, retries=0)
    assert twin.open_run(out).status == "incomplete"
    assert sorted(logged(log)) == ["11 12", "13"]
    log.unlink()
    run = twin.run_ensemble(scenario(Probe(log)), out=out, client=client, resume=True)
    assert logged(log) == ["13"]                            # only the missing member ran
    assert run.status == "complete" and run.provenance["resumed"] == 1
    assert_runs_equal(reference[0], run, LAYERS, TABLES)
    assert reference[0].events.equals(run.events)
    # a complete ensemble resumes to itself, running nothing
    log.unlink()
    assert twin.run_ensemble(scenario(Probe(log)), out=out, client=client,
                             resume=True).status == "complete"
    assert logged(log) == []


def sweep(quick=False, n_trips=400, horizon=240.0):
    """A scenario function with parameters (for ``vary``)."""
    city = kc.grid_city()
    sc = kc.scenario(inputs={"traffic": kc.demand(city, n_trips=n_trips, horizon=horizon)},
                     duration=150.0 if quick else 300.0)
    sc.name = "sweep"
    return sc


def test_a_bad_vary_parameter_is_rejected_before_anything_runs(tmp_path, monkeypatch):
    import distributed as d

    def no_cluster(*a, **k):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(d, "LocalCluster", no_cluster)
    out = tmp_path / "bad.zarr"
    with pytest.raises(ScenarioError, match=r"no parameter 'n_trip'.*n_trips, horizon"):
        twin.run_ensemble(sweep, vary={"n_trip": [100, 200]}, out=out)
    with pytest.raises(ScenarioError, match="needs a list of values"):
        twin.run_ensemble(sweep, vary={"n_trips": 100}, out=out)
    with pytest.raises(ScenarioError, match="not a twin.Scenario|scenario function"):
        twin.run_ensemble(scenario(), vary={"n_trips": [1, 2]}, out=out)
    with pytest.raises(ScenarioError, match="members must be >= 1"):
        twin.run_ensemble(sweep, members=0, out=out)
    with pytest.raises(ScenarioError, match="duration"):  # every combination is validated
        twin.run_ensemble(lambda quick, d: dataclasses.replace(sweep(), duration=d),
                          vary={"d": [60.0, -1.0]}, out=out)
    assert not out.exists() and not (tmp_path / "bad.zarr.parts").exists()


SCRIPT = '''"""A sweep of the grid scenario."""
from tests.twin.test_ensemble import sweep


def scenario(quick=False, n_trips=400):
    return sweep(quick, n_trips)
'''


@pytest.mark.slow
def test_cli_vary_on_a_scheduler_and_ensemble_kpis_and_compare(reference, client, tmp_path,
                                                                capsys, monkeypatch):
    from twin.analysis import ensemble as ens_kpis
    from twin.cli import main as cli

    monkeypatch.syspath_prepend(str(Path(__file__).parents[2]))
    script = tmp_path / "sweep.py"
    script.write_text(SCRIPT)
    out = tmp_path / "sweep.zarr"
    assert cli(["run", str(script), "--quick", "--members", "2", "--batch", "2", "--vary",
                "n_trips=100,300", "--scheduler", client.scheduler.address, "--out",
                str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "4 members (2 parameter combinations" in text and "± 95% CI" in text
    run = twin.open_run(out)
    members = run.attrs["ensemble"]["members"]
    assert [(m["params"]["n_trips"], m["seed"]) for m in members] == [
        (100, 5), (100, 6), (300, 5), (300, 6)]
    stats = ens_kpis.ensemble_kpis(run)
    done = stats["traffic.trips_completed"]
    k = twin.kpis(run)
    per = [k.value("traffic", "trips_completed", m) for m in range(4)]
    np.testing.assert_allclose(done.sel(stat="mean").values, [np.mean(per[:2]),
                                                               np.mean(per[2:])])
    assert per[2] > per[0]                      # more demand, more completed trips
    # the reference ensemble: statistics over member against numpy on the members' KPIs
    ref = reference[0]
    members = ens_kpis.kpi_members(ref)
    k = twin.kpis(ref)
    vals = np.array([k.value("traffic", "vkt_km", m) for m in range(3)])
    np.testing.assert_array_equal(members["traffic.vkt_km"].values, vals)
    st = ens_kpis.stats(members.reset_coords(drop=True))["traffic.vkt_km"]
    np.testing.assert_allclose([float(st.sel(stat=s)) for s in ("mean", "p5", "p50", "p95")],
                               [vals.mean(), *np.quantile(vals, [0.05, 0.5, 0.95])])
    np.testing.assert_allclose(float(st.sel(stat="sem")), vals.std(ddof=1) / np.sqrt(3))
    conv = ens_kpis.convergence(members)["traffic.vkt_km"]
    assert conv["n"] == [2, 3] and np.isfinite(conv["rel_sem"])
    # twin compare of two ensembles: differences of means with their confidence interval
    assert cli(["compare", str(ref.path), str(ref.path),
                "--plot", str(tmp_path / "c.png")]) == 0
    text = capsys.readouterr().out
    assert "paired: same seeds" in text and "± 95% CI" in text
    line = next(x for x in text.splitlines() if "vehicle-km travelled" in x)
    assert line.split()[-2] == "same"
