"""Package layout: no import cycles among the modules of cim/, twin/, agents/ and assets/;
cim imports nothing of twin or agents (the data flows cim → twin → agents); generic twin code
imports no kernel and a kernel no other kernel (kernels meet on the bus); no module is much
over 500 lines."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cim", "twin", "agents", "assets")
MAX_LINES = 520


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


def _kernel(module: str) -> str | None:
    """Return the kernel package a module belongs to (``twin.kernels.<name>…``), or None."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["twin", "kernels"] else None


def test_generic_twin_code_imports_no_kernel():
    graph = _graph()
    assert {"twin.core.runtime", "twin.kernels.traffic.process"} <= set(graph)
    bad = {m: sorted(t for t in deps if _kernel(t)) for m, deps in graph.items()
           if m.startswith("twin") and not _kernel(m)}
    assert {m: d for m, d in bad.items() if d} == {}


def test_kernels_do_not_import_each_other():
    bad = {m: sorted(t for t in deps if _kernel(t) and _kernel(t) != _kernel(m))
           for m, deps in _graph().items() if _kernel(m)}
    assert {m: d for m, d in bad.items() if d} == {}


def test_modules_stay_small():
    long = {m: n for m, f in _modules().items()
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
