"""CityJSONSeq / CityJSON Text Sequences (``.city.jsonl``): a CityJSON header line followed by
one ``CityJSONFeature`` per line, read as a stream (one line in memory at a time).

Features use the header's ``transform`` and their own ``vertices``; each feature's ``id``
must be one of its ``CityObjects`` (its root). Pretty-printed streams (values spanning several
lines) and streams of bare features without a header are read too.
"""

from __future__ import annotations

import json
import re

from ..errors import CIMError, FormatError, LoadReport, MissingReferenceError, SchemaError
from ..model import CityModel
from ._cjbuild import build_tables
from ._cjcollect import Collector, no_gc
from .cityjson import (
    NO_CRS_NOTE,
    check_header,
    crs_of,
    metadata_of,
    parse_json,
    templates_of,
    transform_of,
    vertices_of,
)

_FEATURE = re.compile(rb'"type"\s*:\s*"CityJSONFeature"')
_CITYJSON = re.compile(rb'"type"\s*:\s*"CityJSON"')


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` starts a CityJSONSeq: a one-line CityJSON header followed by
    CityJSONFeature lines (or a stream of bare CityJSONFeature values)."""
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not h.startswith(b"{"):
        return False
    first, _, rest = h.partition(b"\n")
    if _CITYJSON.search(first):
        try:
            doc = json.loads(first)
        except ValueError:
            return False
        # a complete CityJSON object on the first line followed by more values is a sequence
        return (isinstance(doc, dict) and doc.get("type") == "CityJSON"
                and (rest.lstrip().startswith(b"{") or (not rest.strip()
                                                        and name.endswith(".jsonl"))))
    return bool(_FEATURE.search(h[:4096])) and not _CITYJSON.search(h[:4096])


def _values(stream, path, problems):
    """Yield (line number, parsed value) of each JSON value of the stream."""
    lineno = 0
    for raw in stream:
        lineno += 1
        line = raw.strip()
        if not line:
            continue
        try:
            yield lineno, json.loads(line)
            continue
        except (ValueError, UnicodeDecodeError) as e:
            one_line = line.startswith(b"{") and line.endswith(b"}")
            if one_line:
                problems.handle(FormatError(f"malformed JSON line: {e}", line=lineno))
                continue
        # a value spanning several lines: parse the rest of the file as concatenated values
        text = (raw + stream.read()).decode("utf-8", errors="strict")
        dec = json.JSONDecoder()
        pos, start_line = 0, lineno
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos >= len(text):
                return
            try:
                value, end = dec.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                parse_json(text[pos:], path, start_line + text.count("\n", 0, pos) - 1)
                raise FormatError(f"malformed JSON: {e}", path=path) from None
            yield start_line + text.count("\n", 0, pos), value
            pos = end


def read(source, *, lenient: bool = False) -> CityModel:
    """Return the CityModel of a CityJSONSeq file, streamed line by line."""
    path = source.path
    report = LoadReport(files=[str(path)])
    c = Collector(path, lenient, report)
    handle = c.problems.handle
    header = None
    transform = templates = crs = None
    meta: dict = {}
    n_features = 0
    with no_gc(), source.open() as stream:
        for lineno, value in _values(stream, path, c.problems):
            t = value.get("type") if isinstance(value, dict) else None
            if header is None and n_features == 0 and t == "CityJSON":
                try:
                    check_header(value, path)
                except CIMError as e:
                    raise e.located(line=lineno) from None
                header = value
                crs = crs_of(value, path, report)
                meta = metadata_of(value)
                transform = transform_of(value, path)
                templates = templates_of(value, c, path, transform)
                if value.get("CityObjects"):
                    block = c.add_block(vertices_of(value.get("vertices"), transform, path))
                    c.add_objects(value["CityObjects"], block, templates)
                continue
            n_features += 1
            fid = value.get("id") if isinstance(value, dict) else None
            try:
                if t != "CityJSONFeature":
                    raise SchemaError(f'expected a "CityJSONFeature" value, got type {t!r}')
                objects = value.get("CityObjects")
                if not isinstance(objects, dict):
                    raise SchemaError("feature has no CityObjects object")
                if fid not in objects:
                    raise MissingReferenceError(
                        f"feature id {fid!r} (its root) is not one of its CityObjects")
                block = c.add_block(vertices_of(value.get("vertices"), transform, path))
            except CIMError as e:
                handle(e, obj_id=fid, line=lineno)
                continue
            c.add_objects(objects, block, templates)
    if header is None:
        report.notes.append(f"{path}: no CityJSON header line; {NO_CRS_NOTE}")
    report.counts["features"] = n_features
    return CityModel(**build_tables(c), crs=crs, metadata=meta, report=report)
