"""The runtime core: scenario, events, bus, id maps, the kernel contract and the clock.

Generic code: nothing here imports a kernel (kernels are found through
:mod:`twin.core.kernel`'s registry)."""
