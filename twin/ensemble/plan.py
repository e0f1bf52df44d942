"""What an ensemble runs: its members (parameters, seed), grouped into tasks.

A :class:`Recipe` says how to make the scenario of one parameter combination: a
:class:`~twin.Scenario` as it is, a function ``scenario(quick=False, **params)``, or a scenario
script (its ``scenario`` function). :func:`make_plan` checks ``vary`` against the function's
signature, builds each combination's scenario once (validating it), and lays the members out:

- combination c (``itertools.product`` of the ``vary`` values, in the dict's order) has the
  members of its scenario (``members=N`` seeds ``seed + r``, or ``seeds=[…]``; a scenario
  that already has K members keeps them); global member ``offset_c + r``;
- a task runs ``batch`` consecutive members of one combination as one batched scenario
  (:func:`subset`); the store's ``member`` chunk divides every task's start and length, so
  every chunk has exactly one writer.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import inspect
import itertools
import math
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any

from .._json import canonical_json, json_safe
from ..core.scenario import PerMember, Scenario, per_member
from ..errors import ScenarioError

#: Members that one task batches at most by default (batched kernels only).
MAX_BATCH = 16
_CACHE: dict[str, Scenario] = {}
_CACHE_SIZE = 4


@dataclass
class Recipe:
    """How to make a combination's scenario: ``kind`` "scenario" (``scenario``), "function"
    (``function(quick=…, **params)``) or "file" (``path``'s function ``function_name``)."""

    kind: str
    scenario: Scenario | None = None
    function: Any = None
    path: str | None = None
    function_name: str = "scenario"
    quick: bool = False

    @classmethod
    def of(cls, obj, quick: bool = False, function_name: str = "scenario") -> Recipe:
        if isinstance(obj, Scenario):
            return cls("scenario", scenario=obj, quick=quick)
        if isinstance(obj, (str, Path)):
            return cls("file", path=str(Path(obj).resolve()), quick=quick,
                       function_name=function_name)
        if callable(obj):
            return cls("function", function=obj, quick=quick)
        raise ScenarioError(f"an ensemble needs a twin.Scenario, a scenario function or a "
                            f"scenario file, not {type(obj).__name__}")

    def maker(self):
        """Return the function that makes a scenario (None for a Scenario)."""
        if self.kind == "function":
            return self.function
        if self.kind == "file":
            from ..cli.scenario_file import load_module

            fn = getattr(load_module(self.path), self.function_name, None)
            if not callable(fn):
                raise ScenarioError(f"{Path(self.path).name} has no function "
                                    f"{self.function_name}(quick=False, ...)")
            return fn
        return None

    def key(self, params: dict) -> str:
        fn = self.function
        what = (self.path if self.kind == "file" else
                f"{getattr(fn, '__module__', '')}:{getattr(fn, '__qualname__', fn)}"
                if self.kind == "function" else str(id(self.scenario)))
        return canonical_json([self.kind, what, self.function_name, self.quick, params])

    def build(self, params: dict) -> Scenario:
        """Return the scenario of parameters ``params`` (cached per process)."""
        if self.kind == "scenario":
            return self.scenario
        key = self.key(params)
        if key in _CACHE:
            return _CACHE[key]
        if self.kind == "file":
            from ..cli.scenario_file import build_scenario

            # build_scenario names the run after the script and records its source
            sc = _call_file(self, params, build_scenario)
        else:
            fn = self.function
            kw = dict(params)
            if "quick" in inspect.signature(fn).parameters:
                kw["quick"] = self.quick
            sc = fn(**kw)
        if not isinstance(sc, Scenario):
            raise ScenarioError(f"the scenario function returned {type(sc).__name__}, not a "
                                "twin.Scenario")
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = sc
        return sc


def _call_file(recipe: Recipe, params: dict, build_scenario) -> Scenario:
    if not params:
        return build_scenario(recipe.path, recipe.quick, recipe.function_name)
    fn = recipe.maker()
    kw = dict(params)
    if "quick" in inspect.signature(fn).parameters:
        kw["quick"] = recipe.quick
    sc = fn(**kw)
    if isinstance(sc, Scenario):
        path = Path(recipe.path)
        if sc.name == "scenario":
            sc.name = path.stem
        sc.source_path, sc.source = str(path), path.read_text(encoding="utf-8")
    return sc


def check_vary(recipe: Recipe, vary: dict | None) -> dict:
    """Return ``vary`` as {param: list of values}; ScenarioError when a parameter is not one
    the scenario function takes, or has no values (before anything runs)."""
    vary = dict(vary or {})
    if not vary:
        return {}
    fn = recipe.maker()
    if fn is None:
        raise ScenarioError("vary= needs a scenario function or a scenario file whose "
                            "scenario(quick=False, **params) takes the parameters, not a "
                            "twin.Scenario")
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = [n for n, p in params.items() if p.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    out = {}
    for name, values in vary.items():
        if name == "quick" or (name not in named and not takes_any):
            takes = ", ".join(n for n in named if n != "quick") or "none"
            raise ScenarioError(f"vary: {getattr(fn, '__name__', 'scenario')}() has no "
                                f"parameter {name!r} (it takes: {takes})")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ScenarioError(f"vary: {name!r} needs a list of values, not {values!r}")
        values = list(values)
        if not values:
            raise ScenarioError(f"vary: {name!r} has no values")
        out[name] = values
    return out


def expand(base: Scenario, n: int | None, seeds: list | None) -> Scenario:
    """Return ``base`` with its members: ``n`` seeds ``seed + r`` (or ``seeds``) for a
    one-member scenario; a scenario with K members keeps them."""
    if seeds is not None:
        n = len(seeds) if n is None else n
        if n != len(seeds):
            raise ScenarioError(f"members={n} but {len(seeds)} seeds")
    if int(base.members) > 1:
        if n is not None and n != int(base.members) or seeds is not None:
            raise ScenarioError(f"the scenario already has {base.members} members; leave "
                                "members= and seeds= out or make it a one-member scenario")
        return base
    n = 1 if n is None else int(n)
    if n < 1:
        raise ScenarioError(f"members must be >= 1, not {n}")
    out = copy.copy(base)
    out.members = n
    out.seeds = [int(s) for s in seeds] if seeds is not None else [int(base.seed) + r
                                                                   for r in range(n)]
    return out


def subset(sc: Scenario, ks: list[int]) -> Scenario:
    """Return members ``ks`` of ``sc`` as one batched scenario (member i of it is member
    ``ks[i]`` of ``sc``: its seed, its per-member inputs, its events)."""
    seeds = sc.member_seeds()
    out = copy.copy(sc)
    out.members, out.seeds = len(ks), [seeds[k] for k in ks]
    out.seed = out.seeds[0]
    out.inputs = {name: per_member([v[k] for k in ks]) if isinstance(v, PerMember) else v
                  for name, v in sc.inputs.items()}
    where = {k: i for i, k in enumerate(ks)}

    def mine(evs):
        return [e if e.member is None else dataclasses.replace(e, member=where[e.member])
                for e in evs if e.member is None or e.member in where]
    out.events, out.interventions = mine(sc.events), mine(sc.interventions)
    return out


@dataclass
class Task:
    """Members ``m0 … m1 − 1`` (global) = members ``ks`` of combination ``combo``."""

    index: int
    combo: int
    m0: int
    m1: int
    ks: list[int]
    fingerprint: str = ""

    def to_json(self) -> list:
        return [self.index, self.combo, self.m0, self.m1, self.ks, self.fingerprint]

    @classmethod
    def from_json(cls, v) -> Task:
        return cls(int(v[0]), int(v[1]), int(v[2]), int(v[3]), [int(k) for k in v[4]], v[5])


@dataclass
class Plan:
    """An ensemble: ``combos`` [params], ``bases`` (each combination's expanded scenario,
    driver side), ``members`` [{member, combo, params, seed}], ``tasks``, ``chunk``
    (members per stored chunk), ``fingerprint``."""

    recipe: Recipe
    vary: dict
    n: int | None
    seeds: list | None
    combos: list[dict]
    bases: list[Scenario]
    members: list[dict] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    chunk: int = 1
    fingerprint: str = ""

    @property
    def n_members(self) -> int:
        return len(self.members)

    def layout(self, batch: int) -> None:
        """Group the members into tasks of ``batch`` members of one combination each."""
        self.tasks = []
        offset = 0
        for c, base in enumerate(self.bases):
            k = int(base.members)
            for r0 in range(0, k, batch):
                ks = list(range(r0, min(k, r0 + batch)))
                sub = subset(base, ks)
                self.tasks.append(Task(len(self.tasks), c, offset + r0, offset + ks[-1] + 1,
                                       ks, sub.fingerprint()))
            offset += k
        self.chunk = chunk_of(self.tasks)

    def task_scenario(self, task: Task) -> Scenario:
        return subset(self.bases[task.combo], task.ks)


def chunk_of(tasks: list[Task]) -> int:
    """Return the largest member chunk that divides every task's start and length (the last
    task may end in a partial chunk at the end of the array)."""
    parts = [t.m1 - t.m0 for t in tasks[:-1]] + [t.m0 for t in tasks if t.m0]
    return reduce(math.gcd, parts) if parts else max(1, tasks[0].m1 - tasks[0].m0)


def make_plan(recipe: Recipe, *, members: int | None = None, vary: dict | None = None,
              seeds: list | None = None) -> Plan:
    """Return the :class:`Plan` (tasks not laid out yet: :meth:`Plan.layout`); every
    combination's scenario is built and validated here, before anything runs."""
    from ..core.simulation import Simulation

    vary = check_vary(recipe, vary)
    names = list(vary)
    combos = [dict(zip(names, vals)) for vals in itertools.product(*vary.values())] or [{}]
    bases, out = [], []
    for c, params in enumerate(combos):
        base = expand(recipe.build(params), members, seeds)
        Simulation(base)  # validates (ScenarioError before anything is written)
        bases.append(base)
        for r, s in enumerate(base.member_seeds()):
            out.append({"member": len(out), "combo": c, "params": json_safe(params),
                        "seed": int(s), "local": r})
    plan = Plan(recipe, vary, members, seeds, combos, bases, out)
    h = hashlib.sha256(canonical_json({
        "combos": [b.fingerprint() for b in bases], "params": json_safe(combos)}).encode())
    plan.fingerprint = h.hexdigest()
    return plan


def default_batch(plan: Plan, n_workers: int) -> int:
    """Members per task: 1 unless every kernel and agent of the scenario batches members;
    then enough to give each worker about one task per combination (at most MAX_BATCH)."""
    base = plan.bases[0]
    procs = list(base.kernels) + list(base.agents)
    if not all(getattr(p, "batched", False) for p in procs):
        return 1
    per_combo = max(int(b.members) for b in plan.bases)
    return max(1, min(MAX_BATCH, math.ceil(per_combo / max(1, n_workers))))
