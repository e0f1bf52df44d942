"""Road link polylines as one cumulative-distance array: offsets along links → x, y."""

from __future__ import annotations

import numpy as np

from cim.roads import LANE_WIDTH_M


class LinkGeometry:
    """The polylines of a road network, for mapping vehicle positions to coordinates."""

    def __init__(self, roads):
        """Cumulative polyline distances, so vehicle offsets map to x/y in one searchsorted."""
        off = roads.geometry_offsets
        xy = roads.geometry_xy
        seg = np.hypot(*np.diff(xy, axis=0).T) if len(xy) > 1 else np.zeros(0)
        first = np.zeros(len(xy), bool)
        first[off[:-1][off[:-1] < len(xy)]] = True
        step = np.concatenate([[0.0], seg]) * ~first
        poly_len = np.add.reduceat(step, off[:-1]) if len(xy) else np.zeros(0)
        # scale each polyline to its link's length, then offset links one after another
        scale = roads.link_length / np.where(poly_len > 0, poly_len, 1.0)
        link_of_vertex = np.repeat(np.arange(roads.n_links), np.diff(off))
        base = np.concatenate([[0.0], np.cumsum(roads.link_length + 1.0)])[:-1]
        within = np.cumsum(step) - np.repeat(np.cumsum(step)[off[:-1]], np.diff(off))
        self.cum = base[link_of_vertex] + within * scale[link_of_vertex]
        self.base = base
        self.xy = xy
        self.link_length = np.asarray(roads.link_length, float)

    def positions(self, link, offset, lane=None) -> tuple[np.ndarray, np.ndarray]:
        """Return x, y (metric CRS, m) of points ``offset`` m along links ``link``, shifted
        to the centre of ``lane`` (0 = rightmost) when given."""
        g = self.base[link] + np.clip(offset, 0.0, self.link_length[link])
        j = np.clip(np.searchsorted(self.cum, g, side="right") - 1, 0, len(self.cum) - 2)
        d = self.cum[j + 1] - self.cum[j]
        f = np.clip(np.where(d > 0, (g - self.cum[j]) / np.where(d > 0, d, 1), 0), 0, 1)
        a, b = self.xy[j], self.xy[j + 1]
        xy = a + f[:, None] * (b - a)
        if lane is not None:
            v = b - a
            nrm = np.hypot(v[:, 0], v[:, 1])
            nrm = np.where(nrm > 0, nrm, 1.0)
            right = np.stack([v[:, 1], -v[:, 0]], axis=1) / nrm[:, None]
            xy = xy + right * ((np.asarray(lane) + 0.5) * LANE_WIDTH_M)[:, None]
        return xy[:, 0], xy[:, 1]
