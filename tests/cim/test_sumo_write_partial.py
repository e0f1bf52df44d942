"""cim.write_sumo on a network whose connection table covers only some junctions (OSM with a
turn restriction): the restricted junction keeps exactly its rows, the others keep their turns."""

from __future__ import annotations

import numpy as np
import pytest

import cim
from cim.formats.sumo_write import netconvert_bin

from .test_osm_turns import CROSS, arms, no_left, osm, write

pytestmark = pytest.mark.skipif(netconvert_bin() is None, reason="netconvert not installed")


def _turn_pairs(roads):
    c = roads.connections
    ids = np.asarray(roads.link_ids).astype(str)
    return {(ids[f], ids[t]) for f, t in zip(c.from_link, c.to_link)}


def test_restricted_osm_network_round_trips_through_sumo(tmp_path):
    city = cim.load(write(tmp_path, osm(CROSS + arms() + no_left())))
    out = tmp_path / "restricted.net.xml"
    cim.write_sumo(city, out)
    back = cim.load(out).roads
    got = _turn_pairs(back)
    assert ("way/11:f", "way/14:f") not in got          # the restriction survives
    assert ("way/11:f", "way/12:f") in got              # the straight-on turn beside it too
    # the T junction E has no rows in the OSM table: its turns are netconvert's, not deleted
    at_e = {p for p in got if p[0] == "way/12:f"}
    assert {("way/12:f", "way/15:f"), ("way/12:f", "way/16:f")} <= at_e
