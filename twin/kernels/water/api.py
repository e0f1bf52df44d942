"""Public entry point: :func:`hydraulics`, an extended-period run (like wntr's simulators)
returning an xarray Dataset, optionally for several scenarios solved together."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from .compile import LT_PUMP
from .errors import HydraulicsError
from .sim import WaterSim


@dataclass
class WaterScenario:
    """One member's changes (SI, ids as in the network): ``demand_multiplier`` a factor for
    every junction or {node id: factor}; ``closed_links`` [link id]; ``bursts``
    [(node id, emitter coefficient m³/s per m^0.5)]; ``pumps_off`` [pump link id]."""

    demand_multiplier: float | dict = 1.0
    closed_links: list = field(default_factory=list)
    bursts: list = field(default_factory=list)
    pumps_off: list = field(default_factory=list)


def _scenario(s) -> WaterScenario:
    if isinstance(s, WaterScenario):
        return s
    if isinstance(s, dict):
        unknown = set(s) - {"demand_multiplier", "closed_links", "bursts", "pumps_off"}
        if unknown:
            raise HydraulicsError(f"unknown scenario keys: {sorted(unknown)}")
        return WaterScenario(**s)
    raise HydraulicsError(f"a scenario is a dict or WaterScenario, not {type(s).__name__}")


def _index(ids, kind):
    pos = {str(v): i for i, v in enumerate(ids)}

    def get(x):
        try:
            return pos[str(x)]
        except KeyError:
            raise HydraulicsError(f"unknown {kind} {x!r} in scenario") from None
    return get


def apply_scenarios(sim: WaterSim, network, scenarios) -> None:
    """Apply per-member scenario changes (a list of dicts / WaterScenario) to ``sim``."""
    node, link = _index(network.node_ids, "node"), _index(network.link_ids, "link")
    for k, s in enumerate(scenarios):
        s = _scenario(s)
        if isinstance(s.demand_multiplier, dict):
            for nid, f in s.demand_multiplier.items():
                sim.set_demand_multiplier([k], [node(nid)], float(f))
        elif s.demand_multiplier != 1.0:
            sim.set_demand_multiplier([k], None, float(s.demand_multiplier))
        if s.closed_links:
            sim.set_link_closed([k], [link(x) for x in s.closed_links], True)
        for nid, coeff in s.bursts:
            sim.set_emitter([k], [node(nid)], float(coeff))
        if s.pumps_off:
            idx = [link(x) for x in s.pumps_off]
            if any(network.link_type[i] != "pump" for i in idx):
                raise HydraulicsError("pumps_off names a link that is not a pump")
            sim.set_pump_available([k], idx, False)


def hydraulics(network, duration=None, step=None, pdd=None, scenarios=None,
               threads=None) -> xr.Dataset:
    """Run an extended-period hydraulic simulation of ``network`` (cim WaterNetwork).

    duration : s (default ``times["duration"]``); step : report step, s (default
    ``times["report_step"]``); pdd : None or dict(minimum_pressure=, required_pressure=,
    exponent=) for pressure-dependent demand; scenarios : list of dicts / WaterScenario
    (keys demand_multiplier, closed_links, bursts, pumps_off) solved together as members;
    threads : members split over this many threads (None: one per CPU; same numbers).

    Returns a Dataset with ``head``, ``pressure``, ``demand`` (delivered, m³/s),
    ``demand_required`` over (time, node); ``flow``, ``velocity``, ``status`` (0 closed,
    1 open, 2 active), ``setting`` over (time, link); ``pump_power`` (W) over (time, pump);
    a leading ``member`` dim when ``scenarios`` is given. Raises HydraulicsError when a
    solution cannot be found.
    """
    K = len(scenarios) if scenarios is not None else 1
    sim = WaterSim(network, members=K, pdd=pdd, threads=threads)
    dur = int(round(network.times.get("duration", 0.0) if duration is None else duration))
    rstep = sim.c.rstep if step is None else int(round(step))
    if rstep <= 0:
        raise HydraulicsError("report step must be positive")
    if step is not None:
        sim.set_report_step(rstep)
    if scenarios is not None:
        apply_scenarios(sim, network, scenarios)
    rstart = sim.c.rstart if step is None else 0
    times = np.arange(rstart, dur + 1, rstep) if dur > 0 else np.array([0])
    out = sim.record(times)                  # (K, time, n) each
    pumps = np.flatnonzero(sim.c.ltype == LT_PUMP)
    dims = {"head": "node", "pressure": "node", "demand": "node", "demand_required": "node",
            "flow": "link", "velocity": "link", "status": "link", "setting": "link",
            "pump_power": "pump"}
    data = {}
    for k, d in dims.items():
        if scenarios is None:
            data[k] = (("time", d), out[k][0])
        else:
            data[k] = (("member", "time", d), out[k])
    coords = {"time": times.astype(float), "node": np.asarray(network.node_ids, str),
              "link": np.asarray(network.link_ids, str),
              "pump": np.asarray(network.link_ids, str)[pumps]}
    if scenarios is not None:
        coords["member"] = np.arange(K)
    ds = xr.Dataset(data, coords=coords)
    ds["node_type"] = ("node", np.asarray(network.node_type, str))
    ds["link_type"] = ("link", np.asarray(network.link_type, str))
    ds.attrs.update(units="SI: m, m3/s, m/s, W; time s", solver="twin.kernels.water (GGA)")
    return ds
