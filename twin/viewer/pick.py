"""Picking: what is under a pixel of a :class:`~twin.viewer.scene.Scene`, its attributes and
its time series (shown as text and a small chart by :func:`show_pick`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Pick:
    """What a click hit: ``layer`` (series key or ``base:<name>``), ``kind`` (geometry),
    ``id`` (element id), ``index`` (element index in the series / layer), ``attributes``
    ({name: value} from the city and every series on the same element at the time shown),
    ``series`` ({series key: (times s, values)}), ``time`` s."""

    layer: str
    kind: str
    id: str
    index: int
    attributes: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)
    time: float = 0.0

    def text(self, clock: str = "") -> str:
        lines = [f"{self.kind} {self.id}" + (f"  @ {clock}" if clock else "")]
        lines += [f"  {k}: {_fmt(v)}" for k, v in list(self.attributes.items())[:12]]
        return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "n/a" if not np.isfinite(v) else f"{v:,.4g}"
    return str(v)


def world_to_display(scene, xyz_local) -> tuple[float, float]:
    """Return the display pixel (x, y; origin bottom-left) of a local-frame point."""
    ren = scene.plotter.renderer
    ren.SetWorldPoint(*map(float, xyz_local), 1.0)
    ren.WorldToDisplay()
    x, y, _ = ren.GetDisplayPoint()
    return float(x), float(y)


def pick(scene, x: float, y: float) -> Pick | None:
    """Return what is drawn at display pixel (x, y) (origin bottom-left), or None."""
    import vtk

    scene.plotter.render_window.Render()
    actors = {id(d.actor): d for d in scene.drawn.values() if d.visible}
    base = scene.base.get("buildings")
    picker = vtk.vtkCellPicker()
    picker.SetTolerance(0.004)
    picker.PickFromListOn()
    for d in scene.drawn.values():
        if d.visible:
            picker.AddPickList(d.actor)
    if base is not None and base.GetVisibility():
        picker.AddPickList(base)
    if not picker.Pick(float(x), float(y), 0.0, scene.plotter.renderer):
        return None
    actor, cell = picker.GetActor(), int(picker.GetCellId())
    d = actors.get(id(actor))
    if d is None:  # the static buildings
        layer = scene.twin.layers["buildings"]
        j = int(scene.base_cells["buildings"][cell]) if cell >= 0 else -1
        return None if j < 0 else describe(scene, "building", str(layer.object_ids[j]),
                                           "base:buildings")
    if cell < 0:
        return None
    obj = int(d.geo.cell_object[cell])
    if d.series.draw.geometry == "points" and picker.GetPointId() >= 0:
        obj = int(picker.GetPointId())
    return describe(scene, d.series.draw.geometry, str(d.geo.ids[obj]), d.key)


def describe(scene, kind: str, elem_id: str, layer: str = "") -> Pick:
    """Return the :class:`Pick` of element ``elem_id`` of geometry ``kind``: its city
    attributes, every drawn series' value on it now and its time series."""
    attrs: dict = {}
    city_attrs: dict = {}
    index = _city_attributes(scene.city, kind, elem_id, city_attrs)
    series = {}
    for d in scene.drawn.values():
        s = d.series
        if s.draw.geometry != kind or s.ids is None:
            continue
        hit = np.flatnonzero(s.ids == elem_id)
        if not len(hit):
            continue
        j = int(hit[0])
        v = s.element_series(j)
        series[s.key] = (s.times, v)
        attrs[f"{s.label} ({s.units})"] = float(v[s.index_at(scene.time)])
    attrs.update(city_attrs)
    if kind == "points":
        index = int(elem_id)
    return Pick(layer or kind, kind, elem_id, index, attrs, series, scene.time)


def _city_attributes(city, kind: str, elem_id: str, out: dict) -> int:
    """Fill ``out`` with the city's per-element columns of ``elem_id``; return its index."""
    if kind == "building":
        b = city.buildings
        hit = np.flatnonzero(np.asarray(b.ids).astype(str) == elem_id)
        if not len(hit):
            return -1
        i = int(hit[0])
        for name in ("use", "height", "storeys", "residents", "jobs", "floor_area"):
            col = getattr(b, name, None)
            if col is not None and len(col) == len(b):
                out[name] = col[i].item() if hasattr(col[i], "item") else col[i]
        return i
    for net in city.networks().values():
        for what in ("node", "link"):
            if kind != f"{net.kind}_{what}":
                continue
            ids = np.asarray(getattr(net, f"{what}_ids")).astype(str)
            hit = np.flatnonzero(ids == elem_id)
            if not len(hit):
                return -1
            i = int(hit[0])
            n = len(ids)
            for name, col in vars(net).items():
                if (name.startswith(f"{what}_") and name != f"{what}_ids"
                        and isinstance(col, np.ndarray) and col.ndim == 1 and len(col) == n
                        and col.dtype.kind in "biufUO"):
                    v = col[i]
                    out[name[len(what) + 1:]] = v.item() if hasattr(v, "item") else v
            return i
    return -1


def show_pick(scene, p: Pick | None, chart: bool = True):
    """Show ``p`` in the scene: its text on the left and, with ``chart``, a small
    plot of its first time series (a marker at the time shown). Returns the chart (or
    None); ``None`` for ``p`` clears the panel."""
    import pyvista as pv

    pl = scene.plotter
    for name in ("pick_text",):
        pl.remove_actor(name, render=False)
    old = getattr(scene, "_pick_chart", None)
    if old is not None:
        pl.remove_chart(old)
        scene._pick_chart = None
    if p is None:
        return None
    pl.add_text(p.text(scene.clock()), position=(8, int(scene.size[1] * 0.42)), font_size=9,
                color="black", name="pick_text")
    if not chart or not p.series:
        return None
    key, (t, v) = next(iter(p.series.items()))
    ch = pv.Chart2D(size=(0.3, 0.24), loc=(0.36, 0.02), x_label="min from start",
                    y_label=key)
    ok = np.isfinite(v)
    tm = np.asarray(t, float) / 60.0
    if ok.any():
        ch.line(tm[ok], v[ok], color="tab:blue", width=2.0)
        i = int(np.argmin(np.abs(tm - scene.time / 60.0)))
        if np.isfinite(v[i]):
            ch.scatter([tm[i]], [v[i]], color="tab:red", size=8)
    ch.background_color = (1.0, 1.0, 1.0, 0.85)
    pl.add_chart(ch)
    scene._pick_chart = ch
    return ch
