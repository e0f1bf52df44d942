"""district-twin: the living twin (build, runtime, kernels, store, viewer, CLI)."""

from .build import build as build  # noqa: E402
from .twin import Twin as Twin  # noqa: E402

# ---- runtime, scenarios, events, run store (lazy: importing twin stays cheap) -------------------
_RUNTIME_EXPORTS = {
    "Scenario": "scenario", "run": "runtime", "open_run": "runtime", "Kernel": "runtime",
    "Context": "runtime", "Run": "store", "Bus": "bus", "MesaProcess": "mesa_process",
    "Event": "events", "When": "events", "closure": "events", "capacity_drop": "events",
    "incident": "events", "signal_plan": "events", "failure": "events", "repair": "events",
    "ScenarioError": "errors", "StoreError": "errors", "TwinError": "errors",
    "TrafficProcess": "traffic_process",
}


def __getattr__(name):
    mod = _RUNTIME_EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'twin' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)
