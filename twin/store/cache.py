"""A content-addressed cache of scenario inputs that are slow to build (a district's city,
generated demand), so that running a scenario again skips reading and generating them.

An entry is keyed by a SHA-256 digest of everything its value is made from: the content of
the input files (:func:`files_digest`), the source of the code that builds it
(:func:`source_digest`: every ``.py`` file of the packages) and the build arguments. A
change to any of them gives another key, so a stale entry is never read (it is pruned after
:data:`KEEP` newer entries of its kind). Entries are pickles under ``out/cache/`` (or
``$TWIN_CACHE_DIR``), written atomically; they are read back only from that local folder,
as any file the user's own code writes. ``TWIN_CACHE=off`` turns the cache off; an entry
that cannot be read is rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import sys
from pathlib import Path

import numpy as np

#: entries kept per kind (the newest by modification time)
KEEP = 6


def cache_dir(root=None) -> Path | None:
    """Return the cache folder (``root``, ``$TWIN_CACHE_DIR`` or ``out/cache``), or None when
    ``$TWIN_CACHE`` is ``off``/``0``/``no``."""
    if os.environ.get("TWIN_CACHE", "").strip().lower() in ("off", "0", "no", "false"):
        return None
    return Path(root or os.environ.get("TWIN_CACHE_DIR") or Path("out") / "cache")


def files_digest(paths) -> str:
    """Return the SHA-256 hex digest of the names and contents of ``paths`` (in sorted
    order; modification times do not count)."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def source_digest(*modules) -> str:
    """Return the digest of the source of ``modules`` (packages: every ``.py`` file under
    them), with the Python and numpy versions (pickles follow them)."""
    paths = []
    for m in modules:
        f = Path(m.__file__)
        paths += sorted(f.parent.rglob("*.py")) if f.name == "__init__.py" else [f]
    h = hashlib.sha256(f"{sys.version_info[:3]} numpy {np.__version__}".encode())
    for p in paths:
        h.update(str(p.relative_to(p.parents[1])).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def key_of(*parts) -> str:
    """Return a digest of ``parts`` (strings, numbers, tuples, dicts of them)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def cached(kind: str, key: str, build, root=None):
    """Return the value cached under ``kind``/``key``, or ``build()`` (then cached).

    kind : short name of what is cached ("city", "trips"); key : :func:`key_of` the inputs.
    """
    folder = cache_dir(root)
    if folder is None:
        return build()
    path = folder / f"{kind}-{key[:32]}.pkl"
    if path.exists():
        try:
            with open(path, "rb") as f:
                stored_key, value = pickle.load(f)
            if stored_key == key:
                os.utime(path)  # recently used: pruned last
                return value
        except Exception:  # unreadable (truncated, other versions): rebuilt below
            pass
    value = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump((key, value), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        _prune(folder, kind)
    except OSError:  # a read-only place: the cache is an optimisation only
        pass
    return value


def _prune(folder: Path, kind: str) -> None:
    entries = sorted(folder.glob(f"{kind}-*.pkl"), key=lambda p: p.stat().st_mtime,
                     reverse=True)
    for p in entries[KEEP:]:
        p.unlink(missing_ok=True)


def district_key(name: str) -> str:
    """Return the key of pilot district ``name``: its asset files (every file of its folder)
    and the source of :mod:`cim`, which reads them."""
    import cim

    folder = importlib.import_module("cim.districts").ASSETS / name
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return key_of("district", name, files_digest(files), source_digest(cim))


def load_district(name: str, root=None, key: str | None = None):
    """Return :func:`cim.load_district` ``(name)``, from the cache when its files and the
    reader's source are unchanged (``key``: :func:`district_key` if already known)."""
    import cim

    return cached("city", key or district_key(name), lambda: cim.load_district(name), root)
