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

import json
from dataclasses import dataclass, field

import numpy as np

from .errors import StoreError

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
    when there is no path or the network is unknown."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    origin = np.asarray(origin, np.int64)
    destination = np.asarray(destination, np.int64)
    out = np.full(origin.shape, np.nan)
    if data.link_from is None or origin.size == 0:
        return out
    lf, lt = np.asarray(data.link_from), np.asarray(data.link_to)
    free = data.link_length / data.link_free_speed
    n = int(max(lf.max(), lt.max())) + 1
    # parallel links: keep the fastest (csr_matrix would add them up)
    order = np.lexsort((free, lt, lf))
    first = np.ones(order.size, bool)
    first[1:] = (lf[order][1:] != lf[order][:-1]) | (lt[order][1:] != lt[order][:-1])
    keep = order[first]
    graph = csr_matrix((free[keep], (lf[keep], lt[keep])), shape=(n, n))
    sources, inv = np.unique(lt[origin], return_inverse=True)
    dist = dijkstra(graph, indices=sources, min_only=False)
    between = dist[inv, lf[destination]]
    out = free[origin] + between + free[destination]
    out = np.where(origin == destination, free[origin], out)
    return np.where(np.isfinite(out), out, np.nan)


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


# ---- reading a run store ---------------------------------------------------------------------
def _pick(ds, *names):
    for n in names:
        if n in ds.variables:
            return n
    return None


def load_traffic(run, layer: str = "traffic") -> TrafficData:
    """Return the :class:`TrafficData` of ``run``'s traffic layer (StoreError when the run
    has none).

    Per-link records come from the layer (``link_count`` or ``link_density``, ``link_speed``,
    ``link_flow`` in veh/h or veh per interval, ``queue_length``); link names, free speeds and
    end nodes from the layer when recorded, otherwise from the run's district; completed trips
    from the layer's trips table (dimension ``trip``: ``trip_arrival_s``, ``trip_enter_s``…,
    written at each checkpoint), vehicle-seconds from ``vehicle_seconds`` (the kernel's exact
    running sum).
    """
    if layer not in run.layers:
        raise StoreError(f"{run.path} has no {layer!r} layer (layers: {run.layers}); "
                         "traffic KPIs need a traffic run")
    ds = run.open(layer)
    if "time" not in ds.variables or ds.sizes.get("time", 0) == 0:
        raise StoreError(f"{run.path}: the {layer!r} layer has no records yet")
    time = np.asarray(ds["time"].values, float)
    ri = float(ds.attrs.get("record_interval_s", time[0]))
    interval = np.diff(time, prepend=max(time[0] - ri, 0.0))
    links = _links(run, ds)
    n_links = len(links["ids"])

    def var(*names, default=0.0):
        n = _pick(ds, *names)
        if n is None:
            return np.full((time.size, n_links), default)
        return np.asarray(ds[n].values, float)

    count = var("link_count", "link_vehicles", default=np.nan)
    if np.isnan(count).all():  # derive from density (veh/m/lane)
        count = var("link_density") * (links["length"] * links["lanes"])[None, :]
    flow = var("link_flow")
    n = _pick(ds, "link_flow")
    if n is not None and ds[n].attrs.get("units") == "veh/h":
        flow = flow * interval[:, None] / 3600.0
    data = TrafficData(
        time=time, interval=interval, link_ids=links["ids"], link_names=links["names"],
        link_length=links["length"], link_free_speed=links["free_speed"], count=count,
        speed=var("link_speed", default=np.nan), flow=flow,
        queue=var("queue_length", "link_queue"), link_from=links.get("from"),
        link_to=links.get("to"))
    data.trips = _layer_trips(ds)
    if "vehicle_seconds" in ds.variables:
        data.veh_seconds = float(ds["vehicle_seconds"].values[-1])
    totals = [_pick(ds, k) for k in ("in_network", "waiting", "arrived")]
    if all(totals):
        data.stuck = int(ds["stuck"].values[-1]) if "stuck" in ds.variables else 0
        data.released = int(sum(ds[k].values[-1] for k in totals)) + data.stuck
        data.in_network = np.asarray(ds["in_network"].values, float)
    if "n_trips_unroutable" in ds.attrs:
        data.unroutable = int(ds.attrs["n_trips_unroutable"])
    return data


def _links(run, ds) -> dict:
    """Return link ids, names, lengths, lanes, free speeds and end nodes (dense order)."""
    if "link" not in ds.coords:
        raise StoreError(f"{run.path}: the traffic layer has no link coordinate")
    ids = np.asarray(ds["link"].values).astype(object)
    out: dict = {}
    for key in ("name", "length", "lanes", "free_speed", "from", "to"):
        n = f"link_{key}"
        if n in ds.variables and "time" not in ds[n].dims:
            out[key] = np.asarray(ds[n].values)
    if len(out) < 6:  # what the layer lacks comes from the district
        roads = _city_roads(run)
        if roads is not None:
            if ids.size != roads.n_links or not np.array_equal(
                    ids, np.asarray(roads.link_ids, dtype=object)):
                raise StoreError(f"{run.path}: the traffic layer's links are not those of "
                                 f"district {run.provenance.get('district')!r}")
            for k in ("name", "length", "lanes", "free_speed", "from", "to"):
                out.setdefault(k, np.asarray(getattr(roads, f"link_{k}")))
    n = ids.size
    out.setdefault("name", np.full(n, "", object))
    out.setdefault("length", np.full(n, np.nan))
    out.setdefault("lanes", np.ones(n))
    out.setdefault("free_speed", np.full(n, np.nan))
    return {"ids": ids, "names": np.asarray(out["name"], object),
            "length": np.asarray(out["length"], float),
            "lanes": np.asarray(out["lanes"], float),
            "free_speed": np.asarray(out["free_speed"], float),
            "from": out.get("from"), "to": out.get("to")}


def _city_roads(run):
    import cim

    district = run.provenance.get("district")
    if district not in cim.districts():
        return None
    return cim.load_district(district).roads


def _layer_trips(ds) -> dict:
    """Return the completed trips {column: (N,) array} of the layer's trips table ({} when
    the layer has none)."""
    if "trip_arrival_s" not in ds.variables:
        return {}
    arrival = np.asarray(ds["trip_arrival_s"].values, float)
    done = np.isfinite(arrival)
    col = {k: np.asarray(ds[f"trip_{k}"].values)[done]
           for k in ("depart_s", "enter_s", "origin_link", "destination_link")}
    return {"trip_id": np.asarray(ds["trip"].values)[done], "depart": col["depart_s"],
            "enter": col["enter_s"], "arrival": arrival[done],
            "travel_time": arrival[done] - col["enter_s"], "origin": col["origin_link"],
            "destination": col["destination_link"]}


def compute(run, n_worst: int = N_WORST) -> KPIs:
    """Return the traffic :class:`KPIs` of ``run`` (a :class:`twin.Run` or a path)."""
    from .store import Run

    run = run if isinstance(run, Run) else Run(run)
    k = compute_from(load_traffic(run), n_worst)
    sc = run.scenario
    k.meta = {"path": str(run.path), "status": run.status, "start": sc.get("start"),
              "name": sc.get("name"), "duration_s": sc.get("duration_s")}
    return k


# ---- printing ---------------------------------------------------------------------------------
def format_table(k: KPIs, title: str | None = None) -> str:
    """Return the KPIs as a readable text table (scalars, then the worst links)."""
    lines = []
    if title:
        lines.append(title)
    status = k.meta.get("status")
    if status and status != "complete":
        lines.append(f"(run {status})")
    w = max(len(lbl) for lbl, _, _ in SCALARS.values())
    for name, (label, unit, fmt) in SCALARS.items():
        v = k.scalars.get(name, float("nan"))
        text = "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)
        lines.append(f"  {label:<{w}}  {text:>12} {unit}")
    if k.worst_links:
        lines.append("  worst links (vehicle-hours of delay; queue m mean/max):")
        for i, wl in enumerate(k.worst_links, 1):
            lines.append(f"  {i:>3}. {wl['link']:<22} {wl['name'][:24]:<24} "
                         f"{wl['delay_vh']:8.1f} veh·h  {wl['mean_queue_m']:6.0f} / "
                         f"{wl['max_queue_m']:4.0f} m")
    return "\n".join(lines)


def to_json(k: KPIs) -> str:
    """Return the KPIs as JSON text (series as lists; NaN as null)."""
    def clean(v):
        if isinstance(v, np.ndarray):
            return [clean(x) for x in v.tolist()]
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return v

    d = {"scalars": {k2: clean(float(v)) for k2, v in k.scalars.items()},
         "series": {k2: clean(np.asarray(v, float)) for k2, v in k.series.items()},
         "worst_links": k.worst_links, "meta": k.meta}
    return json.dumps(d, indent=1)
