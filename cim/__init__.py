"""cim — what the city is: the typed city information model and its readers/writers.

Public API::

    city = cim.load("a.city.json", "roads.osm", lenient=False, crs=None)
    city = cim.load_district("lihu")          # or "liangxi"; cim.districts() lists them
    cim.write_cityjson(city, "out.city.json")
    cim.write_inp(city, "out.inp")            # the water network, EPANET 2.2, LPS
    cim.write_sumo(city, "out.net.xml")       # the road network for SUMO (netconvert)
    cim.write_swmm(city, "drainage.inp")      # the drainage network, SWMM 5
"""

from __future__ import annotations

from .crs import resolve_crs
from .districts import districts, load_district
from .errors import (
    CIMError,
    CRSError,
    FormatError,
    GeometryError,
    LoadReport,
    MissingReferenceError,
    SchemaError,
    ValueRangeError,
)
from .geometry import PolygonSet
from .io import (
    detect_format,
    load,
    write_cityjson,
    write_inp,
    write_matpower,
    write_pandapower,
    write_sumo,
    write_swmm,
)
from .model import (
    LOCAL_CRS,
    Areas,
    Attributes,
    Buildings,
    CityModel,
    CityObjects,
    DrainageNetwork,
    Network,
    PowerGrid,
    RoadNetwork,
    Sites,
    Terrain,
    WalkwayNetwork,
    WaterNetwork,
)

__all__ = [
    "load", "load_district", "districts", "write_cityjson", "write_inp", "detect_format",
    "write_matpower", "write_pandapower", "write_sumo", "write_swmm",
    "CityModel", "Buildings", "RoadNetwork", "Areas", "Sites", "CityObjects", "Terrain",
    "Network", "WaterNetwork", "PowerGrid", "DrainageNetwork", "WalkwayNetwork",
    "Attributes", "PolygonSet", "LoadReport", "LOCAL_CRS", "resolve_crs",
    "CIMError", "FormatError", "SchemaError", "GeometryError", "ValueRangeError",
    "MissingReferenceError", "CRSError",
]
