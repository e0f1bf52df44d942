"""Condition triggers: events that start when a :class:`~twin.When` holds, vectorized.

A trigger keeps two boolean masks over (member,) — or (member, element) for a per-element
``When(..., each=True)`` — ``active`` (started, not yet ended) and ``spent`` (fired once and
not re-armed). One check evaluates the condition over the whole bus array with numpy and
fires an event for each new (member, element) pair; with ``until`` it also ends the active
ones whose end condition holds. An ended event re-arms its trigger when it has ``repeat`` or
``until="clear"`` (it fires again when its condition holds again).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .events import Event, When


class Trigger:
    """One conditional event of the scenario (see the module docstring)."""

    def __init__(self, event: Event, source: str, n_members: int, ids, bus_dims: dict):
        self.event = event
        self.source = "trigger" if source == "scenario" else source
        w = event.when
        self.index = None
        self.kind_ids = None
        if w.fn is None and w.at is not None:
            dim = bus_dims[w.array][-1]
            self.index = int(w.at) if isinstance(w.at, (int, np.integer)) else ids.index(
                dim, w.at)
        shape = (n_members,)
        if w.each:
            dim = bus_dims[w.array][-1]
            self.kind_ids = ids.ids(dim)
            shape = (n_members, len(self.kind_ids))
        self.active = np.zeros(shape, bool)
        self.spent = np.zeros(shape, bool)
        self.allowed = np.ones(n_members, bool)
        if event.member is not None:
            self.allowed[:] = False
            self.allowed[int(event.member)] = True
        self.rearms = event.repeat or event.until == "clear"

    def check(self, bus) -> tuple[list[tuple[Event, tuple]], list[tuple[Event, tuple]]]:
        """Return ([(event to start, pos)], [(event to end, pos)]) now, pos = (member,) or
        (member, element), updating the masks."""
        ev = self.event
        hold = ev.when.evaluate(bus, self.index)
        allowed = self.allowed if hold.ndim == 1 else self.allowed[:, None]
        ends = []
        if ev.until is not None:
            clear = ~hold if ev.until == "clear" else ev.until.evaluate(bus, self.index)
            stop = self.active & clear
            for pos in np.argwhere(stop):
                ends.append((self._instance(pos).ending(), tuple(int(x) for x in pos)))
            self.active &= ~stop
            hold = hold & ~stop  # ended this check: fires again at a later check
        new = hold & ~self.active & ~self.spent & allowed
        starts = [(self._instance(pos), tuple(int(x) for x in pos)) for pos in np.argwhere(new)]
        self.active |= new
        if not self.rearms:
            self.spent |= new
        return starts, ends

    def ended(self, pos: tuple) -> None:
        """Mark the event at ``pos`` (member[, element]) ended (its duration ran out)."""
        self.active[pos] = False

    def _instance(self, pos) -> Event:
        ev = self.event
        target = ev.target if self.kind_ids is None else str(self.kind_ids[pos[1]])
        return dataclasses.replace(ev, when=None, until=None, target=target,
                                   member=int(pos[0]))

    # ---- checkpoints -------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"active": self.active.copy(), "spent": self.spent.copy()}

    def set_state(self, s: dict) -> None:
        self.active = np.array(s["active"], bool)
        self.spent = np.array(s["spent"], bool)


__all__ = ["Trigger", "When"]
