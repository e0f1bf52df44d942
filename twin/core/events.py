"""Scenario events: incidents, closures, failures, repairs… on any kernel's elements.

An :class:`Event` happens **at** a time (seconds from the scenario start) or **when** a
condition on bus arrays becomes true (:class:`When`, checked after each step of the kernel
that publishes the array, or at a fixed interval). It ends by itself after ``duration``
seconds, or when the ``until`` condition holds (``until="clear"``: when ``when`` no longer
holds): the runtime applies it again with ``phase="end"`` (a closure reopens, a failure is
repaired).

A condition over a whole array fires **per element** with ``When(..., each=True)``: one
event per element (and member) that satisfies it, targeting that element — every signal
whose power is off, every road link deeper under water than 0.3 m — checked in one array
operation, not in a Python loop over elements.

Events apply to every member of a batch unless ``member=`` names one. The runtime hands an
event to the kernels that declare its kind in ``event_kinds`` (``{"closure": "road_link"}``:
kind → the id map its target is looked up in); the kernel's ``apply_event(event, index,
ctx)`` changes its own arrays. Every applied event is written to the run's events table.

Examples::

    traffic.closure("tunnel:f", at=8 * 3600, duration=1800)
    twin.failure("feeder-7", at=600, layer="grid")
    twin.Event("signal_dark", when=twin.When("grid/signal_power", "<", 0.5, each=True),
               until="clear")
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .._json import to_builtin

_OPS: dict[str, Callable] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True)
class When:
    """A condition on a bus array: ``array op value`` (e.g. queue > 50 m).

    array : bus name, e.g. ``"traffic/queue_length"`` (a kernel must declare it in its
        ``publishes``; checked before the run).
    op : one of ``> >= < <= == !=``; value : the threshold, in the array's units.
    at : element id (looked up in the id map named by the array's last dimension, e.g. a
        road link id for dims ``("road_link",)``) or an int position; None: the whole array.
    each : fire one event per element that satisfies it (target: that element's id);
        otherwise one event when **any** element (or the ``at`` element) does.
    every : kernel name (checked after each of its steps) or seconds (checked at that
        interval); None: after each step of the kernel that publishes the array.
    fn : instead of array/op/value, any ``fn(bus) -> bool or (n_members,) bool`` (then
        ``every`` is required).
    """

    array: str | None = None
    op: str = ">"
    value: float = 0.0
    at: str | int | None = None
    each: bool = False
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
        where = "[each]" if self.each else "" if self.at is None else f"[{self.at}]"
        return f"{self.array}{where} {self.op} {self.value}"

    def evaluate(self, bus, index: int | None) -> np.ndarray:
        """Return where the condition holds now: (n_members,) bool, or (n_members, n) with
        ``each`` (``index``: the resolved ``at`` position)."""
        if self.fn is not None:
            out = np.asarray(self.fn(bus), bool)
            return np.broadcast_to(out, (bus.n_members,)).copy()
        a = np.asarray(bus.get(self.array))
        if index is not None:
            a = a[:, index]
        hold = np.asarray(_OPS[self.op](a, self.value), bool)
        if self.each:
            return hold.reshape(len(a), -1)
        return hold.reshape(len(a), -1).any(1)


@dataclass(frozen=True)
class Event:
    """Something that happens to the twin.

    kind : a kind a kernel declares ("closure", "failure"…). target : id of the element it
        happens to (road link id, pipe id…) or None. at : time, s from the start (exclusive
        with ``when``); when : a :class:`When` condition. duration : s until it ends by
        itself; until : a :class:`When` that ends it when it holds, or ``"clear"`` (when
        ``when`` no longer holds); neither: it lasts to the end of the run.
    details : JSON-able parameters (e.g. ``{"factor": 0.5}`` for a capacity drop). layer :
        only this kernel handles it (None: every kernel that declares the kind). member :
        only this member of a batch (None: every member). repeat : a triggered event may fire
        again after it ended (default: once; with ``until="clear"`` it re-arms). phase :
        "start", or
        "end" when the runtime ends it.
    """

    kind: str
    target: str | None = None
    at: float | None = None
    when: When | None = None
    duration: float | None = None
    until: When | str | None = None
    details: dict = field(default_factory=dict)
    layer: str | None = None
    member: int | None = None
    repeat: bool = False
    phase: str = "start"

    def ending(self) -> Event:
        """Return the event that ends this one (same kind and target, ``phase="end"``)."""
        return replace(self, phase="end", when=None, until=None)

    def to_json(self) -> dict:
        """Return a JSON-able dict of this event (conditions with a function as their
        description)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in ("when", "until"):
            w = d[k]
            if isinstance(w, When):
                d[k] = w.describe() if w.fn is not None else asdict(w)
        return json.loads(json.dumps(d, default=to_builtin))

    @classmethod
    def from_json(cls, d: dict) -> Event:
        d = dict(d)
        for k in ("when", "until"):
            w = d.get(k)
            d[k] = When(**w) if isinstance(w, dict) else w if k == "until" else None
        return cls(**d)


def failure(target: str, *, at: float | None = None, when: When | None = None,
            duration: float | None = None, until=None, layer: str | None = None,
            member: int | None = None, **details) -> Event:
    """Return the failure of element ``target`` (a pipe, a feeder…; ``layer`` picks the
    kernel)."""
    return Event("failure", target, at=at, when=when, duration=duration, until=until,
                 layer=layer, member=member, details=details)


def repair(target: str, *, at: float, layer: str | None = None, member: int | None = None,
           **details) -> Event:
    """Return the repair of element ``target`` at ``at``."""
    return Event("repair", target, at=at, layer=layer, member=member, details=details)


class EventLog:
    """The events table of a run, filled as events are applied: columns time (s), kind,
    target, phase, member (-1: all), source (scenario, intervention, trigger, or the
    agent/kernel name) and details (JSON text)."""

    COLUMNS = ("time", "kind", "target", "phase", "member", "source", "details")

    def __init__(self, n_flushed: int = 0):
        self.rows: list[tuple] = []  # not yet flushed
        self.n_flushed = n_flushed

    def add(self, t: float, ev: Event, source: str, details: dict | None = None) -> None:
        info = dict(ev.details)
        if details:
            info.update(details)
        self.rows.append((float(t), ev.kind, ev.target or "", ev.phase,
                          -1 if ev.member is None else int(ev.member), source,
                          json.dumps(info, sort_keys=True, default=to_builtin)))

    def take(self) -> dict[str, np.ndarray]:
        """Return the rows not yet flushed as column arrays, and forget them."""
        rows, self.rows = self.rows, []
        self.n_flushed += len(rows)
        cols: dict[str, Any] = {c: [r[i] for r in rows] for i, c in enumerate(self.COLUMNS)}
        out = {"time": np.asarray(cols["time"], np.float64),
               "member": np.asarray(cols["member"], np.int64)}
        for c in self.COLUMNS:
            if c not in out:
                out[c] = np.asarray(cols[c], dtype=str) if rows else np.zeros(0, dtype=str)
        return out
