"""Flood cascades on the bus (:mod:`tests.twin.lifeline_city`): a flooded substation site trips
its substation (power and everything it feeds goes dark) and a flooded pumping-station site stops
the pumps within 300 m of it; both come back when the site dries. A stub kernel publishes
``site_flooded`` as the flood kernel does."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from cim.model import Attributes, Sites, _obj
from twin.kernels.power.process import PowerProcess
from twin.kernels.water.process import WaterProcess

from .lifeline_city import lifeline_city

WET = (120.0, 480.0)   # s: the sites are flooded in [120, 480)


class FloodStub(twin.Kernel):
    """Publishes ``site_flooded`` (site, 0/1): member 0 floods site "S1" (the substation),
    member 1 floods "PS1" (the pumping station next to pump PU1), within :data:`WET`."""

    batched = True
    dt = 30.0
    publishes = {"site_flooded": twin.Spec(("site",), "1")}
    outputs = {"flooded": twin.Spec(("site",), "1")}

    def __init__(self, name="stub"):
        self.name = name

    def init(self, ctx):
        self.ids = list(ctx.city.sites.ids.astype(str))
        self.K = ctx.n_members
        self._publish(ctx, 0.0)

    def _publish(self, ctx, t):
        f = np.zeros((self.K, len(self.ids)))
        if WET[0] <= t < WET[1]:
            f[0, self.ids.index("S1")] = 1.0
            if self.K > 1:
                f[1, self.ids.index("PS1")] = 1.0
        self.f = f
        ctx.bus.publish(f"{self.name}/site_flooded", f, dims=("site",), units="1")

    def step(self, t, dt, ctx):
        self._publish(ctx, t + dt)
        return {"flooded": self.f} if ctx.record_due else None


def city_with_sites():
    city = lifeline_city()
    n00, n22 = city.roads.node_xy[0], city.roads.node_xy[-1]
    xy = np.array([n00 + [-100.0, -80.0], n00 + [-30.0, 10.0], n22 + [400.0, 0.0]])
    city.sites = Sites(_obj(["S1", "PS1", "PS2"]),
                       _obj(["substation", "pumping_station", "pumping_station"]),
                       _obj(["S1", "PS1", "PS2"]), np.c_[xy, np.zeros(3)], np.full(3, np.nan),
                       Attributes(3))
    return city


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    sc = twin.Scenario(
        city=city_with_sites(), duration=900.0, seed=5, members=2,
        kernels=[FloodStub(), PowerProcess(dt=30), WaterProcess(dt=60)],
        couplings={"water/pump_power": "power/pump_power", "power/pump_load": "water/pump_load",
                   "power/site_flooded": "stub/site_flooded",
                   "water/site_flooded": "stub/site_flooded"},
        record_interval=60.0, name="lifelines_flooded")
    return twin.run(sc, tmp_path_factory.mktemp("flooded") / "f.zarr", progress=False)


def test_flooded_substation_trips_and_recovers(run):
    p = run.open("power")
    t = p.time.values
    wet = (t >= WET[0]) & (t < WET[1])
    m0, m1 = p.isel(member=0), p.isel(member=1)
    assert (m0.energized.values[wet] == 0).all()           # S1 is the grid's infeed bus
    assert (m0.buildings_dark.values[wet] == 9).all() and (m0.shed_mw.values[wet] > 0).all()
    assert (m0.buses_dark.values[~wet] == 0).all() and (m0.shed_mw.values[~wet] < 1e-12).all()
    assert (m1.buses_dark.values == 0).all()                # a pumping station is no substation
    tab = run.table("power", "outages")
    assert list(tab["outage_kind"]) == ["flood"] and list(tab["outage_target"]) == ["S1"]
    assert list(tab["outage_start_s"]) == [WET[0]] and list(tab["outage_end_s"]) == [WET[1]]


def test_flooded_pumping_station_stops_its_pump_and_recovers(run):
    w = run.open("water")
    t = w.time.values
    dry = (t >= WET[0] + 60) & (t < WET[1])
    after = t >= WET[1] + 120
    for m in (0, 1):                 # member 0: no power; member 1: the pump site is flooded
        wm = w.isel(member=m)
        assert (wm.pump_power.values[dry] == 0).all(), m
        assert (wm.unserved_total.values[dry] > 0).all(), m
        assert (wm.pump_power.values[after] > 0).all(), m
        assert (wm.unserved_total.values[after] < 1e-9).all(), m
        assert (wm.pump_power.values[t < WET[0]] > 0).all(), m
