"""Scenario events: incidents, closures, failures, repairs, signal-plan changes.

An :class:`Event` happens **at** a time (seconds from the scenario start) or **when** a
condition on bus arrays becomes true (:class:`When`, checked after each step of a kernel or at
a fixed interval). With a ``duration`` it ends by itself: the runtime applies it again with
``phase="end"`` that many seconds later (a closure reopens, a failure is repaired).

The runtime hands an event to the kernels that declare its kind in ``Kernel.event_kinds``
(``{"closure": "link", ...}``: kind → the id map its target is looked up in); the kernel's
``apply_event(event, index, ctx)`` changes its own arrays. Every applied event is written to the
run's events table.

Examples::

    twin.closure("tunnel:f", at=8 * 3600, duration=1800)
    twin.signal_plan("n42", {"cycle_s": 90, "green_s": [40, 40]}, at=600)
    twin.Event("capacity_drop", "L7", when=twin.When("traffic/queue_length", ">", 50, at="L7"))
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

#: The built-in event kinds and the id map their target names (None: no target).
#: Kernels may declare more in their ``event_kinds``.
EVENT_TARGETS = {
    "closure": "link",
    "capacity_drop": "link",
    "incident": "link",
    "signal_plan": "node",
    "failure": None,
    "repair": None,
}

_OPS: dict[str, Callable] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True)
class When:
    """A condition on a bus array: ``array op value`` (e.g. queue > 50 vehicles).

    array : bus name, e.g. ``"traffic/queue_length"``.
    op : one of ``> >= < <= == !=``; value : the threshold, in the array's units.
    at : element id (looked up in the id map named by the array's last dimension, e.g. a
        link id for dims ``("link",)``) or an int position; None: true when **any** element
        satisfies it.
    every : kernel name (checked after each of its steps) or seconds (checked at that
        interval); None: after each step of the kernel that owns the array (the part of the
        name before ``/``).
    fn : instead of array/op/value, any ``fn(bus) -> bool`` (then ``every`` is required).
    """

    array: str | None = None
    op: str = ">"
    value: float = 0.0
    at: str | int | None = None
    every: str | float | None = None
    fn: Callable | None = None

    def checker(self) -> str | float | None:
        """Return the kernel name or interval (s) at which this condition is checked."""
        if self.every is not None:
            return self.every
        if self.array is not None and "/" in self.array:
            return self.array.split("/", 1)[0]
        return None

    def describe(self) -> str:
        if self.fn is not None:
            return getattr(self.fn, "__qualname__", repr(self.fn))
        where = "" if self.at is None else f"[{self.at}]"
        return f"{self.array}{where} {self.op} {self.value}"


@dataclass(frozen=True)
class Event:
    """Something that happens to the twin.

    kind : "closure", "capacity_drop", "incident", "signal_plan", "failure", "repair", or a
        kind a kernel declares. target : id of the element it happens to (link id, node id…)
        or None. at : time, s from the start (exclusive with ``when``); when : a :class:`When`
        condition. duration : s until it ends by itself (None: lasts to the end of the run).
    details : JSON-able parameters (e.g. ``{"factor": 0.5}`` for a capacity drop, the new
        ``plan`` for a signal-plan change). layer : only this kernel handles it (None: every
        kernel that declares the kind). repeat : a triggered event may fire again after it
        ended (default: once). phase : "start", or "end" when the runtime ends it.
    """

    kind: str
    target: str | None = None
    at: float | None = None
    when: When | None = None
    duration: float | None = None
    details: dict = field(default_factory=dict)
    layer: str | None = None
    repeat: bool = False
    phase: str = "start"

    def ending(self) -> Event:
        """Return the event that ends this one (same kind and target, ``phase="end"``)."""
        return replace(self, phase="end", when=None)

    def to_json(self) -> dict:
        """Return a JSON-able dict of this event (the condition as its description)."""
        d = asdict(self) if self.when is None or self.when.fn is None else {
            **{k: v for k, v in asdict(replace(self, when=None)).items()},
            "when": self.when.describe()}
        return json.loads(json.dumps(d, default=_json_default))

    @classmethod
    def from_json(cls, d: dict) -> Event:
        d = dict(d)
        w = d.get("when")
        d["when"] = When(**w) if isinstance(w, dict) else None
        return cls(**d)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def closure(link: str, *, at: float | None = None, when: When | None = None,
            duration: float | None = None) -> Event:
    """Return the closure of road link ``link`` (all lanes) from ``at`` for ``duration`` s."""
    return Event("closure", link, at=at, when=when, duration=duration)


def capacity_drop(link: str, factor: float, *, at: float | None = None,
                  when: When | None = None, duration: float | None = None) -> Event:
    """Return a drop of link ``link``'s capacity to ``factor`` × normal (0 < factor < 1)."""
    return Event("capacity_drop", link, at=at, when=when, duration=duration,
                 details={"factor": float(factor)})


def incident(link: str, *, at: float | None = None, when: When | None = None,
             duration: float | None = 1800.0, lanes_blocked: int = 1, **details) -> Event:
    """Return an incident on ``link`` blocking ``lanes_blocked`` lanes for ``duration`` s."""
    return Event("incident", link, at=at, when=when, duration=duration,
                 details={"lanes_blocked": int(lanes_blocked), **details})


def signal_plan(node: str, plan: dict, *, at: float | None = None, when: When | None = None,
                duration: float | None = None) -> Event:
    """Return a change of node ``node``'s signal plan to ``plan`` (``cycle_s``, ``green_s``
    list per phase, ``offset_s``, ``yellow_s``)."""
    return Event("signal_plan", node, at=at, when=when, duration=duration,
                 details={"plan": dict(plan)})


def failure(target: str, *, at: float | None = None, when: When | None = None,
            duration: float | None = None, layer: str | None = None, **details) -> Event:
    """Return the failure of element ``target`` (a pipe, a feeder…; ``layer`` picks the kernel)."""
    return Event("failure", target, at=at, when=when, duration=duration, layer=layer,
                 details=details)


def repair(target: str, *, at: float, layer: str | None = None, **details) -> Event:
    """Return the repair of element ``target`` at ``at``."""
    return Event("repair", target, at=at, layer=layer, details=details)


def condition_holds(cond: When, bus, index: int | None) -> bool:
    """Return whether ``cond`` holds on ``bus`` now (``index``: resolved element position)."""
    if cond.fn is not None:
        return bool(cond.fn(bus))
    if cond.array not in bus:
        return False
    a = np.asarray(bus.get(cond.array))
    if index is not None:
        a = a[..., index]
    return bool(np.any(_OPS[cond.op](a, cond.value)))


class EventLog:
    """The events table of a run, filled as events are applied: columns time (s), kind,
    target, phase, source (scenario, intervention, trigger, or the agent/kernel name) and
    details (JSON text)."""

    COLUMNS = ("time", "kind", "target", "phase", "source", "details")

    def __init__(self, n_flushed: int = 0):
        self.rows: list[tuple] = []  # not yet flushed
        self.n_flushed = n_flushed

    def add(self, t: float, ev: Event, source: str, details: dict | None = None) -> None:
        info = dict(ev.details)
        if details:
            info.update(details)
        self.rows.append((float(t), ev.kind, ev.target or "", ev.phase, source,
                          json.dumps(info, sort_keys=True, default=_json_default)))

    def take(self) -> dict[str, np.ndarray]:
        """Return the rows not yet flushed as column arrays, and forget them."""
        rows, self.rows = self.rows, []
        self.n_flushed += len(rows)
        cols: dict[str, Any] = {c: [r[i] for r in rows] for i, c in enumerate(self.COLUMNS)}
        out = {"time": np.asarray(cols["time"], np.float64)}
        for c in self.COLUMNS[1:]:
            out[c] = np.asarray(cols[c], dtype=str) if rows else np.zeros(0, dtype=str)
        return out
