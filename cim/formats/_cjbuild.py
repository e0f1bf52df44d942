"""Vectorised second half of the CityJSON readers: turns a :class:`Collector`'s flat index
buffers into the model's tables (vertex look-up, range and ring checks, heights, footprints)."""

from __future__ import annotations

import numpy as np
import shapely

from ..crs import area_factor, metre_area_tol
from ..errors import CIMError, GeometryError, MissingReferenceError
from ..geometry import PolygonSet, _ring_signed_areas
from ..model import Areas, Attributes, Buildings, CityObjects, Sites, _obj
from ._cjcollect import (
    BUILDING,
    GROUND,
    LANDUSE,
    OTHER,
    STOREY_HEIGHT_M,
    WATER,
    Z_TOL,
    Collector,
)
from ._cjutil import _excl_cumsum, ranges, seg_reduce


class _Flat:
    """The collector's buffers as arrays, with the derived index maps."""

    def __init__(self, c: Collector):
        sizes = np.array([len(b) for b in c.blocks], np.int64)
        self.vertices = np.concatenate(c.blocks) if c.blocks else np.zeros((0, 3))
        self.ring_len = np.asarray(c.ring_len, np.int64)
        self.poly_nr = np.asarray(c.poly_nrings, np.int64)
        self.sem = np.asarray(c.poly_sem, np.int16)
        self.g_npoly = np.asarray(c.g_npoly, np.int64)
        self.g_table = np.asarray(c.g_table, np.int64)
        self.g_row = np.asarray(c.g_row, np.int64)
        n_poly = len(self.poly_nr)
        run_start = np.asarray(c.run_start + [n_poly], np.int64)
        poly_block = np.repeat(np.asarray(c.run_block, np.int64), np.diff(run_start))
        self._derive()
        self.errors: dict[int, CIMError] = {}  # gobj -> first error
        self.notes: list[str] = []
        try:
            idx = np.asarray(c.idx, np.int64)
            if idx.ndim != 1:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            idx = self._bad_entries(c)
        vblock = poly_block[self.ring_poly[self.vert_ring]] if len(idx) else \
            np.zeros(0, np.int64)
        limit = sizes[vblock]
        bad = (idx < 0) | (idx >= limit)
        if bad.any():
            for k in np.nonzero(bad)[0][::-1]:
                g = int(self.poly_g[self.ring_poly[self.vert_ring[k]]])
                self.errors[g] = GeometryError(
                    f"vertex index {int(idx[k])} is out of range (the file has "
                    f"{int(limit[k])} vertices)")
            idx = np.where(bad, 0, idx)
        self.gidx = idx + _excl_cumsum(sizes)[vblock]
        if bad.any():  # an empty block (e.g. no template vertices): point at any vertex
            self.gidx = np.where(bad, 0, self.gidx)
            if not len(self.vertices):
                self.vertices = np.zeros((1, 3))
        self.xyz = self.vertices[self.gidx]
        self._drop_repeated_vertices()
        self._drop_degenerate_rings()

    def _drop_repeated_vertices(self) -> None:
        """Drop a vertex equal to the one before it in its ring (closing repeats included)."""
        xyz, rl = self.xyz, self.ring_len
        if not len(xyz):
            return
        k = np.arange(len(xyz))
        prev = np.where(k == self.ring_start[:-1][self.vert_ring],
                        self.ring_start[1:][self.vert_ring] - 1, k - 1)
        rep = (xyz == xyz[prev]).all(axis=1) & (rl[self.vert_ring] > 1)
        if not rep.any():
            return
        # keep the first of a run of equal vertices (a ring of identical vertices keeps one)
        first = k == self.ring_start[:-1][self.vert_ring]
        rep &= ~(first & (np.bincount(self.vert_ring, rep, minlength=len(rl)) ==
                          rl)[self.vert_ring])
        keep = ~rep
        self.notes.append(f"dropped {int(rep.sum())} repeated ring vertices")
        self.gidx, self.xyz = self.gidx[keep], xyz[keep]
        self.ring_len = np.bincount(self.vert_ring[keep], minlength=len(rl)).astype(np.int64)
        self._derive()

    def _derive(self) -> None:
        n_poly, n_ring = len(self.poly_nr), len(self.ring_len)
        self.ring_start = _excl_cumsum(self.ring_len)
        self.poly_start = _excl_cumsum(self.poly_nr)
        self.vert_ring = np.repeat(np.arange(n_ring), self.ring_len)
        self.ring_poly = np.repeat(np.arange(n_poly), self.poly_nr)
        self.poly_g = np.repeat(np.arange(len(self.g_npoly)), self.g_npoly)
        self.poly_vcount = np.bincount(self.ring_poly, self.ring_len,
                                       minlength=n_poly).astype(np.int64)

    def _bad_entries(self, c: Collector) -> np.ndarray:
        """Slow path: find the gobjs whose indices are not integers; return a clean array."""
        out = np.zeros(len(c.idx), np.int64)
        vg = self.poly_g[self.ring_poly[self.vert_ring]]
        for k, v in enumerate(c.idx):
            if isinstance(v, int) and not isinstance(v, bool) and -2**62 < v < 2**62:
                out[k] = v
            else:
                out[k] = -1
                self.errors.setdefault(int(vg[k]), GeometryError(
                    f"boundary entry {v!r} is not a vertex index"))
        return out

    def _drop_degenerate_rings(self) -> None:
        """Drop rings with fewer than 3 distinct vertices (by index) — real data has such
        slivers — and polygons whose exterior is one; an object left with no face at all is
        a GeometryError."""
        rl = self.ring_len
        if not len(rl) or not len(self.gidx):
            return
        gidx = self.gidx
        first = gidx[np.minimum(self.ring_start[:-1], len(gidx) - 1)]
        ne = gidx != np.repeat(first, rl)
        big = np.iinfo(np.int64).max
        mn = seg_reduce(np.minimum, np.where(ne, gidx, big), rl, big)
        mx = seg_reduce(np.maximum, np.where(ne, gidx, -1), rl, -1)
        bad = (rl < 3) | (mx < 0) | (mn == mx)
        if not bad.any():
            return
        n_poly = len(self.poly_nr)
        poly_ok = (self.poly_nr > 0) & ~bad[np.minimum(self.poly_start[:-1], len(rl) - 1)]
        ring_keep = ~bad & poly_ok[self.ring_poly]
        g_left = np.bincount(self.poly_g[poly_ok], minlength=len(self.g_npoly))
        for g in np.nonzero((g_left == 0) & (self.g_npoly > 0))[0]:
            self.errors.setdefault(int(g), GeometryError(
                "every face has fewer than 3 distinct vertices"))
        n_bad = int(bad.sum())
        self.notes.append(f"dropped {n_bad} degenerate ring{'s' * (n_bad > 1)} "
                          f"(fewer than 3 distinct vertices)")
        vert_keep = ring_keep[self.vert_ring]
        self.gidx, self.xyz = self.gidx[vert_keep], self.xyz[vert_keep]
        self.poly_nr = np.bincount(self.ring_poly[ring_keep], minlength=n_poly)[poly_ok]
        self.ring_len = rl[ring_keep]
        self.sem = self.sem[poly_ok]
        self.g_npoly = g_left.astype(np.int64)
        self._derive()

    def polygons(self, poly_ids: np.ndarray):
        """Return (vertex ids, ring lengths, rings per polygon) of polygons ``poly_ids``."""
        r = ranges(self.poly_start[poly_ids], self.poly_nr[poly_ids])
        v = ranges(self.ring_start[r], self.ring_len[r])
        return v, self.ring_len[r], self.poly_nr[poly_ids]


def _take(xy: np.ndarray, ring_len: np.ndarray, poly_nr: np.ndarray, polys: np.ndarray):
    """Return (xy, ring_len, poly_nr) of the polygons ``polys`` (in that order)."""
    r = ranges(_excl_cumsum(poly_nr)[polys], poly_nr[polys])
    return xy[ranges(_excl_cumsum(ring_len)[r], ring_len[r])], ring_len[r], poly_nr[polys]


def _polyset(vertices, ring_len, poly_nr, obj_npoly, sem) -> PolygonSet:
    return PolygonSet(np.ascontiguousarray(vertices, dtype=np.float64), _excl_cumsum(ring_len),
                      _excl_cumsum(poly_nr), _excl_cumsum(obj_npoly),
                      np.asarray(sem, np.int16))


def _table_polys(f: _Flat, table: int, alive: np.ndarray):
    """Return (poly ids, new row of each poly) of the live rows of ``table``."""
    gsel = (f.g_table == table) & alive[np.where(f.g_table == table, f.g_row, 0)] \
        if len(alive) else np.zeros(len(f.g_table), bool)
    psel = gsel[f.poly_g] if len(f.poly_g) else np.zeros(0, bool)
    pids = np.nonzero(psel)[0]
    newrow = np.cumsum(alive) - 1
    return pids, newrow[f.g_row[f.poly_g[pids]]]


def _area_polyset(f: _Flat, table: int, alive: np.ndarray) -> PolygonSet:
    pids, prow = _table_polys(f, table, alive)
    v, rl, pn = f.polygons(pids)
    return _polyset(f.xyz[v], rl, pn, np.bincount(prow, minlength=int(alive.sum())),
                    f.sem[pids])


# ---- footprints ----------------------------------------------------------------------------
def _orient(xy: np.ndarray, ring_len: np.ndarray, poly_nr: np.ndarray) -> np.ndarray:
    """Return xy with each polygon's exterior CCW and holes CW (vertex order reversed)."""
    starts = _excl_cumsum(ring_len)
    area = _ring_signed_areas(xy, starts)
    exterior = np.zeros(len(ring_len), bool)
    exterior[_excl_cumsum(poly_nr)[:-1][poly_nr > 0]] = True
    flip = np.where(exterior, area < 0, area > 0)
    if not flip.any():
        return xy
    k = np.arange(len(xy))
    r = np.repeat(np.arange(len(ring_len)), ring_len)
    s, n = starts[:-1][r], ring_len[r]
    src = np.where(flip[r], s + n - 1 - (k - s), k)
    return xy[src]


def _flat_exteriors(xy, ring_len, poly_nr, tol: float = 2e-6) -> np.ndarray:
    """Return (n_polygons,) bool: exterior rings with no area at all (collinear vertices),
    measured as the sum of the absolute areas of the ring's fan triangles (a bow-tie's
    signed area can be 0, its fan's absolute area is not)."""
    if not len(poly_nr):
        return np.zeros(0, bool)
    starts = _excl_cumsum(ring_len)
    r = np.repeat(np.arange(len(ring_len)), ring_len)
    d = xy - xy[starts[:-1]][r]
    k = np.arange(len(xy))
    nxt = np.where(k + 1 == starts[1:][r], k, k + 1)
    fan = np.abs(d[:, 0] * d[nxt, 1] - d[:, 1] * d[nxt, 0])
    area = np.bincount(r, fan, minlength=len(ring_len))
    return area[_excl_cumsum(poly_nr)[:-1]] <= tol


def _invalid_footprints(xy, ring_len, poly_nr) -> np.ndarray:
    """Return (n_polygons,) bool: polygons that are not simple. Single convex rings are
    recognised with numpy; the others go to shapely (vectorised)."""
    n_poly = len(poly_nr)
    if not n_poly:
        return np.zeros(0, bool)
    starts = _excl_cumsum(ring_len)
    k = np.arange(len(xy))
    r = np.repeat(np.arange(len(ring_len)), ring_len)
    nxt = np.where(k + 1 == starts[1:][r], starts[:-1][r], k + 1)
    e = xy[nxt] - xy
    e_next = e[nxt]
    cross = e[:, 0] * e_next[:, 1] - e[:, 1] * e_next[:, 0]
    dot = (e * e_next).sum(axis=1)
    turn = np.bincount(r, np.arctan2(cross, dot), minlength=len(ring_len))
    scale = np.bincount(r, np.abs(e).sum(axis=1), minlength=len(ring_len)) + 1e-30
    eps = 1e-9 * scale[r] ** 2
    neg = np.bincount(r, cross < -eps, minlength=len(ring_len)) > 0
    pos = np.bincount(r, cross > eps, minlength=len(ring_len)) > 0
    convex = ~(neg & pos) & (np.abs(np.abs(turn) - 2 * np.pi) < 1e-6)
    first = _excl_cumsum(poly_nr)[:-1]
    easy = (poly_nr == 1) & convex[np.minimum(first, len(ring_len) - 1)]
    hard = np.nonzero(~easy)[0]
    bad = np.zeros(n_poly, bool)
    if len(hard):
        pn = poly_nr[hard]
        rids = ranges(first[hard], pn)
        rl = ring_len[rids]
        vid = ranges(starts[rids], rl)
        ring_pts = xy[vid]
        # close the rings for shapely
        rs = _excl_cumsum(rl)
        close_at = rs[1:]
        closed = np.insert(ring_pts, close_at, ring_pts[rs[:-1]], axis=0)
        polys = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, closed, (_excl_cumsum(rl + 1), _excl_cumsum(pn)))
        bad[hard] = ~shapely.is_valid(polys)
    return bad


def _fallback_footprint(f: _Flat, g: int, tol: float = 1e-9) -> list[list[np.ndarray]]:
    """Return the 2D union of gobj ``g``'s faces (projected), as lists of rings."""
    p0, p1 = int(_excl_cumsum(f.g_npoly)[g]), int(_excl_cumsum(f.g_npoly)[g + 1])
    faces = []
    for p in range(p0, p1):
        v, rl, _ = f.polygons(np.array([p]))
        pts = f.xyz[v][:, :2]
        rs = _excl_cumsum(rl)
        rings = [pts[rs[i]:rs[i + 1]] for i in range(len(rl))]
        poly = shapely.make_valid(shapely.Polygon(rings[0], rings[1:]))
        if poly.area > tol:
            faces.append(poly)
    if not faces:
        return []
    u = shapely.union_all(faces)
    out = []
    for geom in getattr(u, "geoms", [u]):
        if isinstance(geom, shapely.Polygon) and geom.area > tol:
            out.append([np.asarray(geom.exterior.coords)[:-1]]
                       + [np.asarray(h.coords)[:-1] for h in geom.interiors])
    return out


def _buildings(c: Collector, f: _Flat, alive: np.ndarray):
    """Return (Buildings, {row: error}) for the live building rows."""
    rows = c.rows[BUILDING]
    n = int(alive.sum())
    pids, prow = _table_polys(f, BUILDING, alive)
    v, rl, pn = f.polygons(pids)
    xyz = f.xyz[v]
    z = xyz[:, 2]
    pvc = f.poly_vcount[pids]
    row_vc = np.bincount(prow, pvc, minlength=n).astype(np.int64)
    base = seg_reduce(np.minimum, z, row_vc, np.nan)
    roof = seg_reduce(np.maximum, z, row_vc, np.nan)
    # footprint polygons: ground surfaces, else the lowest horizontal faces of each gobj
    pg = f.poly_g[pids]
    pzmin = seg_reduce(np.minimum, z, pvc, np.inf)
    pzmax = seg_reduce(np.maximum, z, pvc, -np.inf)
    ug, g_first = np.unique(pg, return_index=True)  # pids are grouped by gobj
    gzmin = np.minimum.reduceat(pzmin, g_first) if len(pg) else np.zeros(0)
    gi = np.searchsorted(ug, pg)
    ground = f.sem[pids] == GROUND
    has_ground = np.bincount(gi, ground, minlength=len(ug)) > 0
    low = (pzmax - pzmin <= Z_TOL) & (pzmin - gzmin[gi] <= Z_TOL)
    fp = np.where(has_ground[gi], ground, low)
    fsel = np.nonzero(fp)[0]
    fv, frl, fpn = f.polygons(pids[fsel])
    fxy = _orient(f.xyz[fv][:, :2], frl, fpn)
    frow, fgi, fground = prow[fsel], gi[fsel], ground[fsel]
    drop = _flat_exteriors(fxy, frl, fpn, metre_area_tol(c.crs, 2e-6))
    if drop.any():  # zero-area (collinear) faces are no footprint
        f.notes.append(f"dropped {int(drop.sum())} zero-area footprint polygon(s)")
    errors: dict[int, CIMError] = {}
    invalid = _invalid_footprints(fxy, frl, fpn) & ~drop
    live_rows = np.nonzero(alive)[0]
    for p in np.nonzero(invalid & fground)[0][::-1]:
        errors[int(live_rows[frow[p]])] = GeometryError(
            "the footprint (ground surface) ring intersects itself")
    fallback = np.bincount(fgi[~drop], minlength=len(ug)) == 0
    if (invalid & ~fground).any():  # a guessed bottom face that is not simple: use the union
        bad_g = np.unique(fgi[invalid & ~fground])
        fallback[bad_g] = True
        drop |= np.isin(fgi, bad_g)
        f.notes.append(f"{len(bad_g)} self-intersecting bottom face(s) without GroundSurface "
                       "semantics: footprint taken as the union of the faces' projections")
    if drop.any():
        keep = np.nonzero(~drop)[0]
        (fxy, frl, fpn), frow = _take(fxy, frl, fpn, keep), frow[keep]
    if fallback.any():  # rare: no horizontal bottom; union of the faces' projections
        extra_xy, extra_rl, extra_pn, extra_row = [fxy], [frl], [fpn], [frow]
        new_row = np.cumsum(alive) - 1  # f.g_row holds rows of every table: index per gobj
        for g in ug[fallback]:
            for rings in _fallback_footprint(f, int(g), metre_area_tol(c.crs, 1e-9)):
                extra_xy.append(np.concatenate(rings))
                extra_rl.append(np.array([len(r) for r in rings], np.int64))
                extra_pn.append(np.array([len(rings)], np.int64))
                extra_row.append(np.array([new_row[f.g_row[g]]], np.int64))
        fxy, frl, fpn = (np.concatenate(extra_xy), np.concatenate(extra_rl),
                         np.concatenate(extra_pn))
        frow = np.concatenate(extra_row)
        order = np.argsort(frow, kind="stable")
        (fxy, frl, fpn), frow = _take(fxy, frl, fpn, order), frow[order]
        fxy = _orient(fxy, frl, fpn)
    footprint = _polyset(fxy, frl, fpn, np.bincount(frow, minlength=n),
                         np.full(len(fpn), -1, np.int16))
    lod = np.asarray(rows["lod"], np.float32)[alive]
    keep = lod[prow] >= 2 if len(prow) else np.zeros(0, bool)
    sel = np.nonzero(keep)[0]
    sv, srl, spn = f.polygons(pids[sel])
    surfaces = _polyset(f.xyz[sv], srl, spn, np.bincount(prow[sel], minlength=n),
                        f.sem[pids[sel]])
    storeys = np.asarray(rows["storeys"], np.int32)[alive]
    floor_area = np.asarray(rows["floor_area"], float)[alive]
    est = np.isnan(floor_area)
    if est.any():
        height = np.nan_to_num(roof - base)
        n_storeys = np.where(storeys >= 0, storeys,
                             np.maximum(1, np.round(height / STOREY_HEIGHT_M)))
        lat = None
        if c.crs is not None and c.crs.is_geographic:  # m² per deg² at each building
            lat = np.bincount(np.repeat(np.arange(n), row_vc), xyz[:, 1], minlength=n) / \
                np.maximum(row_vc, 1)
        m2 = footprint.areas() * area_factor(c.crs, lat)
        floor_area = np.where(est, m2 * np.maximum(n_storeys, 1), floor_area)
    idx = np.nonzero(alive)[0]
    attrs = [rows["attrs"][i] for i in idx]
    b = Buildings(
        ids=_obj([rows["ids"][i] for i in idx]), footprint=footprint,
        base_height=base, roof_height=roof, storeys=storeys,
        use=_obj([rows["use"][i] for i in idx]), floor_area=floor_area,
        residents=np.asarray(rows["residents"], float)[alive],
        jobs=np.asarray(rows["jobs"], float)[alive], lod=lod, surfaces=surfaces,
        attributes=Attributes.from_dicts(attrs), parts=_obj([rows["parts"][i] for i in idx]))
    return b, errors


def build_tables(c: Collector) -> dict:
    """Return the model tables (buildings, water_bodies, land_use, others, sites, roads) of
    everything collected; bad objects raise (strict) or are skipped into the report."""
    f = _Flat(c)
    alive = {t: np.ones(len(r["ids"]), bool) for t, r in c.rows.items()}
    errors: list[tuple[int, int, str, CIMError]] = []  # (gobj order, table, row, error)
    for g, err in f.errors.items():
        errors.append((g, int(f.g_table[g]), int(f.g_row[g]), err.located(
            obj_id=c.g_oid[g])))
    first_gobj = {}
    for g in range(len(f.g_table)):
        first_gobj.setdefault((int(f.g_table[g]), int(f.g_row[g])), g)
    while True:
        seen = set()
        for _, t, row, err in sorted(errors, key=lambda e: e[0]):
            if (t, row) in seen or not alive[t][row]:
                continue
            seen.add((t, row))
            c.problems.handle(err)
            alive[t][row] = False
        buildings, bad = _buildings(c, f, alive[BUILDING])
        if not bad:
            break
        bids = c.rows[BUILDING]["ids"]
        errors = [(first_gobj.get((BUILDING, r), 0), BUILDING, r,
                   e.located(obj_id=bids[r])) for r, e in bad.items()]
    out = {"buildings": buildings}
    c.report.notes += [f"{c.path}: {n}" for n in f.notes]
    for name, t in (("water_bodies", WATER), ("land_use", LANDUSE)):
        r, a = c.rows[t], alive[t]
        idx = np.nonzero(a)[0]
        out[name] = Areas(_obj([r["ids"][i] for i in idx]), _obj([r["kind"][i] for i in idx]),
                          _obj([r["name"][i] for i in idx]), _area_polyset(f, t, a),
                          Attributes.from_dicts([r["attrs"][i] for i in idx]))
    r, a = c.rows[OTHER], alive[OTHER]
    idx = np.nonzero(a)[0]
    out["others"] = CityObjects(_obj([r["ids"][i] for i in idx]),
                                _obj([r["type"][i] for i in idx]), _area_polyset(f, OTHER, a),
                                np.asarray(r["lod"], np.float32)[a],
                                Attributes.from_dicts([r["attrs"][i] for i in idx]))
    s = c.sites
    out["sites"] = Sites(_obj(s["ids"]), _obj(s["kind"]), _obj(s["name"]),
                         np.asarray(s["xyz"], float).reshape(-1, 3),
                         np.asarray(s["capacity"], float), Attributes.from_dicts(s["attrs"]))
    for oid, node, plan in c.signals:
        if node not in c.roads.node_index:
            c.problems.handle(MissingReferenceError(
                f"traffic signal node {node!r} is not a road node"), obj_id=oid)
            continue
        c.roads.set_signal(node, plan)
    out["roads"] = c.roads.build()
    return out
