"""EPANET .inp reader: unit conversion to SI, time formats, the valves sidecar, and bad input
(strict errors naming file, line and element; lenient skipping)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import cim
from cim.formats._inp_parse import hours

WATER = Path(__file__).resolve().parents[2].parent / "shared" / "validation" / "water"
HAND = Path(__file__).with_name("epanet_hand.inp")
needs_data = pytest.mark.skipif(not WATER.is_dir(), reason=f"no validation data at {WATER}")

GPM = 0.003785411784 / 60.0      # m³/s (US gallon 3.785411784 L)
PSI = 0.3048 / 0.4333            # m of water per psi as EPANET takes it (PSIperFT = 0.4333)

BASE = """[TITLE]
tiny

[JUNCTIONS]
J1 10 1 P1
J2 12 2

[RESERVOIRS]
R1 50

[PIPES]
P1 R1 J1 100 200 100
P2 J1 J2 100 150 100

[PATTERNS]
P1 1 2

[CURVES]
C1 10 30

[OPTIONS]
Units LPS

[END]
"""


def _write(tmp_path, text, name="net.inp") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _line_of(text, needle) -> int:
    return next(k for k, s in enumerate(text.splitlines(), start=1) if needle in s)


# ---- units --------------------------------------------------------------------------------
def test_us_units_are_converted_to_si():
    net = cim.load(HAND).water_network
    ids = {k: i for i, k in enumerate(net.node_ids)}
    lk = {k: i for i, k in enumerate(net.link_ids)}
    assert net.node_elevation[ids["J1"]] == pytest.approx(100 * 0.3048)
    assert net.node_elevation[ids["R1"]] == pytest.approx(250 * 0.3048)   # reservoir head
    assert net.link_diameter[lk["P1"]] == pytest.approx(12 * 0.0254)
    assert net.link_length[lk["P1"]] == pytest.approx(1000 * 0.3048)
    assert net.link_setting[lk["V1"]] == pytest.approx(40 * PSI)         # PRV psi
    assert net.link_setting[lk["V5"]] == pytest.approx(5 * PSI)          # PBV psi
    assert net.link_setting[lk["V2"]] == pytest.approx(100 * GPM)        # FCV gpm
    assert net.link_setting[lk["V3"]] == 5.0                              # TCV coefficient
    assert net.link_curve[lk["V4"]] == "C2" and math.isnan(net.link_setting[lk["V4"]])
    assert net.link_power[lk["PU2"]] == pytest.approx(5 * 745.699872)      # hp
    assert (net.link_setting[lk["PU1"]], net.link_pattern[lk["PU1"]]) == (0.9, "P1")
    assert list(net.link_status[[lk["P3"], lk["P4"], lk["PU2"], lk["V3"], lk["V5"],
                                 lk["V1"]]]) == ["cv", "closed", "closed", "closed", "open",
                                                 None]
    t2 = ids["T2"]
    assert net.node_volume_curve[t2] == "VC" and net.node_overflow[t2]
    vc = net.curves["VC"]
    assert vc.kind == "volume"
    np.testing.assert_allclose(vc.y, [0, 2000 * 0.3048 ** 3])
    assert {k: c.kind for k, c in net.curves.items()} == {
        "C1": "pump", "C2": "headloss", "VC": "volume", "E1": "efficiency", "U1": "volume",
        "U2": "generic"}
    np.testing.assert_allclose(net.curves["C1"].x, [500 * GPM])
    np.testing.assert_allclose(net.curves["C1"].y, [150 * 0.3048])
    # [DEMANDS] replaces J2's line demand (5 gpm) by two named categories
    j2 = net.demands.node == ids["J2"]
    np.testing.assert_allclose(net.demands.base[j2], [3 * GPM, 4 * GPM])
    assert list(net.demands.category[j2]) == ["domestic", "commercial"]
    assert list(net.demands.pattern[j2]) == ["P1", None]
    assert net.node_emitter[ids["J8"]] == pytest.approx(0.5 * GPM / PSI ** 0.6)
    assert net.options["pattern"] == "P1" and net.options["demand_multiplier"] == 1.1
    assert net.options["required_pressure"] == pytest.approx(0.1)
    assert net.sections["OPTIONS"] == [" Quality             Chlorine mg/L"]
    assert net.sections["ENERGY"][1].split() == ["Pump", "PU1", "Efficiency", "E1"]
    # nodes without coordinates are NaN; P2's polyline is J1, two vertices, J2
    assert np.isnan(net.node_xy[ids["J4"]]).all()
    np.testing.assert_allclose(net.link_geometry(lk["P2"]),
                               [[0, 0], [50, 10], [60, 20], [100, 0]])


def test_times_controls_rules_in_si():
    net = cim.load(HAND).water_network
    assert net.times == {
        "duration": 86400.0, "hydraulic_step": 1800.0, "quality_step": 300.0,
        "pattern_step": 7200.0, "pattern_start": 1800.0, "report_step": 3600.0,
        "report_start": 0.0, "rule_step": 360.0, "start_clocktime": 6 * 3600.0,
        "statistic": "none"}
    c = net.controls
    assert (c[0].condition, c[0].status, c[0].value) == ("below", "open", pytest.approx(1.524))
    assert c[1].value == pytest.approx(30 * PSI)                 # junction: pressure psi
    assert (c[2].condition, c[2].value, c[2].setting) == ("time", 23400.0,
                                                         pytest.approx(35 * PSI))
    assert (c[3].condition, c[3].value) == ("clocktime", 22 * 3600.0)
    assert (c[4].condition, c[4].value) == ("clocktime", 23.5 * 3600.0)
    r1, r2 = net.rules
    assert (r1.name, r1.priority, len(r1.premises), len(r1.then), len(r1.otherwise)) == (
        "R_1", 2.0, 3, 2, 1)
    p = r1.premises
    assert (p[0].object, p[0].attribute, p[0].relation) == ("tank", "level", "above")
    assert p[0].value == pytest.approx(18 * 0.3048)
    assert (p[1].logic, p[1].object, p[1].index, p[1].value) == ("and", "system", -1, 21600.0)
    assert (p[2].logic, p[2].value) == ("or", pytest.approx(40 * PSI))
    assert r1.then[0].value == "closed"
    assert r1.then[1].value == pytest.approx(50 * GPM)            # FCV setting: flow
    assert r1.otherwise[0].value == 1.1                           # pump speed
    assert r2.premises[0].value == pytest.approx(300 * GPM)
    assert r2.premises[1].value == 7200.0


@pytest.mark.parametrize("token,unit,h", [
    ("5", "", 5.0), ("13:50", "", 13 + 50 / 60), ("1:50", "pm", 13 + 50 / 60),
    ("12", "AM", 0.0), ("12", "pm", 12.0), ("0:30:36", "", 0.51), ("90", "MIN", 1.5),
    ("7200", "SECONDS", 2.0), ("2", "days", 48.0), ("1.5", "HOURS", 1.5),
    ("13", "PM", None), ("0:00:00:00", "", None), ("1:30", "MIN", None),
    ("5", "WEEKS", None), ("x", "", None)])
def test_epanet_time_formats(token, unit, h):
    got = hours(token, unit)
    assert got == (None if h is None else pytest.approx(h))


@needs_data
def test_si_code_means_lps_and_short_tank_lines_are_reservoirs():
    net = cim.load(WATER / "epanet-nrtestsuite/tests/small/JEP5-13.inp").water_network
    assert net.options["flow_units"] == "LPS" and net.options["headloss"] == "D-W"
    ids = {k: i for i, k in enumerate(net.node_ids)}
    assert net.node_type[ids["101"]] == "reservoir"
    assert net.node_elevation[[ids["101"], ids["102"]]].tolist() == [300.0, 250.0]
    k = list(net.link_ids).index("1")
    assert net.link_roughness[k] == pytest.approx(0.0021e-3)     # mm -> m
    assert net.link_diameter[k] == pytest.approx(0.5)
    assert net.link_setting[list(net.link_ids).index("701")] == -50.0
    assert cim.detect_format(WATER / "Net1.inp") == "epanet"


# ---- isolation valves sidecar ----------------------------------------------------------
def test_valves_sidecar_round_trip(tmp_path):
    src = _write(tmp_path, BASE)
    (tmp_path / "net.valves.csv").write_text("link,node\nP1,J1\nP2,J2\n")
    net = cim.load(src).water_network
    assert net.isolation_valves.tolist() == [[0, 0], [1, 1]]
    (tmp_path / "out").mkdir()
    out = cim.write_inp(net, tmp_path / "out" / "w.inp")
    assert (tmp_path / "out" / "w.valves.csv").read_text() == "link,node\nP1,J1\nP2,J2\n"
    assert cim.load(out).water_network.isolation_valves.tolist() == [[0, 0], [1, 1]]


def test_valves_sidecar_bad_reference(tmp_path):
    src = _write(tmp_path, BASE)
    side = tmp_path / "net.valves.csv"
    side.write_text("link,node\nP1,J1\nP9,J1\n")
    with pytest.raises(cim.MissingReferenceError) as e:
        cim.load(src)
    assert e.value.path == str(side) and e.value.line == 3 and e.value.obj_id == "P9"
    city = cim.load(src, lenient=True)
    assert city.water_network.isolation_valves.tolist() == [[0, 0]]
    assert city.report.n_skipped == 1


# ---- bad input ------------------------------------------------------------------------
@needs_data
@pytest.mark.parametrize("name,err,line,element", [
    ("bad_syntax", cim.FormatError, 330, "FOO"),
    ("bad_values", cim.MissingReferenceError, 56, "pipe2"),
    ("bad_times", cim.FormatError, 324, "Pattern Start")])
def test_invalid_reference_files(name, err, line, element):
    path = WATER / "invalid" / f"{name}.inp"
    with pytest.raises(err) as e:
        cim.load(path)
    msg = str(e.value)
    assert e.value.line == line and e.value.obj_id == element
    assert f"{name}.inp:{line}" in msg and element in msg
    city = cim.load(path, lenient=True)
    assert [(type(s), s.line) for s in city.report.skipped] == [(err, line)]
    assert city.water_network.n_nodes == 3


BAD = [  # (replace, by, error, line needle, element, message part)
    ("J2 12 2", "J2", cim.FormatError, "J2", "J2", "too few fields"),
    ("J2 12 2", "J2 twelve 2", cim.FormatError, "J2", "J2", "'twelve' is not a number"),
    ("P2 J1 J2 100 150 100", "P2 J1 J2 100 0 100", cim.ValueRangeError, "P2 J1", "P2",
     "diameter"),
    ("P2 J1 J2 100 150 100", "P2 J1 J2 -5 150 100", cim.ValueRangeError, "P2 J1", "P2",
     "length"),
    ("P2 J1 J2 100 150 100", "P2 J1 J9 100 150 100", cim.MissingReferenceError, "P2 J1", "P2",
     "node 'J9'"),
    ("J2 12 2", "J2 12 2 NOPAT", cim.MissingReferenceError, "J2", "J2", "pattern 'NOPAT'"),
    ("J2 12 2", "J1 12 2", cim.SchemaError, "J1 12 2", "J1", "duplicate node id 'J1'"),
    ("[CURVES]", "[PUMPS]\nPU1 J1 J2 HEAD C9\n[CURVES]", cim.MissingReferenceError, "PU1",
     "PU1", "curve 'C9'"),
    ("[OPTIONS]", "[CONTROLS]\nLINK PX OPEN AT TIME 3\n[OPTIONS]", cim.MissingReferenceError,
     "LINK PX", "LINK PX", "link 'PX'"),
    ("[OPTIONS]", "[TIMES]\nDuration 5 WEEKS\n[OPTIONS]", cim.FormatError, "Duration",
     "Duration", "bad time '5 WEEKS'"),
    ("[OPTIONS]", "[RULES]\nRULE A\nIF NODE NX HEAD > 3\nTHEN LINK P1 STATUS IS OPEN\n"
     "[OPTIONS]", cim.MissingReferenceError, "NODE NX", "RULE A", "node 'NX'"),
    ("Units LPS", "Units LPS\nColour blue", cim.FormatError, "Colour", "COLOUR",
     "unknown option"),
    ("Units LPS", "Units LITRES", cim.FormatError, "LITRES", "UNITS", "unknown flow units"),
    ("[OPTIONS]", "[STATUS]\nP1 0.5\n[OPTIONS]", cim.ValueRangeError, "P1 0.5", "P1",
     "not a setting"),
]


@pytest.mark.parametrize("old,new,err,needle,element,part", BAD,
                         ids=[b[5].split()[0] + str(k) for k, b in enumerate(BAD)])
def test_malformed_input(tmp_path, old, new, err, needle, element, part):
    text = BASE.replace(old, new, 1)
    path = _write(tmp_path, text)
    with pytest.raises(err) as e:
        cim.load(path)
    line = _line_of(text, needle) if not needle.startswith("J1 12") else \
        [k for k, s in enumerate(text.splitlines(), 1) if s.startswith("J1 ")][1]
    assert e.value.path == str(path) and e.value.line == line and e.value.obj_id == element
    assert part in str(e.value) and f"net.inp:{line}" in str(e.value)
    city = cim.load(path, lenient=True)             # lenient: skipped and reported
    assert city.report.skipped[0].line == line   # (and what needed the skipped object)


def test_lenient_keeps_the_rest(tmp_path):
    text = BASE.replace("P2 J1 J2 100 150 100", "P2 J1 J9 100 150 100\nP3 J1 J2 90 100 100")
    city = cim.load(_write(tmp_path, text), lenient=True)
    net = city.water_network
    assert list(net.link_ids) == ["P1", "P3"] and net.n_nodes == 3
    assert "node 'J9'" in str(city.report.skipped[0])
