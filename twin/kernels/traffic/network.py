"""Road network and signal plans of the traffic kernel, built from plain arrays.

:class:`Network` validates the arrays and derives what the kernel needs: lanes as a CSR over
links, allowed turns (turn kinds from link headings, lane masks), opposing approaches, the
order in which stop lines are served, and the padded turn tables used for re-planning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import consts as _k
from .geometry import turn_lengths


class TrafficError(Exception):
    """Base class of the traffic kernel's errors."""


class NetworkError(TrafficError, ValueError):
    """The network arrays are inconsistent (names the link or node at fault)."""


class TripError(TrafficError, ValueError):
    """The trips are inconsistent with the network (names the trip at fault)."""


class InvariantError(TrafficError, RuntimeError):
    """A debug check failed: overlap, backward motion or vehicle count not conserved."""


MAX_PHASES = 16


@dataclass
class SignalPlan:
    """Signal plans of all nodes (arrays; nodes with ``kind == 0`` are not signalized).

    Attributes
    ----------
    link_phase : (n_links,) int
        Phase (index into the node's phases) in which the approach ``link`` gets green at
        its downstream node; -1: not controlled.
    kind : (n_nodes,) int
        0 none, 1 fixed-time, 2 actuated.
    cycle : (n_nodes,) float, s
        Fixed-time cycle; time left after the phases is all-red.
    offset : (n_nodes,) float, s
        Time at which phase 0 starts (modulo the cycle).
    green, yellow : (n_nodes, n_phases) float, s
        Green and yellow time of each phase (fixed-time); yellow also for actuated.
    n_phases : (n_nodes,) int
    min_green, max_green : (n_nodes, n_phases) float, s
        Actuated bounds of each green.
    gap : (n_nodes,) float, s
        Actuated gap-out time: a green ends (if another phase has a call) once no vehicle
        has been on its detectors for this long.
    conn_state : (n_connections, n_phases) int, optional
        Per-movement states (SUMO's per-connection signals), aligned with the rows of the
        ``connections`` given to :class:`Network`: in each phase RED, YELLOW, GREEN
        (priority, SUMO ``G``), GREEN_MINOR (must yield, ``g``/``s``) or FREE (off, ``o``/``O``);
        -1: the connection is not controlled this way. Turns with such rows take their
        state from them (:func:`movement_table`), the others from ``link_phase``.
    """

    link_phase: np.ndarray
    kind: np.ndarray
    cycle: np.ndarray
    offset: np.ndarray
    green: np.ndarray
    yellow: np.ndarray
    n_phases: np.ndarray
    min_green: np.ndarray
    max_green: np.ndarray
    gap: np.ndarray
    conn_state: np.ndarray | None = None

    @classmethod
    def none(cls, n_nodes: int, n_links: int) -> SignalPlan:
        """Return a plan with no signals."""
        z = np.zeros((n_nodes, 1))
        return cls(np.full(n_links, -1), np.zeros(n_nodes, int), np.ones(n_nodes),
                   np.zeros(n_nodes), z, z.copy(), np.ones(n_nodes, int), z.copy(),
                   z.copy(), np.zeros(n_nodes))

    def validate(self, n_nodes: int, n_links: int, link_to: np.ndarray) -> None:
        """Raise NetworkError naming the node or link of the first inconsistency."""
        if np.shape(self.link_phase) != (n_links,):
            raise NetworkError(f"signal plan: link_phase has shape {np.shape(self.link_phase)}"
                               f", expected ({n_links},)")
        for name in ("kind", "cycle", "offset", "n_phases", "gap"):
            if np.shape(getattr(self, name)) != (n_nodes,):
                raise NetworkError(f"signal plan: {name} has shape "
                                   f"{np.shape(getattr(self, name))}, expected ({n_nodes},)")
        P = np.shape(self.green)[1] if np.ndim(self.green) == 2 else -1
        if not 1 <= P <= MAX_PHASES:
            raise NetworkError(f"signal plan: green must be (n_nodes, 1..{MAX_PHASES})")
        for name in ("green", "yellow", "min_green", "max_green"):
            a = np.asarray(getattr(self, name), float)
            if a.shape != (n_nodes, P):
                raise NetworkError(f"signal plan: {name} has shape {a.shape}, expected "
                                   f"({n_nodes}, {P})")
            bad = ~np.isfinite(a) | (a < 0)
            if bad.any():
                raise NetworkError(f"signal plan: node {np.argwhere(bad)[0][0]}: {name} "
                                   f"must be finite and >= 0")
        kind = np.asarray(self.kind)
        sig = kind > 0
        if np.any((kind < 0) | (kind > 2)):
            raise NetworkError(f"signal plan: node {np.flatnonzero((kind < 0) | (kind > 2))[0]}"
                               f" has kind not in 0, 1, 2")
        nph = np.asarray(self.n_phases)
        if np.any(sig & ((nph < 1) | (nph > P))):
            raise NetworkError(f"signal plan: node {np.flatnonzero(sig & ((nph < 1) | (nph > P)))[0]}"
                               f" has n_phases outside 1..{P}")
        on = np.arange(P)[None, :] < nph[:, None]
        total = ((np.asarray(self.green) + np.asarray(self.yellow)) * on).sum(1)
        fixed = kind == 1
        bad = fixed & ((np.asarray(self.cycle) <= 0) | (np.asarray(self.cycle) < total - 1e-9))
        if bad.any():
            n = np.flatnonzero(bad)[0]
            raise NetworkError(f"signal plan: node {n}: cycle {self.cycle[n]} s is shorter "
                               f"than its phases ({total[n]} s)")
        lp = np.asarray(self.link_phase)
        ctrl = lp >= 0
        bad = ctrl & ((kind[link_to] == 0) | (lp >= nph[link_to]))
        if bad.any():
            lnk = np.flatnonzero(bad)[0]
            raise NetworkError(f"signal plan: link {lnk} has phase {lp[lnk]} at node "
                               f"{link_to[lnk]}, which has no such phase")
        bad = (kind == 2) & np.any(on & (np.asarray(self.max_green)
                                         < np.asarray(self.min_green)), axis=1)
        if bad.any():
            raise NetworkError(f"signal plan: node {np.flatnonzero(bad)[0]}: max_green < "
                               f"min_green")

    def broadcast(self, n_members: int) -> dict:
        """Return the plan as kernel arrays with a leading member axis (copies)."""
        B = n_members

        def rep(x, dtype):
            x = np.asarray(x, dtype=dtype)
            return np.ascontiguousarray(np.broadcast_to(x, (B,) + x.shape)).copy()

        return {"link_phase": rep(self.link_phase, np.int64),
                "sig_kind": rep(self.kind, np.int64), "sig_cycle": rep(self.cycle, float),
                "sig_offset": rep(self.offset, float), "sig_nph": rep(self.n_phases, np.int64),
                "sig_green": rep(self._pad(self.green), float),
                "sig_yellow": rep(self._pad(self.yellow), float),
                "sig_min_green": rep(self._pad(self.min_green), float),
                "sig_max_green": rep(self._pad(self.max_green), float),
                "sig_gap": rep(self.gap, float)}

    @staticmethod
    def _pad(a):
        a = np.asarray(a, float)
        out = np.zeros((a.shape[0], MAX_PHASES))
        out[:, :a.shape[1]] = a
        return out


def two_phase_plan(node_xy, link_from, link_to, signalized, green=42.0, yellow=3.0, offset=0.0,
                   actuated=False, min_green=5.0, max_green=60.0, gap=3.0) -> SignalPlan:
    """Return a two-phase plan: phase 0 serves north-south approaches, phase 1 east-west.

    An approach is north-south when its heading is closer to the y axis. ``signalized`` is a
    boolean mask or index array of nodes; scalars apply to all of them. With the defaults it
    is SUMO's default program for a 4-arm junction without turn lanes (42 s green, 3 s
    yellow per phase, 90 s cycle).
    """
    node_xy = np.asarray(node_xy, float)
    link_from = np.asarray(link_from, np.int64)
    link_to = np.asarray(link_to, np.int64)
    n_nodes = len(node_xy)
    sig = np.zeros(n_nodes, bool)
    sig[np.asarray(signalized)] = True
    d = node_xy[link_to] - node_xy[link_from]
    ns = np.abs(d[:, 1]) >= np.abs(d[:, 0])
    link_phase = np.where(sig[link_to], np.where(ns, 0, 1), -1)
    kind = np.where(sig, 2 if actuated else 1, 0)
    g = np.broadcast_to(np.asarray(green, float), (n_nodes, 2)).copy()
    y = np.broadcast_to(np.asarray(yellow, float), (n_nodes, 2)).copy()
    return SignalPlan(link_phase, kind, (g + y).sum(1), np.broadcast_to(
        np.asarray(offset, float), (n_nodes,)).copy(), g, y, np.full(n_nodes, 2),
        np.full((n_nodes, 2), float(min_green)), np.full((n_nodes, 2), float(max_green)),
        np.full(n_nodes, float(gap)))


def _wrap_deg(a):
    return (a + 180.0) % 360.0 - 180.0


class Network:
    """A road network for the traffic kernel, built from arrays (validated, then frozen).

    Parameters
    ----------
    node_xy : (n_nodes, 2) float, m
    link_from, link_to : (n_links,) int
        Node indices; links are directed, one per direction.
    link_length : (n_links,) float, m (> 0)
    link_lanes : (n_links,) int (1..16)
    link_free_speed : (n_links,) float, m/s (> 0)
    signals : SignalPlan, optional
        Initial signal plans (copied into each simulation state, where they can change).
    link_priority : (n_links,) int, optional
        Priority at unsignalized nodes (higher goes first); default from lanes and speed.
    allow_uturns : bool
        Allow turning back onto the reverse link (default no, like ``--no-turnarounds``).
    connections : optional
        Lane-to-lane movements (``cim.model.roads.RoadConnections`` or anything with
        ``from_link``, ``to_link``, ``from_lane`` (0 = rightmost) and ``direction`` (SUMO's
        ``s``, ``r``/``R``, ``l``/``L``, ``t``) arrays). When given they decide the allowed
        turns (U-turns included where a ``t`` connection exists), their kinds, and which lanes
        serve each turn (the lanes of its connections), instead of the link geometry, at the
        nodes they cover (a node with at least one connection row); the other nodes keep the
        geometric turns. With ``lane_allowed``, a connection counts only from and into
        allowed lanes. Their ``to_lane`` (when given) says which lanes of the next link each
        lane leads to (``turn_lane_to``; a vehicle keeps to them unless its next turn needs
        another lane).
    lane_allowed : (n_links, max lanes) bool or (sum of lanes,) bool, optional
        Lanes the simulated vehicles may use (e.g. not bus lanes): only connections from such
        lanes count. Default: all.

    Derived for each turn: ``turn_len`` (m), the path through the junction that a vehicle
    drives after its stop line, estimated from the geometry (links shorter than their
    nodes' distance, as SUMO's lanes, which end at the junction's border; 0 where links meet
    at the node; :func:`.geometry.turn_lengths`), and ``link_in_len`` (m), the longest such
    path into each link.
    """

    def __init__(self, node_xy, link_from, link_to, link_length, link_lanes, link_free_speed,
                 signals: SignalPlan | None = None, link_priority=None, allow_uturns=False,
                 connections=None, lane_allowed=None):
        self.node_xy = np.asarray(node_xy, dtype=np.float64)
        if self.node_xy.ndim != 2 or self.node_xy.shape[1] != 2:
            raise NetworkError(f"node_xy must have shape (n_nodes, 2), got {self.node_xy.shape}")
        bad = ~np.isfinite(self.node_xy).all(1)
        if bad.any():
            raise NetworkError(f"node {np.flatnonzero(bad)[0]}: coordinates not finite")
        n_nodes = len(self.node_xy)
        self.link_from = np.asarray(link_from, dtype=np.int64).ravel()
        self.link_to = np.asarray(link_to, dtype=np.int64).ravel()
        n_links = self.link_from.size
        self.link_length = np.asarray(link_length, dtype=np.float64).ravel()
        self.link_lanes = np.asarray(link_lanes, dtype=np.int64).ravel()
        self.link_free_speed = np.asarray(link_free_speed, dtype=np.float64).ravel()
        for name in ("link_to", "link_length", "link_lanes", "link_free_speed"):
            if getattr(self, name).size != n_links:
                raise NetworkError(f"{name} has {getattr(self, name).size} entries, "
                                   f"link_from has {n_links}")
        for name, arr in (("link_from", self.link_from), ("link_to", self.link_to)):
            bad = (arr < 0) | (arr >= n_nodes)
            if bad.any():
                raise NetworkError(f"link {np.flatnonzero(bad)[0]}: {name} node "
                                   f"{arr[bad][0]} outside 0..{n_nodes - 1}")
        checks = ((self.link_from == self.link_to, "starts and ends at the same node"),
                  (~(self.link_length > 0) | ~np.isfinite(self.link_length),
                   "length must be finite and > 0"),
                  ((self.link_lanes < 1) | (self.link_lanes > 16), "lanes must be 1..16"),
                  (~(self.link_free_speed > 0) | ~np.isfinite(self.link_free_speed),
                   "free speed must be finite and > 0"))
        for bad, what in checks:
            if bad.any():
                raise NetworkError(f"link {np.flatnonzero(bad)[0]}: {what}")
        self.n_nodes, self.n_links = n_nodes, n_links
        self.signals = signals if signals is not None else SignalPlan.none(n_nodes, n_links)
        self.signals.validate(n_nodes, n_links, self.link_to)
        if link_priority is None:
            link_priority = self.link_lanes * 1000 + np.round(self.link_free_speed).astype(int)
        self.link_priority = np.asarray(link_priority, dtype=np.int64).ravel()
        if self.link_priority.size != n_links:
            raise NetworkError(f"link_priority has {self.link_priority.size} entries, "
                               f"expected {n_links}")
        self.free_time = self.link_length / self.link_free_speed
        self._derive(allow_uturns, connections, lane_allowed)

    def _connection_turns(self, connections, lane_allowed):
        """(from link, to link, kind, lane mask) of the turns ``connections`` allow, sorted
        by from link, then to link."""
        nl = self.n_links
        f = np.asarray(connections.from_link, np.int64)
        t = np.asarray(connections.to_link, np.int64)
        lane = np.asarray(connections.from_lane, np.int64)
        dirs = np.asarray(connections.direction, object).astype(str)
        bad = (f < 0) | (f >= nl) | (t < 0) | (t >= nl)
        if bad.any():
            raise NetworkError(f"connection {np.flatnonzero(bad)[0]}: link outside 0..{nl - 1}")
        bad = (lane < 0) | (lane >= self.link_lanes[f])
        if bad.any():
            k = np.flatnonzero(bad)[0]
            raise NetworkError(f"connection {k}: lane {lane[k]} of link {f[k]}, which has "
                               f"{self.link_lanes[f[k]]} lanes")
        ok = self.link_to[f] == self.link_from[t]
        if lane_allowed is not None:
            la = np.asarray(lane_allowed, bool)
            ok &= (la[f, lane] if la.ndim == 2 else la[self.link_lane0[f] + lane])
            to_lane = getattr(connections, "to_lane", None)
            if to_lane is not None:  # and into a lane open to them
                tl_ = np.minimum(np.asarray(to_lane, np.int64), self.link_lanes[t] - 1)
                ok &= (la[t, tl_] if la.ndim == 2 else la[self.link_lane0[t] + tl_])
        f, t, lane, dirs = f[ok], t[ok], lane[ok], dirs[ok]
        kind = np.select([np.isin(dirs, ["r", "R"]), np.isin(dirs, ["l", "L"]), dirs == "t"],
                         [_k.TURN_RIGHT, _k.TURN_LEFT, _k.TURN_UTURN], _k.TURN_THROUGH)
        key, inv = np.unique(f * nl + t, return_inverse=True)
        mask = np.zeros(key.size, np.int64)
        np.bitwise_or.at(mask, inv, np.int64(1) << lane)
        first = np.full(key.size, -1, np.int64)
        np.maximum.at(first, inv, np.arange(f.size))  # one connection's direction per turn
        # the lanes each from-lane leads to (all when the connections name none)
        to_mask = np.zeros((key.size, 16), np.int64)
        to_lane = getattr(connections, "to_lane", None)
        if to_lane is None:
            to_mask[inv, lane] = -1
        else:
            to = np.asarray(to_lane, np.int64)[ok]
            np.bitwise_or.at(to_mask, (inv, lane), np.int64(1) << np.clip(to, 0, 62))
        return key // nl, key % nl, kind[first], mask, to_mask, self._turn_states(ok, inv,
                                                                                  key.size)

    def _turn_states(self, ok, inv, n_turns):
        """(n_turns, MAX_PHASES) per-phase state of each connection turn from the plan's
        ``conn_state`` (rows ``ok`` of the connections, turn ``inv``): the most restrictive of
        its connections' states (red, yellow, green that yields, off, green), -1 where none
        of them is controlled per movement."""
        out = np.full((n_turns, MAX_PHASES), -1, np.int64)
        cs = self.signals.conn_state
        if cs is None:
            return out
        cs = np.asarray(cs, np.int64)
        if cs.ndim != 2 or cs.shape[0] != ok.size or cs.shape[1] > MAX_PHASES:
            raise NetworkError(f"signal plan: conn_state has shape {cs.shape}, expected "
                               f"({ok.size}, <= {MAX_PHASES}) (one row per connection)")
        if cs.size and (cs.min() < -1 or cs.max() > _k.GREEN_MINOR):
            raise NetworkError("signal plan: conn_state values must be -1..GREEN_MINOR")
        # rank by state + 1: -1 none (ignored), RED, YELLOW, GREEN, FREE, GREEN_MINOR
        rank_of = np.array([99, 0, 1, 4, 3, 2])
        state_of = np.array([_k.RED, _k.YELLOW, _k.GREEN_MINOR, _k.FREE, _k.GREEN])
        r = np.full((n_turns, cs.shape[1]), 99)
        np.minimum.at(r, inv, rank_of[cs[ok] + 1])
        out[:, :cs.shape[1]] = np.where(r == 99, -1, state_of[np.minimum(r, 4)])
        return out

    def _derive(self, allow_uturns, connections=None, lane_allowed=None):
        nl = self.n_links
        lf, lt = self.link_from, self.link_to
        d = self.node_xy[lt] - self.node_xy[lf]
        heading = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
        # lanes
        self.link_lane0 = np.concatenate([[0], np.cumsum(self.link_lanes)]).astype(np.int64)
        self.n_lanes = int(self.link_lane0[-1])
        self.lane_link = np.repeat(np.arange(nl), self.link_lanes).astype(np.int64)
        # turns: out-links of the downstream node, grouped by in-link
        out_order = np.argsort(lf, kind="stable")
        out_ptr = np.searchsorted(lf[out_order], np.arange(self.n_nodes + 1))
        n_out = out_ptr[lt + 1] - out_ptr[lt]
        rows = np.repeat(np.arange(nl), n_out)
        pos_in = np.arange(rows.size) - np.repeat(np.cumsum(n_out) - n_out, n_out)
        cols = out_order[out_ptr[lt][rows] + pos_in]
        ang = _wrap_deg(heading[cols] - heading[rows])
        uturn = (lt[cols] == lf[rows]) | (np.abs(ang) > 170.0)
        keep = ~uturn if not allow_uturns else np.ones(rows.size, bool)
        rows, cols, ang, uturn = rows[keep], cols[keep], ang[keep], uturn[keep]
        kind = np.where(uturn, _k.TURN_UTURN, np.where(ang < -45.0, _k.TURN_RIGHT, np.where(
            ang > 45.0, _k.TURN_LEFT, _k.TURN_THROUGH)))
        conn_mask = None
        lane_to = np.full((rows.size, 16), -1, np.int64)  # to-lanes of each from-lane: all
        turn_sig = np.full((rows.size, MAX_PHASES), -1, np.int64)  # per-movement states
        if connections is not None and len(connections.from_link):
            # nodes with connection rows take their turns from them; others keep geometry
            cr, cc, ck, cm, ctm, cts = self._connection_turns(connections, lane_allowed)
            covered = np.zeros(self.n_nodes, bool)
            covered[lt[np.asarray(connections.from_link, np.int64)]] = True
            geo = ~covered[lt[rows]]
            o = np.lexsort((np.r_[cols[geo], cc], np.r_[rows[geo], cr]))
            rows, cols = np.r_[rows[geo], cr][o], np.r_[cols[geo], cc][o]
            kind = np.r_[kind[geo], ck][o]
            conn_mask = np.r_[np.full(int(geo.sum()), -1, np.int64), cm][o]
            lane_to = np.r_[np.full((int(geo.sum()), 16), -1, np.int64), ctm][o]
            turn_sig = np.r_[turn_sig[geo], cts][o]
        self.turn_ptr = np.searchsorted(rows, np.arange(nl + 1)).astype(np.int64)
        self.turn_from = rows.astype(np.int64)
        self.turn_to_arr = cols.astype(np.int64)
        self.turn_kind = kind.astype(np.int64)
        self.turn_lane_to = np.ascontiguousarray(lane_to, np.int64)
        # (n_turns, MAX_PHASES) state of each turn in each phase of its node (-1: the
        # approach's state, ``link_phase``)
        self.turn_sig = np.ascontiguousarray(turn_sig, np.int64)
        # lane masks: right turns use the rightmost lane, left turns and U-turns the leftmost,
        # through movements any lane; a link with one movement uses all lanes; without a
        # through movement rights take the right half of the lanes and lefts the left half
        n = self.link_lanes[rows]
        full = (np.int64(1) << n) - 1
        per = np.diff(self.turn_ptr)[rows]
        has_thr = np.zeros(nl, bool)
        has_thr[rows[kind == _k.TURN_THROUGH]] = True
        half = np.where(has_thr[rows], 1, np.maximum(1, (n + 1) // 2))
        right = (np.int64(1) << half) - 1
        left = full & ~((np.int64(1) << (n - np.where(has_thr[rows], 1, np.maximum(1, n // 2))))
                        - 1)
        mask = np.where(kind == _k.TURN_RIGHT, right,
                        np.where((kind == _k.TURN_LEFT) | (kind == _k.TURN_UTURN), left, full))
        mask = np.where((per == 1) | (n == 1), full, mask)
        self.turn_mask = (mask if conn_mask is None else np.where(conn_mask < 0, mask, conn_mask)
                          ).astype(np.int64)
        # path length through the junction of each turn (SUMO's internal lanes), driven
        # after the stop line: a vehicle enters its next link that far before its start
        self.turn_len = turn_lengths(self.node_xy, lf, lt, self.link_length, self.link_lanes,
                                     rows, cols, kind, _k.TURN_RIGHT,
                                     [_k.TURN_LEFT, _k.TURN_UTURN])
        self.link_in_len = np.zeros(nl)
        np.maximum.at(self.link_in_len, cols, self.turn_len)
        # padded turn tables for vectorized re-planning
        kmax = int(max(1, np.diff(self.turn_ptr).max(initial=1)))
        self.turn_pad_to = np.full((nl, kmax), -1, np.int64)
        self.turn_pad_mask = np.zeros((nl, kmax), np.int64)
        self.turn_pad = np.full((nl, kmax), -1, np.int64)
        slot = np.arange(rows.size) - self.turn_ptr[rows]
        self.turn_pad[rows, slot] = np.arange(rows.size)
        self.turn_pad_to[rows, slot] = cols
        self.turn_pad_mask[rows, slot] = self.turn_mask
        # incoming links per node and the opposing approach of each
        in_order = np.argsort(lt, kind="stable")
        self.node_in_ptr = np.searchsorted(lt[in_order], np.arange(self.n_nodes + 1)).astype(
            np.int64)
        self.node_in_link = in_order.astype(np.int64)
        opp = np.full(nl, -1, np.int64)
        n_in = np.diff(self.node_in_ptr)
        r = np.repeat(np.arange(nl), n_in[lt])
        pos = np.arange(r.size) - np.repeat(np.cumsum(n_in[lt]) - n_in[lt], n_in[lt])
        c = self.node_in_link[self.node_in_ptr[lt][r] + pos]
        dev = np.abs(_wrap_deg(heading[c] - heading[r]))
        ok = (c != r) & (dev > 135.0)
        r, c, dev = r[ok], c[ok], dev[ok]
        o = np.lexsort((-dev, r))
        first = np.ones(o.size, bool)
        first[1:] = r[o][1:] != r[o][:-1]
        opp[r[o][first]] = c[o][first]
        self.link_opposing = opp
        # stop lines are served in priority order (higher priority first, then link order)
        lane_pr = self.link_priority[self.lane_link]
        self.cross_order = np.lexsort((np.arange(self.n_lanes), -lane_pr)).astype(np.int64)
        self.cross_rank = np.argsort(self.cross_order).astype(np.int64)  # lane -> position
        self.kernel_arrays = {
            "link_to": self.link_to, "link_len": self.link_length,
            "link_speed": self.link_free_speed, "link_lane0": self.link_lane0,
            "link_opposing": self.link_opposing, "link_priority": self.link_priority,
            "turn_ptr": self.turn_ptr, "turn_to": self.turn_to_arr, "turn_kind": self.turn_kind,
            "turn_mask": self.turn_mask, "node_in_ptr": self.node_in_ptr,
            "node_in_link": self.node_in_link, "cross_order": self.cross_order,
            "cross_rank": self.cross_rank,
            "lane_link": self.lane_link, "turn_len": self.turn_len,
            "turn_lane_to": self.turn_lane_to, "turn_sig": self.turn_sig}
