"""district-twin: the living twin (build, runtime, kernels, store, analysis, CLI)."""

from .build import build as build  # noqa: E402
from .build.twin import Twin as Twin  # noqa: E402

# ---- runtime, scenarios, events, run store (lazy: importing twin stays cheap) -------------------
_EXPORTS = {
    "Scenario": "core.scenario", "per_member": "core.scenario", "run": "core.runtime",
    "open_run": "core.runtime", "Kernel": "core.kernel", "Spec": "core.kernel",
    "Table": "core.kernel", "KPI": "core.kernel", "register_kernel": "core.kernel:register",
    "Context": "core.context", "Run": "store", "Bus": "core.bus",
    "MesaProcess": "core.mesa_process", "Event": "core.events", "When": "core.events",
    "failure": "core.events", "repair": "core.events", "ScenarioError": "errors",
    "StoreError": "errors", "TwinError": "errors", "kpis": "analysis.kpis:compute",
    "hydraulics": "kernels.water.api",
    "powerflow": "kernels.power.api", "n_minus_1": "kernels.power.api",
    "run_ensemble": "ensemble", "ensemble_kpis": "analysis.ensemble",
    "flood": "kernels.flood.api",
}


def __getattr__(name):
    ref = _EXPORTS.get(name)
    if ref is None:
        raise AttributeError(f"module 'twin' has no attribute {name!r}")
    import importlib

    mod, _, attr = ref.partition(":")
    return getattr(importlib.import_module(f"{__name__}.{mod}"), attr or name)
