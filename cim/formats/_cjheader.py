"""What the CityJSON and CityJSONSeq readers share: telling a sequence from a document,
parsing JSON with located errors, and reading the root members (type and version, transform,
vertices, reference system, metadata, geometry templates)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import numpy as np

from ..crs import north_first, resolve_crs, swap_xy
from ..errors import CRSError, FormatError, LoadReport, SchemaError, ValueRangeError

if TYPE_CHECKING:
    from ._cjcollect import Collector

#: key of ``CityModel.metadata`` that keeps the CityJSON root members the model has no place
#: for (``extensions``, ``+extra`` members), so that a round trip writes them back.
EXTRA_KEY = "cityjson_extra"
ROOT_MEMBERS = {"type", "version", "transform", "metadata", "CityObjects", "vertices",
                "appearance", "geometry-templates"}
VERSIONS = ("1.0", "1.1", "2.0")
NO_CRS_NOTE = "no reference system: loaded in file coordinates"

_FEATURE = re.compile(rb'"type"\s*:\s*"CityJSONFeature"')
_CITYJSON = re.compile(rb'"type"\s*:\s*"CityJSON"')


def is_sequence(head: bytes, name: str) -> bool:
    """Return True when ``head`` starts a CityJSONSeq: a one-line CityJSON header followed by
    CityJSONFeature lines (or a stream of bare CityJSONFeature values)."""
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not h.startswith(b"{"):
        return False
    first, _, rest = h.partition(b"\n")
    if _CITYJSON.search(first):
        try:
            doc = json.loads(first)
        except (ValueError, RecursionError):
            return False
        # a complete CityJSON object on the first line followed by more values is a sequence
        return (isinstance(doc, dict) and doc.get("type") == "CityJSON"
                and (rest.lstrip().startswith(b"{") or (not rest.strip()
                                                        and name.endswith(".jsonl"))))
    return bool(_FEATURE.search(h[:4096])) and not _CITYJSON.search(h[:4096])


def parse_json(data: bytes | str, path, line_offset: int = 0):
    """Return the parsed JSON value; FormatError with line and column when malformed."""
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise FormatError(f"malformed JSON: {e.msg} (line {e.lineno + line_offset}, column "
                          f"{e.colno})", path=path, line=e.lineno + line_offset) from None
    except (UnicodeDecodeError, RecursionError) as e:
        raise FormatError(f"malformed JSON: {e}", path=path) from None


def check_header(doc, path, expected: str = "CityJSON") -> str:
    """Check the root ``type`` and ``version``; return the version."""
    if not isinstance(doc, dict):
        raise SchemaError("the document is not a JSON object", path=path)
    t = doc.get("type")
    if t is None:
        raise SchemaError(f'the document has no "type" (expected "{expected}")', path=path)
    if t != expected:
        raise SchemaError(f'the document "type" is {t!r}, expected "{expected}"', path=path)
    v = doc.get("version")
    if not isinstance(v, str):
        raise SchemaError(f"the document has no version string (got {v!r})", path=path)
    if v not in VERSIONS and not v.startswith(("1.", "2.")):
        raise FormatError(f"CityJSON version {v!r} is not supported ({', '.join(VERSIONS)})",
                          path=path)
    return v


def transform_of(doc, path):
    """Return (scale (3,), translate (3,)) or None."""
    tr = doc.get("transform")
    if tr is None:
        return None
    try:
        scale = np.array(tr["scale"], dtype=np.float64)
        translate = np.array(tr["translate"], dtype=np.float64)
    except OverflowError:
        raise ValueRangeError("transform values are outside the 64-bit float range",
                              path=path) from None
    except (TypeError, KeyError, ValueError):
        raise SchemaError("transform needs scale and translate, 3 numbers each",
                          path=path) from None
    if scale.shape != (3,) or translate.shape != (3,):
        raise SchemaError("transform needs scale and translate, 3 numbers each", path=path)
    if not (np.isfinite(scale).all() and np.isfinite(translate).all()) or (scale == 0).any():
        raise ValueRangeError(f"transform is not finite or has a zero scale: scale "
                              f"{scale.tolist()}, translate {translate.tolist()}", path=path)
    return scale, translate


def vertices_of(verts, transform, path, what="vertices") -> np.ndarray:
    """Return the (n, 3) float64 real coordinates of a ``vertices`` list."""
    if verts is None:
        verts = []
    if not isinstance(verts, list):
        raise SchemaError(f"{what} must be a list", path=path)
    if not verts:
        return np.zeros((0, 3))
    try:
        a = np.array(verts, dtype=np.float64)
    except OverflowError:
        raise ValueRangeError(f"a value in {what} is outside the 64-bit float range",
                              path=path) from None
    except (TypeError, ValueError):
        raise SchemaError(f"{what} must be [x, y, z] number triples", path=path) from None
    if a.ndim != 2 or a.shape[1] != 3:
        raise SchemaError(f"{what} must be [x, y, z] number triples", path=path)
    if transform is not None:
        big = np.abs(a) >= 2.0 ** 63
        if big.any():
            k = int(np.nonzero(big.any(axis=1))[0][0])
            raise ValueRangeError(f"{what}[{k}] = {verts[k]} is outside the 64-bit integer "
                                  "range", path=path)
        a = a * transform[0] + transform[1]
    if not np.isfinite(a).all():
        k = int(np.nonzero(~np.isfinite(a).all(axis=1))[0][0])
        raise ValueRangeError(f"{what}[{k}] is not finite", path=path)
    return a


def crs_of(doc, path, report: LoadReport):
    """Return the pyproj CRS of ``metadata.referenceSystem`` (None, with a note, if absent)."""
    md = doc.get("metadata")
    ref = md.get("referenceSystem") if isinstance(md, dict) else None
    if ref is None:
        report.notes.append(f"{path}: {NO_CRS_NOTE}")
        return None
    if isinstance(ref, dict):  # CityJSON 1.0 drafts allowed an object
        ref = ref.get("url") or ref.get("name") or ref.get("code")
    try:
        return resolve_crs(ref, path=path)
    except CRSError as e:
        raise e.located(path=path) from None


def metadata_of(doc) -> dict:
    """Return the model metadata: the file's metadata (less CRS and extent) and, under
    :data:`EXTRA_KEY`, the root members the model has no place for."""
    md = doc.get("metadata")
    meta = {k: v for k, v in (md.items() if isinstance(md, dict) else ())
            if k not in ("referenceSystem", "geographicalExtent")}
    extra = {k: v for k, v in doc.items() if k not in ROOT_MEMBERS}
    if extra:
        meta[EXTRA_KEY] = extra
    return meta


def templates_of(doc, c: Collector, path, transform):
    """Register the geometry templates; return (templates, vertex block) or None."""
    gt = doc.get("geometry-templates")
    if gt is None:
        return None
    if not isinstance(gt, dict) or not isinstance(gt.get("templates"), list):
        raise SchemaError("geometry-templates needs a templates list", path=path)
    tv = vertices_of(gt.get("vertices-templates"), None, path, "vertices-templates")
    return gt["templates"], c.add_block(tv)


def east_first(c: Collector, crs, blocks, report) -> bool | None:
    """Swap x/y of vertex ``blocks`` (ids in ``c.blocks``) in place when the CRS is latitude/
    northing first and the vertices lie in its area of use only that way round (CityJSON is
    x/y by definition, but files converted from GML keep the GML order). Returns the decision
    (None: no vertex to decide on yet)."""
    if crs is None or not north_first(crs):
        return False
    sample = next((c.blocks[b] for b in blocks if len(c.blocks[b])), None)
    if sample is None:
        return None
    x, y = np.median(sample[:, :2], axis=0)
    if not swap_xy(crs, float(x), float(y), declared=False):
        return False
    for b in blocks:
        c.blocks[b] = np.ascontiguousarray(c.blocks[b][:, [1, 0, 2]])
    report.notes.append(f"{c.path}: vertices in the CRS's latitude/northing-first order: "
                        "swapped to x/y")
    return True
