"""Ensembles on dask.distributed: many seeds and parameter sweeps of a scenario, written into
one run store with a ``member`` dimension (:func:`run_ensemble`)."""

from .run import EnsembleError, run_ensemble

__all__ = ["run_ensemble", "EnsembleError"]
