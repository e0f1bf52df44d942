"""Helpers of the CityJSON tests: build small documents as dicts, check written files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

VALIDATION = Path(__file__).resolve().parents[2].parent / "shared" / "validation" / "cim"
CRS_4549 = "https://www.opengis.net/def/crs/EPSG/0/4549"


def prism(vertices: list, rings_xy: list, z0: float, z1: float, *, semantics=True,
          lod="1") -> dict:
    """Return a Solid extruded from a polygon (``rings_xy``: exterior CCW first, holes CW)
    between z0 and z1, appending its real coordinates to ``vertices``."""
    bottom, top, walls = [], [], []
    for ring in rings_xy:
        b = []
        t = []
        for x, y in ring:
            b.append(len(vertices))
            vertices.append([x, y, z0])
        for x, y in ring:
            t.append(len(vertices))
            vertices.append([x, y, z1])
        n = len(ring)
        for k in range(n):
            k1 = (k + 1) % n
            walls.append([[b[k], b[k1], t[k1], t[k]]])
        bottom.append(b[::-1])
        top.append(t)
    g = {"type": "Solid", "lod": lod, "boundaries": [[bottom, top, *walls]]}
    if semantics:
        g["semantics"] = {"surfaces": [{"type": "GroundSurface"}, {"type": "RoofSurface"},
                                       {"type": "WallSurface"}],
                          "values": [[0, 1] + [2] * len(walls)]}
    return g


def square(x0, y0, x1, y1, cw=False) -> list:
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return ring[::-1] if cw else ring


def document(objects: dict, vertices: list, *, scale=None, translate=(0.0, 0.0, 0.0),
             version="2.0", crs=CRS_4549, **extra) -> dict:
    """Return a CityJSON document; with ``scale`` the vertices are quantized."""
    doc = {"type": "CityJSON", "version": version}
    verts = vertices
    if scale is not None:
        s, t = np.broadcast_to(scale, 3), np.asarray(translate)
        verts = np.round((np.asarray(vertices, float).reshape(-1, 3) - t) / s).astype(int)
        verts = verts.tolist()
        doc["transform"] = {"scale": list(map(float, s)), "translate": list(translate)}
    if crs:
        doc["metadata"] = {"referenceSystem": crs}
    doc.update(extra)
    doc["CityObjects"] = objects
    doc["vertices"] = verts
    return doc


def save(tmp_path: Path, doc, name="t.city.json") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def signed_volume(rings_of_faces) -> float:
    """Return the signed volume (m³) enclosed by faces (each a list of (n, 3) rings; holes
    oriented against their exterior), by the divergence theorem on fan triangles."""
    v = 0.0
    for rings in rings_of_faces:
        for r in rings:
            r = np.asarray(r, float)
            a, b, c = r[0], r[1:-1], r[2:]
            v += float(np.einsum("ij,ij->i", np.cross(b, c), np.broadcast_to(a, b.shape)).sum())
    return v / 6.0


def _walk(b, depth):
    """Yield the rings of boundaries ``b`` nested ``depth`` levels above the rings."""
    if depth == 0:
        yield b
    else:
        for x in b:
            yield from _walk(x, depth - 1)


_DEPTH = {"MultiSurface": 2, "CompositeSurface": 2, "Solid": 3, "MultiSolid": 4,
          "CompositeSolid": 4}


def check_cityjson(doc: dict) -> None:
    """Assert the schema-level rules of CityJSON 2.0 that a writer can break: root members,
    integer deduplicated vertices, indices in range, rings of >= 3 distinct vertices without
    repeats, semantics shaped like the boundaries, closed outward Solid shells, reciprocal
    parents/children, an OGC URL reference system."""
    assert doc["type"] == "CityJSON" and doc["version"] == "2.0"
    tr = doc["transform"]
    assert len(tr["scale"]) == 3 and len(tr["translate"]) == 3
    verts = np.asarray(doc["vertices"]).reshape(-1, 3)
    assert verts.dtype.kind == "i" or len(verts) == 0
    assert len(np.unique(verts, axis=0)) == len(verts), "duplicate vertices"
    real = verts * np.asarray(tr["scale"]) + np.asarray(tr["translate"])
    md = doc.get("metadata", {})
    if "referenceSystem" in md:
        assert re.fullmatch(r"https://www\.opengis\.net/def/crs/EPSG/0/\d+",
                            md["referenceSystem"])
    objs = doc["CityObjects"]
    for oid, o in objs.items():
        assert isinstance(o["type"], str)
        for p in o.get("parents", []):
            assert oid in objs[p].get("children", []), (oid, p)
        for c in o.get("children", []):
            assert oid in objs[c].get("parents", []), (oid, c)
        for g in o.get("geometry", []):
            t, b = g["type"], g["boundaries"]
            assert isinstance(g["lod"], str)
            if t == "MultiPoint":
                assert all(0 <= i < len(verts) for i in b)
                continue
            if t == "MultiLineString":
                assert all(len(line) >= 2 and all(0 <= i < len(verts) for i in line)
                           for line in b)
                continue
            for ring in _walk(b, _DEPTH[t]):
                assert len(ring) >= 3 and len(set(ring)) == len(ring), (oid, ring)
                assert all(0 <= i < len(verts) for i in ring)
            if "semantics" in g:
                sem = g["semantics"]
                n = len(sem["surfaces"])
                vals = sem["values"]
                shape_b = list(_walk(b, _DEPTH[t] - 2)) if t != "MultiSurface" else [b]
                shape_v = list(_walk(vals, _DEPTH[t] - 2)) if t != "MultiSurface" else [vals]
                for bs, vs in zip(shape_b, shape_v, strict=True):
                    assert len(bs) == len(vs)
                    assert all(v is None or 0 <= v < n for v in vs)
            shells = []
            if t == "Solid":
                shells = b
            elif t in ("MultiSolid", "CompositeSolid"):
                shells = [s for solid in b for s in solid]
            for shell in shells:
                edges: dict = {}
                for face in shell:
                    for ring in face:
                        for k in range(len(ring)):
                            e = (ring[k], ring[(k + 1) % len(ring)])
                            edges[e] = edges.get(e, 0) + 1
                for (a, c), n in edges.items():
                    assert n == 1 and edges.get((c, a)) == 1, f"{oid}: shell not closed"
                vol = signed_volume([[real[r] for r in face] for face in shell])
                assert vol > 0, f"{oid}: shell not outward ({vol})"
