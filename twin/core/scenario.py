"""Scenarios: what to simulate (city, time span, kernels and their inputs, events, members).

A :class:`Scenario` is plain data; :func:`twin.core.validate.validate` checks it against the
city and the kernels' declarations **before** a run starts and raises
:class:`~twin.errors.ScenarioError` naming what is wrong (bad duration or time step, unknown
district, an event on an unknown element, a condition on an array no kernel publishes…).

Times are seconds from the scenario start and are resolved to 1 ms (the runtime's clock is an
integer number of milliseconds, so that runs and resumed runs step in exactly the same order).

**Members.** ``members=K`` runs K variants of the scenario in one pass: member k has seed
``seeds[k]`` (default ``seed + k``), the inputs ``inputs[name][k]`` where an input is given
:func:`per_member`, and the events without ``member`` or with ``member=k``. Member k of a
batch gives exactly what :meth:`Scenario.member` ``(k)`` gives run alone.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import hashlib
import inspect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._json import canonical_json
from ..errors import ScenarioError
from .events import Event

#: Integer clock ticks per simulated second (1 ms resolution).
TICKS_PER_S = 1000
#: Default recording interval (s) of a kernel's outputs.
DEFAULT_RECORD_INTERVAL = 60.0
#: Default number of records per time chunk of the run store (one chunk per checkpoint).
DEFAULT_CHUNK_RECORDS = 30


class PerMember(list):
    """An input with one value per member (see :func:`per_member`)."""


def per_member(values) -> PerMember:
    """Mark ``values`` (a sequence, one per member) as a per-member input of a scenario."""
    return PerMember(values)


@dataclass
class Scenario:
    """One simulation to run.

    city : district name ("lihu", "liangxi"), a ``cim.CityModel``, a ``twin.Twin``, or a
        path to a CIM file.
    duration : simulated time span, s (> 0).
    kernels : the kernels to run, in stepping order: objects following
        :class:`twin.Kernel`, or registered names (``"traffic"``). There is no default.
    inputs : {kernel name: its input} (trips for traffic…; :func:`per_member` for one value
        per member). A kernel may also be built with its input.
    couplings : {"<kernel>/<read port>": "<bus array>"}: what each kernel reads.
    start : wall-clock start (metadata only; sim time is seconds from it).
    seed : root seed; every random draw of the run derives from it.
    members : how many variants run in one batch; seeds : their seeds (default seed + k).
    agents : decision-making processes, e.g. :class:`twin.MesaProcess` wrapping a mesa model.
    events : :class:`twin.Event` list (incidents, closures, failures… at a time or on a
        condition). interventions : the planner's own changes (same type; ``at`` defaults to 0).
    dt : per-kernel time step override, {kernel name: s}.
    record_interval : s between recorded outputs, for all kernels or {kernel name: s}; must
        be a multiple of the kernel's dt.
    chunk_records : records per stored time chunk; the run checkpoints after each chunk.
    checkpoint_interval : s between checkpoints (default: chunk_records × the smallest record
        interval).
    name, description : labels. source : the scenario's source text (default: read from the
        file that created the scenario).
    """

    city: Any
    duration: float
    kernels: list = field(default_factory=list)
    inputs: dict = field(default_factory=dict)
    couplings: dict = field(default_factory=dict)
    start: _dt.datetime | None = None
    seed: int = 0
    members: int = 1
    seeds: list | None = None
    agents: list = field(default_factory=list)
    events: list = field(default_factory=list)
    interventions: list = field(default_factory=list)
    dt: dict = field(default_factory=dict)
    record_interval: float | dict = DEFAULT_RECORD_INTERVAL
    chunk_records: int = DEFAULT_CHUNK_RECORDS
    checkpoint_interval: float | None = None
    name: str = "scenario"
    description: str = ""
    source: str | None = None
    source_path: str | None = None

    def __post_init__(self):
        if self.start is None:
            self.start = _dt.datetime(2024, 1, 1)
        if self.source is None:
            self.source_path, self.source = _caller_source()
        if self.kernels is None:
            self.kernels = []
        if not isinstance(self.kernels, (list, tuple)):
            raise ScenarioError("kernels must be a list of kernels or kernel names")
        from .kernel import create

        self.kernels = [create(k) if isinstance(k, str) else k for k in self.kernels]

    # ---- derived settings ----------------------------------------------------------------
    def kernel_dt(self, kernel) -> float:
        """Return the time step (s) of ``kernel`` in this scenario."""
        return float(self.dt.get(kernel.name, kernel.dt))

    def kernel_record_interval(self, kernel) -> float:
        """Return the recording interval (s) of ``kernel``'s outputs."""
        ri = self.record_interval
        if isinstance(ri, dict):
            ri = ri.get(kernel.name, DEFAULT_RECORD_INTERVAL)
        return max(float(ri), self.kernel_dt(kernel))

    def member_seeds(self) -> list[int]:
        """Return the seed of each member (``seeds``, or ``seed + k``)."""
        if self.seeds is not None:
            return [int(s) for s in self.seeds]
        return [int(self.seed) + k for k in range(int(self.members))]

    def input_of(self, name: str, member: int | None = None):
        """Return the scenario's input for kernel ``name`` (for ``member`` when per-member;
        a :class:`PerMember` list when ``member`` is None), or None."""
        value = self.inputs.get(name)
        if isinstance(value, PerMember) and member is not None:
            return value[member]
        return value

    def all_events(self) -> list[tuple[Event, str]]:
        """Return [(event, source)] for the interventions then the events; interventions with
        neither ``at`` nor ``when`` happen at 0."""
        out = []
        for ev in self.interventions:
            if ev.at is None and ev.when is None:
                ev = dataclasses.replace(ev, at=0.0)
            out.append((ev, "intervention"))
        out += [(ev, "scenario") for ev in self.events]
        return out

    def member(self, k: int) -> Scenario:
        """Return member ``k`` of this scenario as a one-member scenario (its seed, its
        inputs, the events for all members and for member ``k``)."""
        n = int(self.members)
        if not 0 <= k < n:
            raise ScenarioError(f"member {k} of a scenario with {n} members")
        one = copy.copy(self)
        one.kernels = copy.deepcopy(self.kernels)
        one.members, one.seeds, one.seed = 1, None, self.member_seeds()[k]
        one.inputs = {name: (v[k] if isinstance(v, PerMember) else v)
                      for name, v in self.inputs.items()}

        def mine(evs):
            return [dataclasses.replace(e, member=None) for e in evs
                    if e.member is None or e.member == k]
        one.events, one.interventions = mine(self.events), mine(self.interventions)
        one.name = f"{self.name}-member{k}"
        return one

    def describe(self) -> dict:
        """Return a JSON-able description of the scenario (what the run store records)."""
        return {
            "name": self.name, "description": self.description,
            "city": self.city if isinstance(self.city, str) else type(self.city).__name__,
            "duration_s": float(self.duration), "start": self.start.isoformat(),
            "seed": int(self.seed), "members": int(self.members),
            "member_seeds": self.member_seeds(),
            "kernels": [_describe_process(k, self) for k in self.kernels],
            "agents": [_describe_process(a, self) for a in self.agents],
            "inputs": {k: _digest(v) for k, v in sorted(self.inputs.items())},
            "couplings": dict(sorted(self.couplings.items())),
            "events": [ev.to_json() | {"source": src} for ev, src in self.all_events()],
            "dt": {k: float(v) for k, v in self.dt.items()},
            "record_interval": self.record_interval, "chunk_records": self.chunk_records,
            "checkpoint_interval": self.checkpoint_interval,
        }

    def fingerprint(self) -> str:
        """Return a hash of what determines the results (a resumed run must match it): the
        same in every process, whatever another library did to :mod:`json`."""
        d = self.describe()
        d.pop("description")
        return hashlib.sha256(canonical_json(d).encode()).hexdigest()


def _plain(v, budget: int = 64) -> bool:
    """Whether ``v`` is small plain data (JSON scalars, and lists/dicts of them) that a
    description can show as it is (larger or other values are shown as a digest)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)) and len(v) <= budget:
        return all(_plain(x, 0) if isinstance(x, (list, tuple, dict)) else _plain(x)
                   for x in v)
    if isinstance(v, dict) and len(v) <= budget:
        return all(isinstance(k, str) and _plain(x, 0 if isinstance(x, (list, dict)) else 1)
                   for k, x in v.items())
    return False


def _describe_process(p, sc: Scenario) -> dict:
    """Return name, class, dt and parameters of kernel or agent process ``p``: parameters
    that are JSON scalars as they are, anything else as a content digest."""
    params = p.config() if callable(getattr(p, "config", None)) else {
        k: v for k, v in vars(p).items() if not k.startswith("_")}
    shown = {k: v if _plain(v) else _digest(v) for k, v in sorted(params.items())}
    return {"name": p.name, "class": _qualname(p), "dt_s": sc.kernel_dt(p), "params": shown}


def describe_diff(stored: dict, current: dict, limit: int = 8) -> list[str]:
    """Return ``"field: stored -> current"`` lines for where two :meth:`Scenario.describe`
    dicts differ (the description text excepted), at most ``limit`` of them."""
    out: list[str] = []

    def walk(a, b, where):
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b), key=str):
                if not where and k == "description":
                    continue
                walk(a.get(k, "<missing>"), b.get(k, "<missing>"),
                     f"{where}.{k}" if where else str(k))
        elif isinstance(a, list) and isinstance(b, list):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{where}[{i}]")
            if len(a) != len(b):
                out.append(f"{where}: {len(a)} items -> {len(b)}")
        elif canonical_json(a) != canonical_json(b):
            # compared as the fingerprint compares them: 100 -> 100.0 is a difference
            out.append(f"{where or 'scenario'}: {_short(a)} -> {_short(b)}")

    walk(json.loads(canonical_json(stored)), json.loads(canonical_json(current)), "")
    return out


def _short(value, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _qualname(obj) -> str:
    t = type(obj)
    return f"{t.__module__}:{t.__qualname__}"


def _digest(obj) -> str | None:
    """Return a short content hash of demand-like data (arrays, dicts, structured arrays)."""
    if obj is None:
        return None
    h = hashlib.sha256()

    def feed(o):
        if isinstance(o, np.ndarray):
            h.update(str(o.dtype).encode() + str(o.shape).encode())
            h.update(np.ascontiguousarray(o).tobytes() if o.dtype != object
                     else repr(o.tolist()).encode())
        elif isinstance(o, dict):
            for k in sorted(o, key=str):
                h.update(str(k).encode())
                feed(o[k])
        elif isinstance(o, (list, tuple)):
            for v in o:
                feed(v)
        elif hasattr(o, "__dataclass_fields__"):
            h.update(type(o).__qualname__.encode())
            feed({k: getattr(o, k) for k in o.__dataclass_fields__})
        elif callable(o):
            h.update(f"{getattr(o, '__module__', '')}:{getattr(o, '__qualname__', o)}".encode())
        else:
            h.update(repr(o).encode())

    feed(obj)
    return h.hexdigest()[:16]


def _caller_source() -> tuple[str | None, str | None]:
    """Return (path, text) of the first file up the stack outside this package."""
    here = Path(__file__).resolve().parent.parent  # the twin package
    for fr in inspect.stack(context=0)[2:]:
        p = Path(fr.filename)
        if p.suffix == ".py" and p.exists() and here not in p.resolve().parents:
            try:
                return str(p), p.read_text(encoding="utf-8")
            except OSError:
                return str(p), None
    return None, None


def to_ticks(seconds: float, what: str) -> int:
    """Return ``seconds`` as integer clock ticks; ScenarioError when not a whole tick."""
    ticks = round(float(seconds) * TICKS_PER_S)
    if not math.isclose(ticks, float(seconds) * TICKS_PER_S, rel_tol=1e-9, abs_tol=1e-6):
        raise ScenarioError(f"{what} = {seconds!r} s is not a whole number of milliseconds")
    return ticks


# ---- city resolution ---------------------------------------------------------------------
def resolve_city(city) -> tuple[str, Any, Any]:
    """Return (district/name, CityModel, Twin or None) for a scenario's ``city``."""
    import cim

    if isinstance(city, str):
        if city in cim.districts():
            try:
                model = cim.load_district(city)
            except cim.CIMError as e:
                raise ScenarioError(f"district {city!r} cannot be loaded: {e}") from e
            return city, model, None
        if Path(city).exists():
            try:
                model = cim.load(city)
            except cim.CIMError as e:
                raise ScenarioError(f"city file {city!r} cannot be loaded: {e}") from e
            return Path(city).name.split(".")[0], model, None
        raise ScenarioError(f"unknown district {city!r}; known: "
                            f"{', '.join(cim.districts())} (or a path to a CIM file)")
    if isinstance(city, cim.CityModel):
        return city.metadata.get("district", "city"), city, None
    model = getattr(city, "city", None)
    if not isinstance(model, cim.CityModel):
        raise ScenarioError(f"scenario city must be a district name, a cim.CityModel or a "
                            f"twin.Twin, not {type(city).__name__}")
    return model.metadata.get("district", "city"), model, city


