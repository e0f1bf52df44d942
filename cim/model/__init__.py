"""The typed city information model: struct-of-arrays tables, one per kind of city object,
networks sharing one :class:`Network` base, the terrain, and the :class:`CityModel` holding
them.

Coordinates are in ``CityModel.crs`` (a :class:`pyproj.CRS`, or None for "file coordinates");
heights in metres above the source's vertical datum. Ids are the stable string ids of the
source files; each table's row order is its dense index.

Modules: :mod:`.tables` (Attributes, Buildings, Areas, Sites, CityObjects), :mod:`.network`
(the Network base, walkways), :mod:`.drainage` (DrainageNetwork, SWMM's model, SI), :mod:`.water` (WaterNetwork, EPANET's model, SI), :mod:`.power` (PowerGrid, bus-branch per unit), :mod:`.roads` (RoadNetwork), :mod:`.terrain`,
:mod:`.city` (CityModel).
"""

from .city import LOCAL_CRS, CityModel
from .drainage import DrainageNetwork, Inflow, Subcatchments
from .network import Network, WalkwayNetwork, column
from .power import PowerGens, PowerGrid, PowerLoads
from .roads import RoadNetwork
from .tables import (
    SITE_KINDS,
    Areas,
    Attributes,
    Buildings,
    CityObjects,
    Sites,
    Table,
    _obj,
    id_map,
)
from .terrain import Terrain, reproject_terrain
from .water import Control, Rule, RuleClause, WaterCurve, WaterDemands, WaterNetwork

#: former private name, kept for callers of the single-module model
_reproject_terrain = reproject_terrain

__all__ = [
    "CityModel", "LOCAL_CRS", "Network", "RoadNetwork", "WaterNetwork", "PowerGrid",
    "DrainageNetwork", "WalkwayNetwork", "column", "Attributes", "Table", "Buildings", "Areas",
    "Sites", "CityObjects", "SITE_KINDS", "Terrain", "reproject_terrain", "id_map", "_obj",
    "WaterDemands", "WaterCurve", "Inflow", "Subcatchments", "Control", "Rule", "RuleClause", "PowerGens", "PowerLoads",
]
