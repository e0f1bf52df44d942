"""Fuzzing the readers that arrived last — SWMM .inp (text) and SUMO .net.xml (XML): mutated
valid files load or raise a CIMError naming the file; XML entity expansion and external
entities are refused."""

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

HERE = Path(__file__).resolve().parent
SWMM = (HERE / "swmm_small.inp").read_text()


def _sumo_seed() -> str:
    sumo = pytest.importorskip("sumo")
    p = Path(sumo.SUMO_HOME) / "tools" / "game" / "cross" / "cross.net.xml"
    if not p.exists():
        pytest.skip(f"{p} is not shipped by this eclipse-sumo")
    return p.read_text()


def test_seeds_load():
    assert check_load(write_case(SWMM, ".inp")) == "loaded"
    assert check_load(write_case(_sumo_seed(), ".net.xml")) == "loaded"


@FUZZ
@given(data=st.data())
def test_fuzz_swmm(data):
    check_load(write_case(data.draw(text_mutation(SWMM)), ".inp"),
               lenient=data.draw(st.booleans()))


@FUZZ
@given(data=st.data())
def test_fuzz_sumo_net(data):
    text = _sumo_seed()
    check_load(write_case(data.draw(xml_mutation(text)), ".net.xml"),
               lenient=data.draw(st.booleans()))


@pytest.mark.parametrize("attack", ["laughs", "xxe", "xxe_param"])
def test_sumo_xml_entities_refused(attack):
    text = _sumo_seed()
    head = {"laughs": LAUGHS, "xxe": XXE, "xxe_param": XXE_PARAM}[attack]
    body = text.split("?>", 1)[1] if text.lstrip().startswith("<?xml") else text
    ref = {"laughs": "&j;", "xxe": "&x;", "xxe_param": ""}[attack]
    body = body.replace('<edge id="', f'<edge name="n{ref}" id="', 1)
    p = write_case(head + body, ".net.xml")
    for lenient in (False, True):
        with pytest.raises(cim.CIMError) as ei:
            cim.load(p, lenient=lenient)
        assert str(p) in str(ei.value)
