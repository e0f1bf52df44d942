"""Mutation fuzzing of the readers with hypothesis: mutate a valid file (JSON tree, lines and
tokens, XML attributes), write it, load it; the property is that :func:`cim.load` returns a
CityModel or raises a :class:`cim.CIMError` naming a file — nothing else, in bounded time
(hypothesis ``deadline``) and memory (``tracemalloc`` peak)."""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import cim

#: Every fuzz test: deterministic (CI), bounded (< ~60 s for the whole fuzz suite on 2 cores).
FUZZ = settings(max_examples=int(os.environ.get("CIM_FUZZ_EXAMPLES", "30")), deadline=30_000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                print_blob=True)
DEEP = 100_000  # nesting depth of the deep-nesting mutation
_MEM_BASE = 200 * 2**20  # bytes a load may use beyond ~64 x the file size

BAD_VALUES = [None, True, "", "x", -1, 0, 1, -1.5, 2**64, -(2**63), 10**400, 1e308, -1e308,
              math.nan, math.inf, -math.inf, [], {}, [[1, 2], [3]], {"a": 1}, "__DEEP__",
              "missing-id", "9" * 400]
BAD_TOKENS = ["nan", "NaN", "inf", "-inf", "Infinity", "-1", "0", "-0", "1e308", "-1e308",
              "1e999", "9" * 40, "-99999999", "abc", "", ";", "[", "]", "'", '"', "{", "}",
              "%", "#", "0x1F", "1,5", "\t", "\x00", "é", "END"]
_TMP = Path(tempfile.mkdtemp(prefix="cim-fuzz-"))
_counter = [0]


def write_case(data: bytes | str, suffix: str) -> Path:
    """Write one fuzz case under a per-session temp dir; return its path."""
    _counter[0] += 1
    p = _TMP / f"case{_counter[0]}{suffix}"
    p.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return p


def check_load(path: Path, lenient: bool = False) -> str:
    """Load ``path``; return "loaded" or "rejected" (a CIMError naming a file); anything else
    (another exception, memory out of proportion) fails the test."""
    size = path.stat().st_size
    tracemalloc.start()
    try:
        city = cim.load(path, lenient=lenient)
        outcome = "loaded"
        assert isinstance(city, cim.CityModel)
    except cim.CIMError as e:
        assert e.path, f"error names no file: {e}"
        assert Path(e.path).name.split(".")[0] == path.name.split(".")[0] or \
            str(path) in str(e), f"error names another file: {e}"
        outcome = "rejected"
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < _MEM_BASE + 64 * size, f"{peak / 2**20:.0f} MiB for a {size} B file"
    return outcome


# ---- JSON tree mutations -------------------------------------------------------------------
def _containers(node, path=()):
    """Yield (path, node) of every value in a JSON tree (depth-first, bounded)."""
    stack = [(path, node)]
    n = 0
    while stack and n < 5000:
        p, v = stack.pop()
        n += 1
        yield p, v
        if isinstance(v, dict):
            stack += [(p + (k,), v[k]) for k in reversed(list(v))]
        elif isinstance(v, list):
            stack += [(p + (i,), x) for i, x in reversed(list(enumerate(v)))]


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


@st.composite
def json_mutation(draw, doc):
    """Return ``doc`` (a parsed JSON tree; copied) with 1–3 mutations drawn: a value
    replaced by a bad one, a member deleted, a list element duplicated, a dict key renamed
    to a sibling's (duplicate ids) or to a dangling one."""
    tree = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        nodes = list(_containers(tree))
        path, _ = nodes[draw(st.integers(0, len(nodes) - 1))]
        if not path:
            continue
        parent, key = _get(tree, path[:-1]), path[-1]
        op = draw(st.sampled_from(["value", "value", "value", "delete", "dup", "rename"]))
        if op == "value":
            parent[key] = draw(st.sampled_from(BAD_VALUES))
        elif op == "delete":
            del parent[key]
        elif op == "dup" and isinstance(parent, list):
            parent.insert(key, json.loads(json.dumps(parent[key])))
        elif op == "rename" and isinstance(parent, dict):
            other = draw(st.sampled_from(list(parent) + ["dangling"]))
            parent[other] = parent.pop(key)
    return tree


def dump_json(tree) -> str:
    """Serialize a mutated tree: NaN/Infinity tokens kept, ``"__DEEP__"`` made deep."""
    text = json.dumps(tree, allow_nan=True, ensure_ascii=False)
    return text.replace('"__DEEP__"', "[" * DEEP + "]" * DEEP, 1)


# ---- text mutations ------------------------------------------------------------------------
_TOKEN = re.compile(r"[^\s,;=\[\]\"'<>/]+")


@st.composite
def text_mutation(draw, text: str):
    """Return ``text`` with 1–3 mutations: truncation, a line deleted / duplicated / swapped,
    a token replaced by a bad one (NaN, inf, huge, negative, junk), a random line inserted."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["token", "token", "token", "delete", "dup", "swap",
                                   "insert", "truncate"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "token" and lines:
            toks = list(_TOKEN.finditer(lines[i]))
            if toks:
                m = toks[draw(st.integers(0, len(toks) - 1))]
                bad = draw(st.sampled_from(BAD_TOKENS))
                lines[i] = lines[i][:m.start()] + bad + lines[i][m.end():]
        elif op == "delete" and lines:
            del lines[i]
        elif op == "dup" and lines:
            lines.insert(i, lines[i])
        elif op == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            lines.insert(i, " ".join(draw(st.lists(st.sampled_from(BAD_TOKENS), max_size=6))))
        elif op == "truncate":
            joined = "\n".join(lines)
            cut = draw(st.integers(0, len(joined)))
            lines = joined[:cut].split("\n")
    return "\n".join(lines)


_ATTR = re.compile(r'(\w[\w:.-]*)="([^"]*)"|(\w[\w:.-]*)=\'([^\']*)\'')


@st.composite
def xml_mutation(draw, text: str):
    """Return ``text`` with an attribute value or element text made bad, deep nesting
    inserted, or the text mutations of :func:`text_mutation`."""
    op = draw(st.sampled_from(["attr", "attr", "deep", "text", "text"]))
    if op == "attr":
        attrs = list(_ATTR.finditer(text))
        if attrs:
            m = attrs[draw(st.integers(0, len(attrs) - 1))]
            g = 2 if m.group(2) is not None else 4
            bad = draw(st.sampled_from(BAD_TOKENS)).replace('"', "&quot;").replace(
                "'", "&apos;").replace("<", "&lt;").replace("\x00", "")
            return text[:m.start(g)] + bad + text[m.end(g):]
    if op == "deep":
        closes = [m.end() for m in re.finditer(r">\s*\n", text)][1:-1]
        if closes:
            at = closes[draw(st.integers(0, len(closes) - 1))]
            return text[:at] + "<a>" * 20_000 + "</a>" * 20_000 + text[at:]
    return draw(text_mutation(text))


#: XML attacks: entity expansion (billion laughs) and an external entity (XXE)
LAUGHS = ('<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">' + "".join(
    f'<!ENTITY {chr(98 + k)} "{("&" + chr(97 + k) + ";") * 10}">' for k in range(9))
    + "]>\n")
XXE = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
XXE_PARAM = '<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>\n'
