"""Typed errors of the power-flow kernel."""

from __future__ import annotations

from ...errors import TwinError


class PowerFlowError(TwinError):
    """A power flow that cannot be solved: no slack bus, a singular Jacobian, or Newton-Raphson
    not converging. ``bus`` names the worst bus (its id), ``mismatch_mw`` / ``mismatch_mvar``
    its remaining mismatch (MW / Mvar), ``iterations`` the iterations done (when known)."""

    def __init__(self, reason: str, *, grid: str | None = None, bus: str | None = None,
                 mismatch_mw: float | None = None, mismatch_mvar: float | None = None,
                 iterations: int | None = None, member: int | None = None):
        self.reason, self.grid, self.bus = reason, grid, bus
        self.mismatch_mw, self.mismatch_mvar = mismatch_mw, mismatch_mvar
        self.iterations, self.member = iterations, member
        where = [f"grid {grid!r}"] if grid else []
        if member is not None:
            where.append(f"member {member}")
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)
