"""Simulation kernels, one package per physics (``traffic``…), each behind the kernel contract
(:mod:`twin.core.kernel`): its array kernel, its process adapter, its params and KPIs.

:data:`BUILTIN` lists the shipped kernels by registry name as import paths, so that the
registry can find them without generic code importing any kernel.
"""

#: registry name -> "module:class" of the kernels shipped with the package
BUILTIN = {
    "traffic": "twin.kernels.traffic.process:TrafficProcess",
    "water": "twin.kernels.water.process:WaterProcess",
    "power": "twin.kernels.power.process:PowerProcess",
    "flood": "twin.kernels.flood.process:FloodProcess",
    "crowd": "twin.kernels.crowd.process:CrowdProcess",
}
