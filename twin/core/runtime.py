"""The simulation runtime: one simpy clock, kernels and agents as processes, a coupling bus.

:func:`run` turns a :class:`~twin.Scenario` into a run store. Each kernel (and each agent
model, see :class:`~twin.MesaProcess`) is a simpy process that wakes every ``dt`` seconds and
advances its arrays over the interval that just ended; events are applied by a scheduler
process, conditions are checked after each step of a kernel or at an interval, and a
checkpoint process flushes the records and saves the state of everything at fixed times.

Determinism: the clock counts integer milliseconds and every process has a fixed priority
(kernels and agents in scenario order, then scheduled events, then interval conditions, then
the checkpoint), so that processes due at the same instant always run in the same order; every
random draw comes from a per-process ``numpy.random.Generator`` spawned from the scenario seed
in that same order. Same scenario and seed → bit-identical stores, also across kill and resume.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import io
import json
import math
import pickle
import platform
import subprocess
import sys
import time as _time
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import simpy
from simpy.events import Event as _SimEvent

from . import scenario as _sc
from .bus import Bus, BusArray
from .errors import ScenarioError, StoreError, TwinError
from .events import Event, EventLog, condition_holds
from .scenario import TICKS_PER_S, Scenario, to_ticks
from .store import Run, RunStore, json_safe

_CHECKPOINT_PRIORITY = 1 << 30


@runtime_checkable
class Kernel(Protocol):
    """What the runtime needs of a kernel process.

    name : layer name (the store group and the bus prefix, e.g. "traffic").
    dt : time step, s (the scenario may override it).
    init(ctx) : build arrays from ``ctx.twin`` / ``ctx.city`` / ``ctx.scenario``; publish to
        ``ctx.bus``. Called once per run (also on resume, before ``set_state``).
    step(t, dt, ctx) : advance from ``t`` to ``t + dt`` (s); return ``{name: array}`` to
        record (or None). ``ctx.record_due`` says whether this step's outputs are recorded.

    Optional members: ``outputs`` {var: (dims, units)} (dims without ``time``), ``coords``
    {dim: values, or name: (dims, values) for a static variable such as link lengths} and
    ``layer_attrs`` (JSON-able; both read after ``init``), ``event_kinds`` {kind: target id kind or None} with
    ``apply_event(event, index, ctx) -> dict | None`` (``event.phase`` is "start" or "end";
    the returned dict is logged with the event), ``get_state() -> dict`` and
    ``set_state(dict)`` (arrays; without them the kernel object is pickled), and
    ``kpis(ds: xarray.Dataset) -> dict`` (a staticmethod, used by ``Run.kpis``).
    """

    name: str
    dt: float

    def init(self, ctx: Context) -> None: ...

    def step(self, t: float, dt: float, ctx: Context) -> dict | None: ...


class Context:
    """What a process sees: ``bus``, ``scenario``, ``city``, ``twin``, ``ids`` (id maps),
    ``rng`` (its own Generator), ``now`` (s), and ``apply``/``schedule`` for events."""

    def __init__(self, sim: _Simulation, name: str, rng: np.random.Generator, seed: int):
        self._sim = sim
        self.name = name
        self.rng = rng
        self.seed = seed  # an int derived from the scenario seed, for libraries (mesa)
        self.record_due = False

    bus = property(lambda self: self._sim.bus)
    scenario = property(lambda self: self._sim.scenario)
    city = property(lambda self: self._sim.city)
    ids = property(lambda self: self._sim.ids)

    @property
    def store(self):
        """The run's :class:`~twin.store.RunStore` (None before it is opened), for kernels that
        write tables of their own at checkpoints (e.g. completed trips)."""
        return getattr(self._sim, "store", None)

    @property
    def twin(self):
        """The built twin (built on first use when the scenario gave a CityModel)."""
        return self._sim.get_twin()

    @property
    def now(self) -> float:
        """Current simulated time, s from the scenario start."""
        return self._sim.env.now / TICKS_PER_S

    def index(self, kind: str, obj_id: str) -> int:
        """Return the dense index of ``obj_id`` in the id map ``kind`` ("link", "node"…)."""
        try:
            return self._sim.ids[kind][str(obj_id)]
        except KeyError:
            raise ScenarioError(f"{self.name}: unknown {kind} {obj_id!r}") from None

    def apply(self, event: Event) -> None:
        """Apply ``event`` now (logged with this process as its source)."""
        self._sim.apply(event, self.name)

    def schedule(self, event: Event) -> None:
        """Apply ``event`` at ``event.at`` (s; now if None or past)."""
        self._sim.push(event, self.name)

    def pickle(self, obj) -> bytes:
        """Return ``obj`` pickled without the run objects it refers to (this context, the
        bus, city, twin, scenario); :meth:`unpickle` reattaches them."""
        f = io.BytesIO()
        _StatePickler(f, self._sim._refs(self.name)).dump(obj)
        return f.getvalue()

    def unpickle(self, data: bytes):
        """Return the object pickled by :meth:`pickle`, reattached to this run."""
        return _StateUnpickler(io.BytesIO(data), self._sim._refs(self.name)).load()

    def kernel(self, name: str):
        """Return the process called ``name``."""
        return self._sim.by_name[name]


class _Wake(_SimEvent):
    """A timeout with an explicit priority (simpy orders same-time events by priority)."""

    def __init__(self, env: simpy.Environment, delay: int, priority: int):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority, delay)


class _StatePickler(pickle.Pickler):
    """Pickles a process without the run objects it refers to (context, bus, twin, city)."""

    def __init__(self, f, refs: dict):
        super().__init__(f, protocol=5)
        self._refs = {id(v): k for k, v in refs.items() if v is not None}

    def persistent_id(self, obj):
        return self._refs.get(id(obj))


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, f, refs: dict):
        super().__init__(f)
        self._refs = refs

    def persistent_load(self, pid):
        return self._refs[pid]


class _Simulation:
    """One run of a scenario (internal; :func:`run` drives it)."""

    def __init__(self, scenario: Scenario):
        if not isinstance(scenario, Scenario):
            raise ScenarioError(f"twin.run needs a twin.Scenario, not {type(scenario).__name__}")
        self.scenario = sc = scenario
        self.district, self.city, self._twin = _sc.resolve_city(sc.city)
        self.ids = _sc.id_maps(self.city, self._twin)
        kernels = sc.kernels if sc.kernels is not None else default_kernels(sc)
        # copies, so that a Scenario can be run again from the same initial kernels
        self.kernels = copy.deepcopy(list(kernels))
        self.procs = self.kernels + copy.deepcopy(list(sc.agents))
        if not self.procs:
            raise ScenarioError("the scenario has no kernels or agents to run")
        _sc.validate(sc, self.procs, self.ids)
        self.by_name = {p.name: p for p in self.procs}
        self.end_tick = to_ticks(float(sc.duration), "duration")
        self.dt_ticks = [to_ticks(sc.kernel_dt(p), "dt") for p in self.procs]
        self.strides = [to_ticks(sc.kernel_record_interval(p), "record_interval") // d
                        for p, d in zip(self.procs, self.dt_ticks)]
        rec = min(sc.kernel_record_interval(p) for p in self.procs)
        cp = sc.checkpoint_interval or int(sc.chunk_records) * rec
        self.cp_ticks = to_ticks(cp, "checkpoint_interval")
        self.handlers: dict[str, list] = {}
        self.target_kind: dict[str, str | None] = {}
        for p in self.procs:
            for kind, tk in (getattr(p, "event_kinds", None) or {}).items():
                self.handlers.setdefault(kind, []).append(p)
                self.target_kind.setdefault(kind, tk)
        self.bus = Bus(clock=lambda: self.env.now / TICKS_PER_S)
        self.env = simpy.Environment()
        children = np.random.SeedSequence(int(sc.seed)).spawn(len(self.procs))
        self.rngs = {p.name: np.random.Generator(np.random.PCG64(c))
                     for p, c in zip(self.procs, children)}
        self.ctx = {p.name: Context(self, p.name, self.rngs[p.name],
                                    int(c.generate_state(1, np.uint32)[0]))
                    for p, c in zip(self.procs, children)}
        # events: the time-ordered queue and the condition triggers
        self.queue: list[tuple] = []     # (tick, seq, Event, source, trigger index or -1)
        self.seq = 0
        self.triggers: list[tuple[Event, str]] = []
        for ev, src in sc.all_events():
            if ev.when is not None:
                self.triggers.append((ev, src))
            else:
                self._enqueue(to_ticks(ev.at, "at"), ev, src, -1)
        self.fired = [False] * len(self.triggers)
        self.trigger_index: list[int | None] = [None] * len(self.triggers)
        self.counters = {p.name: 0 for p in self.procs}
        self.trig_counters = [0] * len(self.triggers)
        self.cp_count = 0
        self.log = EventLog()
        self._sched_proc = None
        self._sched_next: int | None = None
        self._in_sched = False
        self.bar = None
        self.wall0 = _time.perf_counter()
        self.wall_before = 0.0

    # ---- twin --------------------------------------------------------------------------------
    def get_twin(self):
        if self._twin is None:
            try:
                from .build import build
            except ImportError as e:
                raise TwinError("twin.build is not available to build the twin") from e
            self._twin = build(self.city)
        return self._twin

    # ---- events --------------------------------------------------------------------------------
    def _enqueue(self, tick: int, ev: Event, source: str, trig: int) -> None:
        self.queue.append((int(tick), self.seq, ev, source, trig))
        self.seq += 1
        self.queue.sort(key=lambda q: (q[0], q[1]))

    def push(self, ev: Event, source: str, trig: int = -1) -> None:
        """Queue ``ev`` at ``ev.at`` (or apply it now when that is not in the future)."""
        now = self.env.now
        tick = now if ev.at is None else max(now, to_ticks(ev.at, "event time"))
        if tick <= now:
            self.apply(ev, source, trig)
            return
        self._enqueue(tick, ev, source, trig)
        proc = self._sched_proc
        if (proc is not None and not self._in_sched and proc.is_alive
                and (self._sched_next is None or tick < self._sched_next)):
            proc.interrupt()

    def apply(self, ev: Event, source: str, trig: int = -1) -> None:
        """Apply ``ev`` now: hand it to its kernels, log it, queue its end."""
        handlers = [p for p in self.handlers.get(ev.kind, [])
                    if ev.layer is None or p.name == ev.layer]
        if not handlers:
            raise ScenarioError(f"{source}: no kernel handles events of kind {ev.kind!r}")
        tk = self.target_kind.get(ev.kind)
        index = None
        if tk is not None:
            index = self.ids.get(tk, {}).get(str(ev.target))
            if index is None:
                raise ScenarioError(f"{source}: event {ev.kind!r} on unknown {tk} "
                                    f"{ev.target!r}")
        extra: dict = {}
        for p in handlers:
            out = p.apply_event(ev, index, self.ctx[p.name])
            if out:
                extra.update(out)
        self.log.add(self.env.now / TICKS_PER_S, ev, source, extra)
        if ev.phase == "start" and ev.duration is not None:
            end = self.env.now + to_ticks(ev.duration, "event duration")
            if end <= self.end_tick:
                self._enqueue(end, ev.ending(), source, trig)
                if self._sched_proc is not None and not self._in_sched and (
                        self._sched_next is None or end < self._sched_next):
                    self._sched_proc.interrupt()
        elif ev.phase == "end" and trig >= 0 and self.triggers[trig][0].repeat:
            self.fired[trig] = False

    def _scheduler(self):
        while True:
            while self.queue and self.queue[0][0] <= self.env.now:
                tick, _, ev, src, trig = self.queue.pop(0)
                self._in_sched = True
                try:
                    self.apply(ev, src, trig)
                finally:
                    self._in_sched = False
            self._sched_next = self.queue[0][0] if self.queue else None
            try:
                if self._sched_next is None:
                    yield self.env.event()  # until a push interrupts
                else:
                    yield _Wake(self.env, self._sched_next - self.env.now, self._sched_prio)
            except simpy.Interrupt:
                pass

    def _check_trigger(self, i: int) -> None:
        if self.fired[i]:
            return
        ev, src = self.triggers[i]
        cond = ev.when
        idx = self.trigger_index[i]
        if cond.fn is None and cond.at is not None and idx is None:
            if isinstance(cond.at, (int, np.integer)):
                idx = int(cond.at)
            elif cond.array in self.bus:
                dim = self.bus.meta(cond.array).dims[-1]
                idx = self.ids.get(dim, {}).get(str(cond.at))
                if idx is None:
                    raise ScenarioError(f"condition {cond.describe()}: unknown {dim} "
                                        f"{cond.at!r}")
            else:
                return
            self.trigger_index[i] = idx
        if condition_holds(cond, self.bus, idx):
            self.fired[i] = True
            fire = Event(**{**ev.__dict__, "when": None})
            self.apply(fire, "trigger" if src == "scenario" else src, i)

    def _interval_trigger(self, i: int, every_ticks: int, priority: int):
        while True:
            n = self.trig_counters[i] + 1
            if n * every_ticks > self.end_tick:
                return
            yield _Wake(self.env, n * every_ticks - self.env.now, priority)
            self.trig_counters[i] = n
            self._check_trigger(i)

    # ---- processes -------------------------------------------------------------------------------
    def _process(self, i: int, priority: int):
        p, dt, stride = self.procs[i], self.dt_ticks[i], self.strides[i]
        ctx = self.ctx[p.name]
        mine = [j for j, (ev, _) in enumerate(self.triggers) if ev.when.checker() == p.name]
        writer = self.store.layers.get(p.name)
        while True:
            n = self.counters[p.name] + 1
            if n * dt > self.end_tick:
                return
            yield _Wake(self.env, n * dt - self.env.now, priority)
            ctx.record_due = n % stride == 0
            out = p.step((n - 1) * dt / TICKS_PER_S, dt / TICKS_PER_S, ctx)
            self.counters[p.name] = n
            if ctx.record_due and out and writer is not None:
                writer.append(n * dt / TICKS_PER_S, out)
            for j in mine:
                self._check_trigger(j)
            if self.bar is not None:
                self.bar.update(self.env.now / TICKS_PER_S - self.bar.n)

    def _checkpointer(self):
        while True:
            n = self.cp_count + 1
            tick = min(n * self.cp_ticks, self.end_tick)
            yield _Wake(self.env, tick - self.env.now, _CHECKPOINT_PRIORITY)
            self.cp_count = n
            final = tick >= self.end_tick
            self.checkpoint(final)
            if final:
                return

    # ---- checkpoints -----------------------------------------------------------------------------
    def _refs(self, name: str) -> dict:
        return {"ctx": self.ctx[name], "bus": self.bus, "city": self.city, "twin": self._twin,
                "scenario": self.scenario, "env": self.env}

    def _state_of(self, p) -> dict:
        if hasattr(p, "get_state") and hasattr(p, "set_state"):
            return dict(p.get_state())
        return {"__pickle__": self.ctx[p.name].pickle(p.__dict__)}

    def _restore_state(self, p, state: dict) -> None:
        if hasattr(p, "get_state") and hasattr(p, "set_state"):
            p.set_state(state)
        else:
            p.__dict__.update(self.ctx[p.name].unpickle(state["__pickle__"]))

    def checkpoint(self, final: bool) -> None:
        """Flush the records and events, then save everything needed to resume from now."""
        st = self.store
        st.flush()
        st.append_events(self.log.take())
        bus = self.bus.snapshot()
        meta = {
            "tick": int(self.env.now), "time_s": self.env.now / TICKS_PER_S, "final": final,
            "counters": dict(self.counters), "trig_counters": list(self.trig_counters),
            "cp_count": self.cp_count, "fired": list(self.fired), "seq": self.seq,
            "queue": [[t, s, ev.to_json(), src, trig] for t, s, ev, src, trig in self.queue],
            "rng": {k: json.dumps(g.bit_generator.state) for k, g in self.rngs.items()},
            "n_records": st.n_records(), "n_events": st.n_events,
            "bus": {k: {"dims": list(v.dims), "units": v.units, "t": v.t}
                    for k, v in bus.items()},
        }
        meta["wall_time_s"] = self.wall_before + _time.perf_counter() - self.wall0
        arrays = {f"proc/{p.name}": self._state_of(p) for p in self.procs}
        arrays["bus"] = {k.replace("/", "%2F"): v.value for k, v in bus.items()}
        st.write_checkpoint(self.cp_count, json_safe(meta), arrays)
        if final:
            # the root attrs are rewritten only at the end: a root write drops the consolidated
            # metadata until the next consolidation, and a kill in between would leave none
            self.set_status("complete")
        st.consolidate()

    def set_status(self, status: str) -> None:
        st = self.store
        wall = self.wall_before + _time.perf_counter() - self.wall0
        prov = dict(st.root.attrs.get("provenance", {}), wall_time_s=round(wall, 3))
        st.set_attrs(status=status, progress_s=self.env.now / TICKS_PER_S, provenance=prov)

    def restore(self, meta: dict, arrays: dict) -> None:
        """Put the run back in the state of checkpoint ``meta``/``arrays``."""
        self.env = simpy.Environment(initial_time=int(meta["tick"]))
        self.counters = dict(meta["counters"])
        self.trig_counters = list(meta["trig_counters"])
        self.cp_count = int(meta["cp_count"])
        self.fired = list(meta["fired"])
        self.seq = int(meta["seq"])
        self.queue = [(int(t), int(s), Event.from_json(ev), src, int(trig))
                      for t, s, ev, src, trig in meta["queue"]]
        for k, g in self.rngs.items():
            g.bit_generator.state = json.loads(meta["rng"][k])
        for p in self.procs:
            self._restore_state(p, arrays.get(f"proc/{p.name}", {}))
        bus_arrays = arrays.get("bus", {})
        self.bus.restore({k: BusArray(k, bus_arrays[k.replace("/", "%2F")], tuple(m["dims"]),
                                      m["units"], m["t"]) for k, m in meta["bus"].items()})
        self.log = EventLog(n_flushed=int(meta["n_events"]))

    # ---- driving -----------------------------------------------------------------------------------
    def init_processes(self) -> None:
        for p in self.procs:
            p.init(self.ctx[p.name])

    def open_layers(self, store: RunStore) -> None:
        self.store = store
        for i, p in enumerate(self.procs):
            if not hasattr(p, "outputs") and p not in self.kernels:
                continue
            outputs = dict(getattr(p, "outputs", None) or {})
            ri = self.strides[i] * self.dt_ticks[i]
            kpis = getattr(type(p), "kpis", None)
            attrs = {"kernel": f"{type(p).__module__}:{type(p).__qualname__}",
                     "dt_s": self.dt_ticks[i] / TICKS_PER_S, "record_interval_s":
                     ri / TICKS_PER_S, "kpis": (f"{kpis.__module__}:{kpis.__qualname__}"
                                                if callable(kpis) else "")}
            attrs.update(json_safe(getattr(p, "layer_attrs", None) or {}))
            store.add_layer(p.name, coords=dict(getattr(p, "coords", None) or {}),
                            dims={k: tuple(v[0]) for k, v in outputs.items()},
                            units={k: v[1] for k, v in outputs.items()}, attrs=attrs,
                            time_chunk=math.ceil(self.cp_ticks / ri))

    def run(self, progress: bool) -> None:
        from tqdm import tqdm

        env = self.env
        prio = 1
        for i in range(len(self.procs)):
            env.process(self._process(i, prio))
            prio += 1
        # events at t act on the steps from t on: the kernels first close the interval that
        # ends at t, then the scheduler applies what happens at t
        self._sched_prio = prio
        self._sched_proc = env.process(self._scheduler())
        prio += 1
        for j, (ev, _) in enumerate(self.triggers):
            every = ev.when.checker()
            if not isinstance(every, str):
                env.process(self._interval_trigger(j, to_ticks(every, "every"), prio))
                prio += 1
        done = env.process(self._checkpointer())
        total = self.end_tick / TICKS_PER_S
        self.bar = tqdm(total=total, initial=env.now / TICKS_PER_S, unit="sim-s",
                        unit_scale=True, desc=f"twin run {self.scenario.name}",
                        disable=not progress, file=sys.stderr, dynamic_ncols=True)
        try:
            env.run(until=done)
        finally:
            self.bar.close()
            self.bar = None


def default_kernels(sc: Scenario) -> list:
    """Return the kernels a scenario runs when it names none: traffic when it has demand."""
    if sc.demand is None:
        return []
    try:
        from .traffic_process import TrafficProcess
    except ImportError as e:
        raise ScenarioError("the scenario has demand but the traffic kernel is not "
                            "available; give kernels= explicitly") from e
    return [TrafficProcess()]


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                           text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def _provenance(sim: _Simulation) -> dict:
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
        "resumed": 0,
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
    with _standard_json():
        return _run(scenario, out, resume, overwrite, progress)


@contextlib.contextmanager
def _standard_json():
    """Undo, while a run writes its store, what cjio does to :mod:`json` when imported.

    cjio sets ``json.encoder.c_make_encoder = None`` and shadows ``float`` in
    ``json.encoder`` with a class written with 6 decimals, for the whole process. Every JSON
    text of the run (zarr's metadata and attributes, checkpoints, the events' details) would
    then depend on whether something imported cjio before: a run resumed in such a process
    would differ from the same run uninterrupted (``0.5`` vs ``0.500000``). The patch is put
    back afterwards.
    """
    enc = json.encoder
    shadow = enc.__dict__.get("float", _MISSING)
    c_encoder = enc.c_make_encoder
    try:
        from _json import make_encoder
    except ImportError:  # pragma: no cover - CPython always has _json
        make_encoder = None
    enc.__dict__.pop("float", None)
    enc.c_make_encoder = make_encoder
    try:
        yield
    finally:
        enc.c_make_encoder = c_encoder
        if shadow is not _MISSING:
            enc.float = shadow


_MISSING = object()


def _run(scenario: Scenario, out, resume: bool, overwrite: bool, progress: bool) -> Run:
    out = Path(out) if out is not None else Path("out/runs") / f"{scenario.name}.zarr"
    sim = _Simulation(scenario)  # validates: errors before the store is touched
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
        if out.exists() and not (overwrite or resume):
            raise StoreError(f"{out} already exists; pass overwrite=True to replace it "
                             "or resume=True to continue it")
        sim.init_processes()  # kernel setup errors come before the store is touched
        store = RunStore.create(out, overwrite=overwrite or resume, attrs={
            "fingerprint": fingerprint, "scenario": json_safe(scenario.describe()),
            "provenance": _provenance(sim), "status": "incomplete", "progress_s": 0.0})
        sim.open_layers(store)
        store.consolidate()
    else:
        meta, arrays = cp
        store.truncate(meta["n_records"], int(meta["n_events"]))
        sim.init_processes()
        sim.restore(meta, arrays)
        sim.open_layers(store)
        prov = dict(store.root.attrs["provenance"])
        sim.wall_before = float(meta.get("wall_time_s", 0.0))
        prov["resumed"] = int(prov.get("resumed", 0)) + 1
        store.set_attrs(provenance=prov, status="incomplete")
        store.consolidate()
    try:
        sim.run(progress)
    except BaseException:
        try:
            sim.set_status("interrupted")
            store.consolidate()
        except Exception:  # the original error matters more
            pass
        raise
    return Run(out)


def open_run(path) -> Run:
    """Return the :class:`~twin.Run` stored at ``path``."""
    return Run(path)


__all__ = ["Kernel", "Context", "run", "open_run", "default_kernels"]
