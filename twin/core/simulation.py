"""One run of a scenario on the simpy clock (internal; :func:`twin.run` drives it).

**Order within a tick.** The clock counts integer milliseconds. Processes due at the same
instant run in a fixed order: the kernels in the scenario's ``kernels`` order, then the
agents in theirs, then the events scheduled for that instant, then the conditions checked at
intervals, then the checkpoint. A kernel's step from ``t − dt`` to ``t`` therefore sees what
the kernels before it published at ``t`` and what the ones after it published at the previous
tick; events at ``t`` act on the steps from ``t`` on; the conditions a kernel publishes for
are checked right after its step. A kernel that does not batch members is stepped once per
member, in member order, within its turn. A kernel that declares ``multi_step`` and runs alone
(no other process, no condition, no coupled read port) takes its steps up to the next record,
checkpoint or queued event in one call (``step(t, k·dt)``): the same results, fewer calls.

**Randomness.** Member k's process p draws from
``SeedSequence(member_seeds[k]).spawn(n_processes)[p]``: member k of a batch draws exactly what
the same scenario run alone with that member's seed draws.
"""

from __future__ import annotations

import copy
import json
import math
import sys
import time as _time

import numpy as np
import simpy
from simpy.events import Event as _SimEvent

from .._json import json_safe
from ..errors import ScenarioError, TwinError
from . import scenario as _sc
from .bus import Bus, BusArray
from .context import Context
from .events import Event, EventLog
from .ids import build_id_maps
from .kernel import declared, spec_of
from .scenario import TICKS_PER_S, Scenario, to_ticks
from .triggers import Trigger
from .validate import validate

_CHECKPOINT_PRIORITY = 1 << 30


class _Wake(_SimEvent):
    """A timeout with an explicit priority (simpy orders same-time events by priority)."""

    def __init__(self, env: simpy.Environment, delay: int, priority: int):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority, delay)


def _copy_state(d):
    """Return a copy of a state dict that the kernel's next steps cannot change."""
    if isinstance(d, dict):
        return {k: _copy_state(v) for k, v in d.items()}
    if isinstance(d, np.ndarray):
        return d.copy()
    return d


class Proc:
    """A scenario process: one batched instance, or one copy per member."""

    def __init__(self, sim, template, position: int, seeds_per_member: list):
        self.name = template.name
        self.template = template
        self.batched = bool(getattr(template, "batched", False))
        K = sim.n_members
        kids = [np.random.SeedSequence(s).spawn(sim.n_procs)[position] for s in seeds_per_member]
        rngs = [np.random.Generator(np.random.PCG64(c)) for c in kids]
        seeds = [int(c.generate_state(1, np.uint32)[0]) for c in kids]
        if self.batched:
            self.instances = [template]
            self.contexts = [Context(sim, self.name, rngs, seeds, None)]
        else:
            self.instances = [template] + [copy.deepcopy(template) for _ in range(K - 1)]
            self.contexts = [Context(sim, self.name, [rngs[k]], [seeds[k]], k)
                             for k in range(K)]
        self.rngs = rngs

    def members_of(self, ev: Event) -> list[int]:
        if self.batched:
            return [0]
        return list(range(len(self.instances))) if ev.member is None else [int(ev.member)]

    def init(self) -> None:
        for p, c in zip(self.instances, self.contexts):
            p.init(c)

    def step(self, t: float, dt: float, record_due: bool):
        outs = []
        for p, c in zip(self.instances, self.contexts):
            c.record_due = record_due
            outs.append(p.step(t, dt, c))
        if self.batched:
            return outs[0]
        if not record_due or outs[0] is None:
            return None
        return {k: np.stack([np.asarray(o[k]) for o in outs]) for k in outs[0]}

    def apply_event(self, ev: Event, index) -> dict:
        extra: dict = {}
        for k in self.members_of(ev):
            out = self.instances[k].apply_event(ev, index, self.contexts[k])
            if out:
                extra.update(out)
        return extra

    def on_checkpoint(self, final: bool) -> None:
        for p, c in zip(self.instances, self.contexts):
            hook = getattr(p, "on_checkpoint", None)
            if callable(hook):
                hook(final, c)

    def get_state(self) -> dict:
        return {f"m{k}": _state_of(p, c) for k, (p, c) in
                enumerate(zip(self.instances, self.contexts))}

    def set_state(self, s: dict) -> None:
        for k, (p, c) in enumerate(zip(self.instances, self.contexts)):
            _restore_state(p, c, s.get(f"m{k}", {}))


def _has_state(p) -> bool:
    return callable(getattr(p, "get_state", None)) and callable(getattr(p, "set_state", None))


def _state_of(p, ctx) -> dict:
    if _has_state(p):
        return _copy_state(dict(p.get_state()))
    return {"__pickle__": ctx.pickle(p.__dict__)}


def _restore_state(p, ctx, state: dict) -> None:
    if _has_state(p):
        p.set_state(state)
    else:
        p.__dict__.update(ctx.unpickle(state["__pickle__"]))


class Simulation:
    """One run of a scenario (see the module docstring)."""

    def __init__(self, scenario: Scenario):
        if not isinstance(scenario, Scenario):
            raise ScenarioError(f"twin.run needs a twin.Scenario, not {type(scenario).__name__}")
        self.scenario = sc = scenario
        self.district, self.city, self._twin = _sc.resolve_city(sc.city)
        # copies, so that a Scenario can be run again from the same initial kernels
        templates = copy.deepcopy(list(sc.kernels)) + copy.deepcopy(list(sc.agents))
        if not templates:
            raise ScenarioError("the scenario has no kernels or agents to run (name them: "
                                "kernels=[...])")
        self.n_kernels = len(sc.kernels)
        self.ids = build_id_maps(self.city, templates)
        validate(sc, templates, self.ids)
        self.n_members = int(sc.members)
        self.n_procs = len(templates)
        self.bus = Bus(clock=lambda: self.env.now / TICKS_PER_S, n_members=self.n_members)
        self.env = simpy.Environment()
        self.by_name = {p.name: p for p in templates}
        self.procs = [Proc(self, p, i, sc.member_seeds()) for i, p in enumerate(templates)]
        self.end_tick = to_ticks(float(sc.duration), "duration")
        self.dt_ticks = [to_ticks(sc.kernel_dt(p.template), "dt") for p in self.procs]
        self.strides = [to_ticks(sc.kernel_record_interval(p.template), "record_interval") // d
                        for p, d in zip(self.procs, self.dt_ticks)]
        rec = min(sc.kernel_record_interval(p.template) for p in self.procs)
        cp = sc.checkpoint_interval or int(sc.chunk_records) * rec
        self.cp_ticks = to_ticks(cp, "checkpoint_interval")
        self.handlers: dict[str, list[Proc]] = {}
        self.target_kind: dict[tuple, str | None] = {}    # (kernel, kind) -> id kind
        for p in self.procs:
            for kind, tk in declared(p.template, "event_kinds").items():
                self.handlers.setdefault(kind, []).append(p)
                self.target_kind[(p.name, kind)] = tk
        dims = {f"{p.name}/{v}": spec_of(s).dims for p in self.procs
                for v, s in declared(p.template, "publishes").items()}
        self._sched_proc = None
        self._sched_next: int | None = None
        self._in_sched = False
        # events: the time-ordered queue and the condition triggers
        self.queue: list[tuple] = []     # (tick, seq, Event, source, trigger, pos)
        self.seq = 0
        self.triggers: list[Trigger] = []
        for ev, src in sc.all_events():
            if ev.when is not None:
                self.triggers.append(Trigger(ev, src, self.n_members, self.ids, dims))
            else:
                self._enqueue(to_ticks(ev.at, "at"), ev, src, -1, ())
        self.counters = {p.name: 0 for p in self.procs}
        self.trig_counters = [0] * len(self.triggers)
        self.cp_count = 0
        self.log = EventLog()
        self.store = None
        self.bar = None
        self.wall0 = _time.perf_counter()
        self.wall_before = 0.0
        self.step_wall = 0.0     # wall seconds spent in kernel steps (profiling)
        self.cp_wall = 0.0       # … in checkpoints on the run's own thread

    # ---- twin --------------------------------------------------------------------------------
    def get_twin(self):
        if self._twin is None:
            try:
                from ..build import build
            except ImportError as e:
                raise TwinError("twin.build is not available to build the twin") from e
            self._twin = build(self.city)
        return self._twin

    # ---- events --------------------------------------------------------------------------------
    def _enqueue(self, tick: int, ev: Event, source: str, trig: int, pos: tuple) -> None:
        self.queue.append((int(tick), self.seq, ev, source, trig, tuple(pos)))
        self.seq += 1
        self.queue.sort(key=lambda q: (q[0], q[1]))
        proc = self._sched_proc
        if (proc is not None and not self._in_sched and proc.is_alive
                and (self._sched_next is None or tick < self._sched_next)):
            proc.interrupt()

    def push(self, ev: Event, source: str) -> None:
        """Queue ``ev`` at ``ev.at`` (or apply it now when that is not in the future)."""
        now = self.env.now
        tick = now if ev.at is None else max(now, to_ticks(ev.at, "event time"))
        if tick <= now:
            self.apply(ev, source)
            return
        self._enqueue(tick, ev, source, -1, ())

    def apply(self, ev: Event, source: str, trig: int = -1, pos: tuple = ()) -> None:
        """Apply ``ev`` now: hand it to its kernels, log it, queue its end."""
        handlers = [p for p in self.handlers.get(ev.kind, [])
                    if ev.layer is None or p.name == ev.layer]
        if not handlers:
            raise ScenarioError(f"{source}: no kernel handles events of kind {ev.kind!r}")
        extra: dict = {}
        for p in handlers:
            tk = self.target_kind[(p.name, ev.kind)]
            index = None if tk is None else self.ids.index(tk, ev.target,
                                                           f"{source}: {ev.kind}")
            extra.update(p.apply_event(ev, index))
        self.log.add(self.env.now / TICKS_PER_S, ev, source, extra)
        if ev.phase == "start" and ev.duration is not None:
            end = self.env.now + to_ticks(ev.duration, "event duration")
            if end <= self.end_tick:
                self._enqueue(end, ev.ending(), source, trig, pos)
        elif ev.phase == "end" and trig >= 0:
            self.triggers[trig].ended(pos)

    def _scheduler(self):
        while True:
            while self.queue and self.queue[0][0] <= self.env.now:
                _, _, ev, src, trig, pos = self.queue.pop(0)
                self._in_sched = True
                try:
                    self.apply(ev, src, trig, pos)
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
        trig = self.triggers[i]
        starts, ends = trig.check(self.bus)
        for ev, pos in ends:
            self.apply(ev, trig.source, i, pos)
        for ev, pos in starts:
            self.apply(ev, trig.source, i, pos)

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
        mine = [j for j, t in enumerate(self.triggers) if t.event.when.checker() == p.name]
        writer = self.store.layers.get(p.name)
        batch = self._may_batch(p, mine)
        while True:
            n = self.counters[p.name] + 1
            if n * dt > self.end_tick:
                return
            last = self._batch_end(n, dt, stride) if batch else n
            yield _Wake(self.env, last * dt - self.env.now, priority)
            w0 = _time.perf_counter()
            out = p.step((n - 1) * dt / TICKS_PER_S, (last - n + 1) * dt / TICKS_PER_S,
                         last % stride == 0)
            self.step_wall += _time.perf_counter() - w0
            self.counters[p.name] = last
            if out and writer is not None and last % stride == 0:
                writer.append(last * dt / TICKS_PER_S, self._with_members(p, out))
            for j in mine:
                self._check_trigger(j)
            if self.bar is not None:
                self.bar.update(self.env.now / TICKS_PER_S - self.bar.n)

    def _may_batch(self, p: Proc, mine: list) -> bool:
        """True if ``p`` may take several of its steps in one call: it declares
        ``multi_step`` (its ``step(t, k·dt)`` equals k steps of dt when nothing acts on it in
        between, and it schedules no events itself), it is the only process, no condition
        watches the bus and none of its read ports is coupled."""
        return (bool(getattr(p.template, "multi_step", False)) and len(self.procs) == 1
                and not self.triggers and not mine
                and not any(k.startswith(f"{p.name}/") for k in self.scenario.couplings))

    def _batch_end(self, n: int, dt: int, stride: int) -> int:
        """Return the last step (counter) of a batch starting at step ``n``: up to the next
        record, checkpoint or queued event, the end of the run (step ``n`` alone when an
        event is due now: it may queue its end within the batch)."""
        limit = min(self.end_tick, (self.cp_count + 1) * self.cp_ticks)
        if self.queue:
            if self.queue[0][0] <= self.env.now:
                return n
            limit = min(limit, self.queue[0][0])
        record = -(-n // stride) * stride
        return max(n, min(limit // dt, record))

    def _with_members(self, p: Proc, out: dict) -> dict:
        K = self.n_members
        for k, v in out.items():
            if np.ndim(v) == 0 or np.shape(v)[0] != K:
                raise TwinError(f"kernel {p.name!r}: output {k!r} of shape {np.shape(v)} has "
                                f"no leading member axis of {K}")
        return out

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
    def checkpoint(self, final: bool) -> None:
        """Save the records, table rows, events and everything needed to resume from now;
        written by the store's writer thread while the run goes on."""
        w0 = _time.perf_counter()
        st = self.store
        st.wait()
        for p in self.procs:
            p.on_checkpoint(final)
        events = self.log.take()
        bus = self.bus.snapshot()
        meta = {
            "tick": int(self.env.now), "time_s": self.env.now / TICKS_PER_S, "final": final,
            "counters": dict(self.counters), "trig_counters": list(self.trig_counters),
            "cp_count": self.cp_count, "seq": self.seq,
            "queue": [[t, s, ev.to_json(), src, trig, list(pos)]
                      for t, s, ev, src, trig, pos in self.queue],
            "rng": {p.name: [json.dumps(g.bit_generator.state) for g in p.rngs]
                    for p in self.procs},
            "n_records": {k: w.n_records + len(w.times) for k, w in st.layers.items()},
            "n_rows": st.n_rows(), "n_events": self.log.n_flushed,
            "bus": {k: {"dims": list(v.dims), "units": v.units, "t": v.t}
                    for k, v in bus.items()},
        }
        meta["wall_time_s"] = self.wall_before + _time.perf_counter() - self.wall0
        arrays: dict = {}
        if not final:  # a finished run is returned as it is, never resumed: no state to keep
            arrays = {f"proc/{p.name}": p.get_state() for p in self.procs}
            arrays["triggers"] = {str(i): t.get_state() for i, t in enumerate(self.triggers)}
            arrays["bus"] = {k.replace("/", "%2F"): v.value for k, v in bus.items()}
        # the root attrs are rewritten only at the end: a root write drops the consolidated
        # metadata until the next consolidation, and a kill in between would leave none
        done = (lambda: self.set_status("complete", meta["wall_time_s"])) if final else None
        st.submit_checkpoint(self.cp_count, json_safe(meta), arrays, events, final, done)
        self.cp_wall += _time.perf_counter() - w0

    def set_status(self, status: str, wall: float | None = None) -> None:
        st = self.store
        if wall is None:
            wall = self.wall_before + _time.perf_counter() - self.wall0
        prov = dict(st.root.attrs.get("provenance", {}), wall_time_s=round(wall, 3))
        st.set_attrs(status=status, progress_s=self.env.now / TICKS_PER_S, provenance=prov)

    def restore(self, meta: dict, arrays: dict) -> None:
        """Put the run back in the state of checkpoint ``meta``/``arrays``."""
        self.env = simpy.Environment(initial_time=int(meta["tick"]))
        self.counters = dict(meta["counters"])
        self.trig_counters = list(meta["trig_counters"])
        self.cp_count = int(meta["cp_count"])
        self.seq = int(meta["seq"])
        self.queue = [(int(t), int(s), Event.from_json(ev), src, int(trig), tuple(pos))
                      for t, s, ev, src, trig, pos in meta["queue"]]
        for p in self.procs:
            for g, js in zip(p.rngs, meta["rng"][p.name]):
                g.bit_generator.state = json.loads(js)
            p.set_state(arrays.get(f"proc/{p.name}", {}))
        for i, t in enumerate(self.triggers):
            t.set_state(arrays["triggers"][str(i)])
        bus_arrays = arrays.get("bus", {})
        self.bus.restore({k: BusArray(k, bus_arrays[k.replace("/", "%2F")], tuple(m["dims"]),
                                      m["units"], m["t"]) for k, m in meta["bus"].items()})
        self.log = EventLog(n_flushed=int(meta["n_events"]))

    # ---- driving -----------------------------------------------------------------------------------
    def init_processes(self) -> None:
        for p in self.procs:
            p.init()

    def open_layers(self, store) -> None:
        self.store = store
        for i, p in enumerate(self.procs):
            t = p.template
            if not declared(t, "outputs") and i >= self.n_kernels:
                continue
            outputs = {k: spec_of(v) for k, v in declared(t, "outputs").items()}
            ri = self.strides[i] * self.dt_ticks[i]
            tables = declared(t, "tables")
            attrs = {"kernel": f"{type(t).__module__}:{type(t).__qualname__}",
                     "dt_s": self.dt_ticks[i] / TICKS_PER_S, "record_interval_s":
                     ri / TICKS_PER_S, "batched": p.batched,
                     "tables": {k: {"dim": v.dim, "columns": list(v.columns)}
                                for k, v in tables.items()}}
            attrs.update(json_safe(getattr(t, "layer_attrs", None) or {}))
            store.add_layer(p.name, coords=dict(getattr(t, "coords", None) or {}),
                            dims={k: v.dims for k, v in outputs.items()},
                            units={k: v.units for k, v in outputs.items()}, attrs=attrs,
                            time_chunk=math.ceil(self.cp_ticks / ri),
                            n_members=self.n_members, tables=tables)

    def run(self, progress: bool) -> None:
        from tqdm import tqdm

        env = self.env
        prio = 1
        for i in range(len(self.procs)):
            env.process(self._process(i, prio))
            prio += 1
        self._sched_prio = prio
        self._sched_proc = env.process(self._scheduler())
        prio += 1
        for j, t in enumerate(self.triggers):
            every = t.event.when.checker()
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
