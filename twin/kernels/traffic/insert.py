"""Trips added to a running simulation, and trips followed: responders, evacuees, probes.

:func:`add_trips` inserts trips into a :class:`~twin.kernels.traffic.api.TrafficState` between
kernel calls; :func:`follow` reports where given trips are. Both are vectorized over trips::

    idx = traffic.add_trips(net, state, depart=[state.time], origin=[12], destination=[40],
                            member=[0], trip_id=[90001])
    traffic.advance(net, state, 60)
    where = traffic.follow(state, [90001], member=0)   # status, link, offset, speed, ...

How the state is kept consistent
--------------------------------
Vehicle arrays ``v_*`` are sorted by member, then departure; member ``b`` owns positions
``m_start[b]:m_end[b]``, of which those from ``m_next[b]`` on are not yet released (their
departure is at or after ``state.time``). A new trip of member ``b`` goes into that unreleased
part, after the trips departing at the same time, so the state is the one
:func:`~twin.kernels.traffic.api.init_state` would have made with the new trips appended to
the original ones (and the simulation until now is the same: trips not yet released do not
act on it). Inserting shifts vehicle indices; every array that holds vehicle indices is
remapped through one old→new index map: ``lane_buf`` (vehicles on lanes), ``q_head``,
``q_tail`` (entry queues), ``v_qnext`` (queue links), and the member ranges ``m_start``,
``m_next``, ``m_end`` shift by the number of trips inserted before them. Counters do not
change (a trip is counted when released).

A new destination link is merged into the sorted ``dest_links``; ``v_dest`` and the
destination axis of ``route_next`` are remapped. The next-hop rows that the new trips need
and no version of the tables holds (new destinations, and destinations all of whose earlier
trips had arrived, whose rows later versions left at -1) are solved for every version from
its ``route_cost`` and ``route_open``, as :func:`~twin.kernels.traffic.routing.rebuild_tables`
does: the tables stay what a run started with those trips would hold.

Routes are next-hop tables (shortest paths by current travel times), or, for a trip given
one (``routes``: responders, evacuees sent along a dispatcher's route), a fixed sequence of
links: the vehicle takes exactly those links (``v_route``: its route's start in the flat
``route_links``, -1 for none; ``v_route_pos``: its current link's index in it). Rerouting never
changes a fixed route; a closed link on it holds the vehicle at the stop line before it until
it reopens (it is not counted stuck). A trip without a fixed route whose destination cannot be
reached from its origin ends ``STUCK`` (see :func:`follow`).
"""

from __future__ import annotations

import numpy as np

from . import consts as _c
from .network import TrafficError
from .routing import pending_dest_rows, tables

__all__ = ["add_trips", "follow", "route_list", "route_problem", "route_problems",
           "STATUS_NAMES"]

#: status code -> name (:func:`follow`'s ``status``)
STATUS_NAMES = {_c.SCHEDULED: "scheduled", _c.WAITING: "waiting", _c.ACTIVE: "active",
                _c.ARRIVED: "arrived", _c.STUCK: "stuck"}

# initial values of the per-vehicle arrays that the trips do not give (as in init_state)
_V_INIT = {"v_status": _c.SCHEDULED, "v_link": -1, "v_lane": -1, "v_next": -1,
           "v_qnext": -1, "v_tlane": -1, "v_nn": -1, "v_ver": 0, "v_pos": 0.0,
           "v_prev": 0.0, "v_speed": 0.0, "v_pos_new": 0.0, "v_speed_new": 0.0,
           "v_link_enter": 0.0, "v_enter": np.nan, "v_arrive": np.nan, "v_route": -1,
           "v_route_pos": 0, "v_wait": 0.0, "v_tele": 0,
           # vehicle type: the params' (set in add_trips)
           "v_len": np.nan, "v_gap": np.nan, "v_acc": np.nan, "v_dec": np.nan, "v_vmax": np.inf}
_V_TRIP = ("v_dest", "v_orig", "v_depart", "v_member", "v_trip_id")
# arrays holding vehicle indices (-1: none)
_V_INDEX = ("lane_buf", "q_head", "q_tail", "v_qnext")


def _as_array(x, n, dtype, name):
    a = np.asarray(x, dtype=dtype).ravel()
    if a.size == 1 and n != 1:
        a = np.full(n, a[0], dtype)
    if a.size != n:
        raise TrafficError(f"add_trips: '{name}' has {a.size} entries for {n} trips")
    return a


def _next_ids(state, members):
    """Per member in ``members``: one more than the largest trip id it holds (0 if none)."""
    a = state.arrays
    out = np.zeros(members.size, np.int64)
    for k, b in enumerate(members):
        ids = a["v_trip_id"][a["m_start"][b]:a["m_end"][b]]
        out[k] = int(ids.max()) + 1 if ids.size else 0
    return out


def _validate(net, state, depart, origin, destination, member, trip_id):
    a = state.arrays
    n_links, B = net.n_links, state.n_members
    bad = ~np.isfinite(depart)
    if bad.any():
        raise TrafficError(f"add_trips: trip {trip_id[bad][0]} has departure time "
                           f"{float(depart[bad][0])} (must be finite)")
    for name, v, hi in (("origin", origin, n_links), ("destination", destination, n_links),
                        ("member", member, B)):
        bad = (v < 0) | (v >= hi)
        if bad.any():
            raise TrafficError(f"add_trips: trip {trip_id[bad][0]} has {name} {v[bad][0]} "
                               f"outside 0..{hi - 1}")
    # (member, trip id) must be new and unique, so that follow() finds one vehicle
    order = np.lexsort((trip_id, member))
    dup = (np.diff(member[order]) == 0) & (np.diff(trip_id[order]) == 0)
    if dup.any():
        k = order[1:][dup][0]
        raise TrafficError(f"add_trips: trip {trip_id[k]} given twice for member {member[k]}")
    for b in np.unique(member):
        ids = a["v_trip_id"][a["m_start"][b]:a["m_end"][b]]
        mine = trip_id[member == b]
        taken = np.isin(mine, ids)
        if taken.any():
            raise TrafficError(f"add_trips: trip {mine[taken][0]} exists in member {b}")


def route_problem(net, r, origin, destination, turns=None) -> str | None:
    """Return why link sequence ``r`` is not a usable route from link ``origin`` to link
    ``destination`` of ``net`` (None: it is). ``turns``: sorted ``from * n_links + to`` of
    the allowed turns (computed when not given)."""
    L = net.n_links
    if turns is None:
        turns = np.unique(net.turn_from * L + net.turn_to_arr)
    r = np.asarray(r).ravel()
    if r.size == 0 or r.dtype.kind not in "iu":
        return "must be a non-empty sequence of link indices"
    r = r.astype(np.int64)
    bad = (r < 0) | (r >= L)
    if bad.any():
        return f"has link {r[bad][0]} outside 0..{L - 1}"
    if r[0] != origin or r[-1] != destination:
        return (f"runs from link {r[0]} to {r[-1]}, not from its origin {origin} to its "
                f"destination {destination}")
    if (r[:-1] == r[-1]).any():
        return f"passes its destination link {r[-1]} before its end"
    key = r[:-1] * L + r[1:]
    pos = np.minimum(np.searchsorted(turns, key), max(turns.size - 1, 0))
    gap = (turns[pos] != key) if turns.size else np.ones(key.size, bool)
    if gap.any():
        i = np.flatnonzero(gap)[0]
        return (f"is not connected: no turn from link {r[i]} to link {r[i + 1]} (positions "
                f"{i}, {i + 1})")
    return None


def route_problems(net, routes, origin, destination) -> np.ndarray:
    """Return (n,) object: why each of ``routes`` (n link sequences or None) is not a usable
    route from its ``origin`` to its ``destination`` link (:func:`route_problem`'s reason),
    None where it is (or where no route is given). Vectorized over all routes."""
    n, L = len(routes), net.n_links
    out = np.full(n, None, object)
    given = [k for k, r in enumerate(routes) if r is not None]
    if not given:
        return out
    arrs = [np.asarray(routes[k]).ravel() for k in given]
    usable = np.array([a.size > 0 and a.dtype.kind in "iu" for a in arrs])
    idx = np.asarray(given, np.int64)[usable]
    arrs = [a for a, u in zip(arrs, usable) if u]
    bad = np.zeros(len(arrs), bool)
    if arrs:
        lens = np.array([a.size for a in arrs], np.int64)
        flat = np.concatenate(arrs).astype(np.int64)
        first = np.concatenate([[0], np.cumsum(lens)[:-1]])
        last = first + lens - 1
        per = np.repeat(np.arange(len(arrs)), lens)
        wrong = (flat < 0) | (flat >= L)
        wrong |= (flat == flat[last][per]) & (np.arange(flat.size) != last[per])
        turns = np.unique(net.turn_from * L + net.turn_to_arr)
        inner = np.ones(flat.size, bool)
        inner[last] = False
        key = flat[inner[:-1].nonzero()[0]] * L + flat[inner[:-1].nonzero()[0] + 1]
        pos = np.minimum(np.searchsorted(turns, key), max(turns.size - 1, 0))
        gap = np.zeros(flat.size, bool)
        gap[inner[:-1].nonzero()[0]] = (turns[pos] != key) if turns.size else True
        bad = np.bincount(per, weights=(wrong | gap), minlength=len(arrs)) > 0
        bad |= (flat[first] != np.asarray(origin)[idx]) | (
            flat[last] != np.asarray(destination)[idx])
    check = list(np.asarray(given, np.int64)[~usable]) + list(idx[bad])
    for k in check:  # the reason, for the bad ones only
        out[k] = route_problem(net, routes[k], origin[k], destination[k])
    return out


def fixed_routes(net, routes, origin, destination, trip_id, what="add_trips"):
    """Validate fixed routes (``routes``: n link sequences or None); return the flat links to
    append to ``route_links`` and each trip's start in them (-1: no fixed route).
    TrafficError (``what``: the caller's name in its message) names the first bad trip."""
    n = origin.size
    if len(routes) != n:
        raise TrafficError(f"{what}: 'routes' has {len(routes)} entries for {n} trips")
    why = route_problems(net, routes, origin, destination)
    bad = np.flatnonzero(why != None)  # noqa: E711
    if bad.size:
        raise TrafficError(f"{what}: trip {trip_id[bad[0]]}: route {why[bad[0]]}")
    start = np.full(n, -1, np.int64)
    parts, seen, size = [], {}, 0
    for k, r in enumerate(routes):
        if r is None:
            continue
        r = np.asarray(r, np.int64).ravel()
        key = r.tobytes()
        if key not in seen:  # the same route for many trips is stored once
            seen[key] = size
            parts.append(r)
            size += r.size
        start[k] = seen[key]
    return (np.concatenate(parts) if parts else np.zeros(0, np.int64)), start


def route_list(route, n, link_index=None):
    """``routes`` for :func:`add_trips` from ``route``: None (no fixed routes), one route (a
    sequence of links) for all ``n`` trips, or a list of ``n`` routes or None. ``link_index``
    (optional) maps each route to link indices (e.g. from road link ids)."""
    if route is None:
        return None
    if isinstance(route, str) or all(r is not None and np.ndim(r) == 0 for r in route):
        route = [route] * n
    return [None if r is None else (link_index(r) if link_index else r) for r in route]


def add_trips(net, state, depart, origin, destination, member=None, trip_id=None,
              routes=None) -> np.ndarray:
    """Add trips to ``state`` in place; return their vehicle indices after the insertion.

    Parameters (arrays of shape (n,); scalars are broadcast)
    ----------
    depart : float, s
        Departure time; times before ``state.time`` (s, the time reached) mean now.
    origin, destination : int
        Link indices: the vehicle enters at the upstream end of ``origin`` and arrives at the
        downstream end of ``destination``.
    member : int, optional
        Batch member of each trip (0..n_members-1); 0 when omitted.
    trip_id : int64, optional
        Caller's ids, unique per member and not yet used there (echoed by
        :func:`~twin.kernels.traffic.api.completed_trips`, :func:`follow`…); by default
        consecutive ids above the largest id of each member.
    routes : list of n link-index sequences or None, optional
        A fixed route per trip (None: by the next-hop tables): its origin first, its
        destination last (and only there), each link reachable by a turn from the one before
        (:func:`route_list` makes the list from one route).

    Returns
    -------
    (n,) int64 : the trips' indices into the vehicle arrays ``v_*``, valid until the next
    insertion (which shifts them; :func:`follow` finds trips by id).

    Raises :class:`~twin.kernels.traffic.network.TrafficError` naming the first bad trip.
    """
    a = state.arrays
    depart = np.asarray(depart, dtype=np.float64).ravel()
    n = depart.size
    origin = _as_array(origin, n, np.int64, "origin")
    destination = _as_array(destination, n, np.int64, "destination")
    member = _as_array(0 if member is None else member, n, np.int64, "member")
    if trip_id is None:
        trip_id = np.zeros(n, np.int64)
        for b in np.unique(member):
            sel = member == b
            trip_id[sel] = _next_ids(state, np.array([b]))[0] + np.arange(sel.sum())
    trip_id = _as_array(trip_id, n, np.int64, "trip_id")
    _validate(net, state, depart, origin, destination, member, trip_id)
    fixed = None if routes is None else fixed_routes(net, routes, origin, destination,
                                                          trip_id)
    unknown = [k for k in a if k.startswith("v_") and k not in _V_INIT and k not in _V_TRIP]
    if unknown:  # a vehicle array added to the kernel: say how new vehicles start in _V_INIT
        raise TrafficError(f"add_trips: no initial value for vehicle array {unknown[0]!r}")
    if n == 0:
        return np.zeros(0, np.int64)
    depart = np.maximum(depart, float(state.time))
    pending_before = pending_dest_rows(state)

    # ---- destinations: merge into the sorted dest_links, remap v_dest and route_next
    old_dl = a["dest_links"]
    dl = np.union1d(old_dl, destination).astype(np.int64)
    old_row = np.searchsorted(dl, old_dl)
    if dl.size != old_dl.size:
        rn = a["route_next"]
        grown = np.full(rn.shape[:2] + (dl.size,) + rn.shape[3:], -1, rn.dtype)
        grown[:, :, old_row] = rn
        a["route_next"] = grown
        a["dest_links"] = dl
        a["v_dest"] = old_row[a["v_dest"]]
    dest_row = np.searchsorted(dl, destination)

    # ---- where the new trips go: the unreleased part of their member, by departure, after
    # the trips departing at the same time (init_state's order for trips appended last)
    order = np.lexsort((np.arange(n), depart, member))
    m_sorted, d_sorted = member[order], depart[order]
    at = np.empty(n, np.int64)
    for b in np.unique(m_sorted):
        sel = np.flatnonzero(m_sorted == b)
        lo, hi = a["m_next"][b], a["m_end"][b]
        at[sel] = lo + np.searchsorted(a["v_depart"][lo:hi], d_sorted[sel], side="right")
    n_old = a["v_depart"].size
    new_pos = at + np.arange(n)                                  # non-decreasing ``at``
    old_to_new = np.arange(n_old) + np.searchsorted(at, np.arange(n_old), side="right")

    # ---- per-vehicle arrays (and fixed routes, appended to route_links)
    given = {"v_dest": dest_row[order], "v_orig": origin[order], "v_depart": d_sorted,
             "v_member": m_sorted, "v_trip_id": trip_id[order]}
    if fixed is not None:
        flat, start = fixed
        base = a["route_links"].size
        given["v_route"] = np.where(start >= 0, start + base, -1)[order]
        a["route_links"] = np.concatenate([a["route_links"], flat]).astype(np.int64)
    p = state.params  # added trips drive the params' vehicle (``init_state``'s default)
    given.update(v_len=p.vehicle_length, v_gap=p.min_gap, v_acc=p.max_accel,
                 v_dec=p.comfort_decel, v_vmax=np.inf)
    for name in [k for k in a if k.startswith("v_")]:
        old = a[name]
        out = np.empty((n_old + n,) + old.shape[1:], old.dtype)
        out[old_to_new] = old
        out[new_pos] = given[name] if name in given else _V_INIT[name]
        a[name] = out
    for name in _V_INDEX:
        v = a[name].copy()
        held = v >= 0
        v[held] = old_to_new[v[held]]
        a[name] = v
    count = np.bincount(member, minlength=state.n_members)
    before = np.concatenate([[0], np.cumsum(count)[:-1]])
    a["m_start"] = a["m_start"] + before
    a["m_next"] = a["m_next"] + before
    a["m_end"] = a["m_end"] + before + count

    # ---- next-hop rows nobody needed before, for every version of the tables
    need = np.setdiff1d(pending_dest_rows(state), old_row[pending_before])
    if need.size:
        rn = a["route_next"]
        for k in range(rn.shape[0]):
            rn[k][:, need] = tables(net, state.params, dl[need], a["route_cost"][k],
                                    a["route_open"][k])
    result = np.empty(n, np.int64)
    result[order] = new_pos
    return result


def _find(state, trip_id, member):
    """Vehicle indices of (member, trip id) pairs; TrafficError for one not in the state."""
    a = state.arrays
    idx = np.full(trip_id.size, -1, np.int64)
    for b in np.unique(member):
        if not 0 <= b < state.n_members:
            raise TrafficError(f"follow: member {b} outside 0..{state.n_members - 1}")
        lo, hi = a["m_start"][b], a["m_end"][b]
        ids = a["v_trip_id"][lo:hi]
        sorter = np.argsort(ids, kind="stable")
        sel = np.flatnonzero(member == b)
        q = trip_id[sel]
        if ids.size == 0:
            raise TrafficError(f"follow: no trip {q[0]} in member {b}")
        pos = np.minimum(np.searchsorted(ids, q, sorter=sorter), ids.size - 1)
        found = ids[sorter[pos]] == q
        if not found.all():
            raise TrafficError(f"follow: no trip {q[~found][0]} in member {b}")
        idx[sel] = lo + sorter[pos]
    return idx


def follow(state, trip_id, member=0) -> dict:
    """Return where trips are now, as arrays of shape (n,) (one per trip id given).

    ``trip_id`` (n,) int and ``member`` (int or (n,)) name the trips. Keys:

    - ``index``: vehicle index (valid until the next :func:`add_trips`);
    - ``status``: the kernel's code (``consts.SCHEDULED`` 0: not yet departed, ``WAITING`` 1:
      in its origin's entry queue, ``ACTIVE`` 2: on a link, ``ARRIVED`` 3, ``STUCK`` 4:
      removed with no next link towards its destination); :data:`STATUS_NAMES` names them;
    - ``link`` (link index), ``lane`` (0 = rightmost lane of the link), ``offset`` (m, front
      bumper from the link's upstream end), ``speed`` (m/s): -1 / NaN unless active;
    - ``origin``, ``destination`` (link indices), ``depart`` (scheduled departure, s),
      ``enter`` (entered its origin link, s; NaN before), ``arrival`` (s; NaN unless arrived),
      ``stuck`` (removal time, s; NaN unless stuck), ``travel_time`` (arrival - enter, s).
    """
    a = state.arrays
    trip_id = np.atleast_1d(np.asarray(trip_id, dtype=np.int64)).ravel()
    member = np.asarray(member, dtype=np.int64).ravel()
    if member.size == 1:
        member = np.full(trip_id.size, member[0], np.int64)
    if member.size != trip_id.size:
        raise TrafficError(f"follow: {member.size} members for {trip_id.size} trips")
    v = _find(state, trip_id, member)
    status = a["v_status"][v]
    act = status == _c.ACTIVE
    link = np.where(act, a["v_link"][v], -1)
    lane = np.where(act, a["v_lane"][v] - a["link_lane0"][np.maximum(link, 0)], -1)
    end = a["v_arrive"][v]
    arrival = np.where(status == _c.ARRIVED, end, np.nan)
    return {"index": v, "member": member, "trip_id": trip_id, "status": status,
            "link": link, "lane": lane,
            "offset": np.where(act, a["v_pos"][v], np.nan),
            "speed": np.where(act, a["v_speed"][v], np.nan),
            "origin": a["v_orig"][v], "destination": a["dest_links"][a["v_dest"][v]],
            "depart": a["v_depart"][v], "enter": a["v_enter"][v], "arrival": arrival,
            "stuck": np.where(status == _c.STUCK, end, np.nan),
            "travel_time": arrival - a["v_enter"][v]}
