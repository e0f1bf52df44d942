"""Mesa models as runtime processes: the agents that decide step inside the same clock.

``MesaProcess(factory, dt=60, name="operators")`` calls ``factory(ctx)`` once per run to build a
``mesa.Model`` (seed it with ``seed=ctx.seed``; keep ``ctx`` to read the bus and apply events),
then calls ``model.step()`` every ``dt`` seconds. If the model has ``record() -> {name:
array}`` and the process is given ``outputs``, those arrays are recorded like a kernel's.

With several members, each member gets its own model (the process is copied per member,
``ctx.seed`` is the member's), reading and acting on its member's bus and kernels.

The model is checkpointed by pickling it (mesa models pickle); the run context, bus, twin and
city it refers to are left out of the pickle and reattached on resume.
"""

from __future__ import annotations

from collections.abc import Callable


class MesaProcess:
    """A :class:`twin.Kernel` that steps a mesa model.

    factory : ``factory(ctx) -> mesa.Model``; dt : s between ``model.step()`` calls;
    name : process name (and layer name when ``outputs`` is given); outputs : {var: (dims,
    units)} of what ``model.record()`` returns; coords : {dim: values}.
    """

    def __init__(self, factory: Callable, *, dt: float = 60.0, name: str = "agents",
                 outputs: dict | None = None, coords: dict | None = None):
        self.factory = factory
        self.dt = float(dt)
        self.name = name
        if outputs is not None:
            self.outputs = dict(outputs)
            self.coords = dict(coords or {})
        self.model = None

    def init(self, ctx) -> None:
        self._ctx = ctx
        self.model = self.factory(ctx)

    def get_state(self) -> dict:
        """Return {"model": the pickled model (without the run objects it refers to)}."""
        return {"model": self._ctx.pickle(self.model)}

    def set_state(self, state: dict) -> None:
        self.model = self._ctx.unpickle(state["model"])

    def step(self, t: float, dt: float, ctx):
        self.model.step()
        record = getattr(self.model, "record", None)
        if ctx.record_due and callable(record) and hasattr(self, "outputs"):
            return record()
        return None
