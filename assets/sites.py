"""Sites of a synthetic district as GeoJSON Point features (RFC 7946, lon/lat): the real ones
of the spec (with their source) plus synthetic ones, flagged, placed by rule."""

from __future__ import annotations

import numpy as np
import shapely

SYNTHETIC = "synthetic: placed by assets/generate.py"


def _feature(kind, name, lonlat, capacity, source, *, sid, synthetic, unit=None, **extra):
    props = {"id": sid, "kind": kind, "name": name,
             "capacity": None if capacity is None else float(capacity), "unit": unit,
             "source": source, "synthetic": bool(synthetic)}
    props.update({k: v for k, v in extra.items() if v is not None})
    return {"type": "Feature",
            "geometry": {"type": "Point",
                         "coordinates": [round(float(lonlat[0]), 7), round(float(lonlat[1]), 7)]},
            "properties": props}


def _spread(points: np.ndarray, k: int, rng) -> np.ndarray:
    """Return indices of ``k`` points spread out by farthest-point sampling."""
    if len(points) == 0 or k <= 0:
        return np.zeros(0, np.int64)
    c = points.mean(axis=0)
    first = int(np.argmin(np.hypot(*(points - c).T) + rng.uniform(0, 50, len(points))))
    chosen = [first]
    d = np.hypot(*(points - points[first]).T)
    for _ in range(min(k, len(points)) - 1):
        nxt = int(np.argmax(d))
        chosen.append(nxt)
        d = np.minimum(d, np.hypot(*(points - points[nxt]).T))
    return np.asarray(chosen)


def make_sites(spec, ctx, rng, streets, lay, fps, gfa, terrain) -> list[dict]:
    """Return the district's site features."""
    name = spec["name"]
    feats = []
    for i, s in enumerate(spec.get("sites", [])):
        feats.append(_feature(s["kind"], s["name"], (s["lon"], s["lat"]), s.get("capacity"),
                              s["source"], sid=f"{name}-real-{i:02d}", synthetic=False,
                              name_zh=s.get("name_zh")))
    for i, s in enumerate(spec.get("landmarks", [])):
        feats.append(_feature("landmark", s["name"], (s["lon"], s["lat"]), None, s["source"],
                              sid=f"{name}-landmark-{i:02d}", synthetic=False,
                              name_zh=s.get("name_zh")))
    syn = spec.get("synthetic_sites", {})
    nodes = streets.node_xy
    cen = shapely.get_coordinates(shapely.centroid(fps))
    typ = np.asarray(lay.typology)

    def add(kind, xy, caps, label, **extra):
        cfg = syn.get(kind, {})
        ll = ctx.to_lonlat(np.atleast_2d(xy))
        for j, (p, c) in enumerate(zip(ll, caps)):
            feats.append(_feature(kind, f"{label} {j + 1}", p, c, SYNTHETIC,
                                  sid=f"{name}-{kind}-{j:03d}", synthetic=True,
                                  unit=cfg.get("unit"), **extra))

    # emergency services and substations: spread over the built area, at street nodes
    for kind, label in (("fire_station", "Fire station (synthetic)"),
                        ("police", "Police station (synthetic)"),
                        ("hospital", "Hospital (synthetic)"),
                        ("substation", "110 kV substation (synthetic)")):
        cfg = syn.get(kind)
        if not cfg:
            continue
        idx = _spread(cen, cfg["count"], rng)
        near = np.argmin(((nodes[None, :, :] - cen[idx][:, None, :]) ** 2).sum(-1), axis=1)
        add(kind, nodes[near], [cfg["capacity"]] * len(idx), label)
    # schools: one site per school building (capacity: pupils at 10 m² of floor each)
    sch = np.nonzero(typ == "school")[0]
    if len(sch):
        feats += [_feature("school", f"School (synthetic) {j + 1}", p, round(gfa[i] / 10.0),
                           SYNTHETIC, sid=f"{name}-school-{j:03d}", synthetic=True,
                           unit="pupils")
                  for j, (i, p) in enumerate(zip(sch, ctx.to_lonlat(cen[sch])))]
    # shelters: the largest parks and school grounds (2 m² of open ground per person)
    cfg = syn.get("shelter")
    if cfg:
        cand = [(p.area, p) for p, t in zip(lay.parcels, lay.parcel_typology)
                if t in ("park", "school") and p.area > 5000]
        cand.sort(key=lambda ap: -ap[0])
        cand = cand[:cfg["count"]]
        pts = np.array([shapely.get_coordinates(p.representative_point())[0] for _, p in cand])
        add("shelter", pts, [min(round(a * 0.6 / 2.0), 20000) for a, _ in cand],
            "Emergency shelter (synthetic)")
    # drainage pumping stations: spread along the water edges
    cfg = syn.get("pumping_station")
    if cfg and not ctx.water.is_empty:
        edge = ctx.water.boundary.difference(ctx.extent.exterior.buffer(50))
        pts = shapely.get_coordinates(shapely.segmentize(edge, 50))
        idx = _spread(pts, cfg["count"], rng)
        add("pumping_station", pts[idx], [cfg["capacity"]] * len(idx),
            "Drainage pumping station (synthetic)")
    # metro stations (synthetic where the spec has no real ones): on main roads, ~1.2 km apart
    cfg = syn.get("metro_station")
    if cfg:
        on_main = np.zeros(len(nodes), bool)
        for k, src in enumerate(streets.seg_source):
            if src.main and not streets.seg_tunnel[k] and not streets.seg_bridge[k]:
                on_main[streets.seg_from[k]] = on_main[streets.seg_to[k]] = True
        main = np.nonzero(on_main)[0]
        idx = main[_spread(nodes[main], cfg["count"], rng)]
        add("metro_station", nodes[idx], [cfg["capacity"]] * len(idx),
            "Metro station (synthetic)")
    # sensors: water-level gauges in each water body, traffic detectors at major signals,
    # rain gauges spread over the district
    cfg = syn.get("sensor")
    if cfg:
        n = cfg["count"]
        gauges = [shapely.get_coordinates(g.representative_point())[0]
                  for _, g in ctx.water_parts if not g.is_empty]
        sig = np.array(sorted(streets.signal_plans))
        sig_pick = sig[_spread(nodes[sig], max(n // 2, 1), rng)] if len(sig) else []
        rain = _spread(cen, max(n - len(gauges) - len(sig_pick), 0), rng)
        for label, pts, measures in (("Water level gauge", np.array(gauges), "water_level_m"),
                                     ("Traffic detector", nodes[sig_pick], "vehicle_count"),
                                     ("Rain gauge", cen[rain], "rainfall_mm")):
            if len(pts) == 0:
                continue
            ll = ctx.to_lonlat(np.atleast_2d(pts))
            k0 = sum(1 for f in feats if f["properties"]["kind"] == "sensor")
            for j, p in enumerate(ll):
                feats.append(_feature("sensor", f"{label} (synthetic) {j + 1}", p, None,
                                      SYNTHETIC, sid=f"{name}-sensor-{k0 + j:03d}",
                                      synthetic=True, measures=measures))
    return feats
