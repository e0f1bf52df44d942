"""Hand-built test cities for the demand tests: a two-way street grid with one main road
across each axis, a dead-end one-way spur (outside the largest SCC), and square buildings."""

from __future__ import annotations

import numpy as np
import pytest

from cim.geometry import PolygonSet, PolygonSetBuilder
from cim.model import Attributes, Buildings, CityModel, _obj
from cim.roads import RoadNetworkBuilder


def grid_roads(nx=8, ny=8, spacing=200.0, main=True):
    """Return a RoadNetwork: nx × ny grid nodes "n{i}_{j}" at (i, j) × spacing, two-way
    streets; the middle row and column are primary roads (when ``main``); plus a node "dead"
    reached by a one-way link from n0_0 only."""
    b = RoadNetworkBuilder()
    mid_i, mid_j = nx // 2, ny // 2
    for i in range(nx):
        for j in range(ny):
            p = (i * spacing, j * spacing)
            if i + 1 < nx:
                cls = "primary" if main and j == mid_j else "residential"
                b.add_segment(f"h{i}_{j}", f"n{i}_{j}", f"n{i + 1}_{j}",
                              [p, ((i + 1) * spacing, j * spacing)], cls=cls)
            if j + 1 < ny:
                cls = "primary" if main and i == mid_i else "residential"
                b.add_segment(f"v{i}_{j}", f"n{i}_{j}", f"n{i}_{j + 1}",
                              [p, (i * spacing, (j + 1) * spacing)], cls=cls)
    b.add_segment("spur", "n0_0", "dead", [(0.0, 0.0), (-60.0, -60.0)], oneway=True,
                  cls="residential")
    return b.build()


def square(x, y, half=10.0):
    return [[np.array([[x - half, y - half], [x + half, y - half], [x + half, y + half],
                       [x - half, y + half]])]]


def make_buildings(rows):
    """Return Buildings from rows (id, x, y, use, residents, jobs, floor_area)."""
    fb = PolygonSetBuilder(2)
    for _, x, y, *_ in rows:
        fb.add_object(square(x, y))
    n = len(rows)
    return Buildings(
        ids=_obj([r[0] for r in rows]), footprint=fb.build(),
        base_height=np.zeros(n), roof_height=np.full(n, 20.0),
        storeys=np.full(n, 6, np.int32), use=_obj([r[3] for r in rows]),
        floor_area=np.array([r[6] for r in rows], float),
        residents=np.array([r[4] for r in rows], float),
        jobs=np.array([r[5] for r in rows], float),
        lod=np.ones(n, np.float32), surfaces=PolygonSet.empty(n, 3), attributes=Attributes(n),
        parts=_obj([None] * n))


def make_city(nx=8, ny=8, spacing=200.0, main=True):
    """Return a CityModel: the grid of :func:`grid_roads` and one building in each block —
    homes in the west half, offices in the east, shops on the middle column — plus a home
    next to the dead-end node."""
    roads = grid_roads(nx, ny, spacing, main)
    rows = []
    for i in range(nx - 1):
        for j in range(ny - 1):
            x, y = (i + 0.5) * spacing + 30.0, (j + 0.5) * spacing + 20.0
            bid = f"b{i}_{j}"
            if i == (nx - 1) // 2:
                rows.append((bid, x, y, "commercial", 50.0, 80.0, 6000.0))
            elif i < (nx - 1) // 2:
                rows.append((bid, x, y, "residential", 400.0 + 40 * j, 10.0, 12000.0))
            else:
                rows.append((bid, x, y, "office", 20.0, 300.0 + 30 * i, 15000.0))
    rows.append(("near_dead", -70.0, -70.0, "residential", 300.0, 0.0, 8000.0))
    return CityModel(buildings=make_buildings(rows), roads=roads)


@pytest.fixture(scope="session")
def city():
    return make_city()
