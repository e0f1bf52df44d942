"""CityGML 2.0 and 3.0 reader (buildings, LoD0–LoD4), streamed with lxml ``iterparse``.

One top-level city object at a time is parsed and then freed. A Building's geometry is read
from its own LoD properties (``lod1Solid``, ``lod2Solid``, ``lod2MultiSurface``…) and from its
thematic boundary surfaces (2.0 ``bldg:boundedBy``, 3.0 ``core:boundary``: Wall/Roof/Ground…
with Window/Door openings), BuildingParts are merged into their Building, and
``xlink:href`` references to geometry anywhere in the file are resolved (a solid that only
references its boundary polygons is not counted twice). Per building the surfaces of one LoD
are kept (LoD2 preferred, else the most detailed one). Interior rooms, furniture,
installations and implicit geometry are skipped (noted in the report); Application Domain
Extension (ADE) properties without geometry (PLATEAU ``uro:``…) and the address are kept as
attributes, ADE geometry is skipped (noted); ADE subclasses of the standard surfaces (e.g.
``test:IndustrialBuildingRoofSurface``) count as the surface they extend. Coordinates are
read in the srsName's axis order (latitude first for EPSG:4326/6697) and stored east first;
footprint tolerances are in metres, floor areas in m² for geographic CRSs too.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from ..crs import area_factor, metre_area_tol, resolve_crs, swap_xy
from ..errors import (
    CIMError,
    FormatError,
    GeometryError,
    LoadReport,
    MissingReferenceError,
    Problems,
    SchemaError,
)
from ..geometry import SURFACE_CODE
from ..model import CityModel
from ._common import BuildingRows
from ._gml import (
    GROUND,
    building_piece,
    nonnegative,
    parse_polygon,
    srs_dimension,
    use_from_function,
)
from ._gmlattrs import CITYGML_PREFIX, GML_NS, building_attributes, is_ade, prefix
from ._xml import free, iterparse, local_name, namespace
from .source import Source

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
GML_IDS = tuple("{%s}id" % ns for ns in GML_NS)

#: Thematic surface element names -> SURFACE_CODE (3.0 openings are Window/DoorSurface).
THEMATIC = {n: c for n, c in SURFACE_CODE.items() if n.endswith("Surface") or n in ("Window",
                                                                                    "Door")}
THEMATIC.update(WindowSurface=SURFACE_CODE["Window"], DoorSurface=SURFACE_CODE["Door"])
_ADE_SUFFIXES = sorted(THEMATIC, key=len, reverse=True)

#: Building properties whose geometry is not the building's outer shell.
EXCLUDED = {"interiorRoom", "interiorFurniture", "interiorBuildingInstallation",
            "outerBuildingInstallation", "buildingRoom", "buildingFurniture",
            "buildingInstallation", "buildingConstructiveElement", "buildingSubdivision",
            "appearance", "appearanceMember", "address", "externalReference",
            "generalizesTo", "relatedTo", "adeOfAbstractBuilding"}
_LOD = re.compile(r"^lod([0-4])(\w*)$")
_NCNAME = re.compile(r"^[^\W\d][\w.\-\u00b7]*$")
_LOD_PREFERENCE = (2, 3, 4, 1, 0)


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` looks like a CityGML document."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and \
        CITYGML_PREFIX.encode() in head


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return the buildings of a CityGML 2.0/3.0 file as a CityModel (see module docstring)."""
    return _Reader(source, lenient).run()


class _Item:
    """One polygon (``rings``) or one ``xlink:href`` reference (``ref``) met in a building."""

    __slots__ = ("piece", "lod", "sem", "include", "rings", "ref", "flip", "line")

    def __init__(self, piece, lod, sem, include, rings=None, ref=None, line=None):
        self.piece, self.lod, self.sem, self.include = piece, lod, sem, include
        self.rings, self.ref, self.flip, self.line = rings, ref, False, line


class _Draft:
    """A building as parsed: pieces (the Building, then its parts), items and local ids."""

    def __init__(self, bid: str, line):
        self.id, self.line = bid, line
        self.pieces: list[tuple[str, int | None, dict]] = []
        self.items: list[_Item] = []
        self.ids: dict[str, tuple[int, int]] = {}


def _gml_id(el) -> str | None:
    return el.get(GML_IDS[0]) or el.get(GML_IDS[1])


def _href(el) -> str | None:
    h = el.get(XLINK_HREF)
    if h is None:
        return None
    return h.strip().rpartition("#")[2] or None


class _Reader:
    def __init__(self, source: Source, lenient: bool):
        self.source = source
        self.report = LoadReport(files=[str(source.path)])
        self.problems = Problems(source.path, lenient, self.report)
        self.index: dict[str, list] = {}
        self.results: list = []
        self.pending: list = []
        self.srs: tuple[str, int | None] | None = None
        self.other_srs: set[str] = set()
        self.ignored: Counter = Counter()
        self.ade: set[str] = set()
        self.not_kept: Counter = Counter()
        self.version: str | None = None
        self.n_buildings = 0
        self.crs = None
        self.area_tol = 1e-9  # smallest footprint (1e-9 m²), in squared CRS units

    def _first_crs(self, srs: str) -> None:
        try:
            self.crs = resolve_crs(srs, path=self.source.path)
        except CIMError:
            return  # reported in _model
        self.area_tol = metre_area_tol(self.crs, 1e-9)

    # ---- streaming ------------------------------------------------------------------
    def run(self) -> CityModel:
        depth = 0
        in_building = 0
        for event, el in iterparse(self.source):
            tag = el.tag
            is_bldg = isinstance(tag, str) and tag.endswith("}Building") and \
                tag.startswith("{" + CITYGML_PREFIX)
            if event == "start":
                depth += 1
                if depth == 1:
                    self._root(el)
                srs = el.get("srsName")
                if srs:
                    self._note_srs(srs, el.sourceline)
                if is_bldg:
                    in_building += 1
                continue
            depth -= 1
            if is_bldg:
                in_building -= 1
                if in_building == 0:
                    self._building(el)
                    free(el)
            elif in_building == 0 and depth == 2 and isinstance(tag, str):
                parent = el.getparent()
                if parent is not None and local_name(parent.tag).lower().endswith("member"):
                    self._other(el)
                    free(el)
            elif depth == 1:
                free(el)
        for slot, draft in self.pending:
            self._finish(slot, draft, final=True)
        return self._model()

    def _root(self, el) -> None:
        ns = namespace(el.tag)
        if not ns.startswith(CITYGML_PREFIX) and local_name(el.tag) not in (
                "CityModel", "FeatureCollection"):
            raise FormatError(f"root element {local_name(el.tag)!r} is not a CityGML "
                              "CityModel", path=self.source.path, line=el.sourceline)
        for uri in [ns] + list(el.nsmap.values()):
            m = re.match(r"http://www\.opengis\.net/citygml/(?:\w+/)?(\d\.\d)$", uri or "")
            if m:
                self.version = m.group(1)
                break

    def _note_srs(self, srs: str, line) -> None:
        if self.srs is None:
            self.srs = (srs, line)
            self._first_crs(srs)
        elif srs != self.srs[0]:
            self.other_srs.add(srs)

    def _other(self, el) -> None:
        """Index the geometry ids of a non-building city object, then drop it."""
        ns = namespace(el.tag)
        self.ignored[f"{prefix(el)}:{local_name(el.tag)}" if ns else local_name(el.tag)] += 1
        draft = _Draft(_gml_id(el) or "", el.sourceline)
        ade = set(self.ade)
        try:
            self._walk(draft, el, 0, None, -1, False, 3)
            self._publish(draft)
        except CIMError:
            pass  # geometry of objects this reader does not keep cannot break the load
        self.ade = ade

    # ---- one building ---------------------------------------------------------------
    def _building(self, el) -> None:
        self.n_buildings += 1
        bid = _gml_id(el) or f"{self.source.name}#{self.n_buildings - 1}"
        draft = _Draft(bid, el.sourceline)
        try:
            if _gml_id(el):
                self._check_id(bid, el)
            draft.pieces.append((bid, el.sourceline, building_attributes(el, self.ade)))
            self._walk(draft, el, 0, None, -1, True, 3)
        except CIMError as e:
            self.problems.handle(e, obj_id=bid, line=el.sourceline)
            return
        slot = len(self.results)
        self.results.append(None)
        self._finish(slot, draft, final=False)

    def _finish(self, slot: int, draft: _Draft, *, final: bool) -> None:
        try:
            items = self._resolve(draft, final)
            if items is None:
                self.pending.append((slot, draft))
                return
            self._publish(draft)
            self.results[slot] = self._assemble(draft, items)
        except CIMError as e:
            self.problems.handle(e, obj_id=draft.id, line=draft.line)

    def _check_id(self, gid: str, el) -> None:
        if not _NCNAME.match(gid):
            raise SchemaError(f"gml:id {gid!r} is not a valid XML name (an id must not start "
                              "with a digit or contain spaces or colons)", line=el.sourceline)

    # ---- geometry walk --------------------------------------------------------------
    def _walk(self, draft: _Draft, el, piece, lod, sem, include, dim) -> None:
        """Collect the polygons and references under ``el`` into ``draft.items``."""
        for ch in el:
            tag = ch.tag
            if not isinstance(tag, str):
                continue
            ns, _, name = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
            gid = _gml_id(ch)
            start = len(draft.items)
            d = srs_dimension(ch, dim)
            if ns in GML_NS:
                if name in ("boundedBy", "Envelope", "name", "description"):
                    continue
                if name in ("Polygon", "Triangle", "PolygonPatch", "Rectangle"):
                    try:
                        rings = parse_polygon(ch, d)
                    except GeometryError:
                        if include:
                            raise
                        continue  # bad geometry in a part this reader does not keep
                    draft.items.append(_Item(piece, lod, sem, include, rings,
                                             line=ch.sourceline))
                else:
                    href = _href(ch)
                    if href is not None and len(ch) == 0:
                        draft.items.append(_Item(piece, lod, sem, include, ref=href,
                                                 line=ch.sourceline))
                    else:
                        self._walk(draft, ch, piece, lod, sem, include, d)
                    if name == "OrientableSurface" and ch.get("orientation") == "-":
                        for it in draft.items[start:]:
                            it.flip = not it.flip
                            if it.rings is not None:
                                it.rings = [r[::-1] for r in it.rings]
                                it.flip = False
            else:
                cg = ns.startswith(CITYGML_PREFIX)
                inc, s, lod_, piece_ = include, sem, lod, piece
                if not cg:
                    if not is_ade(ns):
                        continue
                    ade_sem = next((THEMATIC[t] for t in _ADE_SUFFIXES if name.endswith(t)),
                                   None)
                    if ade_sem is None:
                        if include:
                            self.ade.add(f"{prefix(ch)}:{name}")
                        inc = False
                    else:
                        s = ade_sem
                elif name in EXCLUDED or "ImplicitRepresentation" in name:
                    if include and name not in ("address", "externalReference"):
                        self.not_kept[name] += 1
                    inc = False
                elif name == "BuildingPart" and include:
                    if gid:
                        self._check_id(gid, ch)
                    pid = gid or f"{draft.id}/part{len(draft.pieces)}"
                    draft.pieces.append((pid, ch.sourceline, building_attributes(ch, self.ade)))
                    piece_ = len(draft.pieces) - 1
                elif name in THEMATIC:
                    s = THEMATIC[name]
                m = _LOD.match(name)
                if m:
                    lod_ = int(m.group(1))
                    if lod_ == 0 and s < 0:
                        s = {"FootPrint": GROUND, "RoofEdge": SURFACE_CODE["RoofSurface"]}.get(
                            m.group(2), -1)
                href = _href(ch)
                if href is not None and len(ch) == 0:
                    draft.items.append(_Item(piece_, lod_, s, inc, ref=href,
                                             line=ch.sourceline))
                else:
                    self._walk(draft, ch, piece_, lod_, s, inc, d)
            if gid and len(draft.items) > start:
                draft.ids[gid] = (start, len(draft.items))

    # ---- references -----------------------------------------------------------------
    def _lookup(self, draft: _Draft, target: str, depth: int = 0):
        """Return [(rings, sem, local item or None)] of geometry ``target``; None if absent."""
        if depth > 16:
            raise GeometryError(f"xlink:href '#{target}' is part of a reference cycle")
        rng = draft.ids.get(target)
        if rng is not None:
            out = []
            for it in draft.items[rng[0]:rng[1]]:
                if it.ref is None:
                    out.append((it.rings, it.sem, it))
                    continue
                sub = self._lookup(draft, it.ref, depth + 1)
                if sub is None:
                    return None
                out += [([r[::-1] for r in rings] if it.flip else rings,
                         it.sem if it.sem >= 0 else s, li) for rings, s, li in sub]
            return out
        hit = self.index.get(target)
        return None if hit is None else [(r, s, None) for r, s in hit]

    def _resolve(self, draft: _Draft, final: bool) -> list[_Item] | None:
        """Return the building's kept polygons with references replaced by their targets;
        None while a target is still unknown (it may come later in the file)."""
        out = []
        for it in draft.items:
            if not it.include:
                continue
            if it.ref is None:
                out.append(it)
                continue
            hit = self._lookup(draft, it.ref)
            if hit is None:
                if final:
                    raise MissingReferenceError(
                        f"xlink:href '#{it.ref}' points to no geometry in the file",
                        line=it.line)
                return None
            if hit and all(li is not None and li.include and li.lod == it.lod
                           for _, _, li in hit):
                continue  # a solid that references its own boundary surfaces
            for rings, s, _ in hit:
                out.append(_Item(it.piece, it.lod, it.sem if it.sem >= 0 else s, True,
                                 [r[::-1] for r in rings] if it.flip else rings))
        return out

    def _publish(self, draft: _Draft) -> None:
        for gid in draft.ids:
            try:
                hit = self._lookup(draft, gid)
            except CIMError:
                hit = None
            if hit is not None:
                self.index[gid] = [(r, s) for r, s, _ in hit]

    # ---- assembly -------------------------------------------------------------------
    def _assemble(self, draft: _Draft, items: list[_Item]):
        pieces = []
        for k, (pid, line, attrs) in enumerate(draft.pieces):
            mine = [it for it in items if it.piece == k]
            if not mine:
                continue
            lods = {it.lod for it in mine}
            lod = next((x for x in _LOD_PREFERENCE if x in lods), None)
            polys = [(it.rings, it.sem) for it in mine if it.lod == lod]
            pieces.append(building_piece(polys, 1 if lod is None else lod, attrs, pid, line,
                                         self.area_tol))
        if not pieces:
            raise GeometryError("building has no polygon geometry (LoD0–4)", line=draft.line)
        attrs = draft.pieces[0][2]
        storeys = attrs.get("storeysAboveGround")
        if storeys is None:
            known = [p["storeys"] for p in pieces if p["storeys"] >= 0]
            storeys = max(known) if known else -1
        use = use_from_function(attrs) or next((use_from_function(a) for _, _, a in draft.pieces[1:] if use_from_function(a)), "other")
        gen = {k.lower(): v for k, v in attrs.items()}
        return dict(
            obj_id=draft.id, footprint=[fp for p in pieces for fp in p["footprint"]],
            base=min(p["base"] for p in pieces), roof=max(p["roof"] for p in pieces),
            storeys=int(storeys), use=use,
            floor_area_m2=sum(p["floor_area"] for p in pieces),
            residents=nonnegative(gen.get("residents", gen.get("population", 0))),
            jobs=nonnegative(gen.get("jobs", gen.get("employees", 0))),
            lod=max(p["lod"] for p in pieces),
            surfaces=[s for p in pieces for s in p["surfaces"]],
            attributes=attrs,
            parts=[pid for pid, _, _ in draft.pieces[1:]] or None)

    def _model(self) -> CityModel:
        rows = BuildingRows()
        results = [r for r in self.results if r is not None]
        self._axes_and_units(results)
        for r in results:
            rows.add(**r)
        crs = None
        if self.srs is None:
            self.report.notes.append(f"{self.source.path}: no srsName: loaded in file "
                                     "coordinates (crs None)")
        else:
            try:
                crs = resolve_crs(self.srs[0], path=self.source.path)
            except CIMError as e:
                self.problems.handle(e, line=self.srs[1])
                self.report.notes.append(f"{self.source.path}: unknown srsName "
                                         f"{self.srs[0]!r}: loaded in file coordinates")
        if self.other_srs:
            self.report.notes.append(f"{self.source.path}: several srsNames; used "
                                     f"{self.srs[0]!r}, ignored {sorted(self.other_srs)}")
        if self.ignored:
            self.report.notes.append(f"{self.source.path}: city objects other than buildings "
                                     f"ignored: {dict(sorted(self.ignored.items()))}")
        if self.not_kept:
            self.report.notes.append(f"{self.source.path}: building content not kept (not "
                                     f"the outer shell): {dict(sorted(self.not_kept.items()))}")
        if self.ade:
            self.report.notes.append(f"{self.source.path}: ADE content ignored: "
                                     f"{', '.join(sorted(self.ade))}")
        meta = {"source_format": "CityGML " + (self.version or "?")}
        return CityModel(buildings=rows.build(), crs=crs, metadata=meta, report=self.report)

    def _axes_and_units(self, results: list[dict]) -> None:
        """Put the coordinates east first (GML writes them in the CRS's axis order: latitude
        first for EPSG:4326/6697…) and the floor areas in m² (squared degrees for a
        geographic CRS)."""
        if self.crs is None or not results:
            return
        first = np.array([r["footprint"][0][0][0, :2] for r in results if r["footprint"]])
        if not len(first):
            return
        x, y = np.median(first, axis=0)
        if swap_xy(self.crs, float(x), float(y), declared=True):
            self.report.notes.append(f"{self.source.path}: coordinates in the CRS's "
                                     "latitude/northing-first axis order: swapped to x/y")
            for r in results:
                r["footprint"] = [[ring[:, ::-1] for ring in p] for p in r["footprint"]]
                r["surfaces"] = [([ring[::-1][:, [1, 0, 2]] for ring in rings], s)
                                 for rings, s in r["surfaces"]]
            first = first[:, ::-1]
        factor = area_factor(self.crs, first[:, 1]) if self.crs.is_geographic else \
            np.full(len(first), area_factor(self.crs))
        k = 0
        for r in results:
            if r["footprint"]:
                r["floor_area_m2"] *= float(factor[k])
                k += 1
