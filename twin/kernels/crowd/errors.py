"""Errors of the crowd kernel."""

from __future__ import annotations

from ...errors import TwinError


class CrowdError(TwinError):
    """Bad crowd input (no evacuees, a shelter off the walkway network, bad parameters) or a
    failure of the crowd kernel (people lost: the conservation check names the mismatch)."""
