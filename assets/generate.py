"""Generate the pilot districts: synthetic districts on a real skeleton.

    python -m assets.generate [--district lihu|liangxi | --all] [--seed N] [--out DIR]

From ``assets/<district>/spec.json`` (the real facts, each with its source) and a seed, fills
in streets, blocks, parcels, buildings, terrain, water bodies, land use and sites, and writes
the standard files into ``<out>/<district>/`` (default: ``assets/<district>/``):
``<district>.city.json.gz`` (CityJSON, EPSG:4549), ``terrain.asc.gz`` + ``terrain.prj``,
``sites.geojson``, the lifelines ``water.inp`` (+ ``water.valves.csv``, see
:mod:`assets.water`) and ``power.json`` (pandapower, see :mod:`assets.power`), and
``manifest.json``. The same spec and seed give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import shapely

from assets.buildings import TYPOLOGIES, layout
from assets.drainage import build_drainage
from assets.power import build_power
from assets.sites import make_sites
from assets.streets import build_streets, street_width
from assets.terrain import make_terrain
from assets.water import build_water
from cim.geometry import PolygonSet, PolygonSetBuilder
from cim.graph import csr, largest_strong_component
from cim.model import (
    LOCAL_CRS,
    Areas,
    Attributes,
    Buildings,
    CityModel,
    _obj,
)
from cim.roads import RoadNetworkBuilder

GENERATOR_VERSION = "1.0.0"
ASSETS = Path(__file__).resolve().parent
DISTRICT_NAMES = ("lihu", "liangxi")
DEFAULT_SEED = 20240501
SIDEWALK_M = 3.0


def load_spec(name: str) -> dict:
    """Return the spec (facts with sources) of district ``name``."""
    return json.loads((ASSETS / name / "spec.json").read_text(encoding="utf-8"))


class Context:
    """Projection to local metres (EPSG:4549 minus ``origin``) and the spec's fixed areas."""

    def __init__(self, spec: dict):
        self.fwd = pyproj.Transformer.from_crs("EPSG:4326", LOCAL_CRS, always_xy=True)
        self.inv = pyproj.Transformer.from_crs(LOCAL_CRS, "EPSG:4326", always_xy=True)
        c = spec["centre"]
        ox, oy = self.fwd.transform(c["lon"], c["lat"])
        self.origin = np.array([round(ox), round(oy)], float)
        e = spec["extent"]
        t = np.linspace(0, 1, 41)
        ring = np.concatenate([
            np.column_stack([e["west"] + t * (e["east"] - e["west"]), np.full_like(t, e["south"])]),
            np.column_stack([np.full_like(t, e["east"]), e["south"] + t * (e["north"] - e["south"])]),
            np.column_stack([e["east"] - t * (e["east"] - e["west"]), np.full_like(t, e["north"])]),
            np.column_stack([np.full_like(t, e["west"]), e["north"] - t * (e["north"] - e["south"])]),
        ])
        self.extent = shapely.Polygon(self.to_local(ring)).buffer(0)
        self.water_parts = []
        for w in spec["water"]:
            if "polygon" in w:
                g = shapely.Polygon(self.to_local(np.asarray(w["polygon"], float)))
            else:
                g = shapely.LineString(self.to_local(np.asarray(w["line"], float))).buffer(
                    0.5 * w["width_m"], cap_style="flat")
            g = shapely.make_valid(g).intersection(self.extent)
            self.water_parts.append((w, g))
        self.water = shapely.union_all([g for _, g in self.water_parts])
        bars = []
        for b in spec.get("barriers", []):
            line = shapely.LineString(self.to_local(np.asarray(b["line"], float)))
            bars.append(line.buffer(0.5 * b["width_m"], cap_style="flat").intersection(self.extent))
        self.barriers = shapely.union_all(bars) if bars else None
        self.hills = spec.get("hills", [])
        cores = [shapely.Point(self.to_local(np.array([[h["lon"], h["lat"]]]))[0])
                 .buffer(0.45 * h["radius_m"]) for h in self.hills]
        self.no_street = shapely.union_all(cores) if cores else None

    def to_local(self, lonlat: np.ndarray) -> np.ndarray:
        x, y = self.fwd.transform(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([x, y]) - self.origin

    def to_lonlat(self, xy: np.ndarray) -> np.ndarray:
        lon, lat = self.inv.transform(xy[:, 0] + self.origin[0], xy[:, 1] + self.origin[1])
        return np.column_stack([lon, lat])


@dataclass
class District:
    """A generated district: the city model (EPSG:4549), sites as GeoJSON features and
    summary figures."""

    city: CityModel
    sites: list
    stats: dict


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def _blocks(streets, ctx, parks):
    """Return buildable blocks: faces of the network minus road corridors, water, parks."""
    lines = list(streets.seg_geom) + [ctx.extent.exterior]
    lines += list(shapely.get_parts(shapely.boundary(ctx.water)))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    faces = faces[shapely.area(faces) > 500]
    rep = shapely.point_on_surface(faces)
    faces = faces[~shapely.contains(ctx.water, rep) & shapely.contains(ctx.extent, rep)]
    widths = np.array([street_width(s) / 2 + SIDEWALK_M for s in streets.seg_source])
    corridor = shapely.union_all(shapely.buffer(np.array(streets.seg_geom, dtype=object),
                                                widths, cap_style="flat"))
    blocked = shapely.union_all([corridor, ctx.water, parks] +
                                ([ctx.barriers] if ctx.barriers is not None else []) +
                                ([ctx.no_street] if ctx.no_street is not None else []))
    # clip the blocked area to each face's box first: one global difference is very slow
    b = shapely.bounds(faces)
    boxes = shapely.box(b[:, 0] - 1, b[:, 1] - 1, b[:, 2] + 1, b[:, 3] + 1)
    local_blocked = [shapely.clip_by_rect(blocked, *bb.bounds) for bb in boxes]
    blocks = shapely.difference(faces, local_blocked)
    blocks = shapely.make_valid(blocks)
    keep = shapely.area(blocks) > 800
    blocks = blocks[keep]
    order = np.lexsort((np.round(shapely.get_y(shapely.centroid(blocks))),
                        np.round(shapely.get_x(shapely.centroid(blocks)))))
    out = []
    for g in blocks[order]:
        polys = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 800]
        if polys:
            out.append(shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0])
    return out


def _zone_mix(blocks, spec, ctx):
    zones = [(shapely.Polygon(ctx.to_local(np.asarray(z["polygon"], float))), z["typologies"])
             for z in spec["zones"]]
    default = spec.get("default_typologies", {"midrise": 0.6, "tower": 0.2, "commercial": 0.2})
    mixes, names = [], []
    for b in blocks:
        p = b.representative_point()
        for (poly, mix), z in zip(zones, spec["zones"]):
            if poly.contains(p):
                mixes.append(mix)
                names.append(z["name"])
                break
        else:
            mixes.append(default)
            names.append("default")
    return mixes, names


def _parks(spec, ctx):
    parts = []
    for p in spec.get("parks", []):
        g = next(g for w, g in ctx.water_parts if w["id"] == p["buffer_of"])
        parts.append(g.buffer(p["width_m"]).difference(ctx.water).intersection(ctx.extent))
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _oriented(poly):
    """Return rings of ``poly`` with the exterior counter-clockwise and holes clockwise."""
    poly = shapely.orient_polygons(poly)
    return [np.asarray(poly.exterior.coords)[:-1]] + [np.asarray(r.coords)[:-1]
                                                      for r in poly.interiors]


def _population(typ, gfa, a: dict):
    """Return (residents, jobs) per building from gross floor area and the assumptions."""
    typ = np.asarray(typ)
    use = np.array([TYPOLOGIES[t]["use"] for t in typ])
    res_share = np.where(use == "residential", 1.0,
                         np.where(use == "mixed", a["mixed_residential_share"], 0.0))
    residents = gfa * res_share * a["residential_occupancy"] / a["residential_m2_per_resident"]
    per_job = {"office": a["office_m2_per_job"], "commercial": a["commercial_m2_per_job"],
               "industrial": a["industrial_m2_per_job"], "education": a["education_m2_per_job"],
               "health": a["health_m2_per_job"], "mixed": a["commercial_m2_per_job"]}
    jobs = np.zeros(len(typ))
    for u, m2 in per_job.items():
        sel = use == u
        share = (1 - a["mixed_residential_share"]) if u == "mixed" else 1.0
        jobs[sel] = gfa[sel] * share / m2
    return np.round(residents, 1), np.round(jobs, 1), use


def build_district(name: str, seed: int = DEFAULT_SEED) -> District:
    """Return the generated district ``name`` for ``seed`` (nothing written)."""
    spec = load_spec(name)
    rng = _rng(seed, name)
    ctx = Context(spec)
    streets = build_streets(spec, ctx, rng)
    parks = _parks(spec, ctx)
    blocks = _blocks(streets, ctx, parks)
    mixes, zone_names = _zone_mix(blocks, spec, ctx)
    lay = layout(blocks, mixes, rng, **{k: v for k, v in spec.get("layout", {}).items()
                                        if k != "source"})
    terrain = make_terrain(spec, ctx, rng, cell=float(spec.get("terrain_cell_m", 25.0)))
    o = ctx.origin

    # buildings
    fps = np.array(lay.footprints, dtype=object)
    area = shapely.area(fps)
    cen = shapely.get_coordinates(shapely.centroid(fps))
    base = np.round(terrain.sample(cen[:, 0] + o[0], cen[:, 1] + o[1]), 2)
    base = np.where(np.isfinite(base), base, 4.0)
    height = lay.storeys * lay.storey_m + rng.uniform(0.5, 2.5, len(fps))
    gfa = np.round(area * lay.storeys, 1)
    residents, jobs, use = _population(lay.typology, gfa, spec["assumptions"])
    fb = PolygonSetBuilder(2)
    for p in fps:
        fb.add_object([[r + o for r in _oriented(p)]])
    n_b = len(fps)
    ids = _obj([f"{name}-b{i:05d}" for i in range(n_b)])
    attrs = Attributes(n_b, {"typology": _obj(list(lay.typology)),
                             "synthetic": _obj([True] * n_b)})
    buildings = Buildings(ids, fb.build(), base, np.round(base + height, 2),
                          lay.storeys.astype(np.int32), _obj(list(use)), gfa, residents, jobs,
                          np.ones(n_b, np.float32), PolygonSet.empty(n_b, 3), attrs,
                          _obj([None] * n_b))

    # roads
    rb = RoadNetworkBuilder()
    seen: dict[str, int] = {}
    for k in range(len(streets.seg_geom)):
        s = streets.seg_source[k]
        j = seen[s.id] = seen.get(s.id, 0) + 1
        xy = np.asarray(streets.seg_geom[k].coords) + o
        rb.add_segment(f"{s.id}-{j:03d}", f"n{streets.seg_from[k]:05d}",
                       f"n{streets.seg_to[k]:05d}", np.round(xy, 3), lanes_forward=s.lanes,
                       lanes_backward=s.lanes, maxspeed_kmh=s.speed_kmh, name=s.name,
                       cls=s.cls, tunnel=bool(streets.seg_tunnel[k]),
                       bridge=bool(streets.seg_bridge[k]))
    for node, plan in streets.signal_plans.items():
        rb.set_signal(f"n{node:05d}", plan)
    roads = rb.build()

    # water bodies and land use
    wb = PolygonSetBuilder(3)
    w_ids, w_kind, w_name, w_attr = [], [], [], []
    for w, g in ctx.water_parts:
        for k, p in enumerate(shapely.get_parts(g)):
            if p.geom_type != "Polygon" or p.area < 100:
                continue
            z = float(w["level_m"])
            wb.add_object([[np.column_stack([r + o, np.full(len(r), z)]) for r in _oriented(p)]])
            w_ids.append(f"{w['id']}-{k}")
            w_kind.append(w["kind"])
            w_name.append(w["name"])
            w_attr.append({"name_zh": w.get("name_zh"), "source": w["source"]})
    water_bodies = Areas(_obj(w_ids), _obj(w_kind), _obj(w_name), wb.build(),
                         Attributes.from_dicts(w_attr))
    lb = PolygonSetBuilder(3)
    l_ids, l_kind, l_name, l_attr = [], [], [], []
    pz = terrain.sample
    for i, (p, t) in enumerate(zip(lay.parcels, lay.parcel_typology)):
        for k, pp in enumerate(shapely.get_parts(p)):
            if pp.geom_type != "Polygon":
                continue
            rings = _oriented(shapely.simplify(pp, 0.5))
            lb.add_object([[np.column_stack([r + o, pz(r[:, 0] + o[0], r[:, 1] + o[1])])
                            for r in rings]])
            l_ids.append(f"{name}-p{i:05d}-{k}")
            l_kind.append("park" if t == "park" else TYPOLOGIES[t]["landuse"])
            l_name.append(zone_names[lay.parcel_block[i]])
            l_attr.append({"typology": t, "block": int(lay.parcel_block[i]), "synthetic": True})
    for k, pp in enumerate(shapely.get_parts(parks)):
        if pp.geom_type == "Polygon" and pp.area > 100:
            rings = _oriented(shapely.simplify(pp, 1.0))
            lb.add_object([[np.column_stack([r + o, pz(r[:, 0] + o[0], r[:, 1] + o[1])])
                            for r in rings]])
            l_ids.append(f"{name}-park{k:03d}")
            l_kind.append("park")
            l_name.append("lakeside / riverside park belt")
            l_attr.append({"source": "; ".join(p["source"] for p in spec.get("parks", []))})
    land_use = Areas(_obj(l_ids), _obj(l_kind), _obj(l_name), lb.build(),
                     Attributes.from_dicts(l_attr))
    for a in (land_use.polygons, water_bodies.polygons):
        bad = ~np.isfinite(a.vertices[:, 2])
        a.vertices[bad, 2] = 4.0

    sites = make_sites(spec, ctx, rng, streets, lay, fps, gfa, terrain)

    scc = largest_strong_component(csr(roads.n_nodes, roads.link_from, roads.link_to)).mean()
    x0, y0, x1, y1 = shapely.bounds(shapely.MultiPoint(cen)) if len(cen) else (0, 0, 0, 0)
    cen_ll = ctx.to_lonlat(np.array([[0.5 * (x0 + x1), 0.5 * (y0 + y1)]]))[0]
    geod = pyproj.Geod(ellps="WGS84")
    _, _, off = geod.inv(cen_ll[0], cen_ll[1], spec["centre"]["lon"], spec["centre"]["lat"])
    stats = {
        "buildings": int(n_b),
        "population": round(float(residents.sum())),
        "jobs": round(float(jobs.sum())),
        "floor_area_m2": round(float(gfa.sum())),
        "road_nodes": int(roads.n_nodes), "road_links": int(roads.n_links),
        "road_km": round(float(roads.link_length.sum()) / 2000.0, 1),
        "signals": int(roads.node_signal.sum()),
        "largest_scc_share": round(float(scc), 4),
        "dropped_road_nodes": int(streets.dropped_nodes),
        "parcels": len(lay.parcels),
        "buildings_centre_offset_m": round(float(off), 1),
        "water_km2": round(float(ctx.water.area) / 1e6, 2),
        "terrain_shape": list(terrain.shape), "terrain_cell_m": terrain.cell,
        "sites": len(sites),
    }
    metadata = {
        "title": spec["title"] + " — synthetic district on a real skeleton",
        "synthetic": True,
        "facts": f"assets/{name}/spec.json",
        "seed": int(seed),
        "generator": "assets/generate.py",
        "generator_version": GENERATOR_VERSION,
        "district": name,
        "origin_epsg4549": [float(o[0]), float(o[1])],
        "assumptions": spec["assumptions"],
        "note": ("Real: location, extent, water, main roads (names), zones and landmarks as "
                 "cited in the spec. Synthetic: local streets, blocks, parcels, buildings, "
                 "population, jobs, signals, terrain detail and sites flagged synthetic."),
    }
    city = CityModel(buildings=buildings, roads=roads, water_bodies=water_bodies,
                     land_use=land_use, terrain=terrain, crs=pyproj.CRS(LOCAL_CRS),
                     metadata=metadata)
    # lifelines: their own RNG streams, so the files above do not change
    city.water_network, stats["water"] = build_water(name, city, sites, seed)
    city.power_grid, stats["power"] = build_power(name, city, sites, city.water_network, seed)
    city.drainage, stats["drainage"] = build_drainage(name, city, seed)
    return District(city, sites, stats)


def write_district(d: District, name: str, out: Path) -> list[Path]:
    """Write the district's standard files into ``out`` and return their paths."""
    import cim
    from cim.formats import esri_ascii

    out.mkdir(parents=True, exist_ok=True)
    city = d.city
    terrain = city.terrain
    model = CityModel(buildings=city.buildings, roads=city.roads,
                      water_bodies=city.water_bodies, land_use=city.land_use, crs=city.crs,
                      metadata=city.metadata)
    # both writers gzip deterministically (no name, mtime 0) for a .gz path
    cim.write_cityjson(model, out / f"{name}.city.json.gz")
    esri_ascii.write(terrain, out / "terrain.asc.gz", crs=city.crs)
    geo = {"type": "FeatureCollection",
           "name": f"{name} sites",
           "metadata": {"synthetic": True, "facts": f"assets/{name}/spec.json",
                        "note": "real sites carry their source; synthetic ones say so"},
           "features": d.sites}
    (out / "sites.geojson").write_text(json.dumps(geo, ensure_ascii=False, indent=0) + "\n",
                                       encoding="utf-8")
    files = [f"{name}.city.json.gz", "terrain.asc.gz", "sites.geojson"]
    sidecars = ["terrain.prj"]
    if city.water_network is not None:
        cim.write_inp(city.water_network, out / "water.inp")
        files.append("water.inp")
        sidecars.append("water.valves.csv")
    if city.power_grid is not None:
        cim.write_pandapower(city.power_grid, out / "power.json")
        files.append("power.json")
    if city.drainage is not None:
        cim.write_swmm(city.drainage, out / "drainage.inp")
        files.append("drainage.inp")
        sidecars.append("drainage.inlets.csv")
    manifest = {"district": name, "title": city.metadata["title"], "files": files,
                "sidecars": sidecars, "crs": LOCAL_CRS, "spec": "spec.json", "synthetic": True,
                "seed": city.metadata["seed"], "generator": "assets/generate.py",
                "generator_version": GENERATOR_VERSION, "stats": d.stats}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")
    return [out / f for f in files + sidecars + ["manifest.json"]]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m assets.generate", description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--district", choices=DISTRICT_NAMES)
    g.add_argument("--all", action="store_true", help="both districts (default)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--out", type=Path, default=None,
                   help="output root; files go to <out>/<district>/ (default: assets/)")
    a = p.parse_args(argv)
    names = [a.district] if a.district else list(DISTRICT_NAMES)
    for name in names:
        t0 = time.perf_counter()
        d = build_district(name, a.seed)
        out = (a.out if a.out is not None else ASSETS) / name
        write_district(d, name, out)
        print(f"{name}: {json.dumps(d.stats)} ({time.perf_counter() - t0:.1f} s) -> {out}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
