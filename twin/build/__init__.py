"""Building the 3D twin from a city model: meshes, road graph, spatial index (:func:`build`)."""

from .builder import build
from .twin import Twin

__all__ = ["build", "Twin"]
