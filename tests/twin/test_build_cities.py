"""Hand-built test cities for the twin tests (no readers, no district assets), and checks
that they are what the other tests assume."""

from __future__ import annotations

import numpy as np
import pyproj

from cim.geometry import SURFACE_CODE, PolygonSetBuilder
from cim.model import Areas, Attributes, Buildings, CityModel, Sites, Terrain, _obj
from cim.roads import RoadNetworkBuilder

X0, Y0 = 500_000.0, 3_480_000.0     # EPSG:4549, near Wuxi

#: id → (footprint polygons (rings, ccw or not), base, roof, use, residents, jobs)
FOOTPRINTS = {
    "box": ([[[(0, 0), (10, 0), (10, 20), (0, 20)]]], 0.0, 15.0, "residential", 40, 0),
    # a courtyard block: 30 × 30 with a 10 × 10 hole, given clockwise
    "court": ([[[(40, 0), (40, 30), (70, 30), (70, 0)], [(50, 10), (60, 10), (60, 20),
                                                           (50, 20)]]],
              2.0, 20.0, "office", 0, 300),
    # a concave L, clockwise
    "ell": ([[[(0, 40), (0, 70), (10, 70), (10, 50), (30, 50), (30, 40)]]],
            1.0, 9.0, "commercial", 0, 50),
    # two parts (a MultiPolygon footprint)
    "twin_towers": ([[[(80, 0), (90, 0), (90, 10), (80, 10)]],
                     [[(95, 0), (105, 0), (105, 10), (95, 10)]]], 0.0, 60.0, "mixed", 100, 100),
}
FOOTPRINT_AREA = {"box": 200.0, "court": 800.0, "ell": 500.0, "twin_towers": 200.0}


def gabled_house(x0=40.0, y0=50.0, w=10.0, d=8.0, eaves=6.0, ridge=9.0):
    """Return (footprint rings, LoD2 surface polygons, semantics, total surface area) of a
    closed gabled house (ridge along x)."""
    a, b, c, e = (x0, y0), (x0 + w, y0), (x0 + w, y0 + d), (x0, y0 + d)
    ym = y0 + d / 2

    def p(xy, z):
        return (xy[0], xy[1], z)

    ground = [p(a, 0), p(e, 0), p(c, 0), p(b, 0)]                      # facing down
    south = [p(a, 0), p(b, 0), p(b, eaves), p(a, eaves)]
    north = [p(c, 0), p(e, 0), p(e, eaves), p(c, eaves)]
    east = [p(b, 0), p(c, 0), p(c, eaves), (x0 + w, ym, ridge), p(b, eaves)]
    west = [p(e, 0), p(a, 0), p(a, eaves), (x0, ym, ridge), p(e, eaves)]
    roof_s = [p(a, eaves), p(b, eaves), (x0 + w, ym, ridge), (x0, ym, ridge)]
    roof_n = [p(c, eaves), p(e, eaves), (x0, ym, ridge), (x0 + w, ym, ridge)]
    polys = [ground, south, north, east, west, roof_s, roof_n]
    sem = [SURFACE_CODE["GroundSurface"]] + [SURFACE_CODE["WallSurface"]] * 4 \
        + [SURFACE_CODE["RoofSurface"]] * 2
    slope = np.hypot(d / 2, ridge - eaves)
    area = w * d + 2 * w * eaves + 2 * (d * eaves + 0.5 * d * (ridge - eaves)) + 2 * w * slope
    return [a, b, c, e], [[np.array(q, float)] for q in polys], sem, area


def make_buildings(extra: dict | None = None, with_lod2: bool = True) -> Buildings:
    """Return the FOOTPRINTS buildings (+ ``extra`` of the same form) and a LoD2 house."""
    spec = dict(FOOTPRINTS, **(extra or {}))
    fp, surf = PolygonSetBuilder(dim=2), PolygonSetBuilder(dim=3)
    ids, base, roof, use, res, jobs = [], [], [], [], [], []
    for bid, (polys, b0, b1, u, r, j) in spec.items():
        fp.add_object([[np.array(ring, float) + (X0, Y0) for ring in rings]
                       for rings in polys])
        surf.add_object([])
        ids.append(bid)
        base.append(b0)
        roof.append(b1)
        use.append(u)
        res.append(r)
        jobs.append(j)
    if with_lod2:
        ring, polys, sem, _ = gabled_house()
        fp.add_object([[np.array(ring) + (X0, Y0)]])
        surf.add_object([[r + (X0, Y0, 0) for r in rings] for rings in polys], sem)
        ids.append("house")
        base.append(0.0)
        roof.append(9.0)
        use.append("residential")
        res.append(4)
        jobs.append(0)
    n = len(ids)
    return Buildings(
        ids=_obj(ids), footprint=fp.build(), base_height=np.array(base),
        roof_height=np.array(roof), storeys=np.full(n, -1, np.int32), use=_obj(use),
        floor_area=np.full(n, np.nan), residents=np.array(res, float),
        jobs=np.array(jobs, float), lod=np.where(np.array(ids) == "house", 2, 1).astype(
            np.float32), surfaces=surf.build(), attributes=Attributes(n, {}),
        parts=_obj([None] * n))


def make_roads():
    """Return a RoadNetwork: a 3 × 2 grid of 100 m blocks with one oneway street, one
    parallel (longer, curved) link and two signals.

        a ─ b ─ c          y = 100
        │   │   │
        d ─ e ─ f          y = 0     (d→e oneway; b–e also via a curved 150 m detour)
    """
    rb = RoadNetworkBuilder()
    pts = {"a": (0, 100), "b": (100, 100), "c": (200, 100),
           "d": (0, 0), "e": (100, 0), "f": (200, 0)}

    def seg(rid, u, v, **kw):
        xy = np.array([pts[u], pts[v]], float) + (X0, Y0 - 200)
        rb.add_segment(rid, u, v, xy, **kw)

    seg("ab", "a", "b", cls="primary")
    seg("bc", "b", "c", cls="primary")
    seg("de", "d", "e", oneway=True, cls="residential")
    seg("ef", "e", "f", cls="residential")
    seg("ad", "a", "d", cls="secondary")
    seg("be", "b", "e", cls="secondary")
    seg("cf", "c", "f", cls="secondary")
    detour = np.array([(100, 100), (125, 75), (125, 25), (100, 0)], float) + (X0, Y0 - 200)
    rb.add_segment("be2", "b", "e", detour, cls="service", bridge=True)
    rb.set_signal("b")
    rb.set_signal("e", {"cycle_s": 90})
    return rb.build()


def make_city(with_terrain: bool = True) -> CityModel:
    """Return the hand-built test city (EPSG:4549)."""
    b = make_buildings()
    lake = PolygonSetBuilder(dim=3)
    outer = np.array([(150, 0, 3), (260, 0, 3), (260, 80, 3), (150, 80, 3)], float)
    island = np.array([(190, 30, 3), (200, 30, 3), (200, 40, 3), (190, 40, 3)], float)
    lake.add_object([[outer + (X0, Y0, 0), island + (X0, Y0, 0)]])
    water = Areas(_obj(["lake"]), _obj(["lake"]), _obj(["Test Lake"]), lake.build(),
                  Attributes(1, {}))
    sites = Sites(_obj(["fs1", "h1", "s1"]), _obj(["fire_station", "hospital", "sensor"]),
                  _obj(["Fire 1", "Hospital", "gauge"]),
                  np.array([[X0 + 20, Y0 - 50, 0], [X0 + 120, Y0 + 60, np.nan],
                            [X0 + 200, Y0 + 90, 3.0]]),
                  np.array([4, 200, np.nan]), Attributes(3, {}))
    terrain = None
    if with_terrain:
        ny, nx, cell = 40, 40, 10.0
        yy, xx = np.mgrid[0:ny, 0:nx]
        z = 2.0 + 0.05 * xx + 0.02 * (ny - yy)
        z[5:20, 18:33] = 1.0             # the lake bed, below the water surface (3 m)
        z[0:3, 0:3] = np.nan
        terrain = Terrain(z, X0 - 50, Y0 - 250, cell)
    return CityModel(buildings=b, roads=make_roads(), water_bodies=water, sites=sites,
                     terrain=terrain, crs=pyproj.CRS("EPSG:4549"),
                     metadata={"title": "test city"})


def test_fixture_city_is_consistent():
    city = make_city()
    b = city.buildings
    areas = dict(zip(b.ids, b.footprint.areas()))
    for k, v in FOOTPRINT_AREA.items():
        assert np.isclose(areas[k], v)
    assert city.roads.n_links == 15      # 8 segments, one oneway
    assert city.roads.node_signal.sum() == 2
