"""The trips table of the traffic layer (dimension ``trip``), filled at checkpoints."""

from __future__ import annotations

import numpy as np

from . import api as traffic
from .consts import ARRIVED, CANCELLED, STUCK
from .insert import STATUS_NAMES

_NAMES = np.array([{**STATUS_NAMES, CANCELLED: "cancelled"}.get(k, "")
                   for k in range(CANCELLED + 1)], dtype=object)

#: the trips table, dimension ``trip``: column -> (dtype, fill, units). ``trip_id`` is the
#: demand's row (of the trip's member); links are indices into the layer's ``road_link``;
#: ``trip_arrival_s`` is NaN for trips not arrived, ``trip_stuck_s`` the time a vehicle was
#: removed with no next link towards its destination (NaN otherwise); ``trip_teleports`` how
#: often it was teleported out of a deadlock; ``trip_status`` how the trip ended
#: (``arrived``, ``stuck``, ``cancelled`` by ``TrafficProcess.cancel_trips``, or at the end of
#: a run ``scheduled`` / ``waiting`` / ``active``: unfinished) and ``trip_cancelled_s`` the
#: time a cancelled trip was taken off the network (NaN otherwise). Demand rows that could not be routed are not
#: rows here: the layer attribute ``trips_rejected`` lists them, [member, row, reason]. The
#: store adds ``trip_member``.
TRIP_COLUMNS = {
    "trip_id": (np.int64, -1, ""), "trip_origin_link": (np.int64, -1, ""),
    "trip_destination_link": (np.int64, -1, ""), "trip_depart_s": (np.float64, np.nan, "s"),
    "trip_enter_s": (np.float64, np.nan, "s"), "trip_arrival_s": (np.float64, np.nan, "s"),
    "trip_travel_time_s": (np.float64, np.nan, "s"), "trip_stuck_s": (np.float64, np.nan, "s"),
    "trip_teleports": (np.int64, 0, ""), "trip_status": (str, "", ""),
    "trip_cancelled_s": (np.float64, np.nan, "s"),
}


def trip_rows(state: traffic.TrafficState, after: float, final: bool) -> tuple[dict, np.ndarray]:
    """Return (rows {column: (n,) array} of :data:`TRIP_COLUMNS`, (n,) members) of the trips
    that arrived or got stuck after time ``after`` (s), by member, then end time, then trip
    id, and when ``final`` all the others after them (by member, then trip id)."""
    a = state.arrays
    status, end, tid, mem = a["v_status"], a["v_arrive"], a["v_trip_id"], a["v_member"]
    sel = np.flatnonzero((status >= ARRIVED) & (end > after))
    sel = sel[np.lexsort((tid[sel], end[sel], mem[sel]))]
    if final:
        rest = np.flatnonzero(status < ARRIVED)
        sel = np.concatenate([sel, rest[np.lexsort((tid[rest], mem[rest]))]])
    arrived, stuck = status[sel] == ARRIVED, status[sel] == STUCK
    arrival = np.where(arrived, end[sel], np.nan)
    rows = {"trip_id": tid[sel], "trip_origin_link": a["v_orig"][sel],
            "trip_destination_link": a["dest_links"][a["v_dest"][sel]],
            "trip_depart_s": a["v_depart"][sel], "trip_enter_s": a["v_enter"][sel],
            "trip_arrival_s": arrival, "trip_travel_time_s": arrival - a["v_enter"][sel],
            "trip_stuck_s": np.where(stuck, end[sel], np.nan),
            "trip_teleports": a["v_tele"][sel], "trip_status": _NAMES[status[sel]],
            "trip_cancelled_s": np.where(status[sel] == CANCELLED, end[sel], np.nan)}
    return rows, mem[sel]

