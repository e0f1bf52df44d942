"""numba's on-disk cache of the traffic kernel: every compiled function of the kernel's modules
is keyed on the source of all of them (a function compiled with another module's constant,
e.g. ``_kcommon.BLOCK``, or with another module's inlined helper must not be loaded from the
cache after that module changed)."""

from __future__ import annotations

from numba.core.registry import CPUDispatcher

from twin.kernels.traffic import (
    _kcommon,
    _kentry,
    _kfollow,
    _kteleport,
    _ktransfer,
    kernel,
    signals,
)


def test_every_cached_kernel_function_is_keyed_on_all_kernel_sources():
    found = []
    for m in (_kcommon, _kentry, _kfollow, _kteleport, _ktransfer, signals, kernel):
        for name, d in vars(m).items():
            if isinstance(d, CPUDispatcher) and d.py_func.__module__ == m.__name__:
                found.append(name)
                assert type(d._cache).__name__ == "_SourceCache", f"{m.__name__}.{name}"
    # the functions that are compiled on their own (not inlined) are among them
    assert {"advance", "teleport", "choose_lane", "update_signals", "_approaching"} <= set(found)
