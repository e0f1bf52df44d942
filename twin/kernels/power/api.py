"""The power-flow API: :func:`powerflow` (one case, or K outage members in one pass) and
:func:`n_minus_1` (every in-service line and transformer out, one member each), returning
xarray Datasets with pandapower's result definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .batch import PowerFlow

__all__ = ["powerflow", "n_minus_1", "PowerFlow"]


def _outage_mask(grid, outages) -> np.ndarray:
    """(K, n_link) bool from a list of link-id lists or a (K, n_link) bool mask."""
    n = grid.n_links
    a = np.asarray(outages, dtype=object) if not isinstance(outages, np.ndarray) else outages
    if isinstance(a, np.ndarray) and a.dtype == bool:
        if a.ndim != 2 or a.shape[1] != n:
            raise ValueError(f"outage mask must have shape (K, {n}), got {a.shape}")
        return a
    index = {str(k): i for i, k in enumerate(grid.link_ids)}
    mask = np.zeros((len(outages), n), bool)
    for m, ids in enumerate(outages):
        ids = [ids] if isinstance(ids, str) else list(ids)
        for b in ids:
            if str(b) not in index:
                raise KeyError(f"outage member {m}: no branch {b!r} in the grid")
            mask[m, index[str(b)]] = True
    return mask


def _str_dtype(a: np.ndarray) -> np.dtype:
    """``np.asarray(a, str).dtype`` of an object array, without converting it when every
    element is a str: the longest from the separators of the joined text."""
    items = a.tolist()
    try:
        text = "\x00".join(items)  # TypeError unless every item is a str
        codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    except (TypeError, UnicodeEncodeError):
        return np.asarray(a, str).dtype
    ends = np.flatnonzero(codes == 0)
    if items and len(ends) == len(items) - 1:  # (else some id holds a NUL)
        longest = int(np.diff(ends, prepend=-1, append=len(codes)).max()) - 1
        if longest:  # (numpy gives all-empty strings its own width)
            return np.dtype(f"<U{longest}")
    return np.asarray(a, str).dtype


def _coords(**ids) -> xr.Coordinates:
    """String id coordinates with their indexes, built from the object id arrays without
    pandas inferring their type again (the coordinates keep the numpy string dtype)."""
    variables, indexes = {}, {}
    for dim, a in ids.items():
        a = np.asarray(a, object)
        index = xr.indexes.PandasIndex(pd.Index(a, dtype=object, copy=False), dim,
                                       coord_dtype=_str_dtype(a))
        c = xr.Coordinates.from_xindex(index)
        variables.update(c.variables)
        indexes.update(c.xindexes)
    return xr.Coordinates(variables, indexes=indexes)


def _dataset(grid, r: dict, member=None, method: str = "ac", extra=None) -> xr.Dataset:
    squeeze = member is None
    sel = (lambda a: a[0]) if squeeze else (lambda a: a)
    m = () if squeeze else ("member",)
    bus, br, ld = m + ("bus",), m + ("branch",), m + ("load",)
    ds = xr.Dataset(
        {"vm_pu": (bus, sel(r["vm"])), "va_degree": (bus, sel(r["va"])),
         "p_mw": (bus, sel(r["p"])), "q_mvar": (bus, sel(r["q"])),
         "energized": (bus, sel(r["energized"])),
         "loading_percent": (br, sel(r["loading"])),
         "p_from_mw": (br, sel(r["p_from"])), "q_from_mvar": (br, sel(r["q_from"])),
         "p_to_mw": (br, sel(r["p_to"])), "q_to_mvar": (br, sel(r["q_to"])),
         "load_served": (ld, sel(r["load_served"])), "load_p_mw": (ld, sel(r["load_p"])),
         "converged": (m, sel(r["converged"])), "iterations": (m, sel(r["iterations"])),
         **(extra or {})},
        coords=_coords(bus=grid.node_ids, branch=grid.link_ids, load=grid.loads.ids).assign(
            **({} if member is None else {"member": member})),
        attrs={"method": method, "base_mva": float(grid.base_mva),
               "p_mw": "net injection into the bus (generator convention; pandapower's "
                       "res_bus.p_mw is its negative)"})
    return ds


def powerflow(grid, method: str = "ac", outages=None, loads=None, *,
              init: str = "auto") -> xr.Dataset:
    """Solve the power flow of ``grid`` (a :class:`cim.model.power.PowerGrid`).

    ``method`` "ac" (Newton-Raphson) or "dc"; ``outages``: None, a list of branch-id lists
    (one member each) or a (K, n_branch) bool mask — the members are solved together, and
    the Dataset gets a ``member`` dim; ``loads``: load scale factors (n_load,) or
    (K, n_load). Variables: ``vm_pu``, ``va_degree`` (bus; NaN where de-energized),
    ``p_mw``/``q_mvar`` (bus: net injection), ``energized`` (bus), ``loading_percent`` and
    the end flows (branch), ``load_served`` (load, 0/1) and ``load_p_mw``, ``converged``,
    ``iterations``. Without outages a case that does not converge raises
    :class:`PowerFlowError` (worst mismatch, bus, iterations); members that do not converge
    get NaN and ``converged`` False."""
    pf = PowerFlow(grid)
    if outages is None:
        scale = None if loads is None else np.asarray(loads, float)
        multi = scale is not None and scale.ndim == 2
        r = pf.solve(load_scale=scale, method=method, init=init,
                     errors="nan" if multi else "raise")
        return _dataset(grid, r, np.arange(scale.shape[0]) if multi else None, method)
    mask = _outage_mask(grid, outages)
    if method == "ac":
        pf.solve(method="ac", init=init, errors="raise")  # the base case warm-starts members
    r = pf.solve(branch_out=mask, load_scale=loads, method=method)
    return _dataset(grid, r, np.arange(mask.shape[0]), method)


def n_minus_1(grid, method: str = "ac") -> xr.Dataset:
    """Every in-service line and transformer out, one member each (member coord: the outaged
    branch id), solved in one pass. Adds the summary per member: ``max_loading_percent``,
    ``n_overloaded`` (branches > 100 %), ``overloaded`` (member, branch) bool,
    ``n_deenergized`` buses, ``load_shed_mw``; and ``base_loading_percent`` (branch)."""
    pf = PowerFlow(grid)
    base = pf.solve(method=method, errors="raise")
    typ = np.asarray(grid.link_type, object)
    idx = np.flatnonzero(np.asarray(grid.link_in_service, bool) & (typ != "switch"))
    mask = np.zeros((len(idx), grid.n_links), bool)
    mask[np.arange(len(idx)), idx] = True
    r = pf.solve(branch_out=mask, method=method)
    ld = r["loading"]
    over = ld > 100.0
    total = float(base["load_p"][0].sum())
    # the per-member summary in numpy on the (K, n) arrays (fmax skips NaN; all NaN: NaN)
    extra = {"max_loading_percent": ("member", np.fmax.reduce(ld, axis=1)),
             "overloaded": (("member", "branch"), over),
             "n_overloaded": ("member", over.sum(axis=1)),
             "n_deenergized": ("member", (~r["energized"]).sum(axis=1)),
             "load_shed_mw": ("member", total - r["load_p"].sum(axis=1)),
             "base_loading_percent": ("branch", base["loading"][0])}
    return _dataset(grid, r, np.asarray(grid.link_ids, str)[idx], method, extra)
