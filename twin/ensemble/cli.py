"""``twin run FILE --members N [--vary NAME=V1,V2…] [--workers W | --scheduler ADDRESS]``:
an ensemble of a scenario script into one store, and its KPI spread printed."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from ..errors import ScenarioError

EXIT_OK, EXIT_INVALID = 0, 1


def parse_vary(items) -> dict:
    """Return {name: [values]} from ``["name=v1,v2", …]`` (values as Python literals where
    they are, else text)."""
    out = {}
    for item in items or ():
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ScenarioError(f"--vary {item!r}: expected NAME=V1,V2,...")
        vals = []
        for v in values.split(","):
            try:
                vals.append(ast.literal_eval(v.strip()))
            except (ValueError, SyntaxError):
                vals.append(v.strip())
        out[name.strip()] = vals
    return out


def default_out(path, quick: bool = False) -> Path:
    from ..cli.scenario_file import RUNS_DIR

    return RUNS_DIR / f"{Path(path).stem}{'-quick' if quick else ''}-ensemble.zarr"


def run_file(file, *, members=None, vary=None, workers=None, scheduler=None, batch=None,
             out=None, resume=False, overwrite=False, progress=True, quick=False) -> int:
    """Run the ensemble of scenario script ``file``, print its KPIs (mean, spread,
    convergence); return the exit status (1 with one line ``twin: …`` when it cannot run)."""
    from ..analysis import ensemble as _ens
    from ..cli.scenario_file import _known_errors
    from .run import run_ensemble

    try:
        path = Path(file)
        if not path.is_file():
            raise ScenarioError(f"scenario file {path} not found")
        out = Path(out) if out is not None else default_out(path, quick)
        run = run_ensemble(str(path), members=members, vary=parse_vary(vary), out=out,
                           workers=workers, scheduler=scheduler, batch=batch, quick=quick,
                           resume=resume, overwrite=overwrite, progress=progress)
        print(_ens.format_ensemble(run))
    except _known_errors() as e:
        print(f"twin: {e}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK
