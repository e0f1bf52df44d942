"""Typed errors of the water hydraulic solver."""

from __future__ import annotations

from ...errors import TwinError


class HydraulicsError(TwinError):
    """A hydraulic solution that cannot be found: no convergence within the trials (naming
    the time, the trials and the worst node/link mismatch), an ill-conditioned system, or a
    part of the network without a fixed-head node (naming its nodes). ``time_s``: the
    simulation time (s) or None; ``member``: the scenario member or None."""

    def __init__(self, reason: str, *, time_s: float | None = None, member: int | None = None):
        super().__init__(reason)
        self.time_s = time_s
        self.member = member
