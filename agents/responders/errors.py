"""The responders' typed error."""

from __future__ import annotations

from twin.errors import ScenarioError

from ..errors import AgentsError


class DispatchError(AgentsError, ScenarioError):
    """Bad incidents, fleet or dispatch input (unknown location, a unit with no home
    station, an incident type without units…), raised before the run starts; an
    :class:`~agents.AgentsError` and a :class:`twin.ScenarioError` (``twin run`` prints it
    as one line)."""

    kind = "bad dispatch input"
