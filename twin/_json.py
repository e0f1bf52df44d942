"""JSON helpers shared by the runtime, the store and the CLI (one sanitiser for the package).

:func:`json_safe` turns numpy scalars/arrays (and anything else, as ``str``) into JSON-able
Python; :func:`canonical_json` writes sorted JSON with the C encoder called directly (see its
docstring for why); :func:`standard_json` undoes, for a block, what cjio does to :mod:`json`.
"""

from __future__ import annotations

import contextlib
import json
import math

import numpy as np


def to_builtin(o):
    """Return ``o`` as a JSON-able builtin: numpy scalars as Python numbers, arrays as lists,
    anything else as ``str``. The ``default=`` of every ``json.dumps`` in the package."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def json_safe(obj, *, nan_as_none: bool = False):
    """Return ``obj`` made JSON-able (numpy → Python; NaN/inf → None when ``nan_as_none``)."""
    out = json.loads(json.dumps(obj, default=to_builtin))
    return _drop_nan(out) if nan_as_none else out


def _drop_nan(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, list):
        return [_drop_nan(v) for v in o]
    if isinstance(o, dict):
        return {k: _drop_nan(v) for k, v in o.items()}
    return o


def canonical_json(obj) -> str:
    """Return ``json.dumps(obj, sort_keys=True, default=to_builtin)`` written by the standard
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
        return json.dumps(obj, sort_keys=True, default=to_builtin)
    # the arguments json.dumps passes for sort_keys=True and a default, nothing else
    enc = make_encoder({}, to_builtin, encode_basestring_ascii, None, ": ", ", ", True, False,
                       True)
    return "".join(enc(obj, 0))


_MISSING = object()


@contextlib.contextmanager
def standard_json():
    """Undo, inside the block, what cjio does to :mod:`json` when imported.

    cjio sets ``json.encoder.c_make_encoder = None`` and shadows ``float`` in
    ``json.encoder`` with a class written with 6 decimals, for the whole process. Every JSON
    text of a run (zarr's metadata and attributes, checkpoints, the events' details) would
    then depend on whether something imported cjio before: a run resumed in such a process
    would differ from the same run uninterrupted (``0.5`` vs ``0.500000``). The patch is put
    back afterwards.
    """
    enc = json.encoder
    shadow = enc.__dict__.get("float", _MISSING)
    c_encoder = enc.c_make_encoder
    try:
        from _json import make_encoder
    except ImportError:  # pragma: no cover - CPython always has _json
        make_encoder = None
    enc.__dict__.pop("float", None)
    enc.c_make_encoder = make_encoder
    try:
        yield
    finally:
        enc.c_make_encoder = c_encoder
        if shadow is not _MISSING:
            enc.float = shadow
