"""Liangxi Science City, weekday evening: a 110 kV substation trips for an hour — the cascade.

18:00–20:00 (quick: 18:00–19:00). At 18:15 the substation that feeds the water-treatment
plant's high-lift pumps trips (both transformers); it is restored at 19:15 (quick: 18:45). On the bus:

- power → water: the pumps on the dark feeders stop; the network is fed only by the other
  pumping stations and the elevated tanks, pressures fall at the evening peak (19:00), and
  demand goes unserved (pressure-dependent demand, 20 m for full service);
- power → traffic: the signal controllers on the dark feeders go dark and their junctions
  work as all-way stops; traffic slows there;
- water → power: the pumps still running draw what they pump.

The substation is chosen from the data, not by name: the one whose service area feeds the
treatment plant's pumps (``pump-wtp-*``). KPIs: unserved water (m³, people-hours), lowest pressure, junctions below
20 m; energy not served, buildings and people without power, dark signals; the traffic KPIs.
"""

import datetime as dt

import numpy as np

import agents
import cim
import twin
from twin.cli.scenario_file import main
from twin.kernels.power.process import PowerProcess
from twin.kernels.traffic import TrafficProcess
from twin.kernels.water.process import WaterProcess

DISTRICT = "liangxi"
DAY = dt.date(2024, 5, 14)  # a Tuesday
START = dt.time(18, 0)
SEED = 2024
SCALE = 0.2
TRIP_AT_S = 15 * 60
OUTAGE_S = {False: 3600.0, True: 1800.0}


def pump_substation(city, prefix: str = "pump-wtp") -> str:
    """The substation (power bus zone) that feeds the pumps whose ids start with ``prefix``
    (the treatment plant's high-lift pumps) — the one with most of their load."""
    loads = city.power_grid.loads
    pumps = (np.asarray(loads.kind, object) == "pump") & np.char.startswith(
        np.asarray(loads.element, object).astype(str), prefix)
    zone = np.asarray(city.power_grid.node_zone, object)[loads.bus[pumps]]
    kw = {}
    for z, p in zip(zone.tolist(), np.asarray(loads.p_mw)[pumps].tolist()):
        kw[z] = kw.get(z, 0.0) + p
    return max(sorted(kw), key=kw.get)


def scenario(quick: bool = False) -> twin.Scenario:
    hours = 1.0 if quick else 2.0
    city = cim.load_district(DISTRICT)
    trips = agents.generate_trips(city, start=START.strftime("%H:%M"), duration_s=hours * 3600,
                                  seed=SEED, scale=SCALE / 2 if quick else SCALE)
    demand = {k: getattr(trips, k) for k in ("depart_s", "origin_node", "destination_node")}
    substation = pump_substation(city)
    return twin.Scenario(
        city, duration=hours * 3600, start=dt.datetime.combine(DAY, START), seed=SEED,
        kernels=[TrafficProcess(), PowerProcess(dt=60.0), WaterProcess(dt=60.0)],
        inputs={"traffic": demand},
        couplings={"traffic/signal_power": "power/signal_power",
                   "water/pump_power": "power/pump_power",
                   "power/pump_load": "water/pump_load"},
        events=[twin.Event("substation_outage", substation, at=TRIP_AT_S, duration=OUTAGE_S[quick],
                           layer="power")],
        record_interval={"traffic": 60.0, "power": 60.0, "water": 300.0},
        name="liangxi_substation_outage", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main(__file__))
