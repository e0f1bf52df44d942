"""Liangxi Science City, morning peak 07:00–09:00: retime the signals for the arterials.

Every signalized junction on a main arterial (a primary road: Tongjiang Avenue, Xingyuan North
Road, Guangshi Road…) gets, from the start, a 110 s cycle with 60 % of its green time for the
arterial's approaches and no idle all-red time; the other junctions keep their plans. Demand
is generated from the district's residents and jobs (600 veh/h through traffic); ``twin run``
compares the result with the same morning on today's plans (``baseline``: same demand, same
seed). With the plans' phases served as the city model defines them (major road first),
today's plans already run the arterials well: at the calibrated demand (scale 0.65) the
retiming is about neutral — 3,263 instead of 3,269 vehicle-hours, 182 instead of 184 s mean
delay, 111 instead of 147 trips teleported (2026-11-30, commit 7525877, before the lane choice); at scale 0.25 it cost
~3 % more vehicle-hours and ~11 s more mean delay (an earlier gain came from phases wrongly
given to the crossing streets).

Demand scale 0.65: the scale at which today's plans run the peak at Wuxi's published peak
network speed, calibrated as the Lihu baseline's (``lihu_morning_peak.py``: the demand
assumptions — car_share 0.30, occupancy 1.3, 2.1 person trips per resident a day — and their
sources; no published Wuxi trip rate, car share, peak-hour share or occupancy was found, those
stay the assumptions of :mod:`agents.demand`). Scale 1.0 is what ``agents.generate_trips``
makes from Liangxi's 354,000 residents: ~22,000 car trips in 07:00–08:00, ~37,000 in
07:00–09:00 plus 600 veh/h through traffic.

Calibration (``benchmarks/demand_calibration.py``): the scale at which the simulated network
space-mean speed VKT / VHT over 07:00–09:00 on today's plans equals 27.9 km/h, the mean
road-network speed of Wuxi's urban area in the peak periods (Wuxi's first comprehensive urban
transport survey, Wuxi Natural Resources and Planning Bureau, from traffic big data; Wuxi
Daily 2022-12-02, reposted at http://hzgou.cn/news/chengshi/wuxi/2022-12-02/110222.html);
32.44 km/h, Wuxi's mean driving speed in the commute peaks of 2015 (Amap (AutoNavi) 2015
annual traffic report, reported at http://www.0510cn.com/lvyou/Info.asp?ID=3323, 2016-05-05),
bounds the range. Interpolated: 0.66 (32.44 km/h at 0.56); the scenario uses 0.65, the 0.05
step next to it, whose speed lies within 27.9–32.44 km/h. Measured 2026-11-30 on today's plans
(traffic kernel with the lane choice of ``TrafficParams.own_lane_bonus`` = 200 m; on commit
7525877, before it, the same scales: 29.2 km/h at 0.65; busiest hour: the 60 min with the most vehicle-hours):

=====  ====  ============  ======  =======  ==========  ==========  ==============
scale  km/h  busiest hour  trips   arrived  teleported  unfinished  mean trip time
=====  ====  ============  ======  =======  ==========  ==========  ==============
0.2    35.6  35.5 (07:21)  7,706   7,482    0           224         391 s
0.3    35.6  35.4 (07:20)  11,560  11,230   0           330         394 s
0.4    35.2  35.0 (07:21)  15,414  14,956   0           458         395 s
0.5    33.8  33.0 (07:21)  19,267  18,721   15          546         415 s
0.6    31.5  30.4 (07:25)  23,121  22,472   36          649         443 s
0.65   29.0  27.0 (07:33)  25,049  24,321   117         728         478 s
0.7    24.7  22.1 (07:38)  26,974  25,768   338         1,206       543 s
1.0    12.0  8.4 (07:59)   38,536  31,977   2,858       6,559       851 s
=====  ====  ============  ======  =======  ==========  ==========  ==============

At 1.0 the network jams (7 % of trips teleported out of deadlocks, 17 % unfinished at 09:00);
at 0.65, 0.5 % are teleported once. The limits of the comparison (a city-wide mean against one
district, the model's free-flow speeds, fixed through traffic, an empty network at 07:00) are
those of the Lihu calibration.

Quick version (``--quick``): 07:45–08:15 at half the scale (0.325).
"""

import datetime as dt

import numpy as np

import agents
import cim
import twin
from twin.cli.scenario_file import main
from twin.kernels import traffic
from twin.kernels.traffic.plans import signal_plans

DISTRICT = "liangxi"
DAY = dt.date(2024, 5, 14)  # a Tuesday
SEED = 2024
SCALE = 0.65  # calibrated to Wuxi's peak network speed (see above)
CYCLE_S = 110.0
ARTERIAL_SHARE = 0.6  # of the green time
YELLOW_S = 4.0


def scenario(quick: bool = False, retimed: bool = True,
             scale: float | None = None) -> twin.Scenario:
    """Return the retimed morning (``retimed=False``: today's plans); ``scale`` (default
    :data:`SCALE`) multiplies the generated demand, the quick version runs at half of it."""
    scale = SCALE if scale is None else float(scale)
    start, hours, scale = (dt.time(7, 45), 0.5, scale / 2) if quick else (dt.time(7), 2, scale)
    city = cim.load_district(DISTRICT)
    trips = agents.generate_trips(city, start=start.strftime("%H:%M"), duration_s=hours * 3600,
                                  seed=SEED, scale=scale, through_veh_per_h=600)
    # node trips: the traffic process starts and ends them on links the turn graph connects
    demand = {k: getattr(trips, k) for k in ("depart_s", "origin_node", "destination_node")}
    retiming = arterial_plans(city.roads) if retimed else []
    return twin.Scenario(city, duration=hours * 3600, start=dt.datetime.combine(DAY, start),
                         seed=SEED, kernels=[traffic.TrafficProcess()],
                         inputs={"traffic": demand}, interventions=retiming,
                         name="liangxi_signal_retiming" if retimed else "liangxi_morning_peak",
                         description=__doc__.splitlines()[0])


def baseline(quick: bool = False, scale: float | None = None) -> twin.Scenario:
    """Return the same morning on today's signal plans (``scale`` as in :func:`scenario`)."""
    return scenario(quick, retimed=False, scale=scale)


def arterial_plans(roads) -> list[twin.Event]:
    """Return the signal-plan changes: at junctions with a primary-road approach, the phase
    serving the primary road gets ARTERIAL_SHARE of the green (both do where two cross)."""
    phase = signal_plans(roads).link_phase  # the phase giving green to each approach link
    plans, green = [], CYCLE_S - 2 * YELLOW_S
    for node in np.flatnonzero(roads.node_signal):
        approach = (roads.link_to == node) & (phase >= 0)
        main = np.unique(phase[approach & (roads.link_class == "primary")])
        if main.size == 0:
            continue
        share = np.full(2, 0.5) if main.size == 2 else np.where(
            np.arange(2) == main[0], ARTERIAL_SHARE, 1 - ARTERIAL_SHARE)
        offset = float(roads.node_signal_plan[node].get("offset_s") or 0.0)
        plans.append(traffic.signal_plan(roads.node_ids[node], {
            "cycle_s": CYCLE_S, "green_s": np.round(share * green).tolist(),
            "yellow_s": YELLOW_S, "offset_s": offset}))
    return plans


if __name__ == "__main__":
    raise SystemExit(main(__file__))
