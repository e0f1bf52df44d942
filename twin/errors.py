"""Typed errors of the twin package."""

from __future__ import annotations


class TwinError(Exception):
    """Base class of errors raised by twin (build, runtime, store, viewer)."""


class ScenarioError(TwinError):
    """A scenario that cannot run: unknown district/link/node, bad duration, bad event —
    raised before the run starts."""


class StoreError(TwinError):
    """A run store that cannot be written, resumed or read."""
