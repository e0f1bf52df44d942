"""district-twin: the living twin (build, runtime, kernels, store, viewer, CLI)."""
