"""The traffic kernel against SUMO on a pilot district written by ``cim.write_sumo``.

The Liangxi district (``cim.load_district``) is written as a SUMO network by
``cim.write_sumo`` (our link ids as edge ids, our lanes, connections and signal plans);
``randomTrips.py`` + ``duarouter`` make a light demand on it; ``sumo`` and the twin (loading
that same ``.net.xml`` with ``cim.load`` and the routes with ``agents.read_trips``) run it
(:mod:`benchmarks.traffic_sumo_nets`). Checked as issue 10 asks: every trip accounted for,
completed trips within 2 % of SUMO's, per-edge counts correlated >= 0.9, mean trip time
within 15 %.
"""

import pytest

import cim
from cim.districts import district_files
from cim.errors import CIMError

from .test_traffic_sumo_nets import _bench, compare_with_sumo

pytest.importorskip("sumo", reason="eclipse-sumo is not installed: no SUMO to compare with")


@pytest.mark.slow
def test_liangxi_through_write_sumo_against_sumo(tmp_path):
    b = _bench()
    try:
        district_files("liangxi")
    except CIMError as e:
        pytest.skip(f"district assets missing: {e}")
    case = {"name": "liangxi", "district": "liangxi", "period": 3.0, "end": 300.0}
    sumo, ours = compare_with_sumo(b, case, str(tmp_path), 100)
    # the written network is the district's: its link ids are SUMO's edge ids
    city = cim.load(str(tmp_path / "liangxi.net.xml"))
    assert set(sumo["edge_counts"]) <= set(city.roads.link_ids.astype(str).tolist())
