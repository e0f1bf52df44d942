"""The tables of a pandapower JSON network (what ``pandapower.to_json`` writes, 2.x and 3.x),
decoded without pandas into :class:`Frame` objects of numpy columns.

A network file is ``{"_module": "pandapower.auxiliary", "_class": "pandapowerNet", "_object":
{table: {"_module": "pandas.core.frame", "_class": "DataFrame", "_object": "<pandas JSON>",
"orient": "split", "dtype": {...}}, "f_hz": 50.0, "sn_mva": 1.0, ...}}``; the pandas JSON is
``{"columns": [...], "index": [...], "data": [[...], ...]}`` (orient split; ``columns`` and
``index`` orients are read too). Very old files (a plain dict of tables) are read alike.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import FormatError, SchemaError

#: tables a power flow ignores (results, costs, measurements, std types, controllers…)
_PASSIVE_PREFIXES = ("res_", "_")
_PASSIVE = {"measurement", "pwl_cost", "poly_cost", "controller", "group", "std_types",
            "user_pf_options", "bus_geodata", "line_geodata", "characteristic",
            "trafo_characteristic_table", "shunt_characteristic_table",
            "q_capability_curve_table", "q_capability_characteristic", "version",
            "format_version", "converged", "OPF_converged", "name", "f_hz", "sn_mva",
            "substation", "fuse"}


class Frame:
    """One decoded table: ``index`` (n,) int64 and ``cols`` {name: (n,) object array}."""

    def __init__(self, name: str, index: np.ndarray, cols: dict[str, np.ndarray]):
        self.name = name
        self.index = index
        self.cols = cols

    def __len__(self) -> int:
        return len(self.index)

    def has(self, col: str) -> bool:
        return col in self.cols

    def obj(self, col: str) -> np.ndarray:
        """(n,) object column; all None when absent."""
        c = self.cols.get(col)
        return np.full(len(self), None, object) if c is None else c

    def num(self, col: str, default: float = np.nan) -> np.ndarray:
        """(n,) float64 column (None -> NaN); ``default`` everywhere when absent."""
        c = self.cols.get(col)
        if c is None:
            return np.full(len(self), float(default))
        try:
            return np.array([np.nan if v is None else v for v in c.tolist()], np.float64)
        except (TypeError, ValueError):
            bad = next(v for v in c.tolist() if not _is_num(v))
            raise SchemaError(f"{self.name}.{col}: {bad!r} is not a number",
                              obj_id=self.name) from None

    def flag(self, col: str, default: bool) -> np.ndarray:
        """(n,) bool column (None / NaN -> ``default``)."""
        c = self.cols.get(col)
        if c is None:
            return np.full(len(self), default)
        return np.array([default if v is None or (isinstance(v, float) and v != v) else
                         bool(v) for v in c.tolist()], bool)

    def text(self, col: str, default: str = "") -> np.ndarray:
        """(n,) object str column (None / NaN -> ``default``)."""
        c = self.cols.get(col)
        if c is None:
            return np.full(len(self), default, object)
        return _obj_array([default if v is None or (isinstance(v, float) and v != v)
                           else str(v) for v in c.tolist()])


def _is_num(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _frame(name: str, obj: dict, path) -> Frame:
    inner = obj.get("_object", "")
    orient = obj.get("orient", "split" if isinstance(inner, str) else "columns")
    try:
        data = json.loads(inner) if isinstance(inner, str) else inner
    except json.JSONDecodeError as e:
        raise FormatError(f"table '{name}': broken pandas JSON ({e.msg})", path=path,
                          obj_id=name) from None
    try:
        if orient == "split":
            cols = [str(c) for c in data.get("columns", [])]
            index = list(data.get("index", []))
            rows = data.get("data", [])
            if any(len(r) != len(cols) for r in rows):
                raise SchemaError(f"table '{name}': a row does not have {len(cols)} values",
                                  path=path, obj_id=name)
            by_col = list(zip(*rows)) if rows else [()] * len(cols)
            columns = {c: _obj_array(list(v)) for c, v in zip(cols, by_col)}
        elif orient == "columns":
            keys = sorted({k for col in data.values() for k in col}, key=_idx_key)
            index = keys
            columns = {str(c): _obj_array([col.get(k) for k in keys]) for c, col in
                       data.items()}
        elif orient == "index":
            index = sorted(data, key=_idx_key)
            names = list(dict.fromkeys(c for row in data.values() for c in row))
            columns = {str(c): _obj_array([data[k].get(c) for k in index]) for c in names}
        else:
            raise SchemaError(f"table '{name}': pandas orient {orient!r} is not supported",
                              path=path, obj_id=name)
        idx = np.array([int(float(k)) for k in index], np.int64)
    except (AttributeError, TypeError, ValueError):
        raise SchemaError(f"table '{name}' is not a pandas DataFrame in JSON", path=path,
                          obj_id=name) from None
    return Frame(name, idx, columns)


def _idx_key(k):
    try:
        return (0, float(k))
    except (TypeError, ValueError):
        return (1, str(k))


def _obj_array(values: list) -> np.ndarray:
    a = np.empty(len(values), object)
    for k, v in enumerate(values):
        a[k] = v
    return a


def decode(raw: bytes, path) -> tuple[dict[str, Frame], dict]:
    """Return ({table name: Frame}, {scalar name: value}) of a pandapower JSON network."""
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = getattr(e, "lineno", None)
        raise FormatError(f"broken JSON: {getattr(e, 'msg', e)}", path=path, line=line) \
            from None
    if not isinstance(doc, dict):
        raise FormatError("not a pandapower network (the JSON is not an object)", path=path)
    obj = doc.get("_object", doc) if doc.get("_class") == "pandapowerNet" else doc
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as e:
            raise FormatError(f"broken JSON in the network object: {e.msg}", path=path) \
                from None
    if not isinstance(obj, dict) or "bus" not in obj:
        raise FormatError("not a pandapower network (no 'bus' table)", path=path)
    frames: dict[str, Frame] = {}
    scalars: dict = {}
    for name, v in obj.items():
        if isinstance(v, dict) and v.get("_class") in ("DataFrame", "GeoDataFrame"):
            frames[name] = _frame(name, v, path)
        elif isinstance(v, str) and v.lstrip().startswith("{") and name not in _PASSIVE \
                and not name.startswith(_PASSIVE_PREFIXES):
            # pre-2.0 files: tables as bare pandas JSON strings
            frames[name] = _frame(name, {"_object": v, "orient": "columns"}, path)
        elif isinstance(v, dict) and v.get("_class") == "dict":
            inner = v.get("_object")
            scalars[name] = json.loads(inner) if isinstance(inner, str) else inner
        else:
            scalars[name] = v
    return frames, scalars


def is_passive(name: str) -> bool:
    """True for tables a power flow does not use."""
    return name in _PASSIVE or name.startswith(_PASSIVE_PREFIXES)
