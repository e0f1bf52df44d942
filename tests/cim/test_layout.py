"""Package layout: no import cycles among the modules of cim/, agents/ and assets/, and cim
imports nothing of twin or agents (the data flows cim → twin → agents)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cim", "agents", "assets")


def _modules() -> dict[str, Path]:
    """Return {dotted module name: file} of every module of PACKAGES."""
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _imports(name: str, path: Path, known) -> set[str]:
    """Return the names of all modules ``name`` imports, at any depth of its code (lazy
    imports in functions count: they are dependencies too). ``from x import y`` counts as an
    import of module ``x.y`` when that is a module, else of ``x``."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in known and t != name:
                out.add(t)
            elif t.split(".")[0] in ("twin", "agents", "cim", "assets"):
                out.add(t)  # outside PACKAGES (or unresolved): kept for the layering check
    return out


@cache
def _graph() -> dict[str, set[str]]:
    """Return {module: the modules it imports} over PACKAGES (cached: read-only use)."""
    mods = _modules()
    return {m: _imports(m, f, mods) for m, f in mods.items()}


def _cycles(graph) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph = _graph()
    assert {"cim.model.city", "cim.formats.cityjson", "agents.trips"} <= set(graph)
    assert _cycles(graph) == []


def test_cim_imports_neither_twin_nor_agents():
    bad = {m: sorted(t for t in deps if t.split(".")[0] in ("twin", "agents"))
           for m, deps in _graph().items() if m.startswith("cim")}
    assert {m: d for m, d in bad.items() if d} == {}
