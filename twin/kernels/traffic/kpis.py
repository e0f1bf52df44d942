"""Traffic KPIs of a run: vehicle-hours, trip times, delays, worst links, and their time series.

:func:`compute` reads the ``traffic`` layer of a run store and returns a :class:`KPIs`:

- ``vht_h`` vehicle-hours travelled in the network (vehicles on links × time);
- ``vkt_km`` vehicle-kilometres (link exits × link length), ``mean_speed_kmh`` = VKT / VHT;
- ``trips_completed``, ``trips_unfinished`` (released but not arrived at the end: still in the
  network or waiting to enter it), ``trips_stuck`` (removed with no next link towards their
  destination), ``trips_unroutable`` (demand the network does not connect, dropped before the
  run);
- ``mean_trip_time_s`` (arrival − entry into the network, as SUMO's tripinfo duration),
  ``mean_delay_s`` and ``p95_delay_s``: trip time − free-flow time of the trip's shortest
  path (link lengths / free speeds, from its origin link's upstream end to its destination
  link's downstream end), over completed trips;
- ``worst_links``: the links with most delay, vehicle-hours lost on the link
  Σ_t n × (1 − v / v_free) × Δt (the time spent beyond what the distance covered needs at free
  speed), with their names, mean and maximum queue;
- ``series``: per record interval ``vehicles_in_network``, ``mean_speed_kmh``, ``vht_h``,
  ``trips_completed`` (cumulative) and ``queue_km`` (sum of queue lengths) for plotting.

Record intervals: a link's count and speed are the values at the end of each interval
(snapshots), so VHT and link delays are rectangle sums over the intervals; flows count every
exit during the interval. Units: s, m, km/h as named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import StoreError
from ._route_solve import bucket_width, csr, distances_needed

#: Scalar KPIs in table order: name → (label, unit, format).
SCALARS = {
    "trips_completed": ("completed trips", "", "{:,.0f}"),
    "trips_unfinished": ("unfinished trips", "", "{:,.0f}"),
    "trips_stuck": ("trips removed as stuck", "", "{:,.0f}"),
    "trips_unroutable": ("dropped unroutable trips", "", "{:,.0f}"),
    "vht_h": ("vehicle-hours travelled", "veh·h", "{:,.1f}"),
    "vkt_km": ("vehicle-km travelled", "veh·km", "{:,.1f}"),
    "mean_speed_kmh": ("network mean speed", "km/h", "{:,.1f}"),
    "mean_trip_time_s": ("mean trip time", "s", "{:,.1f}"),
    "mean_delay_s": ("mean delay", "s", "{:,.1f}"),
    "p95_delay_s": ("95th percentile delay", "s", "{:,.1f}"),
    "delay_vh": ("vehicle-hours of delay", "veh·h", "{:,.1f}"),
    "max_queue_m": ("longest queue", "m", "{:,.0f}"),
}
#: Time series: name → (label, unit).
SERIES = {
    "vehicles_in_network": ("vehicles in network", "veh"),
    "mean_speed_kmh": ("mean speed", "km/h"),
    "vht_h": ("VHT per interval", "veh·h"),
    "trips_completed": ("completed trips (cumulative)", "trips"),
    "queue_km": ("total queue length", "km"),
}
N_WORST = 10


@dataclass
class TrafficData:
    """What the KPIs are computed from (arrays; T records, L links, N completed trips).

    time : (T,) s, end of each record interval; interval : (T,) s, its length.
    link_ids, link_names : (L,) str; link_length : (L,) m; link_free_speed : (L,) m/s;
    link_from, link_to : (L,) int node indices (for shortest paths; optional).
    count : (T, L) vehicles on the link; speed : (T, L) m/s space-mean (NaN when empty);
    flow : (T, L) vehicles that left the link in the interval; queue : (T, L) m.
    trips : dict of (N,) arrays of the completed trips: ``travel_time`` s (required),
        ``arrival`` s, ``origin`` and ``destination`` link indices, ``free_flow_time`` s
        (computed from the shortest paths when absent).
    released : vehicles whose departure time was reached by the end (None: unknown).
    stuck : vehicles removed with no way on (None: unknown); unroutable : trips dropped before
    the run as the network does not connect them (None: unknown).
    link_from, link_to : (L,) node indices of the link ends (None: no free-flow paths).
    veh_seconds : exact vehicle-seconds in the network (the kernel's own sum; None: the
        rectangle sum of ``count``). in_network : (T,) vehicles in the network (None: the sum
        of ``count``).
    """

    time: np.ndarray
    interval: np.ndarray
    link_ids: np.ndarray
    link_names: np.ndarray
    link_length: np.ndarray
    link_free_speed: np.ndarray
    count: np.ndarray
    speed: np.ndarray
    flow: np.ndarray
    queue: np.ndarray
    trips: dict = field(default_factory=dict)
    released: int | None = None
    stuck: int | None = None
    unroutable: int | None = None
    link_from: np.ndarray | None = None
    link_to: np.ndarray | None = None
    veh_seconds: float | None = None
    in_network: np.ndarray | None = None


@dataclass
class KPIs:
    """KPIs of one run: ``scalars`` {name: value} (see :data:`SCALARS`), ``series``
    {name: (T,) array} with ``time`` (s), ``worst_links`` (list of dicts: link, name,
    delay_vh, mean_queue_m, max_queue_m, flow_veh), ``meta`` (run path, status, start)."""

    scalars: dict
    series: dict
    worst_links: list
    meta: dict = field(default_factory=dict)


# ---- the computation (pure, arrays in) ------------------------------------------------------
def free_flow_times(data: TrafficData, origin, destination) -> np.ndarray:
    """Return the free-flow time (s) of the shortest path from the upstream end of link
    ``origin`` to the downstream end of link ``destination`` (arrays of link indices); NaN
    when there is no path or the network is unknown.

    One compiled Dijkstra search per distinct end, stopped once it reaches the other ends of
    its trips, ends in parallel (:func:`._route_solve.distances_needed`), from the fewer
    ends (backwards on the reversed graph when the destinations are fewer); parallel links:
    the fastest."""
    origin = np.asarray(origin, np.int64)
    destination = np.asarray(destination, np.int64)
    out = np.full(origin.shape, np.nan)
    if data.link_from is None or origin.size == 0:
        return out
    lf, lt = np.asarray(data.link_from, np.int64), np.asarray(data.link_to, np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        free = np.asarray(data.link_length, float) / np.asarray(data.link_free_speed, float)
    n = int(max(lf.max(), lt.max())) + 1
    ok = np.isfinite(free)
    start, end = lt[origin], lf[destination]
    if np.unique(end).size < np.unique(start).size:  # search from the fewer ends (backwards)
        between = _path_costs(n, lt[ok], lf[ok], free[ok], end, start)
    else:
        between = _path_costs(n, lf[ok], lt[ok], free[ok], start, end)
    out = free[origin] + between + free[destination]
    out = np.where(origin == destination, free[origin], out)
    return np.where(np.isfinite(out), out, np.nan)


def _path_costs(n, tail, head, weight, src, dst) -> np.ndarray:
    """(len(src),) cost of the cheapest path from node ``src[i]`` to node ``dst[i]`` (inf
    when there is none) over the edges ``tail`` -> ``head`` of cost ``weight`` (s): one
    search per distinct source, stopped once its destinations are reached."""
    ptr, nbr, wt = csr(tail, n, head, weight)
    sources, inv = np.unique(src, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    need_ptr = np.searchsorted(inv[order], np.arange(sources.size + 1)).astype(np.int64)
    vals = np.empty(src.size)
    wt = wt.astype(np.float64)
    delta, n_buckets = bucket_width(wt)
    distances_needed(sources.astype(np.int64), ptr, nbr.astype(np.int64), wt, delta,
                     n_buckets, need_ptr, np.asarray(dst, np.int64)[order], vals)
    out = np.empty(src.size)
    out[order] = vals
    return out


def compute_from(data: TrafficData, n_worst: int = N_WORST) -> KPIs:
    """Return the KPIs of ``data`` (see the module docstring)."""
    dt = np.asarray(data.interval, float)
    count = np.nan_to_num(np.asarray(data.count, float))
    speed = np.asarray(data.speed, float)
    flow = np.nan_to_num(np.asarray(data.flow, float))
    queue = np.nan_to_num(np.asarray(data.queue, float))
    vfree = np.asarray(data.link_free_speed, float)

    veh_s = count * dt[:, None]                                   # (T, L) veh·s
    vht_t = veh_s.sum(1) / 3600.0
    vkt = float((flow * data.link_length[None, :]).sum()) / 1000.0
    moving = np.where(count > 0, np.nan_to_num(speed) * count, 0.0).sum(1)
    n_t = count.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        speed_t = np.where(n_t > 0, moving / n_t * 3.6, np.nan)
        lost = np.where(count > 0, veh_s * np.clip(1.0 - np.nan_to_num(speed) / vfree, 0, 1),
                        0.0)                                      # (T, L) veh·s of delay
    link_delay = lost.sum(0) / 3600.0
    vht = float(vht_t.sum()) if data.veh_seconds is None else data.veh_seconds / 3600.0
    if data.in_network is not None:
        n_t = np.asarray(data.in_network, float)

    trips = data.trips
    tt = np.asarray(trips.get("travel_time", np.zeros(0)), float)
    ff = trips.get("free_flow_time")
    if ff is None and "origin" in trips and "destination" in trips:
        ff = free_flow_times(data, trips["origin"], trips["destination"])
    delay = (tt - np.asarray(ff, float)) if ff is not None else np.full(tt.shape, np.nan)
    delay = delay[np.isfinite(delay)]
    arrival = np.asarray(trips.get("arrival", np.zeros(0)), float)
    done_t = (np.searchsorted(np.sort(arrival), data.time, side="right") if arrival.size
              else np.zeros(len(data.time), np.int64))
    n_done = int(tt.size)
    scalars = {
        "trips_completed": n_done,
        "trips_unfinished": (int(data.released) - n_done - int(data.stuck or 0))
        if data.released is not None else float("nan"),
        "trips_stuck": int(data.stuck) if data.stuck is not None else float("nan"),
        "trips_unroutable": int(data.unroutable) if data.unroutable is not None
        else float("nan"),
        "vht_h": vht, "vkt_km": vkt,
        "mean_speed_kmh": vkt / vht if vht > 0 else float("nan"),
        "mean_trip_time_s": float(tt.mean()) if n_done else float("nan"),
        "mean_delay_s": float(delay.mean()) if delay.size else float("nan"),
        "p95_delay_s": float(np.percentile(delay, 95)) if delay.size else float("nan"),
        "delay_vh": float(link_delay.sum()),
        "max_queue_m": float(queue.max()) if queue.size else 0.0,
    }
    if len(queue) == 0:
        queue = np.zeros((1, len(data.link_ids)))
    rank = np.lexsort((-queue.mean(0), -link_delay))[:n_worst]
    worst = [{"link": str(data.link_ids[i]), "name": str(data.link_names[i] or ""),
              "delay_vh": float(link_delay[i]), "mean_queue_m": float(queue[:, i].mean()),
              "max_queue_m": float(queue[:, i].max()), "flow_veh": float(flow[:, i].sum())}
             for i in rank if link_delay[i] > 0 or queue[:, i].max() > 0]
    series = {"time": np.asarray(data.time, float), "vehicles_in_network": n_t,
              "mean_speed_kmh": speed_t, "vht_h": vht_t,
              "trips_completed": done_t.astype(float), "queue_km": queue.sum(1) / 1000.0}
    return KPIs(scalars, series, worst)


# ---- reading a recorded layer ----------------------------------------------------------------
def _pick(ds, *names):
    for n in names:
        if n in ds.variables:
            return n
    return None


def load_traffic(layer) -> TrafficData:
    """Return the :class:`TrafficData` of one member of a recorded traffic layer
    (:class:`twin.core.kernel.LayerData`; StoreError when it has no records).

    Per-link records come from the layer (``link_count``, ``link_speed``, ``link_flow`` in
    veh/h, ``queue_length``) and its static link table (``link_length``, ``link_name``,
    ``link_free_speed``, ``link_from``/``link_to``); completed trips from its trips table,
    vehicle-seconds from ``vehicle_seconds`` (the kernel's exact running sum).
    """
    ds = layer.ds
    if "time" not in ds.variables or ds.sizes.get("time", 0) == 0:
        raise StoreError(f"{layer.meta.get('path', 'run')}: the traffic layer has no records")
    time = np.asarray(ds["time"].values, float)
    ri = float(layer.attrs.get("record_interval_s", time[0]))
    interval = np.diff(time, prepend=max(time[0] - ri, 0.0))
    flow = np.asarray(ds["link_flow"].values, float) * interval[:, None] / 3600.0
    data = TrafficData(
        time=time, interval=interval,
        link_ids=np.asarray(ds["road_link"].values).astype(object),
        link_names=np.asarray(ds["link_name"].values).astype(object),
        link_length=np.asarray(ds["link_length"].values, float),
        link_free_speed=np.asarray(ds["link_free_speed"].values, float),
        count=np.asarray(ds["link_count"].values, float),
        speed=np.asarray(ds["link_speed"].values, float), flow=flow,
        queue=np.asarray(ds["queue_length"].values, float),
        link_from=np.asarray(ds["link_from"].values), link_to=np.asarray(ds["link_to"].values))
    data.trips = _completed(layer.tables.get("trips", {}))
    data.veh_seconds = float(ds["vehicle_seconds"].values[-1])
    data.stuck = int(ds["stuck"].values[-1])
    data.released = int(sum(ds[k].values[-1] for k in ("in_network", "waiting", "arrived"))
                        ) + data.stuck
    data.in_network = np.asarray(ds["in_network"].values, float)
    unroutable = layer.attrs.get("n_trips_unroutable")
    if unroutable is not None:
        data.unroutable = int(np.atleast_1d(unroutable)[int(layer.meta.get("member", 0))])
    return data


def _completed(trips: dict) -> dict:
    """Return the completed trips {column: (N,) array} of a trips table ({} when none)."""
    if "trip_arrival_s" not in trips:
        return {}
    arrival = np.asarray(trips["trip_arrival_s"], float)
    done = np.isfinite(arrival)
    enter = np.asarray(trips["trip_enter_s"], float)[done]
    return {"trip_id": np.asarray(trips["trip_id"])[done],
            "depart": np.asarray(trips["trip_depart_s"], float)[done], "enter": enter,
            "arrival": arrival[done], "travel_time": arrival[done] - enter,
            "origin": np.asarray(trips["trip_origin_link"])[done],
            "destination": np.asarray(trips["trip_destination_link"])[done]}


#: which way is better for each scalar KPI (None: neither)
LOWER_IS_BETTER = {"trips_completed": False, "trips_unfinished": True, "trips_stuck": True,
                   "trips_unroutable": True, "vht_h": True, "vkt_km": None,
                   "mean_speed_kmh": False, "mean_trip_time_s": True, "mean_delay_s": True,
                   "p95_delay_s": True, "delay_vh": True, "max_queue_m": True}


def kpi_list(k: KPIs) -> list:
    """Return the scalar KPIs of ``k`` as :class:`twin.core.kernel.KPI` values."""
    from ...core.kernel import KPI

    return [KPI(name, float(k.scalars.get(name, np.nan)), unit, LOWER_IS_BETTER[name], label,
                fmt) for name, (label, unit, fmt) in SCALARS.items()]


def worst_links_text(k: KPIs) -> str:
    """Return the worst links of ``k`` as text lines (empty when none)."""
    if not k.worst_links:
        return ""
    lines = ["worst links (vehicle-hours of delay; queue m mean/max):"]
    for i, wl in enumerate(k.worst_links, 1):
        lines.append(f"{i:>3}. {wl['link']:<22} {wl['name'][:24]:<24} "
                     f"{wl['delay_vh']:8.1f} veh·h  {wl['mean_queue_m']:6.0f} / "
                     f"{wl['max_queue_m']:4.0f} m")
    return "\n".join(lines)


