"""Typed errors of the flood kernel."""

from __future__ import annotations

from ...errors import TwinError


class FloodError(TwinError):
    """Bad flood input (a storm with a negative intensity, a DEM with NaN holes, a rain field
    of the wrong shape…) or a run that fails (a non-finite depth: ``cell`` (row, col) and
    ``member`` name the worst place)."""

    def __init__(self, reason: str, *, cell=None, member=None):
        self.reason, self.cell, self.member = reason, cell, member
        where = []
        if member is not None:
            where.append(f"member {member}")
        if cell is not None:
            where.append(f"cell {tuple(cell)}")
        super().__init__(f"{reason} ({', '.join(where)})" if where else reason)
