"""Entity-safe streaming XML for the readers (CityGML, OSM).

lxml's ``iterparse`` with ``resolve_entities=False, no_network=True, load_dtd=False`` never
expands an entity or fetches a DTD; on top of that a document whose DOCTYPE declares any
ENTITY is refused outright (billion laughs, XXE), since no city-model format needs one.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from ..errors import FormatError
from .source import Source


def local_name(tag) -> str:
    """Return the local part of an lxml tag (``{ns}name`` -> ``name``; non-str -> "")."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def namespace(tag) -> str:
    """Return the namespace URI of an lxml tag ("" when none)."""
    if not isinstance(tag, str) or not tag.startswith("{"):
        return ""
    return tag[1:].partition("}")[0]


def iterparse(source: Source, events=("start", "end")) -> Iterator[tuple[str, etree._Element]]:
    """Yield lxml ``(event, element)`` pairs of ``source`` (gz-transparent).

    Raises FormatError (with the line) for malformed XML and for a DOCTYPE that declares
    entities; entity references are never expanded and nothing is fetched from the network.
    """
    checked = False
    try:
        with source.open() as stream:
            ctx = etree.iterparse(stream, events=events, resolve_entities=False,
                                  no_network=True, load_dtd=False, huge_tree=False,
                                  remove_comments=True, remove_pis=True)
            for event, elem in ctx:
                if not checked:
                    checked = True
                    _check_doctype(elem, source)
                yield event, elem
    except etree.XMLSyntaxError as e:
        line = e.lineno if e.lineno else None
        msg = getattr(e, "msg", None) or str(e)
        raise FormatError(f"malformed XML: {msg}", path=source.path, line=line) from None
    except (OSError, EOFError) as e:
        raise FormatError(f"cannot read: {e}", path=source.path) from None


def _check_doctype(elem, source: Source) -> None:
    dtd = elem.getroottree().docinfo.internalDTD
    if dtd is None:
        return
    names = [e.name for e in dtd.entities()]
    if names:
        raise FormatError(
            "the DOCTYPE declares entities (" + ", ".join(names[:5])
            + "); entity declarations are refused (XML entity expansion / external entity "
            "attack)", path=source.path, line=1)


def free(elem) -> None:
    """Release a processed element and the already-processed siblings before it."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]
