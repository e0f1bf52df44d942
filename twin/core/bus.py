"""The coupling bus: named arrays that kernels and agents publish and read.

Kernels never call each other; they exchange state through the bus. A name is
``"<layer>/<variable>"`` by convention (``"traffic/queue_length"``), the array is stored by
reference (publish after every step; readers must not mutate), with its dimension names and
units so that conditions and the viewer can label it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import TwinError


class BusError(TwinError, KeyError):
    """A bus array that does not exist or was published with inconsistent dimensions."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass
class BusArray:
    """One published array: ``value`` (any shape), ``dims`` (one name per axis), ``units``
    (SI string), ``t`` (simulated time of the last publish, s)."""

    name: str
    value: np.ndarray
    dims: tuple[str, ...]
    units: str
    t: float


class Bus:
    """Named arrays shared by the processes of one run.

    ``clock`` is a callable returning the current simulated time (s); it stamps each publish.
    """

    def __init__(self, clock=None):
        self._arrays: dict[str, BusArray] = {}
        self._clock = clock or (lambda: 0.0)

    def publish(self, name: str, array, dims=None, units: str = "") -> None:
        """Publish ``array`` under ``name`` (replacing the previous value).

        dims : tuple of str, one per axis of ``array``; None keeps the dims of the previous
            publish (or ``dim_0, dim_1, …`` the first time).
        units : str, SI units ("veh/h", "m/s", "m"); "" keeps the previous units.
        """
        a = np.asarray(array)
        old = self._arrays.get(name)
        if dims is None:
            dims = old.dims if old is not None else tuple(f"dim_{i}" for i in range(a.ndim))
        dims = tuple(dims)
        if len(dims) != a.ndim:
            raise BusError(f"bus array {name!r}: {len(dims)} dims {dims} for an array of "
                           f"shape {a.shape}")
        if not units and old is not None:
            units = old.units
        self._arrays[name] = BusArray(name, a, dims, units, float(self._clock()))

    def get(self, name: str) -> np.ndarray:
        """Return the array published under ``name`` (BusError naming the known ones if none)."""
        try:
            return self._arrays[name].value
        except KeyError:
            known = ", ".join(sorted(self._arrays)) or "none"
            raise BusError(f"no bus array {name!r} (published: {known})") from None

    def meta(self, name: str) -> BusArray:
        """Return the :class:`BusArray` record (value, dims, units, t) of ``name``."""
        self.get(name)
        return self._arrays[name]

    def names(self) -> list[str]:
        """Return the published names, sorted."""
        return sorted(self._arrays)

    def __contains__(self, name: str) -> bool:
        return name in self._arrays

    def __len__(self) -> int:
        return len(self._arrays)

    # ---- checkpointing -------------------------------------------------------------------
    def snapshot(self) -> dict[str, BusArray]:
        """Return a copy of every published array (for checkpoints)."""
        return {k: BusArray(v.name, np.array(v.value, copy=True), v.dims, v.units, v.t)
                for k, v in self._arrays.items()}

    def restore(self, arrays: dict[str, BusArray]) -> None:
        """Replace the published arrays by ``arrays`` (from :meth:`snapshot` or a store)."""
        self._arrays.update({k: BusArray(v.name, np.asarray(v.value), tuple(v.dims), v.units,
                                         float(v.t)) for k, v in arrays.items()})
