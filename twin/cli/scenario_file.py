"""Scenario scripts: load a ``scenarios/*.py`` file, run it into a run store, print its KPIs.

A scenario script is a short Python file with a docstring (the brief), a function
``scenario(quick=False) -> twin.Scenario`` and, to run as ``python FILE``::

    if __name__ == "__main__":
        raise SystemExit(twin.scenario_file.main(__file__))

``twin run FILE`` and ``python FILE`` take the same options (``--out``, ``--resume``,
``--overwrite``, ``--quick``, ``-q``). A script that is a what-if may say what it is
compared with: ``BASELINE = "other_scenario.py"`` (a script next to it; its run store is
shared with that script's own runs) or a function ``baseline(quick=False) -> twin.Scenario``
(stored as ``<stem>-baseline.zarr``). After the run, the KPIs are compared with the baseline's
run, which is run first when its store is missing or holds another version of it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from ..errors import ScenarioError, StoreError, TwinError

EXIT_OK, EXIT_INVALID = 0, 1
#: Where runs go by default: ``<RUNS_DIR>/<script stem>.zarr`` (``-quick.zarr`` when quick).
RUNS_DIR = Path("out/runs")


def load_module(path) -> ModuleType:
    """Return the module of scenario script ``path`` (imported by path, not by package)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ScenarioError(f"scenario file {path} not found")
    if path.suffix != ".py":
        raise ScenarioError(f"scenario file {path} is not a Python script (.py)")
    name = f"twin_scenario_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def sibling(script, name: str) -> ModuleType:
    """Return the scenario module ``name`` (``"x"`` or ``"x.py"``) next to ``script``; for
    variants of a scenario: ``baseline = sibling(__file__, "lihu_morning_peak")``."""
    path = Path(script).resolve().parent / name
    return load_module(path if path.suffix == ".py" else path.with_suffix(".py"))


def build_scenario(path, quick: bool = False, function: str = "scenario"):
    """Return the ``twin.Scenario`` that scenario script ``path`` describes (``function``:
    the script's function that makes it, ``scenario`` or ``baseline``)."""
    from ..core.scenario import Scenario

    path = Path(path).resolve()
    module = load_module(path)
    make = getattr(module, function, None)
    if not callable(make):
        raise ScenarioError(f"{path.name} has no function {function}(quick=False) returning a "
                            "twin.Scenario")
    params = inspect.signature(make).parameters
    sc = make(quick=quick) if "quick" in params else make()
    if quick and "quick" not in params:
        print(f"twin: note: {path.name} has no quick version; running it in full",
              file=sys.stderr)
    if not isinstance(sc, Scenario):
        raise ScenarioError(f"{path.name}: {function}() returned {type(sc).__name__}, not a "
                            "twin.Scenario")
    if sc.name == "scenario":
        sc.name = path.stem
    # the provenance records the script that was run (a variant builds on its baseline's
    # function, whose file would otherwise be recorded)
    sc.source_path, sc.source = str(path), path.read_text(encoding="utf-8")
    return sc


def default_out(path, quick: bool = False) -> Path:
    """Return the default run store of scenario script ``path``."""
    return RUNS_DIR / f"{Path(path).stem}{'-quick' if quick else ''}.zarr"


def _known_errors() -> tuple[type, ...]:
    from cim import CIMError

    known: tuple[type, ...] = (TwinError, CIMError)
    try:
        from agents import AgentsError
        known += (AgentsError,)
    except ImportError:
        pass
    return known


def _run(path, out, *, resume, overwrite, progress, quick):
    from ..core import runtime
    from ..store import RunStore

    sc = build_scenario(path, quick)
    out = Path(out) if out is not None else default_out(path, quick)
    RunStore.refuse_existing(out, resume or overwrite, ("--overwrite", "--resume"))
    return runtime.run(sc, out, resume=resume, overwrite=overwrite, progress=progress)


def _baseline_run(path, module, quick, progress):
    """Return the baseline run of a what-if script, or None when it names none (the
    baseline is run first when its store is missing or holds another version of it)."""
    from ..core import runtime

    if callable(getattr(module, "baseline", None)):
        sc = build_scenario(path, quick, "baseline")
        out = default_out(path, quick).with_name(
            default_out(path, quick).stem + "-baseline.zarr")
    elif getattr(module, "BASELINE", None):
        base = Path(path).resolve().parent / module.BASELINE
        sc, out = build_scenario(base, quick), default_out(base, quick)
    else:
        return None
    try:
        return runtime.run(sc, out, resume=True, progress=progress)
    except StoreError:  # another version of the baseline is stored there: run it afresh
        return runtime.run(sc, out, overwrite=True, progress=progress)


def run_file(file, *, out=None, resume: bool = False, overwrite: bool = False,
             progress: bool = True, quick: bool = False) -> int:
    """Run scenario script ``file`` into a run store, print its KPIs; return the exit status.

    out : run store path (default ``out/runs/<stem>.zarr``, ``<stem>-quick.zarr`` when
        ``quick``). resume, overwrite : see :func:`twin.run`. progress : tqdm bar of
        simulated time. quick : the script's shortened version.

    A scenario that cannot run (unknown district, link or node, negative duration…) prints
    one line ``twin: <what is wrong>`` on stderr and returns 1, before anything is written.
    """
    from ..analysis import compare, kpis

    try:
        run = _run(file, out, resume=resume, overwrite=overwrite, progress=progress,
                   quick=quick)
        result = kpis.compute(run)
        print(kpis.format_table(result, title=f"{run.path}"))
        base = _baseline_run(file, load_module(file), quick, progress)
        if base is not None:
            print()
            print(compare.format_comparison(kpis.compute(base), result,
                                            names=(base.path.stem, run.path.stem)))
            png = compare.plot(base, run)
            print(f"plot: {png}")
    except _known_errors() as e:
        print(f"twin: {e}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def make_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """Return the parser of a scenario script's options (the same as ``twin run``'s)."""
    p = argparse.ArgumentParser(prog=prog, description="run this scenario into a run store")
    p.add_argument("--out", help="run store path (default: out/runs/<scenario>.zarr)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run store")
    p.add_argument("--quick", action="store_true", help="shortened version of the scenario")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def main(file, argv=None) -> int:
    """Run scenario script ``file`` with command-line options ``argv`` (default sys.argv);
    return the exit status. For ``if __name__ == "__main__"`` in scenario scripts."""
    args = make_parser(Path(file).name).parse_args(argv)
    try:
        return run_file(file, out=args.out, resume=args.resume, overwrite=args.overwrite,
                        progress=not args.quiet, quick=args.quick)
    except KeyboardInterrupt:
        print("twin: interrupted (continue with --resume)", file=sys.stderr)
        return 130
