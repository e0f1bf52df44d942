"""Run an ensemble on dask.distributed into one run store (:func:`run_ensemble`).

The driver plans the members (:mod:`.plan`: every combination's scenario is built and
validated first, so that a bad ``vary`` parameter or scenario stops before anything runs),
creates the store, and submits one task per batch of members: :func:`run_part` runs the
batch into its part store with :func:`twin.run` (``resume=True``: a task retried after its
worker died continues the part from its last checkpoint). As parts finish, the driver
creates the ensemble's arrays from the first one and submits :func:`write_part` for each: it
copies the part into its own ``member`` chunks of the store (:mod:`.store`). When every
member is in place, the row tables and events are gathered and the store is consolidated.

Scheduling, retries of tasks whose worker died, and the workers themselves belong to dask:
a ``LocalCluster`` (processes, one thread each) by default, or the cluster of ``client`` /
``scheduler`` (any scheduler address: dask-jobqueue, dask-kubernetes…). The part stores and
the ensemble store must be on a file system every worker sees.
"""

from __future__ import annotations

import datetime as _dt
import platform
import shutil
import time as _time
import uuid
from pathlib import Path

from .._json import json_safe, standard_json
from ..errors import StoreError, TwinError
from ..store import Run, RunStore
from . import store as _st
from .plan import Plan, Recipe, Task, default_batch, expand, make_plan, subset


class EnsembleError(TwinError):
    """Members of an ensemble failed (the store keeps the others: resume runs the rest)."""


def run_part(recipe: Recipe, params: dict, n, seeds, ks: list, fingerprint: str,
             part: str) -> dict:
    """(On a worker) Run members ``ks`` of the combination ``params`` into part store
    ``part``; return {"part", "wall_s"}."""
    from ..core.runtime import run

    t0 = _time.perf_counter()
    sc = subset(expand(recipe.build(params), n, seeds), ks)
    if sc.fingerprint() != fingerprint:
        raise EnsembleError(f"the scenario of members {ks} (parameters {params}) differs "
                            "from the one planned: is the scenario function deterministic?")
    try:
        run(sc, part, resume=True, progress=False)
    except StoreError:  # a part of another scenario version: start it afresh
        run(sc, part, overwrite=True, progress=False)
    return {"part": part, "wall_s": _time.perf_counter() - t0}


def write_part(out: str, part: str, m0: int, m1: int) -> int:
    """(On a worker) Copy part store ``part`` into members ``m0 … m1 − 1`` of ``out``."""
    return _st.write_region(out, part, m0, m1)


def _client(client, scheduler, workers: int | None, n_tasks: int):
    """Return (client, what to close afterwards: [] for the caller's client)."""
    from distributed import Client, LocalCluster

    if client is not None and not isinstance(client, str):
        return client, []
    if client is not None or scheduler is not None:
        c = Client(client or scheduler)
        return c, [c]
    import os

    n = workers or min(os.cpu_count() or 1, max(1, n_tasks))
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=":0",
                           env={"NUMBA_NUM_THREADS": "1"})
    c = Client(cluster)
    return c, [c, cluster]


def _n_workers(client) -> int:
    info = client.scheduler_info()
    return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))


def _provenance(plan: Plan, client) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import dask
    import distributed
    import numpy as np
    import zarr

    from ..core.runtime import _git_commit

    try:
        pkg = version("district-twin")
    except PackageNotFoundError:
        pkg = None
    sc = plan.bases[0]
    return json_safe({
        "seed": int(sc.seed), "start": sc.start.isoformat(), "duration_s": float(sc.duration),
        "scenario_name": sc.name, "scenario_source": sc.source,
        "scenario_path": sc.source_path, "package_version": pkg, "git_commit": _git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "numpy": np.__version__,
        "zarr": zarr.__version__, "dask": dask.__version__,
        "distributed": distributed.__version__, "scheduler": client.scheduler.address,
        "workers": _n_workers(client), "members": plan.n_members, "wall_time_s": 0.0,
        "resumed": 0})


def _describe(plan: Plan) -> dict:
    d = plan.bases[0].describe()
    d["members"] = plan.n_members
    d["member_seeds"] = [m["seed"] for m in plan.members]
    d["vary"] = json_safe(plan.vary)
    return d


def run_ensemble(scenario, members: int | None = None, vary: dict | None = None, out=None,
                 client=None, *, scheduler: str | None = None, workers: int | None = None,
                 batch: int | None = None, seeds: list | None = None, quick: bool = False,
                 resume: bool = False, overwrite: bool = False, retries: int = 2,
                 keep_parts: bool = False, progress: bool = False) -> Run:
    """Run an ensemble on dask.distributed into one run store with a ``member`` dimension;
    return its :class:`~twin.Run` (``twin.open_run``, ``Run.open``, ``Run.table`` and
    ``twin.kpis`` read it as any run).

    scenario : a :class:`~twin.Scenario`, a function ``scenario(quick=False, **params)``, or a
        scenario script (its ``scenario`` function).
    members : members per parameter combination (seeds ``seed + r``, or ``seeds``); a
        scenario that already has K members keeps them.
    vary : {parameter: values} of the scenario function; the ensemble runs every
        combination (``itertools.product``, in the dict's order) with ``members`` seeds each.
        A parameter the function does not take → ScenarioError before anything runs.
    out : the store (default ``out/runs/<name>-ensemble.zarr``); its parts go to
        ``<out>.parts/`` and are removed when it is complete (unless ``keep_parts``).
    client : a ``distributed.Client`` (or a scheduler address); else ``scheduler`` (an
        address), else a LocalCluster of ``workers`` processes (default: the CPUs), one
        thread each, closed at the end.
    batch : members per task (default: 1 unless every kernel batches members; then enough
        to give each worker about one task per combination, at most 16).
    quick : the scenario function's shortened version. resume : run only the members not
        in place yet (identical store). overwrite : replace an existing store. retries : how
        often dask reruns a task that raised (a task whose worker died is rerun by the
        scheduler: ``distributed.scheduler.allowed-failures``).

    Provenance (``run.attrs["ensemble"]["members"]``): each member's parameters and seed.
    """
    with standard_json():
        recipe = Recipe.of(scenario, quick)
        plan = make_plan(recipe, members=members, vary=vary, seeds=seeds)
        name = plan.bases[0].name
        out = Path(out) if out is not None else Path("out/runs") / f"{name}-ensemble.zarr"
        parts_dir = out.with_name(out.name + ".parts")
        stored = None
        if out.exists() and resume and not RunStore.unborn(out):
            stored = _st.read_attrs(out)
            if stored.get("fingerprint") != plan.fingerprint or "ensemble" not in stored:
                raise StoreError(f"{out} holds another ensemble (or a single run); resume "
                                 "needs the same scenario, members and vary")
            if stored.get("status") == "complete":
                return Run(out)
        elif out.exists():
            RunStore.refuse_existing(out, overwrite or resume)
        cl, closers = _client(client, scheduler, workers, 0 if stored else
                              sum(int(b.members) for b in plan.bases))
        try:
            return _drive(plan, out, parts_dir, cl, stored, batch, retries, keep_parts,
                          progress)
        finally:
            for c in closers:
                c.close()


def _drive(plan: Plan, out: Path, parts_dir: Path, client, stored, batch, retries,
           keep_parts, progress) -> Run:
    from distributed import as_completed

    t0 = _time.perf_counter()
    if stored is None:
        plan.layout(batch or default_batch(plan, _n_workers(client)))
        if parts_dir.exists():
            shutil.rmtree(parts_dir)
        info = {"members": plan.members, "vary": json_safe(plan.vary),
                "tasks": [t.to_json() for t in plan.tasks], "chunk": plan.chunk}
        st = RunStore.create(out, overwrite=True, attrs={
            "fingerprint": plan.fingerprint, "scenario": json_safe(_describe(plan)),
            "provenance": _provenance(plan, client), "status": "incomplete",
            "progress_s": 0.0, "ensemble": info})
        _st.init_done(st.root, plan.n_members, plan.chunk)
        st.consolidate()
        prov = st.root.attrs["provenance"]
    else:
        plan.tasks = [Task.from_json(t) for t in stored["ensemble"]["tasks"]]
        plan.chunk = int(stored["ensemble"]["chunk"])
        prov = dict(stored["provenance"], resumed=int(stored["provenance"]["resumed"]) + 1)
        _st.set_attrs(out, provenance=prov, status="incomplete")
    parts_dir.mkdir(parents=True, exist_ok=True)
    import zarr

    root = zarr.open_group(str(out), mode="r", use_consolidated=False)
    done = _st.done_members(root)
    todo = [t for t in plan.tasks if not done[t.m0:t.m1].all()]
    part_of = {t.index: str(parts_dir / f"task_{t.index:05d}.zarr") for t in plan.tasks}
    futures = {}
    token = f"{plan.fingerprint[:8]}-{uuid.uuid4().hex[:8]}"  # a key of its own per call
    for t in todo:
        params = plan.combos[t.combo]
        f = client.submit(run_part, plan.recipe, params, plan.n, plan.seeds, t.ks,
                          t.fingerprint, part_of[t.index], retries=retries, pure=False,
                          key=f"twin-ensemble-run-{token}-{t.index}")
        futures[f] = ("run", t)
    layers_ready = _st.has_layers(root)
    failed: list[tuple[Task, BaseException]] = []
    wall, written = {}, 0
    bar = _bar(len(todo), progress)
    ac = as_completed(list(futures))
    for f in ac:
        what, t = futures.pop(f)
        try:
            res = f.result()
        except Exception as e:  # noqa: BLE001 — reported together below
            failed.append((t, e))
            continue
        if what == "run":
            wall[t.index] = res["wall_s"]
            if not layers_ready:
                _st.create_layers(out, res["part"], plan.n_members, plan.chunk)
                layers_ready = True
            w = client.submit(write_part, str(out), res["part"], t.m0, t.m1,
                              retries=retries, pure=False,
                              key=f"twin-ensemble-write-{token}-{t.index}")
            futures[w] = ("write", t)
            ac.add(w)
        else:
            written += int(res)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    prov = dict(prov, wall_time_s=round(float(prov.get("wall_time_s", 0.0))
                                        + _time.perf_counter() - t0, 3),
                task_wall_s=round(sum(wall.values()), 3))
    if failed:
        _st.set_attrs(out, status="incomplete", provenance=prov)
        _st._consolidate(out)
        t, e = failed[0]
        members = sorted(m for t, _ in failed for m in range(t.m0, t.m1))
        raise EnsembleError(f"{len(members)} member(s) of {plan.n_members} failed "
                            f"({members[:10]}{'…' if len(members) > 10 else ''}); the others "
                            f"are in {out}: run again with resume=True to run the rest. "
                            f"First error (members {t.m0}-{t.m1 - 1}): "
                            f"{type(e).__name__}: {e}") from e
    t_gather = _time.perf_counter()
    def mapper(fn, parts):  # the workers read the parts' rows, the driver writes them
        return client.gather(client.map(fn, *zip(*parts), pure=False, retries=retries))

    counts = _st.gather(out, [(part_of[t.index], t.m0, t.m1) for t in plan.tasks], mapper)
    t_gather = _time.perf_counter() - t_gather
    _st.set_attrs(out, status="complete", progress_s=float(plan.bases[0].duration),
                  provenance=prov, rows=counts)
    _st._consolidate(out)
    if not keep_parts:
        shutil.rmtree(parts_dir, ignore_errors=True)
    run = Run(out)
    run.profile = {"wall_s": _time.perf_counter() - t0, "tasks": len(todo),
                   "task_wall_s": wall, "write_bytes": written, "gather_s": t_gather,
                   "rows": counts}
    return run


def _bar(n: int, progress: bool):
    if not progress:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=n, unit="task", desc="twin ensemble", file=sys.stderr)
