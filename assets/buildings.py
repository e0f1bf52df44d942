"""Blocks, parcels and buildings of a synthetic district (local metres).

Blocks are the faces of the street network (clipped by water, parks and road corridors);
each block takes one typology drawn from its zone's mix; blocks are cut into parcels, and
each parcel is filled with a row layout of footprints of its typology.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

#: typology -> layout and building parameters.
#: size_w/size_d: footprint width/depth ranges (m); gap_w/gap_d: clear distance between
#: buildings along/across rows (m; across rows = sunlight spacing); storeys range;
#: storey_m: storey height; setback (m); shape: rect | L | court; use: building use.
TYPOLOGIES = {
    "tower": dict(size_w=(18, 26), size_d=(16, 22), gap_w=(22, 32), gap_d=(40, 55),
                  storeys=(20, 33), storey_m=3.0, setback=10, shape="rect", use="residential",
                  parcel=(90, 160), landuse="residential"),
    "midrise": dict(size_w=(36, 60), size_d=(11, 13), gap_w=(10, 16), gap_d=(18, 24),
                    storeys=(5, 7), storey_m=2.9, setback=6, shape="rect", use="residential",
                    parcel=(80, 140), landuse="residential"),
    "villa": dict(size_w=(14, 20), size_d=(12, 16), gap_w=(14, 22), gap_d=(16, 24),
                  storeys=(2, 3), storey_m=3.3, setback=5, shape="L", use="residential",
                  parcel=(60, 110), landuse="residential"),
    "lowrise_old": dict(size_w=(10, 16), size_d=(8, 12), gap_w=(4, 8), gap_d=(8, 12),
                        storeys=(2, 3), storey_m=3.0, setback=3, shape="rect",
                        use="residential", parcel=(50, 90), landuse="residential"),
    "office": dict(size_w=(30, 48), size_d=(25, 40), gap_w=(25, 40), gap_d=(25, 40),
                   storeys=(6, 24), storey_m=3.8, setback=12, shape="court", use="office",
                   parcel=(90, 150), landuse="commercial"),
    "mixed": dict(size_w=(24, 40), size_d=(16, 22), gap_w=(18, 28), gap_d=(30, 45),
                  storeys=(12, 25), storey_m=3.2, setback=8, shape="L", use="mixed",
                  parcel=(90, 150), landuse="mixed"),
    "commercial": dict(size_w=(30, 70), size_d=(25, 45), gap_w=(15, 25), gap_d=(20, 30),
                       storeys=(2, 5), storey_m=4.5, setback=8, shape="court",
                       use="commercial", parcel=(80, 140), landuse="commercial"),
    "industrial": dict(size_w=(50, 120), size_d=(30, 60), gap_w=(15, 25), gap_d=(20, 30),
                       storeys=(1, 2), storey_m=6.0, setback=10, shape="rect",
                       use="industrial", parcel=(120, 200), landuse="industrial"),
    "school": dict(size_w=(50, 70), size_d=(35, 45), gap_w=(60, 80), gap_d=(60, 80),
                   storeys=(3, 5), storey_m=3.6, setback=15, shape="court", use="education",
                   parcel=(120, 180), landuse="education"),
    "hospital": dict(size_w=(70, 90), size_d=(50, 70), gap_w=(40, 60), gap_d=(40, 60),
                     storeys=(6, 15), storey_m=4.0, setback=15, shape="court", use="health",
                     parcel=(140, 200), landuse="health"),
    "park": None,
}
RESIDENTIAL_TYPES = ("tower", "midrise", "villa", "lowrise_old", "mixed")


@dataclass
class Layout:
    """Blocks, parcels and buildings (local metres; shapely geometries)."""

    parcels: list                 # shapely Polygons
    parcel_typology: list         # str
    parcel_block: np.ndarray      # int
    footprints: list              # shapely Polygons (holes = courtyards)
    typology: list                # str
    storeys: np.ndarray           # int32
    storey_m: np.ndarray          # float64


def _frame(poly):
    rect = np.asarray(poly.minimum_rotated_rectangle.exterior.coords)[:4]
    e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
    e = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    ang = np.arctan2(e[1], e[0])
    # keep rows facing roughly south: the long axis nearest to east-west
    if abs(np.cos(ang)) < abs(np.sin(ang)):
        ang += np.pi / 2
    u = np.array([np.cos(ang), np.sin(ang)])
    return u, np.array([-u[1], u[0]])


def _cells(poly, u, v, size_u, size_v, rng):
    """Return rectangles (shapely) tiling ``poly``'s extent in frame (u, v), sizes drawn from
    the ranges."""
    pts = shapely.get_coordinates(poly.exterior)
    c = pts.mean(axis=0)
    pu, pv = (pts - c) @ u, (pts - c) @ v

    def cuts(lo, hi, rngs):
        out = [lo]
        while out[-1] < hi:
            out.append(out[-1] + rng.uniform(*rngs))
        if len(out) > 2 and hi - out[-2] < 0.5 * rngs[0]:
            out.pop(-2)
        out[-1] = hi
        return np.array(out)

    cu, cv = cuts(pu.min(), pu.max(), size_u), cuts(pv.min(), pv.max(), size_v)
    U0, V0 = np.meshgrid(cu[:-1], cv[:-1], indexing="ij")
    U1, V1 = np.meshgrid(cu[1:], cv[1:], indexing="ij")
    corners = np.stack([np.stack([U0, V0], -1), np.stack([U1, V0], -1),
                        np.stack([U1, V1], -1), np.stack([U0, V1], -1)], axis=-2)
    corners = corners.reshape(-1, 4, 2)
    xy = c + corners[..., :1] * u + corners[..., 1:] * v
    return shapely.polygons(xy)


def _footprints(parcel, u, v, t: dict, rng):
    """Return (footprints, storeys) filling ``parcel`` with typology ``t`` in rows."""
    inner = parcel.buffer(-t["setback"], join_style="mitre")
    if inner.is_empty or inner.area < 200:
        return [], []
    pts = shapely.get_coordinates(inner)
    c = pts.mean(axis=0)
    pu, pv = (pts - c) @ u, (pts - c) @ v
    w = rng.uniform(*t["size_w"])
    d = rng.uniform(*t["size_d"])
    step_u = w + rng.uniform(*t["gap_w"])
    step_v = d + rng.uniform(*t["gap_d"])
    cu = np.arange(pu.min() + w / 2, pu.max() - w / 2 + 1e-6, step_u)
    cv = np.arange(pv.min() + d / 2, pv.max() - d / 2 + 1e-6, step_v)
    if len(cu) == 0 or len(cv) == 0:
        cu = np.array([0.5 * (pu.min() + pu.max())])
        cv = np.array([0.5 * (pv.min() + pv.max())])
    # centre the rows in the parcel
    cu += 0.5 * max((pu.max() - w / 2) - cu[-1], 0.0)
    cv += 0.5 * max((pv.max() - d / 2) - cv[-1], 0.0)
    U, V = np.meshgrid(cu, cv, indexing="ij")
    U, V = U.ravel(), V.ravel()
    n = len(U)
    ws = w * rng.uniform(0.85, 1.0, n)
    ds = d * rng.uniform(0.9, 1.0, n)
    shape = t["shape"]
    if shape == "rect":
        local = np.array([[-.5, -.5], [.5, -.5], [.5, .5], [-.5, .5]])
    elif shape == "L":
        local = np.array([[-.5, -.5], [.5, -.5], [.5, .1], [0., .1], [0., .5], [-.5, .5]])
    else:  # court: rectangle, hole added below for the larger ones
        local = np.array([[-.5, -.5], [.5, -.5], [.5, .5], [-.5, .5]])
    lu = local[None, :, 0] * ws[:, None]
    lv = local[None, :, 1] * ds[:, None]
    if shape == "L":  # half of them mirrored, half plain rectangles
        flip = rng.random(n) < 0.5
        lu = np.where(flip[:, None], -lu, lu)
        plain = rng.random(n) < 0.4
        rect = np.array([[-.5, -.5], [.5, -.5], [.5, .5], [.5, .5], [-.5, .5], [-.5, .5]])
        lu = np.where(plain[:, None], rect[None, :, 0] * ws[:, None], lu)
        lv = np.where(plain[:, None], rect[None, :, 1] * ds[:, None], lv)
    xy = (c + (U[:, None, None] + lu[..., None]) * u + (V[:, None, None] + lv[..., None]) * v)
    if shape == "court":
        big = (ws > 40) & (ds > 30)
        hole = np.array([[-.5, -.5], [-.5, .5], [.5, .5], [.5, -.5]])
        hw, hd = ws - 24, ds - 24
        hxy = (c + (U[:, None, None] + hole[None, :, :1] * hw[:, None, None]) * u
               + (V[:, None, None] + hole[None, :, 1:] * hd[:, None, None]) * v)
        polys = np.array([shapely.Polygon(xy[i], [hxy[i]]) if big[i] else shapely.Polygon(xy[i])
                          for i in range(n)], dtype=object)
    else:
        polys = shapely.polygons(xy)
        if shape == "L":
            polys = shapely.make_valid(shapely.set_precision(polys, 0.01))
    ok = shapely.within(polys, inner)
    polys = polys[ok]
    polys = polys[[p.geom_type == "Polygon" for p in polys]] if len(polys) else polys
    s0, s1 = t["storeys"]
    storeys = rng.integers(s0, s1 + 1, len(polys))
    return list(polys), list(storeys)


def layout(blocks: list, block_zone_mix: list, rng, *, school_share=0.05,
           shop_share=0.05, open_share=0.4) -> Layout:
    """Return parcels and buildings for ``blocks`` (shapely Polygons, buildable land) where
    ``block_zone_mix[i]`` is the {typology: weight} mix of block i's zone. In residential
    blocks a parcel becomes a school (``school_share``), shops (``shop_share``) or stays open
    ground — green, sports, parking (``open_share``)."""
    parcels, p_typ, p_block = [], [], []
    fps, typ, storeys, storey_m = [], [], [], []
    for bi, (block, mix) in enumerate(zip(blocks, block_zone_mix)):
        names = sorted(mix)
        w = np.array([mix[k] for k in names], float)
        btyp = names[rng.choice(len(names), p=w / w.sum())]
        if btyp == "park" or block.area < 1500:
            parcels.append(block)
            p_typ.append("park")
            p_block.append(bi)
            continue
        t = TYPOLOGIES[btyp]
        for poly in shapely.get_parts(block):
            if poly.area < 800:
                continue
            u, v = _frame(poly)
            cells = _cells(poly, u, v, t["parcel"], (t["parcel"][0], t["parcel"][1] * 1.4), rng)
            parts = shapely.intersection(cells, poly)
            for part in parts:
                for pp in shapely.get_parts(part):
                    if pp.geom_type != "Polygon" or pp.area < 600:
                        continue
                    ptyp = btyp
                    if btyp in RESIDENTIAL_TYPES:
                        r = rng.random()
                        if r < school_share and pp.area > 9000:
                            ptyp = "school"
                        elif r < school_share + shop_share:
                            ptyp = "commercial"
                        elif r < school_share + shop_share + open_share:
                            ptyp = "park"
                    parcels.append(pp)
                    p_typ.append(ptyp)
                    p_block.append(bi)
                    if ptyp == "park":
                        continue
                    tt = TYPOLOGIES[ptyp]
                    f, s = _footprints(pp, u, v, tt, rng)
                    fps += f
                    storeys += s
                    typ += [ptyp] * len(f)
                    storey_m += [tt["storey_m"]] * len(f)
    return Layout(parcels, p_typ, np.asarray(p_block, np.int64), fps, typ,
                  np.asarray(storeys, np.int32), np.asarray(storey_m, float))
