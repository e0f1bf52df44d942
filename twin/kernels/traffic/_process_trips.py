"""Trips added to a running :class:`~twin.kernels.traffic.process.TrafficProcess`, trips
followed and trips cancelled (responders, evacuees): the process's :meth:`insert_trips`,
:meth:`follow` and :meth:`cancel_trips` (:func:`cancel_trips` on the state arrays).

A redirect is a cancel and an insertion: ``cancel_trips([tid])`` takes the vehicle off the
network where it is, and ``insert_trips(link, new_destination)`` sends it on from the link
it was on (entering at its upstream end: the part of the link already driven is lost)."""

from __future__ import annotations

import numpy as np

from ...errors import ScenarioError
from . import api as traffic
from . import consts as _c
from . import insert as traffic_insert
from ._kcommon import BLOCK

#: status of a cancelled trip (after the kernel's codes, :data:`~.insert.STATUS_NAMES`)
CANCELLED = _c.CANCELLED
#: status code -> name, with :data:`CANCELLED`
TRIP_STATUS_NAMES = {**traffic_insert.STATUS_NAMES, CANCELLED: "cancelled"}


class TripInsertion:
    """Mixin of :class:`~twin.kernels.traffic.process.TrafficProcess` (uses its ``state``,
    ``net``, ``coords``, ``geometry`` and ``name``)."""

    # ---- trips added during the run (responders, evacuees) -----------------------------------
    def _link_index(self, links, what: str) -> np.ndarray:
        """Link indices from indices or road link ids (strings)."""
        links = np.atleast_1d(np.asarray(links))
        if links.dtype.kind not in "UOS":
            return links.astype(np.int64)
        index = self.__dict__.get("_road_link_index")
        if index is None:
            index = {s: i for i, s in enumerate(self.coords["road_link"])}
            self._road_link_index = index
        try:
            return np.array([index[str(x)] for x in links], np.int64)
        except KeyError as e:
            raise ScenarioError(f"{self.name}: unknown road_link {e.args[0]!r} ({what})"
                                ) from None

    def insert_trips(self, origin_link, destination_link, depart=None, member=None,
                     trip_id=None, route=None) -> np.ndarray:
        """Add trips to the running simulation; return their trip ids, (n,) int64.

        ``origin_link``, ``destination_link``: (n,) road link indices or ids (``"h00:f"``),
        entered at the upstream end, left at the downstream end, by the current shortest
        paths or along ``route``: one fixed route for all (link indices or ids, origin first,
        destination last, connected by turns) or a list of n (None: shortest paths), kept by
        rerouting, waiting at the stop line before a closed link. ``depart``: s, scalar or
        (n,); None or past = now. ``member``: int or (n,); None = the same trips (same ids)
        in every member. ``trip_id``: (n,) ids unused in their member; by default the next
        ids above the largest of the member (of all if ``member`` is None). The trips go to
        the trips table when they end (or at the end); :meth:`follow` reports on them.
        """
        st = self.state
        o = self._link_index(origin_link, "origin")
        d = self._link_index(destination_link, "destination")
        t = np.atleast_1d(np.asarray(st.time if depart is None else depart, np.float64))
        n = max(o.size, d.size, t.size)
        try:
            o, d, t = (np.broadcast_to(x, (n,)) for x in (o, d, t))
        except ValueError:
            raise ScenarioError(f"{self.name}: insert_trips: origin, destination and depart "
                                f"have {o.size}, {d.size} and {t.size} entries") from None
        K = st.n_members
        routes = traffic_insert.route_list(route, n, lambda r: self._link_index(r, "route"))
        if member is None:
            if trip_id is None:
                first = int(st.v_trip_id.max()) + 1 if st.v_trip_id.size else 0
                trip_id = first + np.arange(n)
            ids = np.broadcast_to(np.asarray(trip_id, np.int64).ravel(), (n,))
            args = (np.tile(t, K), np.tile(o, K), np.tile(d, K), np.repeat(np.arange(K), n),
                    np.tile(ids, K), None if routes is None else routes * K)
        else:
            m = np.broadcast_to(np.asarray(member, np.int64).ravel(), (n,))
            args = (t, o, d, m, trip_id, routes)
        try:
            idx = traffic_insert.add_trips(self.net, st, *args)
        except traffic.TrafficError as e:
            raise ScenarioError(f"{self.name}: {e}") from e
        return st.v_trip_id[idx[:n]].copy()

    def follow(self, trip_ids, member=0) -> dict:
        """Return where trips are now: (n,) arrays ``status`` (the kernel's codes:
        :data:`~twin.kernels.traffic.insert.STATUS_NAMES`), ``link`` (road link index, -1
        unless on a link), ``road_link`` (its id, "" unless on a link), ``lane``, ``offset``
        (m), ``speed`` (m/s), ``x``, ``y`` (m, NaN unless on a link), ``depart``, ``enter``,
        ``arrival``, ``stuck``, ``travel_time`` (s) … (:func:`~twin.kernels.traffic.follow`),
        and ``cancelled`` (s, the time :meth:`cancel_trips` took it off; NaN otherwise;
        ``status`` :data:`CANCELLED`).
        """
        try:
            out = traffic_insert.follow(self.state, trip_ids, member)
        except traffic.TrafficError as e:
            raise ScenarioError(f"{self.name}: {e}") from e
        on = out["link"] >= 0
        out["road_link"] = np.where(on, self.coords["road_link"][np.maximum(out["link"], 0)], "")
        x, y = np.full(on.size, np.nan), np.full(on.size, np.nan)
        if on.any():
            x[on], y[on] = self.geometry.positions(out["link"][on], out["offset"][on],
                                                   out["lane"][on])
        out["x"], out["y"] = x, y
        gone = out["status"] == CANCELLED
        out["cancelled"] = np.where(gone, self.state.arrays["v_arrive"][out["index"]], np.nan)
        return out

    def cancel_trips(self, trip_ids, member=0) -> np.ndarray:
        """Take trips out of the running simulation now (a unit called away on its way
        home); return their status before, (n,) (:data:`~.insert.STATUS_NAMES`; trips that
        had already ended are left as they are). See :func:`cancel_trips`."""
        try:
            return cancel_trips(self.state, trip_ids, member)
        except traffic.TrafficError as e:
            raise ScenarioError(f"{self.name}: {e}") from e


def cancel_trips(state, trip_ids, member=0) -> np.ndarray:
    """Cancel trips of ``state`` in place, between kernel calls; return their status before.

    ``trip_ids`` (n,) and ``member`` (int or (n,)) name the trips. A trip not yet departed,
    waiting in its origin's entry queue, or on a link leaves the network at once: it is taken
    off its lane (the vehicles behind close up on the next step) or out of its queue, and
    ends with status :data:`CANCELLED` and end time ``v_arrive`` = now. It is no trip lost:
    it goes to the trips table at the next checkpoint like an ended trip (no arrival, no
    stuck time), :func:`follow` reports it, and ``arrays["cancelled"]`` (n_members,) counts
    it; ``released`` then counts the trips not cancelled, so that ``released == waiting +
    in_network + arrived + stuck`` still holds. A trip already arrived, stuck or cancelled
    is left as it is. TrafficError for an unknown trip.
    """
    a = state.arrays
    ids = np.atleast_1d(np.asarray(trip_ids, np.int64)).ravel()
    mem = np.broadcast_to(np.asarray(member, np.int64).ravel(), ids.shape)
    before = traffic_insert.follow(state, ids, mem)["status"].copy()
    if "cancelled" not in a:
        a["cancelled"] = np.zeros(state.n_members, np.int64)
    now = float(state.time)
    for tid, b in zip(ids.tolist(), mem.tolist()):
        v = int(traffic_insert.follow(state, [tid], b)["index"][0])  # indices may shift
        s = int(a["v_status"][v])
        if s == _c.SCHEDULED:
            v = _release_slot(a, b, v)
        elif s == _c.WAITING:
            _unqueue(a, b, v)
        elif s == _c.ACTIVE:
            _off_lane(a, b, v)
        else:
            continue
        if s != _c.SCHEDULED:
            a["counters"][b, _c.C_RELEASED] -= 1
        a["v_status"][v] = CANCELLED
        a["v_arrive"][v] = now
        a["v_link"][v] = a["v_lane"][v] = a["v_qnext"][v] = -1
        a["cancelled"][b] += 1
    return before


def _release_slot(a, b: int, v: int) -> int:
    """Move not-yet-released vehicle ``v`` of member ``b`` to the end of the released part
    (the unreleased vehicles between shift up one place: none of them is referenced by a
    lane, a queue or another vehicle); return its new index."""
    lo = int(a["m_next"][b])
    if v > lo:
        for name in [k for k in a if k.startswith("v_")]:
            x = a[name]
            x[lo:v + 1] = np.roll(x[lo:v + 1], 1, axis=0)
    a["m_next"][b] = lo + 1
    return lo


def _unqueue(a, b: int, v: int) -> None:
    """Unlink vehicle ``v`` from its origin's entry queue (member ``b``)."""
    o = int(a["v_orig"][v])
    head, nxt = a["q_head"], a["v_qnext"]
    if head[b, o] == v:
        head[b, o] = nxt[v]
        prev = -1
    else:
        prev = int(head[b, o])
        while nxt[prev] != v:
            prev = int(nxt[prev])
        nxt[prev] = nxt[v]
    if a["q_tail"][b, o] == v:
        a["q_tail"][b, o] = prev
    a["q_blk"][b, o // BLOCK] -= 1
    a["counters"][b, _c.C_WAITING] -= 1


def _off_lane(a, b: int, v: int) -> None:
    """Take active vehicle ``v`` off its lane (member ``b``)."""
    g = int(a["v_lane"][v])
    s0, cnt = int(a["lane_slot0"][g]), int(a["lane_count"][b, g])
    buf = a["lane_buf"][b]
    k = int(np.flatnonzero(buf[s0:s0 + cnt] == v)[0])
    buf[s0 + k:s0 + cnt - 1] = buf[s0 + k + 1:s0 + cnt].copy()
    buf[s0 + cnt - 1] = -1
    a["lane_count"][b, g] = cnt - 1
    a["lane_blk"][b, g // BLOCK] -= 1
    a["cross_blk"][b, a["cross_rank"][g] // BLOCK] -= 1
    a["counters"][b, _c.C_ACTIVE] -= 1
