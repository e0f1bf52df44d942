"""Checks of a scenario against the city and the kernels' declarations, before a run.

Everything a run could trip over later is checked here, so that a bad scenario raises
:class:`~twin.errors.ScenarioError` before anything is written: durations and time steps,
process names, couplings (a read port bound to an array some kernel publishes, with the same
dims and units), events (a kernel handles the kind, the target exists in the kind's id map,
times inside the run) and conditions (the array is published by a kernel, an ``at`` id is in
the map of the array's last dimension, an ``each`` condition's dimension is the event kind's
target kind).
"""

from __future__ import annotations

import json
import math

import numpy as np

from ..errors import ScenarioError
from .events import _OPS, Event, When
from .kernel import declared, spec_of
from .scenario import PerMember, Scenario, to_ticks


def _positive(value, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ScenarioError(f"{what} must be a number of seconds, not {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ScenarioError(f"{what} must be > 0 s, not {value!r}")
    return v


def published(processes) -> dict:
    """Return {bus name: Spec} of every array the processes declare they publish."""
    out = {}
    for p in processes:
        for var, spec in declared(p, "publishes").items():
            out[f"{p.name}/{var}"] = spec_of(spec)
    return out


def validate(sc: Scenario, processes: list, ids) -> None:
    """Raise ScenarioError if ``sc`` cannot run with ``processes`` (kernels then agents) and
    id maps ``ids`` (:class:`~twin.core.ids.IdMaps`); return None when it can."""
    duration = _positive(sc.duration, "duration")
    to_ticks(duration, "duration")
    if not isinstance(sc.seed, (int, np.integer)) or sc.seed < 0:
        raise ScenarioError(f"seed must be a non-negative int, not {sc.seed!r}")
    if not isinstance(sc.members, (int, np.integer)) or sc.members < 1:
        raise ScenarioError(f"members must be an int >= 1, not {sc.members!r}")
    if sc.seeds is not None and len(sc.seeds) != sc.members:
        raise ScenarioError(f"{len(sc.seeds)} seeds for {sc.members} members")
    for name, v in sc.inputs.items():
        if isinstance(v, PerMember) and len(v) != sc.members:
            raise ScenarioError(f"input of {name!r}: {len(v)} values for {sc.members} members")
    if int(sc.chunk_records) < 1:
        raise ScenarioError(f"chunk_records must be >= 1, not {sc.chunk_records!r}")
    names = [getattr(p, "name", None) for p in processes]
    for p, n in zip(processes, names):
        if not isinstance(n, str) or not n or "/" in n or n in ("events", "checkpoint"):
            raise ScenarioError(f"process {type(p).__name__} needs a name without '/' "
                                f"(not 'events'/'checkpoint'), not {n!r}")
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ScenarioError(f"two processes share the name {sorted(dup)[0]!r}")
    unknown = set(sc.inputs) - set(names)
    if unknown:
        raise ScenarioError(f"inputs given for unknown kernel(s) {sorted(unknown)}; "
                            f"kernels: {names}")
    unknown = set(sc.dt) - set(names)
    if unknown:
        raise ScenarioError(f"dt given for unknown kernel(s) {sorted(unknown)}; "
                            f"kernels: {names}")
    if isinstance(sc.record_interval, dict):
        unknown = set(sc.record_interval) - set(names)
        if unknown:
            raise ScenarioError(f"record_interval given for unknown kernel(s) {sorted(unknown)}")
    for p in processes:
        dt = _positive(sc.kernel_dt(p), f"dt of kernel {p.name!r}")
        dt_t = to_ticks(dt, f"dt of kernel {p.name!r}")
        ri = _positive(sc.kernel_record_interval(p), f"record_interval of {p.name!r}")
        if to_ticks(ri, f"record_interval of {p.name!r}") % dt_t:
            raise ScenarioError(f"record_interval of {p.name!r} ({ri:g} s) is not a multiple "
                                f"of its dt ({dt:g} s)")
    if sc.checkpoint_interval is not None:
        to_ticks(_positive(sc.checkpoint_interval, "checkpoint_interval"),
                 "checkpoint_interval")
    arrays = published(processes)
    _validate_couplings(sc, processes, arrays)
    kinds: dict[str, dict[str, str | None]] = {}     # kind -> {kernel: target id kind}
    for p in processes:
        for kind, tk in declared(p, "event_kinds").items():
            kinds.setdefault(kind, {})[p.name] = tk
    for i, (ev, src) in enumerate(sc.all_events()):
        _validate_event(ev, f"{src} event {i} ({getattr(ev, 'kind', ev)!r})", sc, kinds,
                        names, ids, arrays)


def _validate_couplings(sc, processes, arrays) -> None:
    by_name = {p.name: p for p in processes}
    for port, source in sc.couplings.items():
        kernel, _, name = str(port).partition("/")
        p = by_name.get(kernel)
        if p is None or name not in declared(p, "reads"):
            reads = [f"{q.name}/{r}" for q in processes for r in declared(q, "reads")]
            raise ScenarioError(f"coupling {port!r}: no such read port (ports: "
                                f"{', '.join(reads) or 'none'})")
        if source not in arrays:
            raise ScenarioError(f"coupling {port!r} <- {source!r}: no kernel publishes "
                                f"{source!r} (published: {', '.join(sorted(arrays)) or 'none'})")
        want, have = spec_of(declared(p, "reads")[name]), arrays[source]
        if want.dims != have.dims:
            raise ScenarioError(f"coupling {port!r} <- {source!r}: dims {have.dims} where the "
                                f"port reads {want.dims}")
        if want.units and have.units and want.units != have.units:
            raise ScenarioError(f"coupling {port!r} <- {source!r}: units {have.units!r} where "
                                f"the port reads {want.units!r}")
    for p in processes:
        for name, spec in declared(p, "reads").items():
            if not spec_of(spec).optional and f"{p.name}/{name}" not in sc.couplings:
                raise ScenarioError(f"kernel {p.name!r} needs its read port {name!r} coupled "
                                    f"(couplings={{'{p.name}/{name}': '<layer>/<array>'}})")


def event_target_kind(ev, by_kernel: dict, label: str):
    """Return the id kind ``ev``'s target names, from ``{kernel: target kind}`` of the
    kernels that declare ``ev.kind`` (only ``ev.layer``'s when it is given): ScenarioError
    when those kernels disagree (``closure`` of a road link and of a pipe) and no layer
    picks one."""
    if ev.layer is not None:
        by_kernel = {k: v for k, v in by_kernel.items() if k == ev.layer}
        if not by_kernel:
            raise ScenarioError(f"{label}: kernel {ev.layer!r} does not handle events of "
                                f"kind {ev.kind!r}")
    tks = set(by_kernel.values())
    if len(tks) > 1:
        opts = ", ".join(f"{k} ({v})" for k, v in by_kernel.items())
        raise ScenarioError(f"{label}: {ev.kind!r} events are handled by {opts}; give "
                            f"layer= to say which")
    return tks.pop()


def _validate_event(ev, label, sc, kinds, names, ids, arrays) -> None:
    if not isinstance(ev, Event):
        raise ScenarioError(f"{label}: not a twin.Event but {type(ev).__name__}")
    if ev.kind not in kinds:
        handled = ", ".join(sorted(kinds)) or "none"
        raise ScenarioError(f"{label}: no kernel handles events of kind {ev.kind!r} "
                            f"(handled: {handled})")
    if ev.layer is not None and ev.layer not in names:
        raise ScenarioError(f"{label}: unknown layer {ev.layer!r}; kernels: {names}")
    if ev.member is not None and not 0 <= int(ev.member) < int(sc.members):
        raise ScenarioError(f"{label}: member {ev.member} of a scenario with {sc.members}")
    if (ev.at is None) == (ev.when is None):
        raise ScenarioError(f"{label}: give exactly one of at= (a time) or when= (a condition)")
    duration = float(sc.duration)
    if ev.at is not None:
        try:
            at = float(ev.at)
        except (TypeError, ValueError):
            raise ScenarioError(f"{label}: at = {ev.at!r} is not a time in s") from None
        if not math.isfinite(at) or at < 0:
            raise ScenarioError(f"{label}: at = {ev.at!r} s is before the start")
        if at > duration:
            raise ScenarioError(f"{label}: at = {at:g} s is after the end of the run "
                                f"({duration:g} s)")
        to_ticks(at, f"{label}: at")
    if ev.duration is not None:
        to_ticks(_positive(ev.duration, f"{label}: duration"), f"{label}: duration")
    if ev.duration is not None and ev.until is not None:
        raise ScenarioError(f"{label}: give duration= or until=, not both")
    target_kind = event_target_kind(ev, kinds[ev.kind], label)
    each = ev.when is not None and ev.when.each
    if target_kind is not None and not each:
        ids.index(target_kind, ev.target, label)
    if ev.when is not None:
        validate_when(ev.when, label, names, ids, arrays)
        if each:
            dim = arrays[ev.when.array].dims[-1] if arrays[ev.when.array].dims else None
            if target_kind is not None and dim != target_kind:
                raise ScenarioError(f"{label}: {ev.when.describe()} fires per {dim}, but "
                                    f"{ev.kind!r} events target a {target_kind}")
    if ev.until is not None:
        if ev.when is None:
            raise ScenarioError(f"{label}: until= needs a when= condition")
        if isinstance(ev.until, When):
            validate_when(ev.until, label + " until", names, ids, arrays)
            if ev.until.each != ev.when.each or (
                    ev.until.each and arrays[ev.until.array].dims != arrays[ev.when.array].dims):
                raise ScenarioError(f"{label}: until= must be over the same elements as when=")
        elif ev.until != "clear":
            raise ScenarioError(f"{label}: until= must be a twin.When or 'clear', not "
                                f"{ev.until!r}")
    try:
        json.dumps(ev.details)
    except TypeError as e:
        raise ScenarioError(f"{label}: details must be JSON-able ({e})") from None


def validate_when(w, label, names, ids, arrays) -> None:
    """Raise ScenarioError if condition ``w`` cannot be checked in this run."""
    if not isinstance(w, When):
        raise ScenarioError(f"{label}: when= must be a twin.When, not {type(w).__name__}")
    if w.fn is None:
        if not w.array:
            raise ScenarioError(f"{label}: When needs an array name or fn")
        if w.op not in _OPS:
            raise ScenarioError(f"{label}: unknown comparison {w.op!r}; use one of "
                                f"{' '.join(_OPS)}")
        spec = arrays.get(w.array)
        if spec is None:
            raise ScenarioError(f"{label}: condition on {w.array!r}, which no kernel "
                                f"publishes (published: {', '.join(sorted(arrays)) or 'none'})")
        if w.at is not None or w.each:
            if not spec.dims:
                raise ScenarioError(f"{label}: {w.array!r} has no element dimension")
            dim = spec.dims[-1]
            if w.at is not None:
                if w.each:
                    raise ScenarioError(f"{label}: give at= or each=True, not both")
                if isinstance(w.at, (int, np.integer)):
                    if dim in ids and not 0 <= int(w.at) < len(ids[dim]):
                        raise ScenarioError(f"{label}: position {w.at} outside the {dim}s")
                else:
                    ids.index(dim, w.at, f"{label}: condition on {w.array}")
            elif dim not in ids:
                raise ScenarioError(f"{label}: {w.array!r} is over {dim}, which has no ids")
    elif w.each or w.at is not None:
        raise ScenarioError(f"{label}: a fn condition takes no at= or each=")
    chk = w.checker()
    if chk is None:
        raise ScenarioError(f"{label}: When needs every= (a kernel name or seconds)")
    if isinstance(chk, str):
        if chk not in names:
            raise ScenarioError(f"{label}: condition checked by unknown kernel {chk!r}; "
                                f"kernels: {names}")
    else:
        to_ticks(_positive(chk, f"{label}: every"), f"{label}: every")
