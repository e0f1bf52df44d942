"""CityGML namespaces and Building attributes (scalar, generic, 3.0 heights, addresses, ADE
properties without geometry), shared by the CityGML reader's element walk."""

from __future__ import annotations

import math

from ..errors import SchemaError, ValueRangeError
from ._xml import local_name, namespace

GML_NS = ("http://www.opengis.net/gml", "http://www.opengis.net/gml/3.2")
CITYGML_PREFIX = "http://www.opengis.net/citygml/"
_NOT_ADE = ("http://www.w3.org/", "urn:oasis:names:tc:ciq:")
_HEIGHT_STATUS = ("measured", "estimated")
_GEN_TYPES = {"stringAttribute": str, "intAttribute": int, "doubleAttribute": float,
              "measureAttribute": float, "dateAttribute": str, "uriAttribute": str,
              "StringAttribute": str, "IntAttribute": int, "DoubleAttribute": float,
              "MeasureAttribute": float, "DateAttribute": str, "UriAttribute": str,
              "CodeAttribute": str}
_HEIGHT_ALIASES = ("measured_height", "measuredheight", "MeasuredHeight", "measuredHeight_m")
_FEET = {"ft": 0.3048, "ft_i": 0.3048, "foot": 0.3048, "feet": 0.3048, "ft_us": 1200 / 3937,
         "us-ft": 1200 / 3937}
_SCALARS = ("name", "description", "class", "function", "usage", "roofType",
            "yearOfConstruction", "yearOfDemolition", "dateOfConstruction",
            "dateOfDemolition", "measuredHeight", "storeysAboveGround", "storeysBelowGround",
            "storeyHeightsAboveGround", "storeyHeightsBelowGround")


def is_ade(ns: str) -> bool:
    """Return True when namespace ``ns`` is an Application Domain Extension's (neither
    CityGML, GML, W3C nor xAL)."""
    return bool(ns) and not ns.startswith(CITYGML_PREFIX) and ns not in GML_NS and \
        not ns.startswith(_NOT_ADE)


def prefix(el) -> str:
    """Return the element's namespace prefix (its namespace when it has none)."""
    return el.prefix or namespace(el.tag)


def _num(text, kind=float):
    """Return ``text`` as ``kind`` (int accepts "3.0"); ValueError when it is not a number."""
    return kind(float(text)) if kind is int else kind(text)


def building_attributes(el, ade: set) -> dict:
    """Return the scalar and generic attributes of a Building/BuildingPart element;
    the names of ADE properties met are added to ``ade``."""
    attrs: dict = {}
    for ch in el:
        name, ns = local_name(ch.tag), namespace(ch.tag)
        if not name:
            continue
        if not (ns.startswith(CITYGML_PREFIX) or ns in GML_NS):
            if is_ade(ns) and not _ade_leaves(ch, attrs):
                ade.add(f"{prefix(ch)}:{name}")
            continue
        if name in _SCALARS and len(ch) == 0 and (ch.text or "").strip():
            attrs.setdefault(name, ch.text.strip())
            if name == "measuredHeight" and ch.get("uom"):
                attrs.setdefault("measuredHeight_uom", ch.get("uom"))
        elif name == "address":
            _address(ch, attrs)
        elif name in _GEN_TYPES or name in ("genericAttribute", "genericAttributeSet"):
            _generic(ch, attrs)
        elif name == "height" and len(ch):
            _height30(ch, attrs)
    if "measuredHeight" not in attrs:  # generic-attribute spellings of the measured height
        alias = next((k for k in _HEIGHT_ALIASES if k in attrs), None)
        if alias is not None:
            attrs["measuredHeight"] = attrs[alias]
    for key, kind in (("measuredHeight", float), ("storeysAboveGround", int),
                      ("storeysBelowGround", int)):
        if key in attrs:
            try:
                v = _num(attrs[key], kind)
            except ValueError:
                raise ValueRangeError(f"{key} = {attrs[key]!r} is not a number",
                                      line=el.sourceline) from None
            if not math.isfinite(v) or v < 0:
                raise ValueRangeError(f"{key} = {attrs[key]} must be >= 0",
                                      line=el.sourceline)
            attrs[key] = v
    unit = str(attrs.get("measuredHeight_uom", "")).rsplit(":", 1)[-1].strip("#[]").lower()
    if "measuredHeight" in attrs and unit in _FEET:
        attrs["measuredHeight"] *= _FEET[unit]  # kept in metres; the uom says what it was
    return attrs


def _leaves(el, skip_geometry: bool):
    """Yield (element, text) of the leaves with text under ``el``; None (stop) when a GML
    geometry is met and ``skip_geometry``."""
    for d in el.iter():
        if not isinstance(d.tag, str):
            continue
        if skip_geometry and namespace(d.tag) in GML_NS and local_name(d.tag) not in (
                "name", "description"):
            yield None, None
            return
        if len(d) == 0 and (d.text or "").strip():
            yield d, d.text.strip()


def _ade_leaves(el, attrs: dict) -> bool:
    """Keep the leaves of an ADE property (e.g. PLATEAU ``uro:buildingIDAttribute``) as
    attributes named ``prefix:leaf`` (``#2``… for repeats; a number when it has a ``uom``);
    False (nothing kept) when the property holds geometry."""
    found = []
    for leaf, text in _leaves(el, True):
        if leaf is None:
            return False
        found.append((leaf, text))
    for leaf, text in found:
        key = f"{prefix(leaf)}:{local_name(leaf.tag)}"
        k, n = key, 1
        while k in attrs:
            n += 1
            k = f"{key}#{n}"
        value: object = text
        if leaf.get("uom") is not None:
            try:
                value = float(text)
            except ValueError:
                pass
        attrs[k] = value
    return True


def _address(el, attrs: dict) -> None:
    """Keep the first address (xAL or CityGML 3.0) as ``address`` (its parts joined) and
    ``address.<part>`` (``address.LocalityName``, ``address.ThoroughfareNumber``…)."""
    if "address" in attrs:
        return
    parts = [(local_name(leaf.tag), text) for leaf, text in _leaves(el, False)]
    if not parts:
        return
    attrs["address"] = ", ".join(t for _, t in parts)
    for name, text in parts:
        attrs.setdefault(f"address.{name}", text)

def _generic(el, attrs: dict) -> None:
    name = local_name(el.tag)
    if name in ("genericAttribute", "genericAttributeSet", "GenericAttributeSet"):
        for ch in el:
            if local_name(ch.tag) in _GEN_TYPES or local_name(ch.tag) in (
                    "genericAttribute", "GenericAttributeSet", "genericAttributeSet"):
                _generic(ch, attrs)
        return
    key = el.get("name")
    value = None
    for ch in el:
        n = local_name(ch.tag)
        if n == "name" and key is None:
            key = (ch.text or "").strip()
        elif n == "value":
            value = (ch.text or "").strip()
    if not key or value is None:
        return
    try:
        attrs[key] = _GEN_TYPES[name](float(value)) if _GEN_TYPES[name] is int else \
            _GEN_TYPES[name](value)
    except ValueError:
        raise ValueRangeError(f"generic attribute {key} = {value!r} is not a "
                              f"{_GEN_TYPES[name].__name__}", line=el.sourceline) from None

def _height30(el, attrs: dict) -> None:
    for h in el:
        if local_name(h.tag) != "Height":
            continue
        fields = {local_name(c.tag): (c.text or "").strip() for c in h}
        status = fields.get("status")
        if status and status not in _HEIGHT_STATUS:
            raise SchemaError(f"height status {status!r} is not one of "
                              f"{', '.join(_HEIGHT_STATUS)}", line=h.sourceline)
        if "value" in fields:
            attrs.setdefault("measuredHeight", fields["value"])
