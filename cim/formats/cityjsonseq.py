"""CityJSONSeq / CityJSON Text Sequences (``.city.jsonl``): a CityJSON header line followed by
one ``CityJSONFeature`` per line, read as a stream (one line in memory at a time).

Features use the header's ``transform`` and their own ``vertices``; each feature's ``id``
must be one of its ``CityObjects`` (its root). Pretty-printed streams (values spanning several
lines) and streams of bare features without a header are read too.
"""

from __future__ import annotations

import json

from ..errors import CIMError, FormatError, LoadReport, MissingReferenceError, SchemaError
from ..model import CityModel
from ._cjbuild import build_tables
from ._cjcollect import Collector
from ._cjheader import (
    NO_CRS_NOTE,
    check_header,
    crs_of,
    east_first,
    is_sequence,
    metadata_of,
    parse_json,
    templates_of,
    transform_of,
    vertices_of,
)
from ._cjutil import no_gc


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` starts a CityJSONSeq (see :func:`._cjheader.is_sequence`)."""
    return is_sequence(head, name)


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
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            one_line = line.startswith(b"{") and line.endswith(b"}")
            if one_line:
                problems.handle(FormatError(f"malformed JSON line: {e}", line=lineno))
                continue
        # a value spanning several lines: parse the rest of the file as concatenated values
        try:
            text = (raw + stream.read()).decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            raise FormatError(f"not UTF-8 text: {e}", path=path, line=lineno) from None
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
            except RecursionError:
                raise FormatError("malformed JSON: nested too deeply", path=path,
                                  line=start_line + text.count("\n", 0, pos)) from None
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
    swap = None  # decided on the first vertices (east_first)

    def orient(block):
        nonlocal swap
        if swap is None:
            swap = east_first(c, crs, [block], report)
            if swap and templates:  # template vertices follow the file's axis order too
                c.blocks[templates[1]] = c.blocks[templates[1]][:, [1, 0, 2]]
        elif swap:
            c.blocks[block] = c.blocks[block][:, [1, 0, 2]]

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
                c.crs = crs
                meta = metadata_of(value)
                transform = transform_of(value, path)
                templates = templates_of(value, c, path, transform)
                if value.get("CityObjects"):
                    block = c.add_block(vertices_of(value.get("vertices"), transform, path))
                    orient(block)
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
                if not isinstance(fid, str) or fid not in objects:
                    raise MissingReferenceError(
                        f"feature id {fid!r} (its root) is not one of its CityObjects")
                block = c.add_block(vertices_of(value.get("vertices"), transform, path))
            except CIMError as e:
                handle(e, obj_id=fid, line=lineno)
                continue
            orient(block)
            c.add_objects(objects, block, templates)
    if header is None:
        report.notes.append(f"{path}: no CityJSON header line; {NO_CRS_NOTE}")
    report.counts["features"] = n_features
    return CityModel(**build_tables(c), crs=crs, metadata=meta, report=report)
