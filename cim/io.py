"""The verbs that read and write whole models: :func:`load`, :func:`detect_format`,
:func:`write_cityjson`, :func:`write_inp` (re-exported as ``cim.load`` etc.)."""

from __future__ import annotations

from pathlib import Path

from .crs import resolve_crs
from .errors import CIMError
from .formats import Source, detect, module
from .formats.sumo_net import merge_additional
from .model import CityModel


def detect_format(path) -> str:
    """Return the format name of the file at ``path`` (content first, then extension)."""
    return detect(Source.open_path(path))


def load(*paths, lenient: bool = False, crs=None) -> CityModel:
    """Return one CityModel read from ``paths`` (any mix of supported formats, .gz allowed).

    lenient : bool
        False (default): the first bad object raises a CIMError naming file, object and
        problem. True: bad objects are skipped and listed in ``city.report``.
    crs : str | int | pyproj.CRS | None
        Transform the result to this CRS (e.g. "EPSG:4549"); None keeps the first file's.
    """
    if not paths:
        raise CIMError("cim.load needs at least one file")
    models = []
    for p in paths:
        src = Source.open_path(p)
        fmt = detect(src)
        m = module(fmt).read(src, lenient=lenient)
        m.report.files = [str(p)] if not m.report.files else m.report.files
        m.metadata.setdefault("formats", [])
        m.metadata["formats"] = list(m.metadata["formats"]) + [fmt]
        models.append(m)
    models = merge_additional(models)  # SUMO programs/WAUTs into their network
    city = CityModel.merge(models)
    if crs is not None:
        city = city.to_crs(resolve_crs(crs))
    city.report.counts.update({k: v for k, v in city.summary(with_crs=False).items()
                               if isinstance(v, int)})  # the counts (the CRS is no count)
    return city


def write_cityjson(city: CityModel, path, *, version: str = "2.0") -> Path:
    """Write ``city`` as a CityJSON 2.0 file (``.gz`` name → gzip) and return its path."""
    return module("cityjson").write(city, Path(path), version=version)


def write_matpower(city_or_grid, path) -> Path:
    """Write a PowerGrid (or a CityModel's ``power_grid``) as a MATPOWER ``.m`` case file and
    return its path (:mod:`cim.formats.matpower`)."""
    return module("matpower").write(city_or_grid, Path(path))


def write_pandapower(city_or_grid, path) -> Path:
    """Write a PowerGrid (or a CityModel's ``power_grid``) as a pandapower JSON network that
    ``pandapower.from_json`` loads and runs; return its path
    (:mod:`cim.formats.pandapower_json`)."""
    return module("pandapower_json").write(city_or_grid, Path(path))


def write_inp(city_or_network, path, units: str | None = "LPS") -> Path:
    """Write the water network of ``city_or_network`` (a CityModel or a WaterNetwork) as an
    EPANET 2.2 .inp in flow ``units`` ("LPS" default; any EPANET code; None: the network's
    original units) and return the path. Isolation valves go to ``<stem>.valves.csv``."""
    return module("epanet").write(city_or_network, Path(path), units=units)


def write_sumo(city, path) -> Path:
    """Write the road network of ``city`` as a SUMO ``.net.xml`` (plain XML inputs kept next
    to it, converted by eclipse-sumo's ``netconvert``) and return its path
    (:mod:`cim.formats.sumo_write`)."""
    from .formats import sumo_write  # noqa: PLC0415

    return sumo_write.write(city, Path(path))


def write_swmm(city_or_network, path) -> Path:
    """Write the drainage network of ``city_or_network`` (a CityModel or a DrainageNetwork)
    as a SWMM 5 .inp in its flow units (``<stem>.inlets.csv`` too when it has inlets) and
    return the path (:mod:`cim.formats.swmm_inp`)."""
    return module("swmm").write(city_or_network, Path(path))
