"""Fuzzing the text and XML readers (EPANET .inp, MATPOWER .m, ESRI grid, CityGML, OSM):
mutated valid files load or raise a CIMError naming the file; XML entity expansion and
external entities are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cim

from .fuzztools import (
    FUZZ,
    LAUGHS,
    XXE,
    XXE_PARAM,
    check_load,
    text_mutation,
    write_case,
    xml_mutation,
)
from .test_citygml_real_crs import PLATEAU

HERE = Path(__file__).resolve().parent
INP = (HERE / "epanet_hand.inp").read_text()

MATPOWER = """function mpc = case4fuzz
mpc.version = '2';
mpc.baseMVA = 100;
%% bus data
mpc.bus = [
\t1\t3\t0\t0\t0\t0\t1\t1.02\t0\t110\t1\t1.1\t0.9;
\t2\t1\t50\t10\t0\t0\t1\t1\t0\t110\t1\t1.1\t0.9;
\t3\t2\t20\t5\t0\t0\t1\t1\t0\t110\t1\t1.1\t0.9;
\t4\t1\t30\t8\t0\t5\t1\t1\t0\t10\t1\t1.1\t0.9;
];
mpc.gen = [
\t1\t0\t0\t300\t-300\t1.02\t100\t1\t250\t10;
\t3\t40\t0\t100\t-100\t1.01\t100\t1\t100\t0;
];
mpc.branch = [
\t1\t2\t0.01\t0.05\t0.02\t250\t250\t250\t0\t0\t1\t-360\t360;
\t2\t3\t0.02\t0.06\t0.02\t150\t150\t150\t0\t0\t1\t-360\t360;
\t2\t4\t0.005\t0.1\t0\t100\t100\t100\t1.02\t0\t1\t-360\t360;
];
mpc.bus_name = {
\t'one';
\t'two';
\t'three';
\t'four';
};
"""

GRID = """ncols 4
nrows 3
xllcorner 500000.0
yllcorner 3500000.0
cellsize 10
NODATA_value -9999
1 2 3 4
5 -9999 7 8
9 10 11 12
"""

OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="fuzz">
 <node id="1" lat="31.500" lon="120.300"/>
 <node id="2" lat="31.500" lon="120.301"><tag k="highway" v="traffic_signals"/></node>
 <node id="3" lat="31.501" lon="120.301"/>
 <node id="4" lat="31.501" lon="120.300"/>
 <way id="10">
  <nd ref="1"/>
  <nd ref="2"/>
  <nd ref="3"/>
  <tag k="highway" v="primary"/>
  <tag k="lanes" v="2"/>
  <tag k="maxspeed" v="50"/>
  <tag k="oneway" v="yes"/>
 </way>
 <way id="11">
  <nd ref="1"/>
  <nd ref="2"/>
  <nd ref="3"/>
  <nd ref="4"/>
  <nd ref="1"/>
  <tag k="building" v="yes"/>
  <tag k="height" v="12 m"/>
  <tag k="building:levels" v="4"/>
 </way>
 <relation id="20">
  <member type="way" ref="11" role="outer"/>
  <tag k="type" v="multipolygon"/>
 </relation>
</osm>
"""

CASES = {"inp": (INP, ".inp"), "m": (MATPOWER, ".m"), "asc": (GRID, ".asc")}


def test_seeds_load():
    for text, suffix in list(CASES.values()) + [(PLATEAU, ".gml"), (OSM, ".osm")]:
        assert check_load(write_case(text, suffix)) == "loaded", suffix


@pytest.mark.parametrize("kind", sorted(CASES))
@FUZZ
@given(data=st.data())
def test_fuzz_text(kind, data):
    text, suffix = CASES[kind]
    check_load(write_case(data.draw(text_mutation(text)), suffix),
               lenient=data.draw(st.booleans()))


@pytest.mark.parametrize("kind", ["citygml", "osm"])
@FUZZ
@given(data=st.data())
def test_fuzz_xml(kind, data):
    text, suffix = (PLATEAU, ".gml") if kind == "citygml" else (OSM, ".osm")
    check_load(write_case(data.draw(xml_mutation(text)), suffix),
               lenient=data.draw(st.booleans()))


@pytest.mark.parametrize("kind", ["citygml", "osm"])
@pytest.mark.parametrize("attack", ["laughs", "xxe", "xxe_param"])
def test_xml_entities_refused(kind, attack):
    text, suffix = (PLATEAU, ".gml") if kind == "citygml" else (OSM, ".osm")
    head = {"laughs": LAUGHS, "xxe": XXE, "xxe_param": XXE_PARAM}[attack]
    body = text.split("\n", 1)[1]  # without the XML declaration
    ref = {"laughs": "&j;", "xxe": "&x;", "xxe_param": ""}[attack]
    body = body.replace('v="primary"', f'v="primary{ref}"').replace(
        ">411<", f">411{ref}<")
    p = write_case(head + body, suffix)
    for lenient in (False, True):
        with pytest.raises(cim.FormatError) as ei:
            cim.load(p, lenient=lenient)
        assert str(p) in str(ei.value)
        assert "passwd" not in str(ei.value) or "root:" not in str(ei.value)
