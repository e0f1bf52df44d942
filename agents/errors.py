"""Typed errors of the agents package.

Every error names the file, the line (1-based, where the input has lines), the offending value
and what is wrong, so that ``str(err)`` is one readable line, e.g.
``trips.csv:7: bad demand: depart '-5' is negative``.
"""

from __future__ import annotations


class AgentsError(Exception):
    """Base class of the errors raised by :mod:`agents`.

    Attributes: ``path`` (file or None), ``line`` (1-based line or None), ``value`` (the
    offending value or None), ``reason`` (what is wrong).
    """

    kind = "error"

    def __init__(self, reason: str, *, path=None, line=None, value=None):
        self.reason = str(reason)
        self.path = None if path is None else str(path)
        self.line = line
        self.value = value
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        msg = f"{where}: {self.kind}: {self.reason}"
        if self.value is not None:
            msg += f" (value {self.value!r})"
        return msg


class DemandError(AgentsError):
    """Bad travel-demand input or parameters: malformed OD matrix or trip list, unknown zone or
    node, NaN or negative numbers, a network with no routable nodes, absurd parameters."""

    kind = "bad demand"
