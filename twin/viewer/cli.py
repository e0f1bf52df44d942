"""``twin view RUN|DISTRICT``: the desktop viewer, offscreen outputs, or the web viewer.

    twin view out/runs/x.zarr                              # desktop window
    twin view out/runs/x.zarr --screenshot a.png --time 08:30
    twin view out/runs/x.zarr --movie a.mp4 [--frames 60] [--fps 8]
    twin view out/runs/x.zarr --html a.html --time 08:30
    twin view out/runs/x.zarr --web [--port 8080]
    twin view lihu --screenshot lihu.png                   # a district without a run

``--city FILE…`` gives the city of a run whose city is not a pilot district; ``--show KEY``
(repeatable, e.g. ``traffic/link_flow``) chooses the layers; ``--camera`` a preset.
"""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    s = sub.add_parser("view", help="open a run (or a district) in the 3D viewer")
    s.add_argument("target", help="run store (.zarr) or district name")
    s.add_argument("--city", nargs="+", help="CIM files of the run's city (when it is not "
                   "a pilot district)")
    s.add_argument("--time", help="time to show: HH:MM[:SS], seconds, or ISO datetime")
    s.add_argument("--member", type=int, default=0)
    s.add_argument("--show", action="append", help="series to show (layer/var); repeatable")
    s.add_argument("--camera", default="overview", help="overview, top, street, follow")
    s.add_argument("--size", default="1280x720", help="WxH pixels")
    s.add_argument("--screenshot", help="write a PNG and exit")
    s.add_argument("--movie", help="write an MP4 (GIF where no encoder) and exit")
    s.add_argument("--frames", type=int, help="movie: at most this many frames")
    s.add_argument("--fps", type=float, default=6.0)
    s.add_argument("--html", help="write a self-contained interactive HTML and exit")
    s.add_argument("--web", action="store_true", help="serve the viewer in a browser")
    s.add_argument("--port", type=int, default=0, help="web port (0: a free one)")
    s.add_argument("--host", default="127.0.0.1")
    s.set_defaults(func=main)


def open_scene(args, off_screen: bool):
    """Return the :class:`Scene` the arguments describe."""
    import cim

    from ..store import Run
    from .scene import Scene

    w, h = (int(v) for v in args.size.lower().split("x"))
    city = cim.load(*args.city) if args.city else None
    target = Path(args.target)
    run = Run(target) if (target / "zarr.json").exists() else None
    if run is None:
        if args.target not in cim.districts() and city is None:
            from ..errors import StoreError

            raise StoreError(f"{args.target} is neither a run store nor a district "
                             f"({', '.join(cim.districts())})")
        city = city or args.target
    scene = Scene(run, city=city, member=args.member, size=(w, h), off_screen=off_screen,
                  show=args.show)
    if args.time is not None:
        scene.set_time(args.time)
    if args.camera != "overview":
        scene.camera(args.camera)
    return scene


def main(args) -> int:
    outputs = [a for a in (args.screenshot, args.movie, args.html) if a]
    if args.web:
        from .web import serve

        scene = open_scene(args, off_screen=True)
        for note in scene.notes:
            print(f"twin view: note: {note}", file=sys.stderr)
        return serve(scene, host=args.host, port=args.port)
    scene = open_scene(args, off_screen=bool(outputs))
    for note in scene.notes:
        print(f"twin view: note: {note}", file=sys.stderr)
    try:
        if not outputs:
            from .controls import Controls

            Controls(scene).attach()
            scene.plotter.show(title="twin view")
            return 0
        from . import export

        if args.screenshot:
            scene.screenshot(args.screenshot)
            print(f"wrote {args.screenshot} ({scene.clock()})")
        if args.html:
            export.html(scene, args.html)
            print(f"wrote {args.html} ({scene.clock()})")
        if args.movie:
            out = export.movie(scene, args.movie, fps=args.fps, n=args.frames)
            print(f"wrote {out}")
    finally:
        scene.close()
    return 0
