"""ESRI ASCII grid DEM (``.asc``, ``.asc.gz``, ``.asc.bz2``) -> ``city.terrain``, and back.

Header (keys in any case, any order): ``ncols``, ``nrows``, ``xllcorner`` or ``xllcenter``,
``yllcorner`` or ``yllcenter``, ``cellsize``, optional ``NODATA_value`` (cells with it become
NaN); then ``nrows`` rows of ``ncols`` values, the first row being the **north** edge. The
reference system comes from a sidecar ``.prj`` (WKT): for ``x.asc`` or ``x.asc.gz`` (``.bz2``) the
files ``x.prj`` and ``x.asc.prj`` are tried; without one the grid is in file coordinates.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pyproj

from ..crs import resolve_crs
from ..errors import CIMError, FormatError, LoadReport, Problems
from ..model import CityModel, Terrain
from .source import Source, strip_compression, write_bytes

_KEYS = ("ncols", "nrows", "xllcorner", "xllcenter", "yllcorner", "yllcenter", "cellsize",
         "nodata_value")
DEFAULT_NODATA = -9999.0


def sniff(head: bytes, name: str) -> bool:
    """Return True when ``head`` starts with an ESRI ASCII grid header key."""
    tokens = head[:256].split(None, 1)
    return bool(tokens) and tokens[0].lower().decode("ascii", "replace") in _KEYS


def read(source: Source, *, lenient: bool) -> CityModel:
    """Return a CityModel holding only ``terrain`` (see module docstring)."""
    path = source.path
    try:
        text = source.read_bytes().decode("ascii")
    except UnicodeDecodeError as e:
        raise FormatError(f"not an ASCII grid (byte {e.start} is not ASCII)", path=path,
                          offset=e.start) from None
    lines = text.splitlines()
    header, first_data = _header(lines, path)
    ncols, nrows = int(header["ncols"]), int(header["nrows"])
    cell = header["cellsize"]
    x0 = header["xllcorner"] if "xllcorner" in header else header["xllcenter"] - cell / 2
    y0 = header["yllcorner"] if "yllcorner" in header else header["yllcenter"] - cell / 2
    nodata = header.get("nodata_value", DEFAULT_NODATA)
    tokens = " ".join(lines[first_data:]).split()
    expected = ncols * nrows
    if len(tokens) != expected:
        raise FormatError(f"the header says {nrows} rows × {ncols} columns = {expected} values, "
                          f"the file has {len(tokens)}", path=path,
                          line=_line_of_value(lines, first_data, min(len(tokens), expected)))
    try:
        z = np.array(tokens, dtype=np.float64).reshape(nrows, ncols)
    except ValueError:
        bad = next(k for k, t in enumerate(tokens) if not _is_number(t))
        raise FormatError(f"value {tokens[bad]!r} is not a number", path=path,
                          line=_line_of_value(lines, first_data, bad)) from None
    z[z == nodata] = np.nan
    report = LoadReport(files=[str(path)])
    crs = None
    prj = _sidecar(path)
    if prj is None:
        report.notes.append(f"{path}: no .prj next to the grid: terrain in file coordinates "
                            "(crs None)")
    else:
        try:
            crs = resolve_crs(prj.read_text(errors="replace"), path=prj)
        except CIMError as e:
            Problems(path, lenient, report).handle(e)
            report.notes.append(f"{prj}: reference system not understood: terrain in file "
                                "coordinates")
    return CityModel(terrain=Terrain(z, float(x0), float(y0), float(cell)), crs=crs,
                     metadata={"source_format": "ESRI ASCII grid"}, report=report)


def write(terrain, path, crs=None, *, fmt: str = "%.10g") -> Path:
    """Write ``terrain`` (a Terrain, or a CityModel with one) as an ESRI ASCII grid and return
    the path; a ``.gz`` (``.bz2``) name is gzipped (bzip2ed) (byte-identical for identical input). With ``crs``
    (or the CityModel's crs) a ``.prj`` with its ESRI WKT is written next to it."""
    if isinstance(terrain, CityModel):
        crs = terrain.crs if crs is None else crs
        terrain = terrain.terrain
        if terrain is None:
            raise CIMError("the city model has no terrain to write")
    path = Path(path)
    z = np.asarray(terrain.z, dtype=np.float64)
    ny, nx = z.shape
    out = io.StringIO()
    out.write(f"ncols {nx}\nnrows {ny}\nxllcorner {terrain.x0!r}\nyllcorner {terrain.y0!r}\n"
              f"cellsize {terrain.cell!r}\nNODATA_value {DEFAULT_NODATA:g}\n")
    np.savetxt(out, np.where(np.isnan(z), DEFAULT_NODATA, z), fmt=fmt, delimiter=" ")
    data = out.getvalue().encode("ascii")
    write_bytes(path, data)
    if crs is not None:
        c = resolve_crs(crs)
        try:
            wkt = c.to_wkt("WKT1_ESRI")
        except pyproj.exceptions.CRSError:  # some CRSs have no ESRI form
            wkt = c.to_wkt("WKT1_GDAL")
        _prj_paths(path)[0].write_text(wkt)
    return path


def _header(lines: list[str], path) -> tuple[dict, int]:
    header: dict[str, float] = {}
    k = 0
    for k, line in enumerate(lines):
        parts = line.split()
        if not parts:
            continue
        key = parts[0].lower()
        if key not in _KEYS:
            if _is_number(parts[0]):
                break
            raise FormatError(f"unknown header key {parts[0]!r}", path=path, line=k + 1)
        if len(parts) != 2 or not _is_number(parts[1]):
            raise FormatError(f"header line must be '<key> <number>', got {line.strip()!r}",
                              path=path, line=k + 1)
        header[key] = float(parts[1])
    else:
        k = len(lines)
    missing = [n for n in ("ncols", "nrows", "cellsize") if n not in header]
    if "xllcorner" not in header and "xllcenter" not in header:
        missing.append("xllcorner")
    if "yllcorner" not in header and "yllcenter" not in header:
        missing.append("yllcorner")
    if missing:
        raise FormatError(f"header lacks {', '.join(missing)}", path=path, line=k + 1)
    for n in ("ncols", "nrows"):
        if not math.isfinite(header[n]) or header[n] < 1 or header[n] != int(header[n]):
            raise FormatError(f"{n} = {header[n]:g} must be a positive integer", path=path,
                              line=1)
    if not header["cellsize"] > 0 or not math.isfinite(header["cellsize"]):
        raise FormatError(f"cellsize = {header['cellsize']:g} must be > 0", path=path, line=1)
    return header, k


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _line_of_value(lines: list[str], first: int, index: int) -> int:
    """Return the 1-based line holding data value number ``index`` (0-based)."""
    seen = 0
    for k in range(first, len(lines)):
        n = len(lines[k].split())
        if seen + n > index:
            return k + 1
        seen += n
    return len(lines)


def _prj_paths(path: Path) -> list[Path]:
    name = strip_compression(path.name)
    stem = name[:-4] if name.lower().endswith(".asc") else name
    return [path.with_name(stem + ".prj"), path.with_name(name + ".prj")]


def _sidecar(path: Path) -> Path | None:
    return next((p for p in _prj_paths(Path(path)) if p.is_file()), None)
