"""The run store: zarr groups written while a run goes on (:mod:`.writer`, :mod:`.tables`,
:mod:`.state`) and read afterwards (:class:`Run`)."""

from .reader import Run
from .writer import EVENT_COLUMNS, RunStore

__all__ = ["Run", "RunStore", "EVENT_COLUMNS"]
