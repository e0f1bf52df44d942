"""The viewer's scene: a run drawn on its twin, one merged mesh per layer, scrubbed in time.

:class:`Scene` is the same object on the desktop, offscreen (screenshots, movies, HTML) and
on the web: it owns a ``pyvista.Plotter``, the static district (terrain, water, roads,
buildings, sites) and one actor per drawable series of the run (see
:mod:`twin.viewer.source`). :meth:`Scene.set_time` gathers each visible series' record into
its mesh's scalar array in place — no mesh is rebuilt per frame.
"""

from __future__ import annotations

import numpy as np

from . import geometry as _geo
from .source import Series, plan, raster_axes

#: background (bottom, top): one colour over terrain, since a gradient costs a full-screen pass
#: per frame in software rendering; the gradient where there is no ground to see
BACKGROUND = ("#f4f1ea", "#9cc4e4")
BASE_LAYERS = ("terrain", "water", "roads", "buildings", "sites")
NAN_COLOUR = "#b4b4b4"
POINT_SIZE = {"point": 5.0, "glyph": 6.0}
CAMERAS = ("overview", "top", "street", "follow")
#: layers of closed solids: wound outward and drawn with their back faces culled
SOLIDS = ("buildings", "sites")
#: terrain cells of the twin a scene builds itself (software rendering: fewer, faster frames)
VIEW_TERRAIN_CELLS = 60_000


class Drawn:
    """One drawn series: ``series``, ``geo`` (:class:`~twin.viewer.geometry.Geometry`),
    ``actor``, ``bar`` (its colour bar), ``visible``, ``index`` (record shown)."""

    def __init__(self, series: Series, geo, actor, bar, lookup: np.ndarray, place=None):
        self.series, self.geo, self.actor, self.bar = series, geo, actor, bar
        self.place = place            # series at the same place share geo; one is shown
        self.lookup = lookup          # (n_points,) index into the series' values (n = NaN)
        self.bar_title = ""
        self.visible = False
        self.index = -1

    @property
    def key(self) -> str:
        return self.series.key


def _districts() -> list:
    import cim

    return list(cim.districts())


def _district(name: str):
    """Pilot district ``name`` through the input cache (:func:`twin.store.cache.load_district`:
    read again only when its files or the reader changed)."""
    import cim

    from ..errors import ScenarioError
    from ..store import cache

    try:
        return cache.load_district(name)
    except cim.CIMError as e:
        raise ScenarioError(f"district {name!r} cannot be loaded: {e}") from e


def resolve_city(run, city=None, twin=None):
    """Return (CityModel, Twin) for a run: the given ones, else the run's district."""
    from ..build import build
    from ..core.scenario import resolve_city as _resolve

    if twin is not None:
        return twin.city, twin
    if city is None:
        import cim

        from ..errors import ScenarioError

        names = [] if run is None else [run.scenario.get("city"),
                                        run.provenance.get("district")]
        names = [n for n in names if isinstance(n, str) and n in cim.districts()]
        if not names:
            raise ScenarioError(f"{getattr(run, 'path', 'the run')}: its city is not a pilot "
                                "district; pass the city (city= or --city FILE…)")
        city = _district(names[0])
    elif isinstance(city, str):
        city = _district(city) if city in _districts() else _resolve(city)[1]
    return city.to_metric(), build(city, terrain_max_cells=VIEW_TERRAIN_CELLS)


def _roof_index(twin, city) -> tuple:
    """Return (shapely STRtree of the building footprints (city m), (n,) roof tops in local
    m), or (None, None) without buildings."""
    layer = twin.layers.get("buildings")
    if layer is None or layer.n_objects == 0 or len(city.buildings) == 0:
        return None, None
    import shapely

    from ..build.spatial import footprint_geometries

    obj_top = np.full(layer.n_objects, -np.inf)
    np.maximum.at(obj_top, np.repeat(np.arange(layer.n_objects), np.diff(layer.vertex_offsets)),
                  np.asarray(layer.mesh.vertices)[:, 2])
    top_of = dict(zip(np.asarray(layer.object_ids).astype(str).tolist(), obj_top))
    ids = np.asarray(city.buildings.ids).astype(str)
    top = np.array([top_of.get(k, -np.inf) for k in ids.tolist()])
    geoms = footprint_geometries(city.buildings.footprint)
    return shapely.STRtree(geoms), top


class Scene:
    """A run (or a bare district) in 3D.

    run : twin.Run, path or None; city / twin : the district (default: the run's); member :
    which member to show; size : (w, h) px; off_screen : no window; show : series keys
    ("traffic/link_flow") to show instead of each layer's defaults; draws : extra
    ``{layer: {var: Draw}}``; plotter : an existing ``pyvista.Plotter`` to draw into.

    ``notes`` lists what is declared but not drawn (and why); ``times`` the record times
    (s) of all drawn series; ``time`` the time shown.
    """

    def __init__(self, run=None, *, city=None, twin=None, member: int = 0,
                 size=(1280, 720), off_screen: bool = True, show=None, draws=None,
                 plotter=None, title: str | None = None):
        import pyvista as pv

        from ..store import Run

        if run is not None and not isinstance(run, Run):
            run = Run(run)
        self.run = run
        self.city, self.twin = resolve_city(run, city, twin)
        self.member = int(member)
        self.size = (int(size[0]), int(size[1]))
        series, self.notes = plan(run, self.city, member, draws) if run is not None \
            else ([], [])
        if plotter is None:
            # static layers carry baked lighting and series are drawn unlit: one headlight is
            # left for results drawn on buildings (a light kit's five cost per pixel)
            plotter = pv.Plotter(off_screen=off_screen, window_size=list(self.size),
                                 lighting="none")
            plotter.add_light(pv.Light(light_type="headlight", intensity=0.9))
            if off_screen:  # software MSAA costs ~8x a frame
                plotter.render_window.SetMultiSamples(0)
        self.plotter = pl = plotter
        terrain = self.twin.layers.get("terrain")
        if terrain is not None and len(terrain.mesh.faces):
            pl.set_background(BACKGROUND[1])
        else:
            pl.set_background(BACKGROUND[0], top=BACKGROUND[1])
        self.base: dict = {}
        self.base_cells: dict = {}       # {static layer: (n_cells,) object index of each cell}
        self._add_base()
        self.drawn: dict[str, Drawn] = {}
        self._geometries: dict = {}
        for s in series:
            self._add_series(s)
        first_of: set = set()
        for d in self.drawn.values():
            geom_key = (d.series.layer, d.series.draw.geometry)
            on = (d.key in show) if show is not None else (
                d.series.draw.show and geom_key not in first_of)
            if on and not any(x.visible and x.place == d.place for x in self.drawn.values()):
                first_of.add(geom_key)
                self._set_visible(d, True)
            else:
                self._set_visible(d, False)
        if show is not None:
            unknown = sorted(set(show) - set(self.drawn))
            self.notes += [f"{k}: no such drawable series" for k in unknown]
        self.times = np.unique(np.concatenate(
            [d.series.times for d in self.drawn.values()])) if self.drawn else np.zeros(1)
        label = title if title is not None else self._title()
        from ..export.render import display_title

        self._title_text = display_title(label)
        self._clock = pl.add_text(self._title_text, position="upper_left", font_size=11,
                                  color="black")
        if self.notes:
            pl.add_text("\n".join(self.notes[:8]), position="lower_left", font_size=8,
                        color="#802020")
        self._layout_bars()
        self.camera("overview")
        self.time = float("nan")
        self.set_time(float(self.times[0]))

    # ---- building the scene ----------------------------------------------------------------
    def _title(self) -> str:
        if self.run is None:
            return self.city.metadata.get("title") or "district"
        sc = self.run.scenario
        city = self.city.metadata.get("title") or self.city.metadata.get("district") or ""
        return " · ".join(x for x in (sc.get("name") or self.run.path.stem, city) if x)

    def _add_base(self) -> None:
        from ..export.render import LAYER_STYLE

        for name in BASE_LAYERS:
            layer = self.twin.layers.get(name)
            if layer is None or len(layer.mesh.faces) == 0:
                continue
            st = LAYER_STYLE.get(name, {})
            pd, cells = _geo.static_layer(layer, st.get("ambient", 0.35), st.get("diffuse", 0.7))
            actor = self.plotter.add_mesh(pd, scalars="rgb", rgb=True, show_scalar_bar=False,
                                          name=f"base:{name}", pickable=name == "buildings",
                                          lighting=False, reset_camera=False,
                                          culling="back" if name in SOLIDS else None)
            self.base[name] = actor
            self.base_cells[name] = cells

    def _add_series(self, s: Series) -> None:
        g = s.draw.geometry
        # series drawn at the same place share one mesh (and only one of them is shown: two
        # colourings of the same ribbons would z-fight)
        place = (g, s.layer, s.draw.x, s.draw.y) if g == "points" else (
            (g, s.layer, s.dims) if g == "raster" else g)
        geo = self._geometries.get(place)
        if geo is None:
            try:
                geo = _geo.build(self.twin, g, n_points=len(s.values(0)) if g == "points" else 0,
                                 axes=raster_axes(self.run, s) if g == "raster" else None)
            except KeyError:
                self.notes.append(f"{s.key}: the twin has no {g} geometry: not drawn")
                return
        n = len(geo.ids) if s.ids is None else len(s.ids)
        if s.ids is not None:
            where = {k: i for i, k in enumerate(s.ids.tolist())}
            obj = np.array([where.get(k, n) for k in geo.ids.tolist()], np.int64)
            if (obj == n).all():
                self.notes.append(f"{s.key}: none of its {len(s.ids)} elements is in the "
                                  f"city's {g}: not drawn")
                return
        else:
            obj = np.arange(len(geo.ids))
        self._geometries[place] = geo
        lookup = np.append(obj, n)[np.minimum(geo.point_object, len(obj))]
        mesh = geo.mesh
        if "value" not in mesh.point_data:
            mesh.point_data["value"] = np.full(mesh.n_points, np.nan)
        # unlit flat colours (software rendering pays per pixel for lights); results on
        # buildings keep the headlight so that walls and roofs stay apart
        style = {"point": dict(render_points_as_spheres=False,
                               point_size=POINT_SIZE["glyph" if g == "points" else "point"]),
                 "line": dict(line_width=3.0), "surface": dict(ambient=0.35, diffuse=0.7)}
        lit = g == "building"
        clim = list(s.draw.clim) if s.draw.clim is not None else None
        actor = self.plotter.add_mesh(
            mesh, scalars="value", cmap=s.draw.cmap, clim=clim, nan_color=NAN_COLOUR,
            nan_opacity=0.0 if s.draw.hide_below is not None else 1.0,
            show_scalar_bar=False, name=f"series:{s.key}", reset_camera=False,
            lighting=lit, culling="back" if lit else None, **style[geo.style])
        self.drawn[s.key] = Drawn(s, geo, actor, None, lookup, place)

    def _layout_bars(self) -> None:
        """Stack the visible layers' colour bars (with units) on the right, two to a column
        (VTK allows ten bars: hidden layers give theirs back)."""
        k = 0
        pl = self.plotter
        for d in self.drawn.values():
            if not d.visible and d.bar is not None:
                pl.remove_scalar_bar(d.bar_title, render=False)
                d.bar = None
            if d.visible and d.bar is None:
                s = d.series
                title = f"{s.label} ({s.units})" if s.units else s.label
                while title in pl.scalar_bars:
                    title += " "
                d.bar_title = title
                d.bar = pl.add_scalar_bar(title=title, mapper=d.actor.mapper, vertical=True,
                                          title_font_size=12, label_font_size=10, n_labels=4,
                                          color="black", fmt="%.3g", render=False)
            if d.visible:
                col, row = divmod(k, 2)
                d.bar.SetPosition(0.92 - 0.085 * col, 0.52 - 0.46 * row)
                d.bar.SetPosition2(0.07, 0.42)
                k += 1

    def _set_visible(self, d: Drawn, on: bool) -> None:
        if on:    # one series per place: the others there are switched off
            for x in self.drawn.values():
                if x is not d and x.visible and x.place == d.place:
                    x.visible = False
                    x.actor.SetVisibility(False)
        d.visible = bool(on)
        d.actor.SetVisibility(d.visible)
        d.index = -1                  # the shared mesh holds another series' values meanwhile
        # a result drawn on the buildings replaces their use colours (no z-fighting)
        if "buildings" in self.base:
            covered = any(x.visible and x.series.draw.geometry == "building"
                          for x in self.drawn.values())
            self.base["buildings"].SetVisibility(not covered)

    # ---- layers --------------------------------------------------------------------------------
    @property
    def layers(self) -> dict[str, bool]:
        """Return {series key: visible} of every drawn series (and ``base:<name>`` layers)."""
        out = {f"base:{k}": bool(a.GetVisibility()) for k, a in self.base.items()}
        out.update({k: d.visible for k, d in self.drawn.items()})
        return out

    def show_layer(self, key: str, on: bool = True) -> None:
        """Switch series ``key`` ("traffic/link_speed") or ``base:<name>`` on or off; a
        series switched on replaces the one shown at the same place (the same roads…)."""
        if key.startswith("base:"):
            self.base[key[5:]].SetVisibility(bool(on))
            return
        if key not in self.drawn:
            raise KeyError(f"no layer {key!r}; layers: {', '.join(self.layers)}")
        d = self.drawn[key]
        self._set_visible(d, on)
        self._layout_bars()
        if on:
            self._update(d)

    # ---- time ----------------------------------------------------------------------------------
    def set_time(self, t) -> float:
        """Show time ``t`` (s from the start, "08:30" or an ISO datetime); return it in s."""
        t = self.run.seconds(t) if self.run is not None else float(t)
        self.time = float(t)
        for d in self.drawn.values():
            if d.visible:
                self._update(d)
        clock = self.run.clock(t) if self.run is not None else ""
        day = str(self.run.start)[:10] if self.run is not None and self.run.start else ""
        self._clock.SetText(2, f"{self._title_text}\n{day} {clock}".rstrip())
        return self.time

    def clock(self, t=None) -> str:
        """Return the wall-clock text of ``t`` (default: the time shown)."""
        t = self.time if t is None else t
        return self.run.clock(t) if self.run is not None else f"{t:g} s"

    def _update(self, d: Drawn) -> None:
        s = d.series
        i = s.index_at(self.time)
        if i == d.index:
            return
        d.index = i
        v = s.values(i)
        if s.draw.hide_below is not None:
            v = np.where(v < s.draw.hide_below, np.nan, v)
        buf = np.append(v.ravel(), np.nan)
        arr = d.geo.mesh.point_data["value"]
        arr[:] = buf[d.lookup]
        if s.draw.geometry == "points":
            x, y = s.positions(i)
            ok = np.isfinite(x) & np.isfinite(y)
            pts = np.zeros((len(x), 3))
            xs, ys = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
            pts[:, 0], pts[:, 1] = xs - self.twin.origin[0], ys - self.twin.origin[1]
            pts[:, 2] = _geo.ground(self.twin, xs, ys) + _geo.LIFT_M["points"]
            self._onto_roofs(pts, xs, ys, ok)
            pts[~ok] = self._parking()
            d.geo.mesh.points = pts
        d.geo.mesh.GetPointData().GetArray("value").Modified()

    def _onto_roofs(self, pts, xs, ys, ok) -> None:
        """Raise glyphs inside a building's footprint (a unit at its call) onto its roof,
        where they would otherwise be hidden in it."""
        roofs = getattr(self, "_roofs", None)
        if roofs is None:
            roofs = self._roofs = _roof_index(self.twin, self.city)
        if roofs[0] is None or not ok.any():
            return
        import shapely

        tree, top = roofs
        j = np.flatnonzero(ok)
        hit = tree.query(shapely.points(xs[j], ys[j]), predicate="within")
        if hit.size:
            k = j[hit[0]]
            np.maximum.at(pts[:, 2], k, top[hit[1]] + _geo.LIFT_M["points"])

    def _parking(self) -> np.ndarray:
        """Where absent glyphs wait: under the middle of the district (out of sight)."""
        lo, hi = np.asarray(self.twin.layers["terrain"].mesh.bounds) \
            if len(self.twin.layers["terrain"].mesh.faces) else (np.zeros(3), np.zeros(3))
        c = (lo + hi) / 2
        return np.array([c[0], c[1], lo[2] - 50.0])

    # ---- output --------------------------------------------------------------------------------
    def render(self) -> None:
        self.plotter.render()

    def image(self) -> np.ndarray:
        """Return the current frame as an (h, w, 3) uint8 array."""
        return np.asarray(self.plotter.screenshot(None, return_img=True,
                                                  window_size=self._resize()))[..., :3]

    def _resize(self):
        """Render; return the size to take a screenshot at: None when the window has it
        already (pyvista renders twice more to resize and back)."""
        if list(self.plotter.render_window.GetSize()) != list(self.size):
            return list(self.size)
        self.plotter.render()
        return None

    def screenshot(self, path) -> np.ndarray:
        """Write the current frame to ``path`` (PNG) and return it."""
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return np.asarray(self.plotter.screenshot(str(path), return_img=True,
                                                  window_size=self._resize()))[..., :3]

    def close(self) -> None:
        self.plotter.close()

    # ---- camera ----------------------------------------------------------------------------------
    def bounds(self) -> np.ndarray:
        """Return (2, 3) lower/upper corners of the district's meshes (local m)."""
        b = [np.reshape(layer.mesh.bounds, (2, 3)) for n, layer in self.twin.layers.items()
             if n in ("terrain", "roads", "buildings", "water") and len(layer.mesh.faces)]
        for d in self.drawn.values():
            if d.series.draw.geometry != "points":
                b.append(np.reshape(d.geo.mesh.bounds, (3, 2)).T)
        if not b:
            return np.array([[0.0, 0, 0], [1, 1, 1]])
        b = np.array(b)
        return np.array([b[:, 0].min(0), b[:, 1].max(0)])

    def camera(self, preset: str = "overview", slot: int = 0) -> None:
        """Set a camera preset: ``overview`` (oblique, whole district), ``top`` (plan),
        ``street`` (eye height at the busiest drawn link, else the centre), ``follow``
        (behind and above glyph ``slot`` of the first drawn points series)."""
        from ..export.render import _frame

        lo, hi = self.bounds()
        cam = self.plotter.camera
        if preset == "overview":
            _frame(self.plotter, np.array([[lo, hi]]), self.size[0] / self.size[1])
            return
        centre = (lo + hi) / 2
        if preset == "top":
            span = max(hi[0] - lo[0], (hi[1] - lo[1]) * self.size[0] / self.size[1])
            cam.view_angle = 30.0
            cam.focal_point = (centre[0], centre[1], lo[2])
            cam.up = (0.0, 1.0, 0.0)
            cam.position = (centre[0], centre[1], lo[2] + 1.05 * span / (2 * np.tan(np.radians(
                15.0))) * self.size[1] / self.size[0])
        elif preset in ("street", "follow"):
            target, heading = self._target(preset, slot, centre)
            back = np.array([np.sin(heading), np.cos(heading), 0.0])
            height, dist = (12.0, 60.0) if preset == "street" else (25.0, 80.0)
            cam.view_angle = 50.0
            cam.up = (0.0, 0.0, 1.0)
            cam.focal_point = tuple(target + [0, 0, 2.0])
            cam.position = tuple(target - dist * back + [0, 0, height])
        else:
            raise ValueError(f"camera preset must be one of {CAMERAS}, not {preset!r}")
        self.plotter.renderer.ResetCameraClippingRange()

    def _target(self, preset, slot, centre) -> tuple[np.ndarray, float]:
        """Return (a point in local m, heading in radians) for the street/follow cameras."""
        if preset == "follow":
            for d in self.drawn.values():
                if d.series.draw.geometry == "points":
                    i = d.series.index_at(self.time)
                    x, y = d.series.positions(i)
                    j = int(slot) if np.isfinite(x[int(slot)]) else int(
                        np.flatnonzero(np.isfinite(x))[0]) if np.isfinite(x).any() else -1
                    if j >= 0:
                        p = np.array([x[j], y[j]]) - self.twin.origin[:2]
                        z = float(_geo.ground(self.twin, [x[j]], [y[j]])[0])
                        return np.array([p[0], p[1], z]), np.radians(30.0)
        pts = self.twin.layers["roads"].mesh.vertices if "roads" in self.twin.layers else None
        if pts is not None and len(pts):
            k = int(np.argmin(np.hypot(*(pts[:, :2] - centre[:2]).T)))
            return np.asarray(pts[k], float), np.radians(30.0)
        return centre, np.radians(30.0)
