"""EPANET unit systems: factors from a file's units to SI (and back).

A file's flow units fix its whole unit system: CFS, GPM, MGD, IMGD, AFD are US customary
(lengths and heads ft, diameters in, pressures psi, power hp, volumes ft³, Darcy–Weisbach
roughness 10⁻³ ft); LPS, LPM, MLD, CMH, CMD are SI metric (m, mm, m of head, kW, m³, mm).

The factors are WNTR's (``wntr.epanet.util``), so that this reader and WNTR's agree to the last
digit: exact flow factors, and psi → m of head as EPANET's own ``PSIperFT = 0.4333``
(1 psi = 0.3048 / 0.4333 m), so that pressure settings mean what EPANET takes them to mean.

``SI`` is not one of EPANET 2.2's documented codes. EPANET 2.0.12's ``optionchoice``
(``src/input3.c``, ``else if (match(Tok[1],w_SI)) Flowflag = LPS;``) reads it as **LPS**, and
so does this reader (the nrtestsuite case JEP5-13 declares it); files are written back with
``LPS``.
"""

from __future__ import annotations

import math

#: flow unit code -> m³/s per unit
FLOW_FACTORS = {
    "CFS": 0.0283168466,
    "GPM": 0.003785411784 / 60.0,
    "MGD": 1e6 * 0.003785411784 / 86400.0,
    "IMGD": 1e6 * 0.00454609 / 86400.0,
    "AFD": 1233.48184 / 86400.0,
    "LPS": 0.001,
    "LPM": 0.001 / 60.0,
    "MLD": 1e6 * 0.001 / 86400.0,
    "CMH": 1.0 / 3600.0,
    "CMD": 1.0 / 86400.0,
}
US_UNITS = ("CFS", "GPM", "MGD", "IMGD", "AFD")
#: non-standard codes and what EPANET reads them as
ALIASES = {"SI": "LPS"}

FT = 0.3048
PSI = 0.3048 / 0.4333          # m of head per psi (EPANET's PSIperFT)
HP = 745.699872                # W per hp


def flow_code(token: str) -> str | None:
    """Return the flow unit code named by ``token`` (EPANET's prefix match, any case), or
    None when it names none."""
    t = token.upper()
    for code in ("CFS", "GPM", "AFD", "MGD", "IMGD", "LPS", "LPM", "CMH", "CMD", "MLD"):
        if t.startswith(code):
            return code
    return ALIASES.get(t)


class Units:
    """Conversion factors of one flow unit code (``code``); ``x_SI = x_file * factor``."""

    def __init__(self, code: str = "LPS"):
        code = ALIASES.get(code.upper(), code.upper())
        if code not in FLOW_FACTORS:
            raise KeyError(code)
        self.code = code
        self.us = code in US_UNITS
        self.flow = FLOW_FACTORS[code]                     # m³/s per flow unit
        self.length = FT if self.us else 1.0               # m per ft / m
        self.diameter = 0.0254 if self.us else 0.001       # m per in / mm
        self.pressure = PSI if self.us else 1.0            # m per psi / m
        self.power = HP if self.us else 1000.0             # W per hp / kW
        self.volume = FT ** 3 if self.us else 1.0          # m³ per ft³ / m³
        self.dw_roughness = 0.001 * FT if self.us else 0.001   # m per 10⁻³ ft / mm

    def roughness(self, headloss: str) -> float:
        """Factor of the pipe roughness for ``headloss`` ("H-W", "D-W", "C-M")."""
        return self.dw_roughness if headloss == "D-W" else 1.0

    def emitter(self, exponent: float) -> float:
        """Factor of an emitter coefficient (flow per pressure^exponent → m³/s per m^e)."""
        return self.flow / self.pressure ** exponent

    def setting(self, link_type: str) -> float:
        """Factor of a link's setting: pressure for PRV/PSV/PBV, flow for FCV, else 1."""
        if link_type in ("prv", "psv", "pbv"):
            return self.pressure
        if link_type == "fcv":
            return self.flow
        return 1.0

    def curve(self, kind: str) -> tuple[float, float]:
        """(x factor, y factor) of a curve of ``kind``."""
        return {"pump": (self.flow, self.length), "efficiency": (self.flow, 1.0),
                "volume": (self.length, self.volume), "headloss": (self.flow, self.length),
                }.get(kind, (1.0, 1.0))


def viscosity_relative(value: float, units: Units) -> float:
    """Return EPANET's VISCOSITY option as a multiple of water's (1.1e-5 ft²/s): values above
    1e-3 already are relative; smaller ones are absolute (ft²/s, or m²/s in SI files)."""
    if value > 1e-3 or not math.isfinite(value):
        return value
    absolute_ft2 = value if units.us else value / (FT * FT)
    return absolute_ft2 / 1.1e-5
