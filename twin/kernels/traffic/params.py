"""Traffic parameters (drivers, vehicles, control) and the fundamental diagram they give."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import consts as _c


@dataclass(frozen=True)
class TrafficParams:
    """Driver, vehicle and control parameters (SI units).

    Attributes
    ----------
    vehicle_length : float, m
        Length of every vehicle (5.0, SUMO's passenger car).
    min_gap : float, m
        Bumper-to-bumper gap at standstill (2.5, SUMO's default); jam spacing
        ``s_j = vehicle_length + min_gap``.
    headway : float, s
        Newell's wave travel time per vehicle ``tau`` (time gap in steady following); must
        satisfy ``dt <= headway <= 2 dt``. 1.2 s gives 2,070 veh/h/lane at 13.9 m/s.
    max_accel : float, m/s^2
        Acceleration bound ``a`` (2.6, SUMO's default).
    comfort_decel : float, m/s^2
        Deceleration ``b`` of the Krauss anticipation term (4.5, SUMO's default).
    yellow_decel : float, m/s^2
        A vehicle that would need more than this to stop at a yellow light goes on.
    critical_gap : float, s
        A yielding vehicle waits while a conflicting vehicle is less than this from the node.
    detector_length : float, m
        Presence detection zone before the stop line (actuated signals).
    queue_speed : float, m/s
        Vehicles slower than this, contiguous from the stop line, form the queue.
    turn_speed_right, turn_speed_left : float, m/s
        Speed limits through right and left turns (what SUMO's junction geometry gives on
        the reference grid: 6.51 and 9.26 m/s); vehicles brake with ``comfort_decel``.
    left_turn_penalty : float, s
        Routing cost added to left turns (SUMO's ``--weights.minor-penalty`` for the
        permissive left turns of its default signal programs).
    reroute_period : float, s
        Period of route-table updates (``inf``: static free-flow routes, as SUMO's default).
    reroute_share : float
        Share of the drivers in the network that adopt each new route table.
    time_to_teleport : float, s
        A vehicle at the head of its lane that has stood (below 0.1 m/s) this long is
        teleported ahead along its route to the next link with room (SUMO's
        ``--time-to-teleport``, 300 s; ``inf`` or <= 0: never). Resolves deadlocks.
    sigma : float
        Driver imperfection (SUMO's Krauss ``sigma``, 0.5 by default; 0: perfect driving).
        SUMO takes a random ``U(0, 1) sigma a dt`` off each new speed (``U sigma v`` below
        ``a dt``); the kernel takes its mean: cruising at ``u - sigma a dt / 2`` and starting
        with ``a (1 - sigma / 2)``.
    own_lane_bonus : float, m
        Lane choice on the next link. ``>= 0`` (default 200): any lane of the next link open
        to the vehicle that serves its following turn, the connection's own lanes preferred
        by this many metres of room — a stand-in for the lane changes SUMO drivers make on a
        link after entering it: a driver leaves its connection's lane only for a queue 200 m
        shorter. Negative (-1, or ``None``): only the lanes its connection leads to, and no
        lane change later — through traffic then queued behind a waiting left-turner while
        the other lane stayed empty (congested random net: lane imbalance 0.61 against
        SUMO's 0.38, trip time +14 %; with 200 m: −4 %, other nets unchanged within 1 %).
    debug : bool
        Check conservation, overlap and monotonic motion every step; raise on violation.
    """

    vehicle_length: float = 5.0
    min_gap: float = 2.5
    headway: float = 1.2
    max_accel: float = 2.6
    comfort_decel: float = 4.5
    yellow_decel: float = 4.0
    critical_gap: float = 3.0
    detector_length: float = 30.0
    queue_speed: float = 1.0
    turn_speed_right: float = 6.5
    turn_speed_left: float = 9.3
    left_turn_penalty: float = 1.5
    reroute_period: float = np.inf
    reroute_share: float = 0.1
    time_to_teleport: float = 300.0
    sigma: float = 0.5
    own_lane_bonus: float | None = 200.0
    debug: bool = False

    @property
    def jam_spacing(self) -> float:
        """Front-to-front spacing in a standing queue, m."""
        return self.vehicle_length + self.min_gap

    def vector(self) -> np.ndarray:
        p = np.zeros(_c.N_PARAMS)
        p[_c.P_VEH_LEN] = self.vehicle_length
        p[_c.P_JAM_SPACING] = self.jam_spacing
        p[_c.P_TAU] = self.headway
        p[_c.P_ACCEL] = self.max_accel
        p[_c.P_DECEL] = self.comfort_decel
        p[_c.P_YELLOW_DECEL] = self.yellow_decel
        p[_c.P_GAP_CRIT] = self.critical_gap
        p[_c.P_DET_LEN] = self.detector_length
        p[_c.P_QUEUE_SPEED] = self.queue_speed
        p[_c.P_TURN_RIGHT] = self.turn_speed_right
        p[_c.P_TURN_LEFT] = self.turn_speed_left
        tp = float(self.time_to_teleport)
        p[_c.P_TELEPORT] = tp if np.isfinite(tp) and tp > 0 else 0.0
        p[_c.P_SIGMA] = self.sigma
        b = self.own_lane_bonus
        p[_c.P_OWN_LANE_BONUS] = float(b) if b is not None and float(b) >= 0 else -1.0
        return p


def fundamental_diagram(params: TrafficParams, free_speed: float) -> dict:
    """Return the model's triangular fundamental diagram for one lane.

    Returns a dict with ``capacity`` (veh/s), ``critical_density`` and ``jam_density``
    (veh/m), ``free_speed`` and ``wave_speed`` (m/s, the speed at which a congested state
    moves upstream, positive number).
    """
    s_j, tau, u = params.jam_spacing, params.headway, float(free_speed)
    q = u / (s_j + u * tau)
    return {"capacity": q, "critical_density": q / u, "jam_density": 1.0 / s_j,
            "free_speed": u, "wave_speed": s_j / tau}
