"""CityJSON object collection shared by the CityJSON and CityJSONSeq readers.

Objects are walked once in Python, which only flattens their boundaries (lists of vertex
indices) into a few flat lists; everything else — vertex look-up, range checks, ring checks,
heights, footprints — is done vectorised over all objects in :meth:`Collector.build`.
"""

from __future__ import annotations

import math
from itertools import chain

import numpy as np

from ..errors import (
    CIMError,
    GeometryError,
    MissingReferenceError,
    Problems,
    SchemaError,
    ValueRangeError,
)
from ..geometry import SURFACE_CODE
from ..roads import RoadNetworkBuilder
from ._cjutil import _fast_number, lod_value, number

BUILDING, WATER, LANDUSE, OTHER = 0, 1, 2, 3
GROUND = SURFACE_CODE["GroundSurface"]
#: faces whose z range is within this (m) count as horizontal; at most this above the object's
#: lowest point counts as "lowest".
Z_TOL = 0.01
STOREY_HEIGHT_M = 3.0
ROAD_KEYS = ("start_node", "end_node")
_USE_KEYS = ("function", "usage", "use")
_SURFACE_TYPES = ("MultiSurface", "CompositeSurface")
_CODE_GET = SURFACE_CODE.get
_chain = chain.from_iterable
_SOLID_TYPES = ("MultiSolid", "CompositeSolid")


class Collector:
    """Accumulates the city objects of one CityJSON document or of a CityJSONSeq stream;
    :meth:`build` returns the tables. Each "geometry object" (gobj) is the selected geometry
    of one source city object; a building row owns its own gobj and its parts' gobjs."""

    def __init__(self, path, lenient: bool, report):
        self.path = str(path)
        self.problems = Problems(path, lenient, report)
        self.report = report
        self.blocks: list[np.ndarray] = []
        # flat geometry buffers
        self.idx: list[int] = []
        self.ring_len: list[int] = []
        self.poly_nrings: list[int] = []
        self.poly_sem: list[int] = []
        self.run_start: list[int] = []
        self.run_block: list[int] = []
        self._cur_block = -1
        self.g_npoly: list[int] = []
        self.g_table: list[int] = []
        self.g_row: list[int] = []
        self.g_oid: list[str] = []
        self.rows: dict[int, dict[str, list]] = {
            BUILDING: {k: [] for k in ("ids", "attrs", "storeys", "use", "floor_area",
                                       "residents", "jobs", "lod", "parts")},
            WATER: {k: [] for k in ("ids", "kind", "name", "attrs")},
            LANDUSE: {k: [] for k in ("ids", "kind", "name", "attrs")},
            OTHER: {k: [] for k in ("ids", "type", "lod", "attrs")},
        }
        self.sites: dict[str, list] = {k: [] for k in ("ids", "kind", "name", "xyz", "capacity",
                                                       "attrs")}
        self.roads = RoadNetworkBuilder()
        self.signals: list[tuple[str, str, dict]] = []
        self.crs = None  # set by the reader: tolerances in metres, floor areas in m²

    # ---- input ----------------------------------------------------------------------------
    def add_block(self, vertices: np.ndarray) -> int:
        """Register a vertex block ((n, 3) float64, real coordinates); return its id."""
        self.blocks.append(vertices)
        return len(self.blocks) - 1

    def add_objects(self, objects: dict, block: int, templates=None) -> None:
        """Add the city objects of one document/feature whose vertices are block ``block``.
        ``templates``: (list of template geometries, template vertex block id) or None."""
        if not isinstance(objects, dict):
            raise SchemaError("CityObjects must be a JSON object", path=self.path)
        handle = self.problems.handle
        bad: set[str] = set()
        root_of: dict[str, str] = {}
        for oid, o in objects.items():
            try:
                if not isinstance(o, dict):
                    raise SchemaError("city object is not a JSON object")
                t = o.get("type")
                if not isinstance(t, str) or not t:
                    raise SchemaError("city object has no type")
                for member, what in (("parents", "parent"), ("children", "child")):
                    refs = o.get(member)
                    if refs:
                        if not isinstance(refs, list):
                            raise SchemaError(f"{member} is not a list of ids")
                        for ref in refs:
                            if not isinstance(ref, str) or ref not in objects:
                                raise MissingReferenceError(
                                    f"{what} {ref!r} is not in the file")
                if t == "BuildingPart":
                    root = self._root_building(oid, objects)
                    if root is not None:
                        root_of[oid] = root
            except CIMError as e:
                handle(e, obj_id=oid)
                bad.add(oid)
        parts: dict[str, list[str]] = {}
        for pid, root in root_of.items():
            if root in bad:
                bad.add(pid)
            parts.setdefault(root, []).append(pid)
        skip = bad or root_of
        add = self._add_object
        for oid, o in objects.items():
            if skip and (oid in bad or oid in root_of):
                continue
            mark = (len(self.idx), len(self.ring_len), len(self.poly_nrings),
                    len(self.run_start), len(self.g_npoly))
            try:
                add(oid, o, objects, parts.get(oid, ()), block, templates)
            except CIMError as e:
                self._rollback(mark)
                handle(e, obj_id=oid)
            except (TypeError, KeyError, IndexError, ValueError, AttributeError) as e:
                self._rollback(mark)
                handle(SchemaError(f"malformed city object ({type(e).__name__}: {e})"),
                       obj_id=oid)

    def _root_building(self, oid, objects):
        seen = {oid}
        cur = objects[oid]
        for _ in range(64):
            parents = cur.get("parents") or ()
            if not parents:
                return None
            pid = parents[0]
            if pid in seen:
                raise SchemaError("parents form a cycle")
            seen.add(pid)
            cur = objects[pid]
            if not isinstance(cur, dict):
                return None
            t = cur.get("type")
            if t == "Building":
                return pid
            if t != "BuildingPart":
                return None
        return None

    def _rollback(self, mark) -> None:
        """Forget the geometry of a failed object (rows are appended only on success)."""
        ni, nr, npoly, nrun, ng = mark
        self._cur_block = -1
        del self.idx[ni:], self.ring_len[nr:], self.poly_nrings[npoly:], self.poly_sem[npoly:]
        del self.run_start[nrun:], self.run_block[nrun:]
        del self.g_npoly[ng:], self.g_table[ng:], self.g_row[ng:], self.g_oid[ng:]

    # ---- one object -----------------------------------------------------------------------
    def _select(self, geoms, templates) -> tuple[float, list]:
        """Return (highest lod, geometries with that lod); (-1, []) without geometry."""
        if not geoms:
            return -1.0, []
        if not isinstance(geoms, list):
            raise SchemaError("geometry must be a list")
        best, sel = -1.0, []
        for g in geoms:
            if not isinstance(g, dict):
                raise SchemaError("geometry is not a JSON object")
            if g.get("type") == "GeometryInstance":
                lod = lod_value(self._template(g, templates).get("lod", 0))
            else:
                try:
                    lod = lod_value(g.get("lod"))
                except (TypeError, ValueError):
                    raise SchemaError(f"geometry lod {g.get('lod')!r} is not a number") from None
            if lod > best:
                best, sel = lod, [g]
            elif lod == best:
                sel.append(g)
        return best, sel

    @staticmethod
    def _template(g, templates):
        ti = g.get("template")
        if templates is None or not isinstance(ti, int) or isinstance(ti, bool) \
                or not 0 <= ti < len(templates[0]):
            raise MissingReferenceError(f"geometry template {ti!r} does not exist")
        return templates[0][ti]

    def _attrs(self, o) -> dict:
        a = o.get("attributes")
        if a is None:
            return {}
        if not isinstance(a, dict):
            raise SchemaError("attributes must be a JSON object")
        return dict(a)

    def _add_object(self, oid, o, objects, part_ids, block, templates) -> None:
        t = o["type"]
        attrs = self._attrs(o)
        if t == "Building":
            self._building(oid, o, attrs, [(p, objects[p]) for p in part_ids], block, templates)
        elif "site_kind" in attrs:
            self._site(oid, o, attrs, block, templates)
        elif t == "Road" and all(k in attrs for k in ROAD_KEYS):
            self._road(oid, o, attrs, block, templates)
        elif t == "CityFurniture" and attrs.get("function") == "traffic_signal":
            self._signal(oid, attrs)
        elif t in ("WaterBody", "LandUse"):
            table = WATER if t == "WaterBody" else LANDUSE
            kind = ""
            for key in ("class", "function", "kind"):
                if attrs.get(key) is not None:
                    kind = str(attrs.pop(key))
                    break
            name = attrs.pop("name", "")
            rows = self.rows[table]
            row = len(rows["ids"])
            _, geoms = self._select(o.get("geometry"), templates)
            self._gobj(table, row, oid, geoms, block, templates)
            rows["ids"].append(oid)
            rows["kind"].append(kind)
            rows["name"].append("" if name is None else str(name))
            rows["attrs"].append(attrs)
        else:
            rows = self.rows[OTHER]
            row = len(rows["ids"])
            lod, geoms = self._select(o.get("geometry"), templates)
            self._gobj(OTHER, row, oid, geoms, block, templates)
            rows["ids"].append(oid)
            rows["type"].append(t)
            rows["lod"].append(max(lod, 0.0))
            rows["attrs"].append(attrs)

    def _building(self, oid, o, attrs, parts, block, templates) -> None:
        v = attrs.pop("storeysAboveGround", None)
        if v is None:
            storeys = -1
        elif v.__class__ is int and 0 <= v <= 500:
            storeys = v
        else:
            storeys = number({"storeysAboveGround": v}, "storeysAboveGround", -1, hi=500,
                             integer=True)
        use = ""
        for key in _USE_KEYS:
            v = attrs.get(key)
            if v is not None:
                del attrs[key]
                if isinstance(v, list):
                    v = v[0] if v else ""
                use = str(v).strip().lower()
                break
        floor_area = _fast_number(attrs, "floor_area_m2", None, 1e8)
        residents = _fast_number(attrs, "residents", 0.0, 1e6)
        jobs = _fast_number(attrs, "jobs", 0.0, 1e6)
        for key in ("measuredHeight", "height"):
            v = attrs.get(key)
            if v is not None and isinstance(v, (int, float)) and not isinstance(v, bool) \
                    and not (0 <= v <= 1000):
                raise ValueRangeError(f"attribute {key} = {v!r} is out of range [0, 1000]")
        rows = self.rows[BUILDING]
        row = len(rows["ids"])
        lod, geoms = self._select(o.get("geometry"), templates)
        if not parts:
            if geoms:
                self._gobj(BUILDING, row, oid, geoms, block, templates)
        else:
            members = [(oid, lod, geoms)]
            for pid, p in parts:
                try:
                    members.append((pid, *self._select(p.get("geometry"), templates)))
                except CIMError as e:
                    raise e.located(obj_id=pid) from None
            part_lod = max(m[1] for m in members[1:])
            if lod < part_lod:
                members = members[1:]  # the parts refine the parent's geometry: use theirs
            lod = -1.0
            for mid, mlod, mgeoms in members:
                if mgeoms:
                    lod = max(lod, mlod)
                    try:
                        self._gobj(BUILDING, row, mid, mgeoms, block, templates)
                    except CIMError as e:
                        raise e.located(obj_id=mid) from None
        rows["ids"].append(oid)
        rows["attrs"].append(attrs)
        rows["storeys"].append(storeys)
        rows["use"].append(use)
        rows["floor_area"].append(np.nan if floor_area is None else floor_area)
        rows["residents"].append(residents)
        rows["jobs"].append(jobs)
        rows["lod"].append(max(lod, 0.0))
        rows["parts"].append(tuple(p for p, _ in parts) or None)

    def _points(self, geoms, block, templates) -> np.ndarray:
        """Return the vertices used by the geometries (first geometry's order), (n, 3)."""
        for g in geoms:
            if g.get("type") == "GeometryInstance":
                return self.blocks[block][[int(g["boundaries"][0])]]
            flat: list[int] = []
            stack = [g.get("boundaries")]
            while stack:
                x = stack.pop()
                if isinstance(x, list):
                    stack.extend(reversed(x))
                elif isinstance(x, int) and not isinstance(x, bool):
                    flat.append(x)
                else:
                    raise SchemaError(f"boundary entry {x!r} is not a vertex index")
            v = self.blocks[block]
            if flat and not (0 <= min(flat) and max(flat) < len(v)):
                raise GeometryError(f"vertex index out of range (file has {len(v)} vertices)")
            return v[flat]
        return np.zeros((0, 3))

    def _site(self, oid, o, attrs, block, templates) -> None:
        kind = str(attrs.pop("site_kind"))
        name = attrs.pop("name", "")
        capacity = number(attrs, "capacity", math.nan, hi=1e9)
        _, geoms = self._select(o.get("geometry"), templates)
        pts = self._points(geoms, block, templates)
        if not len(pts):
            raise GeometryError("site has no location (no geometry)")
        s = self.sites
        s["ids"].append(oid)
        s["kind"].append(kind)
        s["name"].append("" if name is None else str(name))
        s["xyz"].append(pts[0] if len(pts) == 1 or geoms[0]["type"] == "MultiPoint"
                        else pts.mean(axis=0))
        s["capacity"].append(capacity)
        s["attrs"].append(attrs)

    def _road(self, oid, o, attrs, block, templates) -> None:
        _, geoms = self._select(o.get("geometry"), templates)
        lines = [g for g in geoms if g.get("type") == "MultiLineString"]
        if not lines:
            raise GeometryError("a road with start_node/end_node needs a MultiLineString "
                                "centreline")
        v = self.blocks[block]
        xy = []
        for line in lines[0]["boundaries"]:
            if not line or not all(isinstance(i, int) and 0 <= i < len(v) for i in line):
                raise GeometryError(f"road centreline has a bad vertex index "
                                    f"(file has {len(v)} vertices)")
            pts = v[line, :2]
            xy.append(pts[1:] if xy and np.array_equal(xy[-1][-1], pts[0]) else pts)
        xy = np.concatenate(xy)

        def flag(key):
            val = attrs.get(key, False)
            if not isinstance(val, (bool, int)) or isinstance(val, int) and val not in (0, 1):
                raise ValueRangeError(f"attribute {key} = {val!r} is not a boolean")
            return bool(val)

        opt = {}
        for key in ("lanes_forward", "lanes_backward", "maxspeed_kmh", "width_m",
                    "capacity_vph_per_lane"):
            if attrs.get(key) is not None:
                opt[key] = attrs[key]
        self.roads.add_segment(
            oid, str(attrs["start_node"]), str(attrs["end_node"]), xy, oneway=flag("oneway"),
            name=str(attrs.get("name") or ""), cls=str(attrs.get("class") or "unclassified"),
            tunnel=flag("tunnel"), bridge=flag("bridge"), **opt)

    def _signal(self, oid, attrs) -> None:
        node = attrs.get("node")
        if node is None:
            raise SchemaError("traffic signal has no node attribute")
        plan = {}
        for key, name in (("signal_cycle_s", "cycle_s"), ("signal_offset_s", "offset_s"),
                          ("signal_yellow_s", "yellow_s")):
            v = number(dict(attrs), key, None, hi=3600)
            if v is not None:
                plan[name] = v
        green = attrs.get("signal_green_s")
        if green is not None:
            if not isinstance(green, list):
                raise ValueRangeError(f"attribute signal_green_s = {green!r} is not a list")
            plan["green_s"] = [number({"g": g}, "g", 0.0, hi=3600) for g in green]
        roads = attrs.get("signal_phase_roads")
        if roads is not None:
            if not (isinstance(roads, list) and all(isinstance(r, list) for r in roads)):
                raise ValueRangeError(f"attribute signal_phase_roads = {roads!r} is not a "
                                      "list of lists of road names")
            plan["phase_roads"] = [[str(x) for x in r] for r in roads]
        self.signals.append((oid, str(node), plan))

    # ---- geometry flattening ----------------------------------------------------------------
    def _gobj(self, table, row, oid, geoms, block, templates) -> None:
        n = 0
        for g in geoms:
            n += self._geometry(g, block, templates)
        self.g_npoly.append(n)
        self.g_table.append(table)
        self.g_row.append(row)
        self.g_oid.append(oid)

    def _geometry(self, g, block, templates) -> int:
        t = g.get("type")
        b = g.get("boundaries")
        if t == "GeometryInstance":
            tpl = self._template(g, templates)
            v = self.blocks[block]
            ref = b[0] if isinstance(b, list) and len(b) == 1 else None
            if not isinstance(ref, int) or not 0 <= ref < len(v):
                raise GeometryError(f"GeometryInstance reference point {ref!r} is not a vertex "
                                    f"index (file has {len(v)} vertices)")
            try:
                m = np.asarray(g.get("transformationMatrix"), float).reshape(4, 4)
            except (TypeError, ValueError):
                raise SchemaError("transformationMatrix must be 16 numbers") from None
            tv = self.blocks[templates[1]]
            pts = tv @ m[:3, :3].T + m[:3, 3] + v[ref]
            if not np.isfinite(pts).all():
                raise ValueRangeError("GeometryInstance transforms to non-finite coordinates")
            return self._geometry(tpl, self.add_block(pts), None)
        if block != self._cur_block:
            self._cur_block = block
            self.run_start.append(len(self.poly_nrings))
            self.run_block.append(block)
        codes = values = None
        sem = g.get("semantics")
        if sem:
            codes = {None: -1}
            for k, srf in enumerate(sem.get("surfaces") or ()):
                codes[k] = _CODE_GET(srf.get("type"), -1)
            values = sem.get("values")
        if not isinstance(b, list):
            raise SchemaError(f"{t} boundaries must be a list")
        if t == "Solid":
            if len(b) == 1:
                return self._surfaces(b[0], values[0] if values else None, codes)
            return sum(self._surfaces(shell, values[k] if values else None, codes)
                       for k, shell in enumerate(b))
        if t in _SURFACE_TYPES:
            return self._surfaces(b, values, codes)
        if t in _SOLID_TYPES:
            n = 0
            for i, solid in enumerate(b):
                for k, shell in enumerate(solid):
                    n += self._surfaces(shell, values[i][k] if values and values[i] else None,
                                        codes)
            return n
        if t in ("MultiPoint", "MultiLineString"):
            return 0
        raise SchemaError(f"unknown geometry type {t!r}")

    def _surfaces(self, surfs, values, codes) -> int:
        """Append surfaces (lists of rings of vertex indices) with their semantic values."""
        rings = list(_chain(surfs))
        self.ring_len.extend(map(len, rings))
        self.idx.extend(_chain(rings))
        self.poly_nrings.extend(map(len, surfs))
        if values is None:
            self.poly_sem.extend([-1] * len(surfs))
        else:
            if len(values) != len(surfs):
                raise SchemaError(f"semantics values has {len(values)} entries for "
                                  f"{len(surfs)} surfaces")
            try:
                self.poly_sem.extend(map(codes.__getitem__, values))
            except (KeyError, TypeError):
                raise SchemaError("semantics values refer to a missing surface") from None
        return len(surfs)
