"""The simulation runtime: :func:`run` turns a :class:`~twin.Scenario` into a run store.

Each kernel (and each agent model, see :class:`~twin.MesaProcess`) is a simpy process that
wakes every ``dt`` seconds and advances its arrays over the interval that just ended; events
are applied by a scheduler process, conditions are checked after each step of the kernel
that publishes their array (or at an interval), and a checkpoint process hands the records,
table rows, events and the state of everything to the store's writer thread at fixed times
(:class:`~twin.core.simulation.Simulation` documents the order within a tick).

Determinism: the clock counts integer milliseconds and every process has a fixed priority;
every random draw comes from a per-process, per-member ``numpy.random.Generator`` spawned from
the member's seed. Same scenario and seed → bit-identical stores, also across kill and resume,
members included.
"""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import time as _time
from pathlib import Path

import numpy as np
import simpy

from .._json import json_safe, standard_json
from ..errors import StoreError
from ..store import Run, RunStore
from . import scenario as _sc
from .scenario import Scenario
from .simulation import Simulation


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                           text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def _provenance(sim: Simulation) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg = version("district-twin")
    except PackageNotFoundError:
        pkg = None
    import zarr

    sc = sim.scenario
    return json_safe({
        "district": sim.district, "seed": int(sc.seed), "start": sc.start.isoformat(),
        "duration_s": float(sc.duration), "scenario_name": sc.name,
        "scenario_source": sc.source, "scenario_path": sc.source_path,
        "package_version": pkg, "git_commit": _git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "numpy": np.__version__,
        "zarr": zarr.__version__, "simpy": simpy.__version__, "wall_time_s": 0.0,
        "resumed": 0, "members": int(sc.members),
    })


def run(scenario: Scenario, out=None, *, resume: bool = False, overwrite: bool = False,
        progress: bool = True) -> Run:
    """Run ``scenario`` into the zarr run store ``out`` and return the :class:`~twin.Run`.

    out : path of the store (default ``out/runs/<scenario.name>.zarr``).
    resume : continue an interrupted run in ``out`` from its last checkpoint (the result is
        identical to an uninterrupted run); a finished run is returned as is; no store yet,
        or one killed before its first checkpoint was complete → a fresh run.
    overwrite : replace an existing store (otherwise StoreError).
    progress : show a tqdm bar of simulated time and speed (sim-s per wall second).

    Raises ScenarioError before anything is written when the scenario cannot run.
    """
    with standard_json():
        return _run(scenario, out, resume, overwrite, progress)


def _run(scenario: Scenario, out, resume: bool, overwrite: bool, progress: bool) -> Run:
    out = Path(out) if out is not None else Path("out/runs") / f"{scenario.name}.zarr"
    sim = Simulation(scenario)  # validates: errors before the store is touched
    fingerprint = scenario.fingerprint()
    cp = None
    # a store killed before its root metadata was written holds nothing: it starts afresh
    if resume and out.exists() and not RunStore.unborn(out):
        store = RunStore.open(out)
        stored = store.root.attrs.get("fingerprint")
        if stored != fingerprint:
            diff = _sc.describe_diff(store.root.attrs.get("scenario", {}), scenario.describe())
            why = "; ".join(diff) or (f"the descriptions agree but the fingerprints differ "
                                      f"(stored {stored}, now {fingerprint})")
            raise StoreError(f"{out} holds a run of a different scenario (or seed); resume "
                             f"needs the same scenario (stored -> now: {why})")
        cp = store.latest_checkpoint()
        if cp is not None and cp[0].get("final"):
            if store.root.attrs.get("status") != "complete" or not store.consolidated():
                # killed after the last checkpoint, before the status or the consolidated
                # metadata were written: finish that part only
                prov = dict(store.root.attrs.get("provenance", {}),
                            wall_time_s=round(float(cp[0].get("wall_time_s", 0.0)), 3))
                store.set_attrs(status="complete", progress_s=float(cp[0]["time_s"]),
                                provenance=prov)
                store.consolidate()
            return Run(out)
    if cp is None:
        RunStore.refuse_existing(out, overwrite or resume)
        sim.init_processes()  # kernel setup errors come before the store is touched
        store = RunStore.create(out, overwrite=overwrite or resume, attrs={
            "fingerprint": fingerprint, "scenario": json_safe(scenario.describe()),
            "provenance": _provenance(sim), "status": "incomplete", "progress_s": 0.0})
        sim.open_layers(store)
        store.consolidate()
    else:
        meta, arrays = cp
        sim.init_processes()
        sim.restore(meta, arrays)
        sim.open_layers(store)
        store.truncate(meta["n_records"], int(meta["n_events"]), meta.get("n_rows", {}))
        prov = dict(store.root.attrs["provenance"])
        sim.wall_before = float(meta.get("wall_time_s", 0.0))
        prov["resumed"] = int(prov.get("resumed", 0)) + 1
        store.set_attrs(provenance=prov, status="incomplete")
        store.consolidate()
    try:
        sim.run(progress)
        store.close()
    except BaseException:
        try:
            store.close()
        except Exception:  # the original error matters more
            pass
        try:
            sim.set_status("interrupted")
            store.consolidate()
        except Exception:
            pass
        raise
    run = Run(out)
    run.profile = {"wall_s": _time.perf_counter() - sim.wall0, "step_s": sim.step_wall,
                   "checkpoint_s": sim.cp_wall}
    return run


def open_run(path) -> Run:
    """Return the :class:`~twin.Run` stored at ``path``."""
    return Run(path)


__all__ = ["run", "open_run"]
