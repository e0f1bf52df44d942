"""``twin.build(city) -> Twin``: meshes, road graph and spatial index from a CityModel."""

from __future__ import annotations

import time

import numpy as np

from cim.model import CityModel

from .twin import Twin

#: Origin rounding (m): the mesh origin is the extent's lower-left corner rounded down to this.
ORIGIN_STEP_M = 100.0


def local_origin(city: CityModel) -> np.ndarray:
    """Return (3,) float64: the lower-left corner of ``city``'s extent rounded down to
    ``ORIGIN_STEP_M`` (z = 0); zeros for an empty city."""
    x0, y0, _, _ = city.bounds()
    if not (np.isfinite(x0) and np.isfinite(y0)):
        return np.zeros(3)
    return np.array([np.floor(x0 / ORIGIN_STEP_M) * ORIGIN_STEP_M,
                     np.floor(y0 / ORIGIN_STEP_M) * ORIGIN_STEP_M, 0.0])


def build(city: CityModel, *, progress: bool = False, lod: float = 2,
          colour_by: str = "use", terrain_max_cells: int = 500_000) -> Twin:
    """Return the 3D twin of ``city``.

    Parameters
    ----------
    city : cim.CityModel — in any CRS; a geographic one is first taken to a metric CRS
        (``city.to_metric()``); a model without CRS is used in its own (assumed metric) units.
    progress : bool — show a tqdm bar over the build stages.
    lod : 1 or 2 — 2 uses a building's LoD2 surfaces where it has them, 1 always extrudes.
    colour_by : "use" or "height" — building colours.
    terrain_max_cells : int — the terrain mesh subsamples larger DEMs to about this many cells.
    """
    # imported here so that `import twin` stays cheap for code that only runs kernels
    from tqdm.auto import tqdm

    from .graph import RoadGraph
    from .meshes import area_layer, building_layer, site_layer, terrain_layer
    from .road_meshes import road_layer
    from .spatial import SpatialIndex

    if colour_by not in ("use", "height"):
        raise ValueError(f"colour_by must be 'use' or 'height', got {colour_by!r}")
    timings: dict[str, float] = {}
    state: dict = {}

    def metric():
        state["city"] = city.to_metric()
        state["origin"] = local_origin(state["city"])

    def buildings():
        c = state["city"]
        state["buildings"] = building_layer(c.buildings, state["origin"], c.terrain, lod=lod,
                                            colour_by=colour_by)

    def roads():
        c = state["city"]
        state["roads"] = road_layer(c.roads, state["origin"], c.terrain)

    def water():
        state["water"] = area_layer("water", state["city"].water_bodies, state["origin"])

    def terrain():
        c = state["city"]
        state["terrain"] = terrain_layer(c.terrain, state["origin"], max_cells=terrain_max_cells,
                                         water=c.water_bodies)

    def sites():
        c = state["city"]
        extent = np.nan_to_num(np.ptp(np.reshape(c.bounds(), (2, 2)), axis=0).max())
        state["sites"] = site_layer(c.sites, state["origin"], c.terrain,
                                    height=float(np.clip(extent / 80.0, 20.0, 80.0)))

    def graph():
        state["graph"] = RoadGraph(state["city"].roads)

    def spatial():
        c = state["city"]
        state["spatial"] = SpatialIndex(c.roads.node_ids, c.roads.node_xy, c.buildings.ids,
                                        c.buildings.footprint)

    stages = [("metric CRS", metric), ("buildings", buildings), ("roads", roads),
              ("water", water), ("terrain", terrain), ("sites", sites),
              ("road graph", graph), ("spatial index", spatial)]
    t_start = time.perf_counter()
    with tqdm(stages, desc="twin.build", unit="stage", disable=not progress,
              leave=False) as bar:
        for name, fn in bar:
            bar.set_postfix_str(name)
            t0 = time.perf_counter()
            fn()
            timings[name] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    layers = {k: state[k] for k in ("buildings", "roads", "water", "terrain", "sites")}
    info = {"timings_s": timings, "lod": lod, "colour_by": colour_by,
            "buildings": layers["buildings"].info, "terrain": layers["terrain"].info}
    return Twin(state["city"], state["origin"], layers, state["graph"], state["spatial"], info)
