"""Traffic events: closures, capacity drops, incidents and signal-plan changes.

Each returns a :class:`twin.Event` of a kind :class:`TrafficProcess` handles; ``member``
restricts it to one member of a batch."""

from __future__ import annotations

from ...core.events import Event, When


def closure(link: str, *, at: float | None = None, when: When | None = None,
            duration: float | None = None, until=None, member: int | None = None) -> Event:
    """Return the closure of road link ``link`` (all lanes) from ``at`` for ``duration`` s."""
    return Event("closure", link, at=at, when=when, duration=duration, until=until,
                 member=member)


def capacity_drop(link: str, factor: float, *, at: float | None = None,
                  when: When | None = None, duration: float | None = None, until=None,
                  member: int | None = None) -> Event:
    """Return a drop of link ``link``'s capacity to ``factor`` × normal (0 ≤ factor ≤ 1)."""
    return Event("capacity_drop", link, at=at, when=when, duration=duration, until=until,
                 member=member, details={"factor": float(factor)})


def incident(link: str, *, at: float | None = None, when: When | None = None,
             duration: float | None = 1800.0, lanes_blocked: int = 1,
             member: int | None = None, **details) -> Event:
    """Return an incident on ``link`` blocking ``lanes_blocked`` lanes for ``duration`` s."""
    return Event("incident", link, at=at, when=when, duration=duration, member=member,
                 details={"lanes_blocked": int(lanes_blocked), **details})


def signal_plan(node: str, plan: dict, *, at: float | None = None, when: When | None = None,
                duration: float | None = None, member: int | None = None) -> Event:
    """Return a change of node ``node``'s signal plan to ``plan`` (``cycle_s``, ``green_s``
    list per phase, ``offset_s``, ``yellow_s``)."""
    return Event("signal_plan", node, at=at, when=when, duration=duration, member=member,
                 details={"plan": dict(plan)})
