"""MATPOWER case files (``.m``) <-> :class:`cim.model.power.PowerGrid`."""

from __future__ import annotations

from ._ppc import grid_from_ppc

__all__ = ["grid_from_ppc"]
