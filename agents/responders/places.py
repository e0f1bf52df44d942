"""Where responders start, go and return: unit fleets at the district's stations, incident
locations resolved to road links, and zones.

- :func:`make_fleet` — units (ids, kind, home site, home road link) from ``city.sites``:
  by default fire engines at every ``fire_station``, ambulances at every ``hospital``,
  water crews at ``pumping_station`` sites and power crews at ``substation`` sites
  (:data:`DEFAULT_FLEET`), or an explicit list of ``(unit_id, kind, site_id)``;
- :class:`Locator` — the road link nearest to a point (a building's footprint centroid, a
  pipe's or a line's midpoint, a site), among the links of the largest strongly connected
  component of the **turn graph** (links joined by the turns the traffic kernel allows: no
  U-turns, so a link into a dead end is a trap the node graph does not show), so that every
  unit can reach every incident and come back, that are not motorway/trunk links; and the zone of a point: the ``name`` of the nearest land-use
  area (the district's planning zones), "district" when the city has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from cim.graph import csr, largest_strong_component

from ..network import NO_ACCESS_CLASSES
from .errors import DispatchError

#: unit kind -> (site kind it is based at, units per site)
DEFAULT_FLEET: dict[str, tuple[str, int]] = {
    "fire_engine": ("fire_station", 2),
    "ambulance": ("hospital", 2),
    "water_crew": ("pumping_station", 1),
    "power_crew": ("substation", 1),
}


@dataclass
class Fleet:
    """Units as columns, (n,) each: ``ids`` (str), ``kind`` (str), ``site`` (home site id),
    ``link`` (home road link index), ``xy`` (n, 2) home site position (m)."""

    ids: np.ndarray
    kind: np.ndarray
    site: np.ndarray
    link: np.ndarray
    xy: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.size)


class Locator:
    """Nearest usable road link and zone of points in the city CRS (see the module doc).

    turns : (turn_from, turn_to) link indices of the allowed turns (the traffic kernel's
    ``net.turn_from``, ``net.turn_to_arr``); None: every move from a link to a link leaving
    its end node except the U-turn."""

    def __init__(self, city, turns=None):
        roads = city.roads
        if roads is None or roads.n_links == 0:
            raise DispatchError("responders: the city has no road network")
        self.city = city
        L = roads.n_links
        if turns is None:
            order = np.argsort(roads.link_from, kind="stable")
            start = np.searchsorted(roads.link_from[order], np.arange(roads.n_nodes + 1))
            cnt = np.diff(start)[roads.link_to]
            a = np.repeat(np.arange(L), cnt)
            b = order[np.concatenate([np.arange(start[n], start[n + 1])
                                      for n in roads.link_to]).astype(np.int64)] if L else a
            keep = roads.link_to[b] != roads.link_from[a]
            turns = (a[keep], b[keep])
        usable = largest_strong_component(csr(L, *turns))
        local = usable & ~np.isin(roads.link_class.astype(str), list(NO_ACCESS_CLASSES))
        self.links = np.flatnonzero(local if local.any() else usable)
        mid = 0.5 * (roads.node_xy[roads.link_from] + roads.node_xy[roads.link_to])
        self.tree = cKDTree(mid[self.links])
        self.link_ids = roads.link_ids.astype(str)
        self._link_index = {s: i for i, s in enumerate(self.link_ids)}
        lu = city.land_use
        if lu is not None and len(lu.ids) and getattr(lu, "name", None) is not None:
            names = np.asarray([str(x) if x is not None else "" for x in lu.name], object)
            has = names != ""
            cen = lu.polygons.centroids()[:, :2]
            has &= np.isfinite(cen).all(1)
            self.zone_names = names[has]
            self.zone_tree = cKDTree(cen[has]) if has.any() else None
        else:
            self.zone_tree = None
        self._bld = None

    def nearest_link(self, xy) -> np.ndarray:
        """(n,) road link indices nearest to (n, 2) points."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        if not np.isfinite(xy).all():
            raise DispatchError("responders: a location has no finite coordinates")
        return self.links[self.tree.query(xy)[1]]

    def zone(self, xy) -> np.ndarray:
        """(n,) zone names of (n, 2) points."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        if self.zone_tree is None or not len(xy):
            return np.full(len(xy), "district", dtype=object)
        return self.zone_names[self.zone_tree.query(xy)[1]]

    def link_index(self, ids, what: str) -> np.ndarray:
        try:
            return np.array([self._link_index[str(s)] for s in ids], np.int64)
        except KeyError as e:
            raise DispatchError(f"responders: {what}: unknown road link {e.args[0]!r}") from None

    # ---- incident locations ------------------------------------------------------------
    def building_xy(self) -> tuple[np.ndarray, dict]:
        if self._bld is None:
            b = self.city.buildings
            if b is None or not len(b):
                self._bld = (np.zeros((0, 2)), {})
            else:
                self._bld = (b.footprint.centroids()[:, :2],
                             {str(s): i for i, s in enumerate(b.ids)})
        return self._bld

    def place(self, inc) -> tuple[np.ndarray, np.ndarray]:
        """Return ((n,) road link index, (n, 2) xy) of each incident of ``inc``
        (:class:`~agents.responders.incidents.Incidents`): its ``road_link`` when given,
        else the link nearest to its building, pipe or line."""
        n = len(inc)
        xy = np.full((n, 2), np.nan)
        link = np.full(n, -1, np.int64)
        roads = self.city.roads
        rl = inc.road_link.astype(str)
        on_road = rl != ""
        if on_road.any():
            k = self.link_index(rl[on_road], "incident")
            link[on_road] = k
            xy[on_road] = 0.5 * (roads.node_xy[roads.link_from[k]]
                                 + roads.node_xy[roads.link_to[k]])
        for col, net in (("water_link", self.city.water_network),
                         ("power_link", self.city.power_grid)):
            ids = getattr(inc, col).astype(str)
            sel = (ids != "") & ~on_road & np.isnan(xy[:, 0])
            if not sel.any():
                continue
            if net is None:
                raise DispatchError(f"incident on {col} {ids[sel][0]!r}: the city has no "
                                  f"{'water network' if col == 'water_link' else 'power grid'}")
            index = {str(s): i for i, s in enumerate(net.link_ids)}
            try:
                k = np.array([index[s] for s in ids[sel]], np.int64)
            except KeyError as e:
                raise DispatchError(f"incident: unknown {col} {e.args[0]!r}") from None
            xy[sel] = 0.5 * (net.node_xy[net.link_from[k], :2] + net.node_xy[net.link_to[k], :2])
        b = inc.building.astype(str)
        sel = (b != "") & np.isnan(xy[:, 0])
        if sel.any():
            bxy, index = self.building_xy()
            missing = [s for s in b[sel] if s not in index]
            if missing:
                raise DispatchError(f"incident at unknown building {missing[0]!r}")
            xy[sel] = bxy[[index[s] for s in b[sel]]]
        if np.isnan(xy).any():
            k = int(np.flatnonzero(np.isnan(xy).any(1))[0])
            raise DispatchError(f"incident {k} ({inc.type[k]} at {inc.time[k]:g} s) has no "
                              f"location that can be placed on the road network")
        todo = link < 0
        if todo.any():
            link[todo] = self.nearest_link(xy[todo])
        return link, xy


def make_fleet(city, locator: Locator, units=None) -> Fleet:
    """Return the :class:`Fleet`: ``units`` is None (:data:`DEFAULT_FLEET`), a dict like
    it ({kind: (site kind, per site)} or {kind: [(site kind, per site), ...]}), or a list of ``(unit_id, kind, site_id)`` or
    ``(unit_id, kind, site_id, road_link_id)`` (the station's driveway; default: the usable
    link nearest to the site)."""
    sites = city.sites
    if sites is None or not len(sites.ids):
        raise DispatchError("responders: the city has no sites (stations) to base units at")
    sid = sites.ids.astype(str)
    skind = sites.kind.astype(str)
    rows = []
    if units is None or isinstance(units, dict):
        for kind, spec in (DEFAULT_FLEET if units is None else units).items():
            for site_kind, per in ([spec] if isinstance(spec[0], str) else spec):
                for s in sid[skind == site_kind]:
                    rows += [(f"{kind}@{s}#{j + 1}", kind, s) for j in range(int(per))]
    else:
        rows = [tuple(map(str, r)) for r in units]
        if any(len(r) not in (3, 4) for r in rows):
            raise DispatchError("units: each unit is (unit_id, kind, site_id[, road_link])")
    if not rows:
        raise DispatchError("responders: no units (no station of the kinds the fleet needs)")
    index = {s: i for i, s in enumerate(sid)}
    ids, kinds, homes = (tuple(r[i] for r in rows) for i in range(3))
    if len(set(ids)) != len(ids):
        raise DispatchError("responders: unit ids are not unique")
    bad = [(u, s) for u, s in zip(ids, homes) if s not in index]
    if bad:
        raise DispatchError(f"unit {bad[0][0]!r} has no home station: no site {bad[0][1]!r}")
    k = np.array([index[s] for s in homes])
    xy = sites.xyz[k, :2].astype(float)
    link = locator.nearest_link(xy)
    given = [i for i, r in enumerate(rows) if len(r) == 4]
    if given:
        link[given] = locator.link_index([rows[i][3] for i in given], "unit home link")
    return Fleet(np.array(ids, object), np.array(kinds, object), np.array(homes, object),
                 link, xy)
