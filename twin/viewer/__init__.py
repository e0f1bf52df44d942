"""The 3D viewer: a run on its twin, desktop, offscreen (PNG, movie, HTML) and web.

``Scene(run)`` draws every layer as its kernel declares (``Kernel.draw``); ``twin view``
is the command line (:mod:`twin.viewer.cli`).
"""

from .scene import Scene

__all__ = ["Scene"]
