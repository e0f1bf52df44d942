"""Trips added to a running :class:`~twin.kernels.traffic.process.TrafficProcess` and trips
followed (responders, evacuees): the process's :meth:`insert_trips` and :meth:`follow`."""

from __future__ import annotations

import numpy as np

from ...errors import ScenarioError
from . import api as traffic
from . import insert as traffic_insert


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
        ``arrival``, ``stuck``, ``travel_time`` (s) … (:func:`~twin.kernels.traffic.follow`).
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
        return out
