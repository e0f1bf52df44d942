"""The report's matplotlib figures: time series, distributions and maps of the worst
elements, each returned as PNG bytes. Generic: they read the kernels' ``series`` and the
layers' ``draw`` declarations (:mod:`twin.viewer.source`), never a kernel by name."""

from __future__ import annotations

import io

import numpy as np

#: elements marked on a map of the worst
WORST_N = 15


def _fig(rows: int = 1, cols: int = 1, size=(8.0, 3.0)):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, constrained_layout=True)
    return plt, fig, axes


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def clock_axis(ax, start, t_s) -> None:
    """Label ``ax``'s x axis (values in minutes from ``start``) with wall-clock HH:MM."""
    from ..store.reader import clock_text

    if start is None:
        ax.set_xlabel("minutes from the start")
        return
    ticks = ax.get_xticks()
    lo, hi = (np.nanmin(t_s) / 60.0, np.nanmax(t_s) / 60.0) if len(t_s) else (0, 1)
    ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
    ax.set_xticks(ticks)
    ax.set_xticklabels([clock_text(start, 60.0 * t)[:5] for t in ticks])
    ax.set_xlabel("time of day")


def time_series(label, unit, runs, start, events=()) -> bytes:
    """Plot one series of one or two runs: ``runs`` [(name, t s, values)]; ``events``:
    times (s) drawn as dotted lines."""
    plt, fig, axes = _fig()
    ax = axes[0, 0]
    t_all = []
    for k, (name, t, v) in enumerate(runs):
        t = np.asarray(t, float)
        ax.plot(t / 60.0, np.asarray(v, float), "-" if k == 0 else "--", lw=1.5, label=name)
        t_all.append(t)
    for te in events:
        ax.axvline(te / 60.0, color="0.4", ls=":", lw=1)
    ax.set_ylabel(f"{label} ({unit})" if unit else label)
    ax.grid(alpha=0.3)
    if len(runs) > 1:
        ax.legend(fontsize=8)
    clock_axis(ax, start, np.concatenate(t_all) if t_all else np.zeros(0))
    return _png(plt, fig)


def distribution(label, unit, runs, when: str) -> bytes:
    """Histogram of one series' element values: ``runs`` [(name, values)] at ``when``."""
    plt, fig, axes = _fig(size=(6.0, 2.8))
    ax = axes[0, 0]
    vals = [np.asarray(v, float)[np.isfinite(v)] for _, v in runs]
    allv = np.concatenate(vals) if vals else np.zeros(0)
    if allv.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    else:
        lo, hi = float(allv.min()), float(allv.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
        for k, ((name, _), v) in enumerate(zip(runs, vals)):
            ax.hist(v, bins=bins, alpha=0.55 if len(runs) > 1 else 0.85, label=name,
                    histtype="stepfilled" if k == 0 else "step", lw=1.5)
    ax.set_xlabel(f"{label} ({unit}) {when}" if unit else f"{label} {when}")
    ax.set_ylabel("elements")
    ax.grid(alpha=0.3)
    if len(runs) > 1:
        ax.legend(fontsize=8)
    return _png(plt, fig)


def worst_map(city, geometry: str, ids, values, label, unit, worse: str,
              title: str = "") -> tuple[bytes, list]:
    """Map the city (roads in grey) with the ``WORST_N`` elements of ``geometry`` by
    ``values`` ((n,) per element, aligned with ``ids``) highlighted; return (PNG, [(id,
    value)…] worst first)."""
    from matplotlib.collections import LineCollection

    v = np.asarray(values, float)
    ok = np.flatnonzero(np.isfinite(v))
    order = ok[np.argsort(v[ok])]
    if worse == "high":
        order = order[::-1]
    worst = order[:WORST_N]
    plt, fig, axes = _fig(size=(6.5, 5.5))
    ax = axes[0, 0]
    roads = city.roads
    if roads.n_links:
        segs = [roads.link_geometry(k) for k in range(roads.n_links)]
        ax.add_collection(LineCollection(segs, colors="0.8", linewidths=0.6))
    nets = {f"{n.kind}_{w}": n for n in city.networks().values() for w in ("node", "link")}
    ids = np.asarray(ids).astype(str)
    xy = _element_xy(city, nets, geometry, ids)
    norm_v = v[worst]
    if geometry.endswith("_link") and geometry in nets:
        net = nets[geometry]
        where = {str(k): i for i, k in enumerate(net.link_ids)}
        segs = [net.link_geometry(where[i]) if net.geometry_offsets[where[i] + 1]
                - net.geometry_offsets[where[i]] >= 2 else
                net.node_xy[[net.link_from[where[i]], net.link_to[where[i]]]]
                for i in ids[worst] if i in where]
        lc = LineCollection(segs, cmap="inferno_r" if worse == "high" else "inferno",
                            linewidths=3.0)
        lc.set_array(norm_v[:len(segs)])
        ax.add_collection(lc)
        fig.colorbar(lc, ax=ax, shrink=0.7, label=f"{label} ({unit})")
    elif xy is not None:
        sc = ax.scatter(xy[worst, 0], xy[worst, 1], c=norm_v, s=40,
                        cmap="inferno_r" if worse == "high" else "inferno", zorder=3,
                        edgecolors="k", linewidths=0.4)
        fig.colorbar(sc, ax=ax, shrink=0.7, label=f"{label} ({unit})")
    if xy is not None:
        for r, j in enumerate(worst[:5]):
            ax.annotate(f"{r + 1}", xy[j], fontsize=8, color="k",
                        xytext=(3, 3), textcoords="offset points")
    ax.set_aspect("equal")
    ax.autoscale()
    ax.set_title(title or f"worst {len(worst)} by {label}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return _png(plt, fig), [(str(ids[j]), float(v[j])) for j in worst]


def _element_xy(city, nets, geometry, ids) -> np.ndarray | None:
    """Return (n, 2) positions (m) of elements ``ids`` of ``geometry`` (link midpoints,
    building centroids), or None."""
    if geometry in nets:
        net = nets[geometry]
        if geometry.endswith("_node"):
            where = {str(k): i for i, k in enumerate(net.node_ids)}
            idx = np.array([where.get(i, -1) for i in ids])
            xy = np.asarray(net.node_xy, float)[np.maximum(idx, 0), :2]
        else:
            where = {str(k): i for i, k in enumerate(net.link_ids)}
            idx = np.array([where.get(i, -1) for i in ids])
            k = np.maximum(idx, 0)
            xy = 0.5 * (net.node_xy[net.link_from[k]] + net.node_xy[net.link_to[k]])
        xy = np.asarray(xy, float).copy()
        xy[idx < 0] = np.nan
        return xy
    if geometry == "building" and len(city.buildings):
        b = city.buildings
        where = {str(k): i for i, k in enumerate(b.ids)}
        idx = np.array([where.get(i, -1) for i in ids])
        c = np.asarray(b.footprint.centroids(), float)[:, :2] \
            if hasattr(b.footprint, "centroids") else None
        if c is None:
            return None
        xy = c[np.maximum(idx, 0)].copy()
        xy[idx < 0] = np.nan
        return xy
    return None
