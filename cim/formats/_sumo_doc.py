"""Tag structure and bulk attributes of a clean SUMO ``.net.xml`` (for :mod:`._sumo_fast`).

:func:`open_doc` accepts a document only when libxml2 parses it (entity-safe, as
:mod:`._xml`; a DOCTYPE is left to the general reader, which refuses declared entities) and,
inside the root ``<net>`` element, there are no comments, CDATA, processing instructions,
default namespace declarations, undefined prefixes, text, tags over several lines, nor ``>``
inside attribute values (and, in the tags read in bulk, no apostrophes, tabs, carriage
returns or ``=`` inside values). Then every ``<`` opens a tag and every
``>`` closes one (their positions, found with numpy, give the tree: depth of each tag, root
children), and each attribute is `` name="value"`` with a literal space before it, which a
regular expression finds in any attribute order. Anything else raises :class:`Fallback`.
"""

from __future__ import annotations

import re

import numpy as np
from lxml import etree

from ._sumo_shapes import Fallback

_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?\s*(<\?xml\s[^>]*\?>)?(?:\s+|<!--.*?-->|<\?.*?\?>)*"
                     rb"(?=<net[\s/>])", re.S)
_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([^\"']*)")
_UNSAFE = (b"'", b"\t", b"\r")
_REF = re.compile(r"&(#[xX][0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_PATTERNS: dict[tuple, re.Pattern] = {}
_BLANK = np.zeros(256, bool)  # a space or a newline
_BLANK[[10, 32]] = True
_END = np.zeros(256, bool)  # what may follow an element name: " ", "/", ">"
_END[[32, 47, 62]] = True
_MARKUP = np.zeros(256, bool)  # "<!" (comment, CDATA), "<?" (processing instruction)
_MARKUP[[33, 63]] = True
PARSER_KW = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class _Null:
    """lxml parser target that builds nothing (well-formedness check only) and notes
    namespace declarations."""

    def __init__(self):
        self.default_ns = False

    def start_ns(self, prefix, uri):
        if not prefix:
            self.default_ns = True  # element names would get a namespace: general reader

    def close(self):
        return None


def _unref(m: re.Match) -> str:
    r = m.group(1)
    if r[0] == "#":
        return chr(int(r[2:], 16) if r[1] in "xX" else int(r[1:]))
    return _PREDEFINED[r]


def _decode(vals: list[bytes]) -> list[str]:
    """Attribute values as str, the XML references (predefined entities and character
    references, the only ones a document without DTD may hold) replaced."""
    if not vals:
        return []
    joined = b"\n".join(vals)
    out = joined.decode("utf-8").split("\n")
    if b"&" in joined:
        out = [_REF.sub(_unref, v) if "&" in v else v for v in out]
    return out


def _pattern(before: str, name: str, after: str) -> re.Pattern:
    """The compiled ``before name="after`` (cached); a tag is one line without tabs, so a
    literal space comes before each attribute name."""
    key = (before, name, after)
    pat = _PATTERNS.get(key)
    if pat is None:
        pat = _PATTERNS[key] = re.compile(
            (before + re.escape(name) + r'\s*=\s*"' + after).encode())
    return pat


def _code4(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The 4 bytes of ``a`` from each position ``at`` as one uint32 (clipped at the end)."""
    out = np.zeros(len(at), np.uint32)
    for k in range(4):
        out |= a[np.minimum(at + k, len(a) - 1)].astype(np.uint32) << np.uint32(8 * k)
    return out


class Attrs:
    """Attributes of n tags found in ``text`` (tag k starts at ``starts[k]``; only
    whitespace between tags), fetched by name."""

    def __init__(self, text: bytes, starts: np.ndarray):
        self.n, self.text, self.starts = len(starts), text, starts
        if text.count(b"=") * 2 != text.count(b'"'):
            raise Fallback  # an '=' inside a value: names could be matched inside values
        if any(c in text for c in _UNSAFE):
            raise Fallback  # a value in '…' or one that XML would normalize (tab, CR)

    def get(self, name: str, default=None) -> list:
        """Return the value of attribute ``name`` of each tag (``default`` where absent)."""
        pat = _pattern(" ", name, "([^\"]*)")
        vals = pat.findall(self.text)
        if len(vals) == self.n:  # no tag repeats an attribute: one value per tag, in order
            return _decode(vals)
        out = [default] * self.n
        if vals:
            own = np.searchsorted(self.starts, self._where(pat, name, len(vals)), "right") - 1
            for k, v in zip(own.tolist(), _decode(vals)):
                out[k] = v
        return out

    def _where(self, pat: re.Pattern, name: str, m: int) -> np.ndarray:
        """Positions of the m matches of ``pat`` (attribute ``name``) in the text: by
        splitting at `` name="`` when all m are written so (cheaper than match objects)."""
        mark = b" " + name.encode() + b'="'
        parts = self.text.split(mark)
        if len(parts) - 1 != m:
            return np.array([x.start() for x in pat.finditer(self.text)], np.int64)
        lens = np.fromiter(map(len, parts), np.int64, count=len(parts)) + len(mark)
        return np.cumsum(lens[:-1]) - len(mark)

    def required(self, name: str) -> list[str]:
        vals = self.get(name)
        if None in vals:
            raise Fallback
        return vals


class Doc:
    """Tag structure of the root element (bytes ``rs:re`` of ``data``) of a checked
    document: ``lt`` / ``gt`` absolute positions of each tag's ``<`` and ``>``, ``close``
    (end tag), ``depth`` (of each start tag, root 0), ``children`` (tag indices of the root's
    children)."""

    def __init__(self, data: bytes, rs: int, re_: int):
        a = np.frombuffer(data, np.uint8, count=re_ - rs, offset=rs)
        lt, gt = np.flatnonzero(a == 60), np.flatnonzero(a == 62)
        if (len(lt) != len(gt) or len(lt) < 2 or not (lt < gt).all()
                or not (gt[:-1] < lt[1:]).all()):
            raise Fallback
        first = a[lt + 1]
        if _MARKUP[first].any():
            raise Fallback  # <! (comment, CDATA) or <? inside the root element
        self._check_gaps(data, a, rs, lt, gt)
        close, selfc = first == 47, a[gt - 1] == 47
        delta = np.where(close, -1, np.where(selfc, 0, 1))
        self.depth = np.cumsum(delta) - delta
        self.data, self.close = data, close
        self._a = a
        self.code = _code4(a, lt + 1)
        self.lt, self.gt = lt + rs, gt + rs
        self.children = np.flatnonzero(~close & (self.depth == 1))

    @staticmethod
    def _check_gaps(data, a, rs, lt, gt) -> None:
        """Only spaces and newlines between tags, and every newline there (none in a tag)."""
        gl = lt[1:] - gt[:-1] - 1
        n = int(gl.sum())
        it = np.int32 if len(a) < 2**31 else np.int64
        at = np.repeat((gt[:-1] + 1 - (np.cumsum(gl) - gl)).astype(it), gl)
        at += np.arange(n, dtype=it)
        b = a[at]  # the bytes between tags
        if not _BLANK[b].all():
            raise Fallback  # text between tags
        if np.count_nonzero(b == 10) != data.count(b"\n", rs + lt[0], rs + gt[-1]):
            raise Fallback  # a newline inside a tag (attribute values would be normalized)

    def named(self, name: str) -> np.ndarray:
        """Bool per tag: a start tag of element ``name`` (4 or more letters)."""
        b = name.encode()
        out = self.code == _code4(np.frombuffer(b, np.uint8), np.zeros(1, np.int64))[0]
        cand = np.flatnonzero(out)
        rest = np.frombuffer(b[4:] + b" ", np.uint8)
        a, lt = self._a, self.lt[cand] - self.lt[0] + 5  # in a (which starts at the root)
        got = a[np.minimum(lt[:, None] + np.arange(len(rest)), len(a) - 1)]
        ok = (got[:, :-1] == rest[:-1]).all(axis=1) & _END[got[:, -1]]
        out[cand[~ok]] = False
        return out

    def starts_with(self, idx: np.ndarray, text: bytes) -> np.ndarray:
        """Bool per tag of ``idx``: its bytes after ``<`` begin with ``text``."""
        k = np.arange(1, len(text) + 1)
        got = np.frombuffer(self.data, np.uint8)[np.minimum(self.lt[idx, None] + k,
                                                            len(self.data) - 1)]
        return (got == np.frombuffer(text, np.uint8)).all(axis=1)

    def ends_with(self, idx: np.ndarray, text: bytes) -> np.ndarray:
        """Bool per tag of ``idx``: its bytes before ``>`` (or ``/>``) end with ``text``."""
        d = np.frombuffer(self.data, np.uint8)
        end = self.gt[idx] - (d[self.gt[idx] - 1] == 47)
        got = d[np.maximum(end[:, None] + np.arange(-len(text), 0), 0)]
        return (got == np.frombuffer(text, np.uint8)).all(axis=1)

    def attrs(self, idx: np.ndarray) -> Attrs:
        """The attributes of tags ``idx`` (ascending): one slice when they are consecutive."""
        lt, gt = self.lt[idx], self.gt[idx] + 1
        if not len(idx):
            return Attrs(b"", lt)
        if idx[-1] - idx[0] + 1 == len(idx):
            return Attrs(self.data[lt[0]: gt[-1]], lt - lt[0])
        d = self.data
        tags = [d[i:j] for i, j in zip(lt.tolist(), gt.tolist())]
        lens = gt - lt + 1
        return Attrs(b"\n".join(tags), np.cumsum(lens) - lens)

    def others_doc(self, idx) -> bytes:
        """A document of the root start tag and root children ``idx`` (tag indices), each
        at its original line (for lxml and the general reader's element code)."""
        d, lt, gt = self.data, self.lt, self.gt
        nxt = np.append(self.children, len(lt) - 1)
        ends = nxt[np.searchsorted(nxt, idx, "right")] - 1  # last tag of each child
        line = 1 + d.count(b"\n", 0, lt[0])  # of the root tag, then of each child
        parts = [b"\n" * (line - 1), d[lt[0]: gt[0] + 1]]
        cur, pos = line, lt[0]  # line at the end of the output; position of `line`
        for i, j in zip(idx.tolist(), ends.tolist()):
            line += d.count(b"\n", pos, lt[i])
            pos = lt[i]
            chunk = d[lt[i]: gt[j] + 1]
            parts += [b"\n" * (line - cur), chunk]
            cur = line + chunk.count(b"\n")
        parts.append(b"</net>")
        return b"".join(parts)


def open_doc(source) -> Doc | None:
    """Return the Doc of a SUMO net the fast reader can take, else None."""
    try:
        data = source.read_bytes()
    except Exception:  # noqa: BLE001 — the general reader reports it
        return None
    m = _PROLOG.match(data)  # no match with a DOCTYPE (left to the general reader)
    if m is None:
        return None
    if m.group(1):
        enc = _ENCODING.search(m.group(1))
        if enc and enc.group(1).lower() not in (b"utf-8", b"utf8"):
            return None
    end = data.rfind(b"</net")
    if end < 0 or data.find(b"<", end + 1) >= 0:
        return None
    close = data.find(b">", end)
    if close < 0 or data[end + 5: close].strip() or data[close + 1:].strip():
        return None
    rs, re_ = m.end(), close + 1
    null = _Null()
    parser = etree.XMLParser(target=null, **PARSER_KW)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None
    if null.default_ns or len(parser.error_log):
        return None  # (a target parser only logs what iterparse raises: undefined prefixes)
    return Doc(data, rs, re_)
