"""Scenarios: what to simulate (city, time span, seed, demand, events, kernels, settings).

A :class:`Scenario` is plain data; :func:`validate` checks it against the city **before** a run
starts and raises :class:`~twin.errors.ScenarioError` naming what is wrong (bad duration or
time step, unknown district, an event on an unknown link or node, an event after the end…).

Times are seconds from the scenario start and are resolved to 1 ms (the runtime's clock is an
integer number of milliseconds, so that runs and resumed runs step in exactly the same order).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import inspect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ScenarioError
from .events import EVENT_TARGETS, Event, When

#: Integer clock ticks per simulated second (1 ms resolution).
TICKS_PER_S = 1000
#: Default recording interval (s) of a kernel's outputs.
DEFAULT_RECORD_INTERVAL = 60.0
#: Default number of records per time chunk of the run store (one chunk per checkpoint).
DEFAULT_CHUNK_RECORDS = 16


@dataclass
class Scenario:
    """One simulation to run.

    city : district name ("lihu", "liangxi"), a ``cim.CityModel``, a ``twin.Twin``, or a
        path to a CIM file.
    duration : simulated time span, s (> 0).
    start : wall-clock start (metadata only; sim time is seconds from it).
    seed : root seed; every random draw of the run derives from it.
    kernels : the processes that step arrays (objects following :class:`twin.Kernel`); None:
        the default kernels for the scenario (traffic when there is demand).
    agents : decision-making processes, e.g. :class:`twin.MesaProcess` wrapping a mesa model.
    demand : travel demand handed to the kernels (e.g. a dict of trip arrays ``depart_s``,
        ``origin``, ``destination`` or an ``agents`` demand object).
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
    start: _dt.datetime | None = None
    seed: int = 0
    kernels: list | None = None
    agents: list = field(default_factory=list)
    demand: Any = None
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

    def all_events(self) -> list[tuple[Event, str]]:
        """Return [(event, source)] for the interventions then the events; interventions with
        neither ``at`` nor ``when`` happen at 0."""
        out = []
        for ev in self.interventions:
            if ev.at is None and ev.when is None:
                ev = Event(**{**ev.__dict__, "at": 0.0})
            out.append((ev, "intervention"))
        out += [(ev, "scenario") for ev in self.events]
        return out

    def describe(self) -> dict:
        """Return a JSON-able description of the scenario (what the run store records)."""
        return {
            "name": self.name, "description": self.description,
            "city": self.city if isinstance(self.city, str) else type(self.city).__name__,
            "duration_s": float(self.duration), "start": self.start.isoformat(),
            "seed": int(self.seed),
            "kernels": [{"name": k.name, "class": _qualname(k), "dt_s": self.kernel_dt(k)}
                        for k in (self.kernels or [])],
            "agents": [{"name": a.name, "class": _qualname(a), "dt_s": self.kernel_dt(a)}
                       for a in self.agents],
            "events": [ev.to_json() | {"source": src} for ev, src in self.all_events()],
            "dt": {k: float(v) for k, v in self.dt.items()},
            "record_interval": self.record_interval, "chunk_records": self.chunk_records,
            "checkpoint_interval": self.checkpoint_interval,
            "demand": _digest(self.demand),
        }

    def fingerprint(self) -> str:
        """Return a hash of what determines the results (a resumed run must match it): the
        same in every process, whatever another library did to :mod:`json`."""
        d = self.describe()
        d.pop("description")
        return hashlib.sha256(canonical_json(d).encode()).hexdigest()


def canonical_json(obj) -> str:
    """Return ``json.dumps(obj, sort_keys=True, default=str)`` written by the standard
    library's C encoder called directly.

    ``json.dumps`` itself is process state: cjio, once imported, sets
    ``json.encoder.c_make_encoder = None`` and ``json.encoder.float`` to a class that writes
    6 decimals, so every later ``json.dumps`` writes ``10.0`` as ``10.000000``. A run started
    in a clean process then could not be resumed in one that had imported cjio (different
    fingerprint), and the other way round.
    """
    try:
        from _json import encode_basestring_ascii, make_encoder
    except ImportError:  # pragma: no cover - CPython always has _json
        return json.dumps(obj, sort_keys=True, default=str)
    # the arguments json.dumps passes for sort_keys=True, default=str and nothing else
    enc = make_encoder({}, str, encode_basestring_ascii, None, ": ", ", ", True, False, True)
    return "".join(enc(obj, 0))


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
            feed({k: getattr(o, k) for k in o.__dataclass_fields__})
        else:
            h.update(repr(o).encode())

    feed(obj)
    return h.hexdigest()[:16]


def _caller_source() -> tuple[str | None, str | None]:
    """Return (path, text) of the first file up the stack outside this package."""
    here = Path(__file__).resolve().parent
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


def id_maps(city, tw=None) -> dict[str, dict[str, int]]:
    """Return {id kind: {id: dense index}} for links, nodes, buildings and sites (and any
    maps the Twin adds in ``id_maps``)."""
    maps = {
        "link": {str(k): i for i, k in enumerate(city.roads.link_ids)},
        "node": {str(k): i for i, k in enumerate(city.roads.node_ids)},
        "building": {str(k): i for i, k in enumerate(city.buildings.ids)},
        "site": {str(k): i for i, k in enumerate(city.sites.ids)},
    }
    extra = getattr(tw, "id_maps", None) if tw is not None else None
    if isinstance(extra, dict):
        maps.update({k: dict(v) for k, v in extra.items() if isinstance(v, dict)})
    return maps


# ---- validation ----------------------------------------------------------------------------
def _positive(value, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ScenarioError(f"{what} must be a number of seconds, not {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ScenarioError(f"{what} must be > 0 s, not {value!r}")
    return v


def validate(sc: Scenario, processes: list, ids: dict[str, dict[str, int]]) -> None:
    """Raise ScenarioError if ``sc`` cannot run with ``processes`` (kernels then agents) on a
    city with id maps ``ids``; return None when it can."""
    duration = _positive(sc.duration, "duration")
    to_ticks(duration, "duration")
    if not isinstance(sc.seed, (int, np.integer)) or sc.seed < 0:
        raise ScenarioError(f"seed must be a non-negative int, not {sc.seed!r}")
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
    kinds: dict[str, str | None] = {}
    for p in processes:
        kinds.update(getattr(p, "event_kinds", {}) or {})
    for i, (ev, src) in enumerate(sc.all_events()):
        _validate_event(ev, f"{src} event {i} ({getattr(ev, 'kind', ev)!r})", duration,
                        kinds, names, ids)


def _validate_event(ev, label, duration, kinds, names, ids) -> None:
    if not isinstance(ev, Event):
        raise ScenarioError(f"{label}: not a twin.Event but {type(ev).__name__}")
    if ev.kind not in kinds:
        handled = ", ".join(sorted(kinds)) or "none"
        raise ScenarioError(f"{label}: no kernel handles events of kind {ev.kind!r} "
                            f"(handled: {handled})")
    if ev.layer is not None and ev.layer not in names:
        raise ScenarioError(f"{label}: unknown layer {ev.layer!r}; kernels: {names}")
    if (ev.at is None) == (ev.when is None):
        raise ScenarioError(f"{label}: give exactly one of at= (a time) or when= (a condition)")
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
    target_kind = kinds.get(ev.kind, EVENT_TARGETS.get(ev.kind))
    if target_kind is not None:
        _resolve_id(ev.target, target_kind, ids, label)
    if ev.when is not None:
        _validate_when(ev.when, label, names, ids)
    try:
        json.dumps(ev.details)
    except TypeError as e:
        raise ScenarioError(f"{label}: details must be JSON-able ({e})") from None


def _resolve_id(target, kind: str, ids, label: str) -> int:
    if kind not in ids:
        raise ScenarioError(f"{label}: the twin has no {kind} ids")
    if target is None:
        raise ScenarioError(f"{label}: needs a target {kind} id")
    idx = ids[kind].get(str(target))
    if idx is None:
        raise ScenarioError(f"{label}: unknown {kind} {target!r} "
                            f"({len(ids[kind])} {kind}s in the twin)")
    return idx


def _validate_when(w, label, names, ids) -> None:
    if not isinstance(w, When):
        raise ScenarioError(f"{label}: when= must be a twin.When, not {type(w).__name__}")
    if w.fn is None:
        if not w.array:
            raise ScenarioError(f"{label}: When needs an array name or fn")
        from .events import _OPS
        if w.op not in _OPS:
            raise ScenarioError(f"{label}: unknown comparison {w.op!r}; use one of "
                                f"{' '.join(_OPS)}")
    if isinstance(w.at, str) and not any(w.at in m for m in ids.values()):
        raise ScenarioError(f"{label}: condition on unknown element {w.at!r}")
    chk = w.checker()
    if chk is None:
        raise ScenarioError(f"{label}: When needs every= (a kernel name or seconds)")
    if isinstance(chk, str):
        if chk not in names:
            raise ScenarioError(f"{label}: condition checked by unknown kernel {chk!r}; "
                                f"kernels: {names}")
    else:
        to_ticks(_positive(chk, f"{label}: every"), f"{label}: every")
