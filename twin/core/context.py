"""What a process sees of the run: :class:`Context`."""

from __future__ import annotations

import io
import pickle

import numpy as np

from ..errors import ScenarioError
from .bus import MemberBus
from .scenario import TICKS_PER_S


class Context:
    """What a process sees: ``bus``, ``scenario``, ``city``, ``twin``, ``ids`` (id maps),
    ``input`` (its scenario input), ``read(port)``, ``table(name)``, ``rng``/``rngs``,
    ``seed``/``seeds``, ``n_members``, ``member``, ``now`` (s), and ``apply``/``schedule``
    for events.

    A batched kernel gets one context for all members: ``member`` is None, ``n_members`` is
    K, ``rngs``/``seeds`` hold one Generator/int per member, ``inputs`` one input per member
    and the bus carries the member axis. A kernel stepped per member gets one context per
    member: ``member`` is k, ``n_members`` 1, the bus is member k's view.
    """

    def __init__(self, sim, name: str, rngs: list, seeds: list[int], member: int | None):
        self._sim = sim
        self.name = name
        self.rngs = rngs
        self.seeds = seeds
        self.member = member
        self.rng = rngs[0]
        self.seed = seeds[0]  # an int derived from the member's seed, for libraries (mesa)
        self.record_due = False
        self.bus = sim.bus if member is None else MemberBus(sim.bus, member)

    n_members = property(lambda self: self._sim.n_members if self.member is None else 1)
    scenario = property(lambda self: self._sim.scenario)
    city = property(lambda self: self._sim.city)
    ids = property(lambda self: self._sim.ids)

    @property
    def input(self):
        """This process's scenario input (member 0's when it differs per member and this
        context is batched: use :attr:`inputs`)."""
        sc = self.scenario
        return sc.input_of(self.name, self.member if self.member is not None else 0)

    @property
    def inputs(self) -> list:
        """The input of each member (a batched kernel's view)."""
        sc = self.scenario
        members = range(self._sim.n_members) if self.member is None else [self.member]
        return [sc.input_of(self.name, k) for k in members]

    def read(self, port: str):
        """Return the bus array bound to read port ``port`` by the scenario's couplings
        (shape ``(n_members, *dims)``, or ``dims`` for a per-member kernel), or None when
        the port is not coupled or its array not yet published."""
        source = self.scenario.couplings.get(f"{self.name}/{port}")
        if source is None or source not in self.bus:
            return None
        return self.bus.get(source)

    def table(self, name: str):
        """Return the writer of this kernel's table ``name`` (rows get this context's
        member, or pass ``member=`` to ``append`` from a batched kernel)."""
        return _TableHandle(self._sim.store.table(self.name, name), self.member)

    @property
    def twin(self):
        """The built twin (built on first use when the scenario gave a CityModel)."""
        return self._sim.get_twin()

    @property
    def now(self) -> float:
        """Current simulated time, s from the scenario start."""
        return self._sim.env.now / TICKS_PER_S

    def index(self, kind: str, obj_id: str) -> int:
        """Return the dense index of ``obj_id`` in the id map ``kind`` ("road_link"…)."""
        return self._sim.ids.index(kind, obj_id, self.name)

    def apply(self, event) -> None:
        """Apply ``event`` now (logged with this process as its source)."""
        self._sim.apply(self._own(event), self.name)

    def schedule(self, event) -> None:
        """Apply ``event`` at ``event.at`` (s; now if None or past)."""
        self._sim.push(self._own(event), self.name)

    def _own(self, event):
        if self.member is not None and event.member is None:
            import dataclasses

            return dataclasses.replace(event, member=self.member)
        return event

    def pickle(self, obj) -> bytes:
        """Return ``obj`` pickled without the run objects it refers to (this context, the
        bus, city, twin, scenario); :meth:`unpickle` reattaches them."""
        f = io.BytesIO()
        _StatePickler(f, self._refs()).dump(obj)
        return f.getvalue()

    def unpickle(self, data: bytes):
        """Return the object pickled by :meth:`pickle`, reattached to this run."""
        return _StateUnpickler(io.BytesIO(data), self._refs()).load()

    def _refs(self) -> dict:
        sim = self._sim
        return {"ctx": self, "bus": self.bus, "city": sim.city, "twin": sim._twin,
                "scenario": sim.scenario, "env": sim.env}

    def kernel(self, name: str):
        """Return the process called ``name`` (member 0's copy for a per-member kernel)."""
        return self._sim.by_name[name]


class _TableHandle:
    def __init__(self, writer, member):
        self._w, self._member = writer, member

    def append(self, rows: dict, member=None) -> None:
        m = self._member if member is None else member
        if m is None:
            raise ScenarioError("a batched kernel must pass member= to table.append")
        self._w.append(rows, np.asarray(m, np.int64))


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
