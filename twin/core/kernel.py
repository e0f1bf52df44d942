"""The kernel contract: what a kernel declares, and the registry of kernels by name.

A kernel is a class derived from :class:`Kernel` (or any object with the same members). The
runtime knows no kernel by name: everything it needs comes from these declarations.

========================  ================================================================
``name``, ``dt``          layer name (store group, bus prefix, event ``layer``) and step, s
``batched``               True: one instance steps every member (arrays with a leading
                          member axis, ``ctx.n_members`` rows); False: the runtime makes
                          one copy per member and steps them in member order
``publishes``             ``{var: Spec}``: bus arrays ``"<name>/<var>"`` it publishes
``reads``                 ``{port: Spec}``: bus arrays it reads; the scenario binds each port
                          to a published array (``couplings={"traffic/signal_power":
                          "grid/signal_power"}``); ``ctx.read(port)`` gives it (or None)
``element_ids(city)``     ``{kind: ids}``: the element kinds whose ids it owns (besides the
                          city's ``building``, ``site``, ``road_link``… maps), so that events
                          and conditions can target them; called before the run starts
``outputs``, ``coords``   recorded variables ``{var: Spec}`` (dims without time and member)
                          and their coordinates / static variables (set by ``init``)
``event_kinds``           ``{kind: target id kind or None}``, handled by ``apply_event``
``tables``                ``{name: Table}`` row tables (trips, calls, outages…); rows are
                          appended with ``ctx.table(name).append(...)`` from
                          ``on_checkpoint(final, ctx)``, which the runtime calls at every
                          checkpoint (``final`` only at the last one)
``get_state``/``set_state``  checkpoint state: a dict of arrays (default: pickled attributes)
``config()``              what determines its results, for the run's fingerprint
``kpis(layer)``           ``[KPI(name, value, unit, lower_is_better)]`` of one member's
                          recorded layer (a classmethod; :class:`LayerData`)
``series(layer)``, ``report(layer)``  optional time series for plots, extra text for reports
``draw``                  ``{var: Draw}``: how the viewer draws recorded outputs (geometry
                          kind, colour map, range, units); the viewer knows no kernel
========================  ================================================================

The registry maps names to kernel classes like :mod:`cim.formats` maps formats to readers:
``@register("water")`` on a class, :func:`create` ``("traffic", dt=1)`` to make one. The
kernels shipped with the package are listed (as import paths, so nothing is imported until
used) in :data:`twin.kernels.BUILTIN`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScenarioError


@dataclass(frozen=True)
class Spec:
    """An array's dims (names of the axes after time/member) and units; ``optional`` for a
    read port that may stay unbound."""

    dims: tuple[str, ...] = ()
    units: str = ""
    optional: bool = True
    doc: str = ""

    def __post_init__(self):
        object.__setattr__(self, "dims", tuple(self.dims))


@dataclass(frozen=True)
class Table:
    """A row table of a layer: ``dim`` (the row dimension, e.g. "trip") and ``columns``
    ``{name: (dtype, fill, units)}``. The store adds the column ``<dim>_member``."""

    dim: str
    columns: dict


@dataclass(frozen=True)
class KPI:
    """One key figure of a run: ``value`` in ``unit``; ``lower_is_better`` True/False, or
    None when neither (a count of trips, say); ``label`` for tables; ``fmt`` its format."""

    name: str
    value: float
    unit: str = ""
    lower_is_better: bool | None = None
    label: str = ""
    fmt: str = "{:,.3g}"

    def text(self) -> str:
        v = self.value
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return "n/a"
        return self.fmt.format(v)


#: Geometry kinds a :class:`Draw` may name: ``<kind>_link`` / ``<kind>_node`` of any city
#: network (``road_link`` directed ribbons, ``water_link`` / ``power_link`` lines, nodes as
#: points), ``building`` (the twin's building meshes), ``points`` (moving glyphs at the
#: recorded ``x``/``y`` variables, m in the city CRS) and ``raster`` (a surface over a grid
#: whose last two dims have coordinates of cell centres y, x in the city CRS).
DRAW_GEOMETRIES = ("building", "points", "raster")


@dataclass(frozen=True)
class Draw:
    """How the viewer draws one recorded output: on ``geometry`` (see
    :data:`DRAW_GEOMETRIES`), coloured with matplotlib colour map ``cmap`` over ``clim``
    (display units; None: the data's range), values × ``scale`` shown in ``units`` (None:
    the output's own units), ``abs`` for magnitudes of signed values, ``label`` for the
    colour bar; ``x``/``y``: the position variables of ``points``; ``hide_below``: values
    below it are not drawn (a raster's dry cells); ``show``: on when the viewer opens;
    ``worse``: "low" or "high" — which values are bad (reports map the worst elements and
    snapshot the worst moment)."""

    geometry: str
    cmap: str = "viridis"
    clim: tuple | None = None
    label: str = ""
    units: str | None = None
    scale: float = 1.0
    abs: bool = False
    x: str = ""
    y: str = ""
    hide_below: float | None = None
    show: bool = True
    worse: str | None = None


@dataclass
class LayerData:
    """One member of one recorded layer, as KPIs read it: ``ds`` (xarray.Dataset of the
    layer's variables with the member selected), ``tables`` ({table: {column: (n,) array}},
    this member's rows), ``attrs`` (the layer's attributes), ``meta`` (run path, status,
    scenario start and name), ``cache`` (for a kernel's ``kpis``, ``series`` and ``report``
    to share what they compute)."""

    ds: Any
    tables: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    def record_seconds(self) -> np.ndarray:
        """(n_records,) s each record stands for: the time since the previous record (the
        first one stands for one interval); for integrating rates over a run."""
        t = np.asarray(self.ds.time.values, float)
        if t.size == 0:
            return t
        first = t[0] if t.size == 1 else t[1] - t[0]
        return np.diff(t, prepend=t[0] - first)


class Kernel:
    """Base class of kernels (see the module docstring for the contract).

    Subclasses set the class attributes and override :meth:`init` and :meth:`step`; the
    defaults declare nothing. Attributes set in ``__init__`` (before the run) are the
    kernel's parameters: :meth:`config` returns them for the run's fingerprint.
    """

    name: str = ""
    dt: float = 1.0
    batched: bool = False
    publishes: dict = {}
    reads: dict = {}
    outputs: dict = {}
    coords: dict = {}
    event_kinds: dict = {}
    tables: dict = {}
    layer_attrs: dict = {}
    draw: dict = {}

    def element_ids(self, city) -> dict:
        """Return ``{kind: (n,) ids}`` of the elements this kernel owns (none by default)."""
        return {}

    def config(self) -> dict:
        """Return what determines this kernel's results (default: its public attributes)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def init(self, ctx) -> None:
        """Build arrays from ``ctx.city`` / ``ctx.input``; publish initial bus arrays."""

    def step(self, t: float, dt: float, ctx) -> dict | None:
        """Advance from ``t`` to ``t + dt`` (s); return ``{var: array}`` to record when
        ``ctx.record_due`` (or None)."""
        raise NotImplementedError

    def apply_event(self, event, index, ctx) -> dict | None:
        """Apply ``event`` (``event.phase`` "start"/"end", ``event.member`` None for all
        members) to element ``index`` of its target kind; return details to log."""
        raise ScenarioError(f"{self.name}: events of kind {event.kind!r} are not handled")

    def on_checkpoint(self, final: bool, ctx) -> None:
        """Append the rows done since the last checkpoint to the kernel's tables."""

    @classmethod
    def kpis(cls, layer: LayerData) -> list[KPI]:
        """Return the KPIs of one member's recorded layer."""
        return []


# ---- the registry ------------------------------------------------------------------------
_REGISTRY: dict[str, type] = {}


def register(name: str):
    """Class decorator: make kernel class ``cls`` available as ``name``."""
    def deco(cls):
        _REGISTRY[name] = cls
        return cls
    return deco


def kernel_class(name: str) -> type:
    """Return the kernel class registered as ``name`` (ScenarioError naming the known ones)."""
    if name not in _REGISTRY:
        from .. import kernels

        path = kernels.BUILTIN.get(name)
        if path is not None:
            mod, _, qual = path.partition(":")
            cls = importlib.import_module(mod)
            for part in qual.split("."):
                cls = getattr(cls, part)
            _REGISTRY.setdefault(name, cls)
    try:
        return _REGISTRY[name]
    except KeyError:
        from .. import kernels

        known = ", ".join(sorted(set(_REGISTRY) | set(kernels.BUILTIN))) or "none"
        raise ScenarioError(f"no kernel called {name!r} (known: {known})") from None


def create(name: str, **kwargs):
    """Return a new kernel of the class registered as ``name``, made with ``kwargs``."""
    return kernel_class(name)(**kwargs)


def known() -> list[str]:
    """Return the names of the registered and built-in kernels."""
    from .. import kernels

    return sorted(set(_REGISTRY) | set(kernels.BUILTIN))


def declared(kernel, attr: str) -> dict:
    """Return ``kernel``'s declaration ``attr`` as a dict ({} when it declares none)."""
    return dict(getattr(kernel, attr, None) or {})


def spec_of(value) -> Spec:
    """Return a :class:`Spec` from a Spec or a ``(dims, units)`` pair."""
    if isinstance(value, Spec):
        return value
    dims, units = value
    return Spec(tuple(dims), units)
