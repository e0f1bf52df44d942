"""pandapower JSON networks (what ``pandapower.to_json`` writes, 2.x and 3.x) <->
:class:`cim.model.power.PowerGrid`.

Reading converts to the per-unit model exactly as pandapower builds its internal case
(``pandapower.pd2ppc``), on the base ``net.sn_mva``:

- buses: ids ``str(index)``, names in ``node_attributes["name"]``, coordinates from the
  ``geo`` column (3.x GeoJSON) or ``bus_geodata`` (2.x); NaN when absent;
- lines (``line_<index>``): ohm/km × km over the from bus's base impedance, ``parallel``,
  ``c_nf_per_km`` and ``g_us_per_km`` as total shunt; ``max_i_ka × df × parallel``; geometry
  from ``geo`` / ``line_geodata`` (else the straight segment);
- transformers (``trafo_<index>``, hv -> lv): ``vk/vkr_percent``, ``pfe_kw``, ``i0_percent``,
  rated vs bus voltages, tap changers (``tap_changer_type`` Ratio/Symmetrical/Ideal, 2.x
  ``tap_phase_shifter``, a second tap changer ``tap2_*``), ``shift_degree``, ``parallel``;
  pandapower's default T model turned into the equivalent pi (``user_pf_options`` may choose
  ``trafo_model`` "pi" and ``calculate_voltage_angles`` False, as in pandapower);
- three-winding transformers: three ``trafo3w_<index>_<hv|mv|lv>`` around a star bus
  ``trafo3w_<index>_star``; impedances (symmetric only); xwards (an aux bus, a branch, a
  PV generator);
- switches: a closed bus-bus switch is a ``switch`` link with r = x = 0 (one with ``z_ohm`` > 0
  a ``line`` with pandapower's r/x split), an open one out of service; an open line/trafo
  switch takes that branch out of service (pandapower instead leaves the line energised
  from its other end: the line's charging at the open end differs);
- ext_grid -> gen kind "ext_grid" (as a gen with ``slack=True``), gen -> "gen", sgen and
  asymmetric sgen -> "sgen"; load, storage, asymmetric load, ward/xward constant-power part ->
  loads (× ``scaling``; const_z/const_i shares are treated as constant power); shunt and
  ward/xward impedance part -> bus Gs/Bs (× step × (bus kV / shunt kV)²);
- load ids: the names when all are set and unique, else ``load_<index>``; ``kind`` and
  ``element`` from the load table's ``kind`` / ``element`` columns when present.
Elements of other tables (dcline, motor, svc, …) raise SchemaError naming the table.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CIMError, FormatError, LoadReport, SchemaError
from ..model import CityModel, PowerGrid
from ._pp_model import grid_from_frames
from ._pp_tables import decode
from .source import Source

__all__ = ["sniff", "read", "write", "grid_from_json"]


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` looks like a pandapower JSON network."""
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return h.startswith(b"{") and (b"pandapowerNet" in head or (
        b'"bus"' in head and b"pandas.core.frame" in head))


def grid_from_json(raw: bytes, path=None) -> PowerGrid:
    """Return the PowerGrid of a pandapower JSON document (bytes). A table whose cells are
    not what pandapower writes (a 2**64 index, a list for a number, JSON nested too deeply…)
    is a SchemaError naming the file."""
    try:
        frames, scalars = decode(raw, path)
        return grid_from_frames(frames, scalars, path)
    except CIMError as e:
        raise e.located(path=path) from None
    except RecursionError:
        raise FormatError("broken JSON: nested too deeply", path=path) from None
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, AttributeError) as e:
        raise SchemaError(f"not a pandapower network table as pandapower writes it "
                          f"({type(e).__name__}: {e})"[:300], path=path) from None


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return a CityModel holding only ``power_grid`` (see module docstring)."""
    path = source.path
    grid = grid_from_json(source.read_bytes(), path)
    report = LoadReport(files=[str(path)])
    report.notes.append(f"{path}: pandapower network: {grid.n_nodes} buses, {grid.n_links} "
                        f"branches, {len(grid.gens)} generators, {len(grid.loads)} loads")
    return CityModel(power_grid=grid, metadata={"source_format": "pandapower JSON"},
                     report=report)


def write(city_or_grid, path) -> Path:
    """Write a PowerGrid (or a CityModel's ``power_grid``) as pandapower JSON
    (:func:`cim.formats._pp_write.write_net`) and return the path."""
    from ._pp_write import write_net

    grid = city_or_grid.power_grid if isinstance(city_or_grid, CityModel) else city_or_grid
    if not isinstance(grid, PowerGrid):
        raise CIMError("nothing to write: no power grid")
    return write_net(grid, Path(path))
