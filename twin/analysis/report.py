"""``twin report RUN [--vs RUN_B] --out report.html``: a self-contained HTML report.

The page holds, for every layer: the KPIs (and, with a second run, A, B, B − A, % and
whether B is better), the kernel's time series (both runs on one plot, events dotted),
the distribution of every drawable output over its elements at the worst moment, maps of
the worst links/nodes, and viewer snapshots at the worst moment of each layer (peak
congestion, lowest pressure…). Images are embedded PNGs; nothing is fetched when it is
opened. Generic: KPIs and series come from the kernels (``kpis``, ``series``), what is
drawn and what is "worse" from their ``draw`` declarations.
"""

from __future__ import annotations

import base64
import html as _html
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StoreError, TwinError
from . import compare as _compare
from . import kpis as _kpis
from . import report_plots as plots

CSS = """body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{border-bottom:2px solid #ccc;padding-bottom:3px;margin-top:1.8em}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:.9em}th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#176b1e}.worse{color:#a01818}figure{display:inline-block;margin:6px}
figcaption{font-size:.85em;color:#555}img{max-width:100%}.note{color:#a05000}"""


@dataclass
class Report:
    """What a report holds (for tests and other writers): ``html`` text, ``kpis``
    {layer: [KPI names]}, ``figures`` [(id, caption)], ``notes``."""

    html: str
    kpis: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _esc(x) -> str:
    return _html.escape(str(x))


def _img(png: bytes, fid: str, caption: str, out: Report) -> str:
    out.figures.append((fid, caption))
    data = base64.b64encode(png).decode()
    return (f'<figure id="{_esc(fid)}"><img alt="{_esc(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{_esc(caption)}</figcaption>'
            "</figure>")


def _open(run):
    from ..store import Run

    try:
        return run if isinstance(run, Run) else Run(run)
    except StoreError:
        raise StoreError(f"{run} is not a run store") from None


def build_report(run, vs=None, *, city=None, snapshots: bool = True,
                 snapshot_size=(960, 540)) -> Report:
    """Return the :class:`Report` of ``run`` (compared with ``vs`` when given); ``city``
    for the snapshots and maps when the run's city is not a pilot district."""
    a = _open(run)
    b = _open(vs) if vs is not None else None
    ka = _kpis.compute(a)
    kb = _kpis.compute(b) if b is not None else None
    out = Report("")
    names = (a.path.stem, b.path.stem) if b is not None else (a.path.stem,)
    parts = [f"<h1>Run report: {_esc(names[0])}"
             + (f" vs {_esc(names[1])}" if b is not None else "") + "</h1>"]
    parts.append(_summary(a, b))
    cityobj = _city(a, city, out)
    for layer in a.layers:
        parts.append(f'<h2 id="layer-{_esc(layer)}">{_esc(layer)}</h2>')
        parts.append(_kpi_table(layer, ka, kb, names, out))
        for rep in ka.reports.get(layer, [])[:1]:
            if rep:
                parts.append(f"<pre>{_esc(rep)}</pre>")
        parts.append(_series_plots(layer, a, b, names, out))
        parts.append(_element_plots(layer, a, b, names, cityobj, out))
    if snapshots and cityobj is not None:
        parts.append(_snapshots(a, b, cityobj, snapshot_size, out))
    if out.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(
            f'<li class="note">{_esc(n)}</li>' for n in out.notes) + "</ul>")
    title = f"twin report {names[0]}" + (f" vs {names[1]}" if b is not None else "")
    out.html = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
                f"{_esc(title)}</title><style>{CSS}</style></head><body>"
                + "\n".join(parts) + "</body></html>")
    return out


def _summary(a, b) -> str:
    rows = []
    for tag, r in (("A", a), ("B", b)):
        if r is None:
            continue
        sc = r.scenario
        end = r.clock(float(sc.get("duration_s", 0.0))) if r.start is not None else ""
        rows.append(f"<tr><td>{tag}</td><td>{_esc(r.path)}</td><td>{_esc(sc.get('name'))}"
                    f"</td><td>{_esc(str(r.start or '')[:16])} – {_esc(end[:5])}</td>"
                    f"<td>{_esc(r.status)}</td><td class=n>{r.n_members}</td><td>"
                    f"{_esc(sc.get('description') or '')[:300]}</td></tr>")
    return ("<table><tr><th></th><th>run</th><th>scenario</th><th>time</th><th>status</th>"
            "<th>members</th><th>brief</th></tr>" + "".join(rows) + "</table>")


def _kpi_table(layer, ka, kb, names, out: Report) -> str:
    if layer not in ka.layers:
        out.notes.append(f"{layer}: no KPIs (no records, or its kernel defines none)")
        return '<p class="note">no KPIs</p>'
    kpis = ka.layers[layer][0]
    out.kpis[layer] = [k.name for k in kpis]
    if kb is None or layer not in kb.layers:
        per = ka.layers[layer]
        head = "".join(f"<th>member {m}</th>" for m in range(len(per))) if len(per) > 1 \
            else "<th>value</th>"
        rows = "".join(
            f'<tr id="kpi-{_esc(layer)}-{_esc(k.name)}"><td>{_esc(k.label or k.name)}</td>'
            + "".join(f"<td class=n>{_esc(per[m][i].text())}</td>" for m in range(len(per)))
            + f"<td>{_esc(k.unit)}</td></tr>" for i, k in enumerate(kpis))
        return f"<table><tr><th>KPI</th>{head}<th>unit</th></tr>{rows}</table>"
    diffs = _compare.differences(ka, kb)
    rows = []
    for k in kpis:
        va, vb, d, pct, verdict = diffs.get((layer, k.name), (k.value, np.nan, np.nan,
                                                              np.nan, ""))
        num = lambda v, f=k.fmt: "n/a" if not np.isfinite(v) else f.format(v)  # noqa: E731
        rows.append(f'<tr id="kpi-{_esc(layer)}-{_esc(k.name)}"><td>{_esc(k.label or k.name)}'
                    f"</td><td class=n>{num(va)}</td><td class=n>{num(vb)}</td><td class=n>"
                    f"{num(d, k.fmt.replace('{:', '{:+'))}</td><td class=n>"
                    f"{num(pct, '{:+.1f}')}</td><td class={verdict}>{verdict}</td>"
                    f"<td>{_esc(k.unit)}</td></tr>")
    return (f"<table><tr><th>KPI</th><th>A = {_esc(names[0])}</th><th>B = {_esc(names[1])}"
            "</th><th>B − A</th><th>%</th><th>B is</th><th>unit</th></tr>"
            + "".join(rows) + "</table>")


def _series_plots(layer, a, b, names, out: Report) -> str:
    sa = _kpis.series(a, layer)
    sb = _kpis.series(b, layer) if b is not None and layer in b.layers else {}
    events = sorted(set(_compare._event_times(a)) | (set(_compare._event_times(b))
                                                     if b is not None else set()))
    html = []
    for key, (label, unit, t, v) in sa.items():
        runs = [(names[0], t, v)]
        if key in sb:
            runs.append((names[1], sb[key][2], sb[key][3]))
        png = plots.time_series(label, unit, runs, a.start, events)
        html.append(_img(png, f"series-{layer}-{key}", f"{layer}: {label} over time", out))
    return "".join(html)


def _element_plots(layer, a, b, names, city, out: Report) -> str:
    """Distributions of each drawable output at its worst moment, and worst-element maps."""
    from ..viewer.source import plan

    if city is None:
        return ""
    sa, _ = plan(a, city)
    sb = {s.key: s for s in plan(b, city)[0]} if b is not None else {}
    html = []
    for s in sa:
        if s.layer != layer or s.ids is None:
            continue
        i = worst_index(s, activity(a, s))
        when = f"at {a.clock(s.times[i])[:5]}"
        runs = [(names[0], s.values(i))]
        other = sb.get(s.key)
        if other is not None:
            runs.append((names[1], other.values(other.index_at(s.times[i]))))
        html.append(_img(plots.distribution(s.label, s.units, runs, when),
                         f"dist-{s.key}", f"{s.key}: distribution over elements {when}", out))
        if s.draw.worse in ("low", "high"):
            agg = _over_time(s)
            cap = (f"{s.key}: worst {plots.WORST_N} elements ("
                   f"{'lowest' if s.draw.worse == 'low' else 'highest'} over the run)")
            png, top = plots.worst_map(city, s.draw.geometry, s.ids, agg, s.label, s.units,
                                       s.draw.worse, title=f"{names[0]}: {cap}")
            html.append(_img(png, f"map-{s.key}", cap, out))
            html.append("<table><tr><th>#</th><th>element</th><th>" + _esc(s.label)
                        + f" ({_esc(s.units)})</th></tr>" + "".join(
                            f"<tr><td>{r + 1}</td><td>{_esc(e)}</td><td class=n>{v:,.4g}</td>"
                            "</tr>" for r, (e, v) in enumerate(top[:5])) + "</table>")
    return "".join(html)


def _over_time(s, best: bool = False) -> np.ndarray:
    """Per element: the worst value over all records (min for "low", max for "high"; with
    ``best``, the best one)."""
    low = (s.draw.worse == "low") != best
    arr = s._arrays[s.var]
    out = None
    c = int(arr.chunks[0])
    for i0 in range(0, arr.shape[0], c):
        block = np.asarray(arr[i0:i0 + c, s.member], float)
        if s.draw.abs:
            block = np.abs(block)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                red = (np.nanmin if low else np.nanmax)(block, axis=0)
        out = red if out is None else (np.fmin if low else np.fmax)(out, red)
    return out * s.draw.scale


#: units of an output that says how busy each element is: a flow of vehicles or people
FLOW_UNITS = ("veh/h", "veh/s", "P/h", "P/s", "1/h", "1/s")


def activity(run, s):
    """Return the recorded output of ``s``'s layer that says how busy each of its elements
    is — a flow (units in :data:`FLOW_UNITS`) over the same elements and records, e.g.
    traffic's ``link_flow`` for ``link_speed`` —, as a (n_t, n_members, n_elements) array,
    or None."""
    if s.ids is None:
        return None
    g = run._root[s.layer]
    for name in sorted(g.array_keys()):
        arr = g[name]
        if (name != s.var and arr.ndim == 3 and arr.shape[0] == len(s.times)
                and tuple(arr.metadata.dimension_names or ())[2:] == tuple(s.dims)
                and dict(arr.attrs).get("units") in FLOW_UNITS):
            return arr
    return None


def worst_index(s, weight=None) -> int:
    """Return the record at which series ``s`` is worst over its elements; the last record
    when it declares neither "low" nor "high".

    weight : (n_t, n_members, n_elements) array of how busy each element is (see
    :func:`activity`), or None. With it, the worst moment has the largest flow-weighted
    shortfall Σ w·|v − best| over the elements with values (best: each element's best over
    the run): peak congestion is when many vehicles are slowed, not the first minute when
    a handful are. Without it, the lowest (highest) mean over the elements."""
    if s.draw.worse not in ("low", "high"):
        return len(s.times) - 1
    if weight is not None:
        return _weighted_worst(s, weight)
    means = np.array([np.nanmean(v) if np.isfinite(v := s.values(i)).any() else np.nan
                      for i in range(len(s.times))])
    if not np.isfinite(means).any():
        return len(s.times) - 1
    return int(np.nanargmin(means) if s.draw.worse == "low" else np.nanargmax(means))


def _weighted_worst(s, weight) -> int:
    best = _over_time(s, best=True)
    sign = 1.0 if s.draw.worse == "low" else -1.0
    score = np.zeros(len(s.times))
    c = int(weight.chunks[0])
    for i0 in range(0, len(s.times), c):
        w = np.abs(np.nan_to_num(np.asarray(weight[i0:i0 + c, s.member], float)))
        for k in range(w.shape[0]):
            v = s.values(i0 + k)
            ok = np.isfinite(v) & np.isfinite(best)
            score[i0 + k] = float(w[k][ok] @ (sign * (best[ok] - v[ok])))
    return int(np.argmax(score)) if np.any(score > 0) else len(s.times) - 1


def _city(run, city, out: Report):
    from ..viewer.scene import resolve_city

    try:
        c, tw = resolve_city(run, city)
    except TwinError as e:
        out.notes.append(f"no maps or snapshots: {e}")
        return None
    run._report_twin = tw
    return c


def _snapshots(a, b, city, size, out: Report) -> str:
    """Viewer snapshots of each layer's worst moment (A, and B at the same time)."""
    from ..viewer.scene import Scene
    from ..viewer.source import plan

    moments = {}
    for s in plan(a, city)[0]:
        if s.draw.worse in ("low", "high") and s.layer not in moments:
            moments[s.layer] = (s, float(s.times[worst_index(s, activity(a, s))]))
    if not moments:
        moments["end"] = (None, None)
    html = ["<h2>Snapshots</h2>"]
    for tag, r in (("A", a), ("B", b)):
        if r is None:
            continue
        scene = Scene(r, twin=a._report_twin, size=size, off_screen=True)
        try:
            for layer, (s, t) in moments.items():
                t = float(scene.times[-1]) if t is None else t
                scene.set_time(t)
                buf = _png(scene.image())
                what = (f"worst {s.label}" if s is not None else "end of the run")
                cap = f"{tag} = {r.path.stem}: {layer} at {r.clock(t)[:5]} ({what})"
                html.append(_img(buf, f"snap-{tag}-{layer}", cap, out))
        finally:
            scene.close()
        out.notes += [f"viewer ({tag}): {n}" for n in scene.notes]
    return "".join(html)


def _png(img: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(img, np.uint8)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def write_report(run, out=None, vs=None, **kw) -> Path:
    """Write the report of ``run`` (vs ``vs``) to ``out`` (default ``<run>.report.html``)."""
    path = Path(out) if out is not None else Path(str(run)).with_suffix(".report.html")
    rep = build_report(run, vs, **kw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rep.html, encoding="utf-8")
    return path


def report_cli(args) -> int:
    """``twin report``: write the HTML; exit 1 with one line when a run cannot be read."""
    import cim

    try:
        city = cim.load(*args.city) if getattr(args, "city", None) else None
        path = write_report(args.run, args.out, args.vs, city=city,
                            snapshots=not getattr(args, "no_snapshots", False))
    except TwinError as e:
        print(f"twin: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
