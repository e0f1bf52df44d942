"""CityJSON 2.0 writer (see :mod:`cim.formats.cityjson`): quantized, deduplicated vertices,
buildings as LoD1 Solids or LoD2 surfaces, the road network per the convention of
:mod:`cim.roads`, areas, sites and other objects; identical models give identical bytes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..crs import crs_url
from ..errors import FormatError, ValueRangeError
from ..geometry import SURFACE_TYPES, _ring_signed_areas
from ..model import CityModel
from ._cjheader import EXTRA_KEY, ROOT_MEMBERS
from .source import write_bytes


def _clean(v):
    """Return ``v`` as plain JSON values (numpy → Python, NaN/inf → None, tuples → lists)."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _lod(lod) -> str:
    return f"{round(float(lod), 1):g}"


class _Writer:
    """Collects every coordinate first (so that vertices are quantized and deduplicated in one
    numpy pass), then emits the objects with indices into the shared vertex list."""

    def __init__(self, city: CityModel, scale):
        self.city = city
        self.chunks: list[np.ndarray] = []
        self.n = 0
        self.scale = scale

    def add(self, xyz: np.ndarray) -> int:
        """Append coordinates ((n, 3)); return the index of the first."""
        xyz = np.asarray(xyz, float).reshape(-1, 3)
        self.chunks.append(xyz)
        self.n += len(xyz)
        return self.n - len(xyz)

    def quantize(self):
        allv = np.concatenate(self.chunks) if self.chunks else np.zeros((0, 3))
        if not np.isfinite(allv).all():
            raise ValueRangeError("the model has non-finite coordinates; cannot write them")
        translate = allv.min(axis=0) if len(allv) else np.zeros(3)
        q = np.round((allv - translate) / self.scale).astype(np.int64)
        uq, inv = np.unique(q, axis=0, return_inverse=True)
        self.inv = inv.reshape(-1).tolist()
        real = uq * self.scale + translate
        extent = (real.min(axis=0).tolist() + real.max(axis=0).tolist()) if len(uq) else None
        return uq, translate, extent

    def rings(self, ps, i, base):
        """Return object i's polygons of PolygonSet ``ps`` (whose vertex k was added as
        ``base + k``) as (polygon, lists of vertex-index rings)."""
        inv = self.inv
        out = []
        ro, po = ps.ring_offsets, ps.polygon_offsets
        for p in range(ps.object_offsets[i], ps.object_offsets[i + 1]):
            rings = []
            for r in range(po[p], po[p + 1]):
                ring = _dedupe(inv[base + ro[r]:base + ro[r + 1]])
                if len(ring) >= 3 or rings:
                    rings.append(ring)
            if rings and len(rings[0]) >= 3:
                out.append((p, [r for r in rings if len(r) >= 3]))
        return out


def _dedupe(ring: list) -> list:
    """Drop consecutive duplicate vertices (after quantization) from a ring."""
    if len(set(ring)) == len(ring):
        return ring
    out = [v for k, v in enumerate(ring) if v != ring[k - 1]] if len(ring) > 1 else ring
    return out


def _multisurface(w: _Writer, ps, i, lod, base) -> dict | None:
    polys = w.rings(ps, i, base)
    if not polys:
        return None
    g = {"type": "MultiSurface", "lod": _lod(lod), "boundaries": [r for _, r in polys]}
    codes = [int(ps.semantics[p]) for p, _ in polys]
    if any(c >= 0 for c in codes):
        used = sorted({c for c in codes if c >= 0})
        pos = {c: k for k, c in enumerate(used)}
        g["semantics"] = {"surfaces": [{"type": SURFACE_TYPES[c]} for c in used],
                          "values": [pos[c] if c >= 0 else None for c in codes]}
    return g


def _extrusion(w: _Writer, b, i, bottom0, top0, flip) -> dict | None:
    """Return the LoD1 Solid (MultiSolid for several polygons) of building i."""
    fp = b.footprint
    inv = w.inv
    ro, po = fp.ring_offsets, fp.polygon_offsets
    solids = []
    for p in range(fp.object_offsets[i], fp.object_offsets[i + 1]):
        ground, roof, walls = [], [], []
        for r in range(po[p], po[p + 1]):
            s, e = ro[r], ro[r + 1]
            bot = inv[bottom0 + s:bottom0 + e]
            top = inv[top0 + s:top0 + e]
            if flip[r]:
                bot, top = bot[::-1], top[::-1]
            n = len(bot)
            for k in range(n):
                k1 = k + 1 if k + 1 < n else 0
                if bot[k] != bot[k1]:
                    walls.append([[bot[k], bot[k1], top[k1], top[k]]])
            ground.append(_dedupe(bot[::-1]))
            roof.append(_dedupe(top))
        if len(ground[0]) < 3:
            continue
        solids.append([[ground] + [roof] + walls])
    if not solids:
        return None
    values = [[0, 1] + [2] * (len(s[0]) - 2) for s in solids]
    sem = {"surfaces": [{"type": "GroundSurface"}, {"type": "RoofSurface"},
                        {"type": "WallSurface"}]}
    if len(solids) == 1:
        return {"type": "Solid", "lod": "1", "boundaries": solids[0],
                "semantics": {**sem, "values": values[0:1]}}
    return {"type": "MultiSolid", "lod": "1", "boundaries": solids,
            "semantics": {**sem, "values": [[v] for v in values]}}


def _document(city: CityModel, version: str, scale) -> dict:
    b, rn = city.buildings, city.roads
    geographic = city.crs is not None and city.crs.is_geographic
    if scale is None:
        scale = np.array([1e-9, 1e-9, 1e-3]) if geographic else np.full(3, 1e-3)
    w = _Writer(city, np.broadcast_to(np.asarray(scale, float), (3,)))
    # 1. every coordinate, in bulk
    fp = b.footprint
    vobj = fp.vertex_object() if len(fp.vertices) else np.zeros(0, np.int64)
    zb = np.nan_to_num(b.base_height)[vobj]
    zr = np.nan_to_num(b.roof_height)[vobj]
    bottom0 = w.add(np.column_stack([fp.vertices[:, :2], zb]))
    top0 = w.add(np.column_stack([fp.vertices[:, :2], zr]))
    area = _ring_signed_areas(fp.vertices[:, :2], fp.ring_offsets)
    ext = np.zeros(len(area), bool)
    ext[fp.polygon_offsets[:-1][np.diff(fp.polygon_offsets) > 0]] = True
    flip = np.where(ext, area < 0, area > 0).tolist()
    base = []
    for ps in (b.surfaces, city.water_bodies.polygons, city.land_use.polygons,
               city.others.surfaces):
        v = ps.vertices
        base.append(w.add(v if v.shape[1] == 3 else np.column_stack([v, np.zeros(len(v))])))
    road0 = w.add(np.column_stack([rn.geometry_xy, np.zeros(len(rn.geometry_xy))]))
    node0 = w.add(np.column_stack([rn.node_xy, np.zeros(rn.n_nodes)]))
    site0 = w.add(city.sites.xyz)
    uq, translate, extent = w.quantize()
    inv = w.inv
    objects: dict[str, dict] = {}
    # 2. buildings
    height = b.roof_height - b.base_height
    for i, bid in enumerate(b.ids):
        a = {}
        if b.storeys[i] >= 0:
            a["storeysAboveGround"] = int(b.storeys[i])
        if b.use[i]:
            a["function"] = b.use[i]
        for key, col in (("floor_area_m2", b.floor_area), ("residents", b.residents),
                         ("jobs", b.jobs)):
            if math.isfinite(col[i]):
                a[key] = float(col[i])
        a.update(b.attributes.row(i))
        o = {"type": "Building", "attributes": _clean(a)}
        g = None
        if b.lod[i] >= 2 and b.surfaces.object_offsets[i + 1] > b.surfaces.object_offsets[i]:
            g = _multisurface(w, b.surfaces, i, b.lod[i], base[0])
        elif height[i] > 0:
            g = _extrusion(w, b, i, bottom0, top0, flip)
        elif fp.object_offsets[i + 1] > fp.object_offsets[i]:
            g = _multisurface(w, fp, i, 0, bottom0)
        if g is not None:
            o["geometry"] = [g]
        parts = b.parts[i]
        if parts:
            o["children"] = list(parts)
        objects[str(bid)] = o
        for pid in parts or ():
            objects[str(pid)] = {"type": "BuildingPart", "parents": [str(bid)]}
    # 3. roads (directed links grouped back into street segments) and signals
    _roads(rn, inv, road0, objects)
    for k in np.nonzero(rn.node_signal)[0]:
        nid = str(rn.node_ids[k])
        plan = rn.node_signal_plan[k] or {}
        a = {"function": "traffic_signal", "node": nid}
        for key in ("cycle_s", "offset_s", "green_s", "yellow_s", "phase_roads"):
            if plan.get(key) is not None:
                a["signal_" + key] = plan[key]
        objects[f"signal-{nid}"] = {"type": "CityFurniture", "attributes": _clean(a),
                                    "geometry": [{"type": "MultiPoint", "lod": "0",
                                                  "boundaries": [inv[node0 + k]]}]}
    # 4. areas, sites, others
    for table, typ, b0 in ((city.water_bodies, "WaterBody", base[1]),
                           (city.land_use, "LandUse", base[2])):
        for i, oid in enumerate(table.ids):
            a = {}
            if table.kind[i]:
                a["class"] = table.kind[i]
            if table.name[i]:
                a["name"] = table.name[i]
            a.update(table.attributes.row(i))
            o = {"type": typ, "attributes": _clean(a)}
            g = _multisurface(w, table.polygons, i, 1, b0)
            if g is not None:
                o["geometry"] = [g]
            objects[str(oid)] = o
    s = city.sites
    for i, sid in enumerate(s.ids):
        a = {"site_kind": s.kind[i]}
        if s.name[i]:
            a["name"] = s.name[i]
        if math.isfinite(s.capacity[i]):
            a["capacity"] = float(s.capacity[i])
        a.update(s.attributes.row(i))
        objects[str(sid)] = {"type": "GenericCityObject", "attributes": _clean(a),
                             "geometry": [{"type": "MultiPoint", "lod": "1",
                                           "boundaries": [inv[site0 + i]]}]}
    ot = city.others
    for i, oid in enumerate(ot.ids):
        o = {"type": str(ot.type[i])}
        a = ot.attributes.row(i)
        if a:
            o["attributes"] = _clean(a)
        g = _multisurface(w, ot.surfaces, i, ot.lod[i], base[3])
        if g is not None:
            o["geometry"] = [g]
        objects[str(oid)] = o
    # 5. the document
    meta = {}
    if extent is not None:
        meta["geographicalExtent"] = extent
    if city.crs is not None:
        meta["referenceSystem"] = crs_url(city.crs)
    extra = {}
    for k, v in city.metadata.items():
        if k == EXTRA_KEY and isinstance(v, dict):
            extra = v
        elif k not in ("formats", "referenceSystem", "geographicalExtent"):
            meta[k] = v
    doc = {"type": "CityJSON", "version": version,
           "transform": {"scale": w.scale.tolist(), "translate": translate.tolist()},
           "metadata": _clean(meta)}
    for k, v in extra.items():
        if k not in ROOT_MEMBERS:
            doc[k] = _clean(v)
    doc["CityObjects"] = objects
    doc["vertices"] = uq.tolist()
    return doc


def _roads(rn, inv, road0, objects) -> None:
    groups: dict[str, dict[str, int]] = {}
    for k in range(rn.n_links):
        src, lid = str(rn.link_source[k]), str(rn.link_ids[k])
        if lid == f"{src}:f" or (lid == f"{src}:b" and src in groups):
            groups.setdefault(src, {})[lid[-1]] = k
        else:
            groups.setdefault(lid, {})["f"] = k
    for rid, dirs in groups.items():
        if "f" not in dirs:
            continue
        f, back = dirs["f"], dirs.get("b")
        lanes = int(rn.link_lanes[f])
        a = {"start_node": str(rn.node_ids[rn.link_from[f]]),
             "end_node": str(rn.node_ids[rn.link_to[f]]),
             "oneway": back is None, "lanes_forward": lanes,
             "lanes_backward": 0 if back is None else int(rn.link_lanes[back]),
             "maxspeed_kmh": round(float(rn.link_free_speed[f]) * 3.6, 9),
             "name": str(rn.link_name[f] or ""), "class": str(rn.link_class[f]),
             "tunnel": bool(rn.link_tunnel[f]), "bridge": bool(rn.link_bridge[f]),
             "width_m": float(rn.link_width[f]),
             "capacity_vph_per_lane": round(float(rn.link_capacity[f]) / max(lanes, 1), 9)}
        g0, g1 = int(rn.geometry_offsets[f]), int(rn.geometry_offsets[f + 1])
        line = inv[road0 + g0:road0 + g1]
        objects[rid] = {"type": "Road", "attributes": _clean(a),
                        "geometry": [{"type": "MultiLineString", "lod": "0",
                                      "boundaries": [line]}]}


def _no_default(o):
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def _dumps(doc) -> str:
    """Return compact JSON of ``doc`` with the C encoder of the standard library, called
    directly: some libraries (cjio) patch ``json.encoder`` globally to round floats."""
    try:
        from _json import encode_basestring, make_encoder
    except ImportError:  # pragma: no cover - CPython always has _json
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    enc = make_encoder({}, _no_default, encode_basestring, None, ":", ",", False, False, False)
    return "".join(enc(doc, 0))


def write(city: CityModel, path: Path, *, version: str = "2.0", scale=None) -> Path:
    """Write ``city`` as CityJSON (``version`` "2.0" or "1.1"); gzip (bzip2) when the name ends in
    ``.gz`` (``.bz2``). ``scale``: the transform's scale (default 1 mm; 1e-9° x/y for geographic CRSs).
    Returns ``path``."""
    if version not in ("1.1", "2.0"):
        raise FormatError(f"cannot write CityJSON version {version!r} (1.1 or 2.0)", path=path)
    path = Path(path)
    doc = _document(city, version, scale)
    data = _dumps(doc).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes(path, data)
