"""Lihu Future City, summer afternoon: a 100-year, 3-hour design storm — the streets fill.

16:00–20:00 (quick: 16:00–17:30, a 1-hour storm of the same return period on 100 m cells,
fewer trips).
The rain is a Chicago design storm (Keifer & Chu 1957) of return period 100 years and
duration 3 h in 5-min blocks, built by ``twin.kernels.flood.rain.chicago`` from the storm-
intensity formula i = A1 (1 + C lg P) / (t + b)^n mm/min (GB 50014-2021 form; the Suzhou 2025
parameters A1 = 17.969, C = 1.24, b = 18.415, n = 0.785, peak at r = 0.43, used for Wuxi — see
:mod:`twin.kernels.flood.rain`): 177 mm in 3 h. The flood kernel routes it over the DEM on
50 m cells (local inertial, Bates et al. 2010) with Horton infiltration and the district's
storm sewers coupled at the inlets. On the bus:

- flood → traffic: road links lose capacity and speed with depth (Pregnolato et al. 2017;
  closed at ≥ 0.3 m); the traffic kernel reads ``capacity_factor`` and ``speed_factor``;
- flood → power: a substation whose site is flooded (≥ ``SITE_DEPTH_M``) trips (its buses go
  out, the feeders they supply go dark) and comes back when the site dries;
- flood → water: a flooded pumping station stops the booster pumps within 300 m of it;
- power → water, power → traffic: the pumps and signals on dark feeders stop / go dark.

What to look at: ``flood/depth`` over time, ``road_depth`` and ``speed_factor`` per road link
(flooded roads), ``building_depth`` (flooded buildings), ``site_depth`` of the substations and
pumping stations (the sites at risk: :func:`sites_at_risk`), the mass balance
(``mass_rel_error``), the power ``outages`` table (kind ``flood``), and the traffic KPIs.
With the district's sewers the design storm leaves every substation below 0.3 m (deepest
≈ 0.13 m on 50 m cells): the sites at risk are ranked by depth, none trips.
"""

import datetime as dt

import agents
import cim
import twin
from twin.cli.scenario_file import main
from twin.kernels.flood import rain
from twin.kernels.flood.process import FloodProcess
from twin.kernels.power.process import PowerProcess
from twin.kernels.traffic import TrafficProcess
from twin.kernels.water.process import WaterProcess

DISTRICT = "lihu"
DAY = dt.date(2024, 7, 16)  # a Tuesday in the plum-rain season
START = dt.time(16, 0)
SEED = 2024
SCALE = 0.1
RETURN_PERIOD = 100.0                             # years
STORM_S = {False: 3 * 3600.0, True: 3600.0}       # storm duration
RUN_S = {False: 4 * 3600.0, True: 1.5 * 3600.0}   # the storm, then the streets drain
CELL_M = {False: 50.0, True: 100.0}
SITE_DEPTH_M = 0.3                                # a substation / pump site floods at this


def storm(quick: bool = False) -> rain.Hyetograph:
    """The 100-year Chicago design storm (5-min blocks), 3 h (quick: 1 h)."""
    return rain.chicago(RETURN_PERIOD, STORM_S[quick], step=300.0)


def sites_at_risk(run, city=None, kinds=("substation", "pumping_station")) -> list:
    """[(site id, kind, max depth m)] of the substations and pumping stations, deepest first."""
    f = run.open("flood").isel(member=0)
    depth = f.site_depth.values.max(0)
    city = city or cim.load_district(DISTRICT)
    ids = city.sites.ids.astype(str)          # the flood layer's site axis, in city order
    kind = dict(zip(city.sites.ids.astype(str), city.sites.kind.astype(str)))
    rows = [(i, kind.get(i, ""), float(d)) for i, d in zip(ids, depth) if kind.get(i) in kinds]
    return sorted(rows, key=lambda r: -r[2])


def scenario(quick: bool = False, site_depth_m: float = SITE_DEPTH_M) -> twin.Scenario:
    city = cim.load_district(DISTRICT)
    run_s = RUN_S[quick]
    trips = agents.generate_trips(city, start=START.strftime("%H:%M"), duration_s=run_s,
                                  seed=SEED, scale=SCALE / 4 if quick else SCALE)
    demand = {k: getattr(trips, k) for k in ("depart_s", "origin_node", "destination_node")}
    flood = FloodProcess(dt=60.0 if quick else 30.0, cell=CELL_M[quick],
                         site_depth_m=site_depth_m)
    return twin.Scenario(
        city, duration=run_s, start=dt.datetime.combine(DAY, START), seed=SEED,
        kernels=[flood, TrafficProcess(), PowerProcess(dt=60.0), WaterProcess(dt=300.0)],
        inputs={"flood": storm(quick), "traffic": demand},
        couplings={"traffic/capacity_factor": "flood/capacity_factor",
                   "traffic/speed_factor": "flood/speed_factor",
                   "traffic/signal_power": "power/signal_power",
                   "power/site_flooded": "flood/site_flooded",
                   "water/site_flooded": "flood/site_flooded",
                   "water/pump_power": "power/pump_power",
                   "power/pump_load": "water/pump_load"},
        record_interval={"flood": 600.0 if quick else 300.0, "traffic": 300.0,
                         "power": 300.0, "water": 300.0},
        name="lihu_rainstorm_100yr", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main(__file__))
