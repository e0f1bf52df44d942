"""Kernel state <-> zarr: the arrays of a checkpoint, written incrementally.

:func:`encode_state` writes a state dict (arrays, scalars, strings, bytes, nested dicts or
anything picklable) under a group path and returns the tags :func:`decode_state` needs to read
it back. Given the ``digests`` of what a checkpoint slot already holds, arrays whose bytes did
not change since that slot was last written are not written again (signal plans, static
tables, a quiet kernel's state): a checkpoint costs what changed.
"""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import zarr


def _write_array(g: zarr.Group, name: str, v: np.ndarray, **kw):
    """Write ``v`` as one chunk (strings as zarr's variable-length string type)."""
    text = v.dtype.kind in "UOT"
    try:
        arr = g[name]
    except KeyError:
        arr = None
    if (isinstance(arr, zarr.Array) and arr.shape == v.shape and not kw
            and (arr.dtype == v.dtype or text and arr.dtype.kind == "T")):
        arr[...] = v.astype(str) if text else v
        return arr
    arr = g.create_array(name, shape=v.shape, dtype=str if text else v.dtype,
                         chunks=tuple(max(1, s) for s in v.shape) if v.ndim else "auto",
                         overwrite=True, **kw)
    arr[...] = v.astype(str) if text else v
    return arr


# ---- kernel state <-> zarr -------------------------------------------------------------------
def _digest(v: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{v.dtype.str}{v.shape}".encode())
    h.update(np.ascontiguousarray(v).reshape(-1).view(np.uint8) if v.dtype.kind != "O"
             else repr(v.tolist()).encode())
    return h.hexdigest()


def _write_if_changed(g, path, v, digests):
    if digests is None:
        _write_array(g, path, v)
        return
    d = _digest(v)
    if digests.get(path) != d or path not in g:
        _write_array(g, path, v)
        digests[path] = d


def encode_state(g: zarr.Group, prefix: str, state: dict, digests: dict | None = None) -> dict:
    """Write ``state`` (a dict of arrays, scalars, str, bytes, nested dicts, or anything
    picklable) under ``g/prefix``; return the tags :func:`decode_state` needs. ``digests``
    ({path: digest} of what ``g`` holds, updated here): arrays whose digest is unchanged are
    not rewritten."""
    tags: dict = {}
    for key, v in state.items():
        key = str(key)
        path = f"{prefix}/{key}"
        if isinstance(v, dict):
            tags[key] = {"dict": encode_state(g, path, v, digests)}
        elif isinstance(v, (bool, int, float, str)) or v is None:
            tags[key] = {"json": v}
        elif isinstance(v, np.ndarray) and v.dtype.kind in "biufc":
            _write_if_changed(g, path, v, digests)
            tags[key] = {"array": 1}
        elif isinstance(v, np.ndarray) and v.dtype.kind in "UT" or (
                isinstance(v, np.ndarray) and v.dtype == object
                and all(isinstance(x, str) for x in v.ravel())):
            _write_if_changed(g, path, v, digests)
            tags[key] = {"str": v.dtype.str if v.dtype.kind == "U" else "O"}
        elif isinstance(v, np.generic):
            tags[key] = {"scalar": v.dtype.str, "json": v.item()}
        else:
            raw = v if isinstance(v, bytes) else pickle.dumps(v, protocol=5)
            _write_if_changed(g, path, np.frombuffer(raw, np.uint8), digests)
            tags[key] = {"bytes" if isinstance(v, bytes) else "pickle": 1}
    return tags


def decode_state(g: zarr.Group, prefix: str, tags: dict) -> dict:
    """Return the state dict written by :func:`encode_state`."""
    out: dict = {}
    for key, tag in tags.items():
        path = f"{prefix}/{key}"
        if "dict" in tag:
            out[key] = decode_state(g, path, tag["dict"])
        elif "scalar" in tag:
            out[key] = np.array(tag["json"], dtype=np.dtype(tag["scalar"]))[()]
        elif "json" in tag:
            out[key] = tag["json"]
        elif "array" in tag:
            out[key] = g[path][...]
        elif "str" in tag:
            v = g[path][...]
            out[key] = v.astype(object if tag["str"] == "O" else tag["str"])
        else:
            raw = g[path][...].tobytes()
            out[key] = raw if "bytes" in tag else pickle.loads(raw)
    return out


