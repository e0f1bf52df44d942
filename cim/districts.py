"""The two pilot districts, read from ``assets/<name>/`` through the ordinary loaders."""

from __future__ import annotations

import json
from pathlib import Path

from .crs import resolve_crs
from .errors import CIMError
from .io import detect_format, load
from .model import LOCAL_CRS, CityModel

#: formats whose files carry no reference system (network models)
_NO_CRS_FORMATS = ("epanet", "swmm", "pandapower_json", "matpower")
ASSETS = Path(__file__).resolve().parent.parent / "assets"

#: district name -> human-readable title
DISTRICTS = {
    "lihu": "Lihu Future City (蠡湖未来城), Binhu district, Wuxi",
    "liangxi": "Liangxi Science City (梁溪科技城), Liangxi district, Wuxi",
}


def districts() -> dict[str, str]:
    """Return {name: title} of the pilot districts that :func:`load_district` reads."""
    return dict(DISTRICTS)


def district_files(name: str) -> list[Path]:
    """Return the files of district ``name`` as listed in ``assets/<name>/manifest.json``."""
    if name not in DISTRICTS:
        raise CIMError(f"unknown district {name!r}; known: {', '.join(DISTRICTS)}")
    manifest = ASSETS / name / "manifest.json"
    if not manifest.exists():
        raise CIMError(f"district {name!r} has no manifest; regenerate it with "
                       "`make districts`", path=manifest)
    files = [ASSETS / name / f for f in json.loads(manifest.read_text())["files"]]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise CIMError(f"district files missing: {', '.join(missing)}; regenerate them with "
                       "`make districts`", path=manifest)
    return files


def load_district(name: str, *, lenient: bool = False):
    """Return the CityModel of pilot district ``name`` ("lihu" or "liangxi") in the local
    metric CRS (EPSG:4549), read from its asset files like any user file."""
    files = district_files(name)
    nets = [f for f in files if detect_format(f) in _NO_CRS_FORMATS]
    georef = [f for f in files if f not in nets]
    city = load(*georef, lenient=lenient, crs=LOCAL_CRS)
    if nets:
        # the network files (EPANET, pandapower) carry no reference system: the manifest
        # states theirs (the district's local CRS, as the city files use)
        crs = json.loads((ASSETS / name / "manifest.json").read_text()).get("crs", LOCAL_CRS)
        extra = load(*nets, lenient=lenient)
        extra.crs = resolve_crs(crs)
        city = CityModel.merge([city, extra]).to_crs(LOCAL_CRS)
        city.report.counts.update({k: v for k, v in city.summary(with_crs=False).items()
                                   if isinstance(v, int)})
    city.metadata["district"] = name
    city.metadata.setdefault("title", DISTRICTS[name])
    return city
