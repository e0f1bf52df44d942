"""The coupling bus: named arrays that kernels and agents publish and read.

Kernels never call each other; they exchange state through the bus. A name is
``"<layer>/<variable>"`` (``"traffic/queue_length"``). Every array carries a leading
**member** axis: its value has shape ``(n_members, *dims)`` and ``dims`` names the axes after
it (``("road_link",)``), so that one condition or one coupling acts on every member of a
batch at once. Arrays are stored by reference (publish after every step; readers must not
mutate them), with their units, so that conditions and the viewer can label them.

A kernel that steps one member at a time sees a :class:`MemberBus`: the same bus seen through
one member's row (it publishes ``(*dims)`` arrays into row ``k`` and reads row ``k``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TwinError


class BusError(TwinError, KeyError):
    """A bus array that does not exist or was published with inconsistent dimensions."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass
class BusArray:
    """One published array: ``value`` (shape ``(n_members, *dims)``), ``dims`` (names of the
    axes after the member axis), ``units`` (SI string), ``t`` (simulated time of the last
    publish, s)."""

    name: str
    value: np.ndarray
    dims: tuple[str, ...]
    units: str
    t: float


class Bus:
    """Named arrays shared by the processes of one run of ``n_members`` members.

    ``clock`` is a callable returning the current simulated time (s); it stamps each publish.
    """

    def __init__(self, clock=None, n_members: int = 1):
        self._arrays: dict[str, BusArray] = {}
        self._clock = clock or (lambda: 0.0)
        self.n_members = int(n_members)

    def publish(self, name: str, array, dims=None, units: str = "") -> None:
        """Publish ``array`` (shape ``(n_members, *dims)``) under ``name``.

        dims : names of the axes after the member axis; None keeps those of the previous
            publish (``dim_1, dim_2, …`` the first time). units : SI units ("veh/h", "m");
            "" keeps the previous units.
        """
        a = np.asarray(array)
        if a.ndim == 0 or a.shape[0] != self.n_members:
            raise BusError(f"bus array {name!r}: shape {a.shape} has no leading member axis "
                           f"of {self.n_members}")
        self._set(name, a, dims, units)

    def _set(self, name, a, dims, units) -> None:
        old = self._arrays.get(name)
        if dims is None:
            dims = old.dims if old is not None else tuple(f"dim_{i}" for i in range(1, a.ndim))
        dims = tuple(dims)
        if len(dims) != a.ndim - 1:
            raise BusError(f"bus array {name!r}: {len(dims)} dims {dims} for an array of "
                           f"shape {a.shape[1:]} (after the member axis)")
        if not units and old is not None:
            units = old.units
        self._arrays[name] = BusArray(name, a, dims, units, float(self._clock()))

    def publish_member(self, name: str, member: int, array, dims=None, units: str = "") -> None:
        """Publish member ``member``'s row of ``name`` (``array`` of shape ``dims``)."""
        a = np.asarray(array)
        old = self._arrays.get(name)
        if old is None or old.value.shape[1:] != a.shape:
            full = np.zeros((self.n_members,) + a.shape, a.dtype)
            if old is not None and old.value.shape[1:] == a.shape:
                full[...] = old.value
        else:
            full = old.value
            if not np.can_cast(a.dtype, full.dtype, "same_kind"):
                full = full.astype(np.result_type(full.dtype, a.dtype))
        full[int(member)] = a
        self._set(name, full, dims, units)

    def get(self, name: str) -> np.ndarray:
        """Return the array published under ``name``, shape ``(n_members, *dims)`` (BusError
        naming the known ones if none)."""
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


class MemberBus:
    """The bus as member ``member`` sees it: arrays without the member axis."""

    def __init__(self, bus: Bus, member: int):
        self._bus = bus
        self.member = int(member)
        self.n_members = 1

    def publish(self, name: str, array, dims=None, units: str = "") -> None:
        """Publish this member's ``array`` (shape ``dims``) under ``name``."""
        self._bus.publish_member(name, self.member, array, dims, units)

    def get(self, name: str) -> np.ndarray:
        """Return this member's row of ``name``."""
        return self._bus.get(name)[self.member]

    def meta(self, name: str) -> BusArray:
        m = self._bus.meta(name)
        return BusArray(m.name, m.value[self.member], m.dims, m.units, m.t)

    def names(self) -> list[str]:
        return self._bus.names()

    def __contains__(self, name: str) -> bool:
        return name in self._bus

    def __len__(self) -> int:
        return len(self._bus)
