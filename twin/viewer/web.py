"""``twin view RUN --web``: not built yet (the scene, controls and HTML export it would
serve through trame exist: :class:`~twin.viewer.scene.Scene`,
:class:`~twin.viewer.controls.Controls`, :func:`~twin.viewer.export.html`)."""

from __future__ import annotations

from ..errors import TwinError


def serve(scene, host: str = "127.0.0.1", port: int = 0) -> int:
    """Serve ``scene`` in a browser (not available yet: raises TwinError)."""
    scene.close()
    raise TwinError("twin view --web is not available yet; use --html FILE for a "
                    "self-contained interactive page of one moment, or the desktop viewer")
