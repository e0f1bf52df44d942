"""The pilot districts' lifelines (assets/<d>/water.inp, power.json): loaded through
cim.load_district, checked against EPANET (wntr) and pandapower."""

from __future__ import annotations

import filecmp
import warnings

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import cim
from cim.districts import ASSETS

DISTRICTS = ("lihu", "liangxi")


@pytest.fixture(scope="module", params=DISTRICTS)
def city(request):
    return request.param, cim.load_district(request.param)


def test_lifelines_load_and_line_up(city):
    name, c = city
    w, p = c.water_network, c.power_grid
    assert w is not None and p is not None
    assert w.n_nodes > 1000 and p.n_nodes > 1000
    x0, y0, x1, y1 = c.buildings.footprint.vertices[:, 0].min(), \
        c.buildings.footprint.vertices[:, 1].min(), c.buildings.footprint.vertices[:, 0].max(), \
        c.buildings.footprint.vertices[:, 1].max()
    for net in (w, p):
        bx0, by0, bx1, by1 = net.bounds()
        assert bx0 > x0 - 500 and by0 > y0 - 500 and bx1 < x1 + 500 and by1 < y1 + 500
    # street junctions sit on the road nodes they are named after
    road = c.roads.id_maps()["road_node"]
    j = [i for i, s in enumerate(w.node_ids) if s.startswith("j-n")]
    r = [road[w.node_ids[i][2:]] for i in j]
    assert np.allclose(w.node_xy[j], c.roads.node_xy[r], atol=0.01)


def test_every_consumer_has_demand_and_power(city):
    _, c = city
    b = c.buildings
    w, p = c.water_network, c.power_grid
    users = set(b.ids[(b.residents > 0) | (b.jobs > 0)])
    assert users <= set(w.demands.category)
    assert set(b.ids) == set(p.loads.element[p.loads.kind == "building"])
    signals = set(c.roads.node_ids[c.roads.node_signal])
    assert signals and signals == set(p.loads.element[p.loads.kind == "signal"])
    pumps = set(w.link_ids[w.link_type == "pump"])
    assert pumps and pumps == set(p.loads.element[p.loads.kind == "pump"])


def test_every_junction_reaches_a_source(city):
    _, c = city
    w = c.water_network
    ok = w.link_status != "closed"
    g = coo_matrix((np.ones(ok.sum()), (w.link_from[ok], w.link_to[ok])),
                   shape=(w.n_nodes, w.n_nodes))
    _, lab = connected_components(g, directed=False)
    src = np.isin(w.node_type, ["reservoir", "tank"])
    assert np.isin(lab, lab[src]).all()
    # the power grid: every in-service bus reaches an external grid
    p = c.power_grid
    on = p.link_in_service
    g = coo_matrix((np.ones(on.sum()), (p.link_from[on], p.link_to[on])),
                   shape=(p.n_nodes, p.n_nodes))
    _, lab = connected_components(g, directed=False)
    assert np.isin(lab, lab[p.gens.bus]).all()


@pytest.mark.parametrize("name", DISTRICTS)
def test_water_epanet_24h(name, tmp_path):
    wntr = pytest.importorskip("wntr")
    warnings.filterwarnings("ignore")
    wn = wntr.network.WaterNetworkModel(str(ASSETS / name / "water.inp"))
    assert wn.options.time.duration == 24 * 3600
    res = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(tmp_path / name))
    pres = res.node["pressure"]
    # service junctions: the street nodes (station internals excluded)
    street = [j for j in wn.junction_name_list if j.startswith("j-n")]
    hourly = wn.patterns["residential"].multipliers
    assert len(hourly) == 24
    day = pres[street]          # every hour, the peak hour included
    assert day.min().min() >= 20.0 and day.max().max() <= 50.0
    tanks = wn.tank_name_list
    assert tanks
    level = res.node["head"][tanks] - np.array([wn.get_node(t).elevation for t in tanks])
    for t in tanks:
        tk = wn.get_node(t)
        assert level[t].min() > tk.min_level + 0.5 and level[t].max() < tk.max_level - 0.5
    v = res.link["velocity"][wn.pipe_name_list]
    assert v.max().max() < 2.0


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTRICTS)
def test_power_pandapower_base_and_n1(name):
    pp = pytest.importorskip("pandapower")
    top = pytest.importorskip("pandapower.topology")
    net = pp.from_json(str(ASSETS / name / "power.json"))
    pp.runpp(net)
    assert net.converged
    vm = net.res_bus.vm_pu
    assert vm.min() >= 0.95 and vm.max() <= 1.05
    assert net.res_line.loading_percent.max() <= 100.0
    assert net.res_trafo.loading_percent.max() <= 100.0
    # N-1 on a sample of in-service lines: most outages leave every load supplied, some not
    rng = np.random.default_rng(7)
    lines = net.line.index[net.line.in_service].to_numpy()
    sample = rng.choice(lines, 150, replace=False)
    cut = 0
    for k in sample:
        net.line.at[k, "in_service"] = False
        dead = top.unsupplied_buses(net)
        cut += bool(net.load.bus.isin(list(dead)).any())
        net.line.at[k, "in_service"] = True
    assert 0 < cut < 0.5 * len(sample)
    # a substation transformer: the area stays supplied, its sister transformer takes it
    k = int(net.trafo.index[0])
    net.trafo.at[k, "in_service"] = False
    assert not net.load.bus.isin(list(top.unsupplied_buses(net))).any()
    pp.runpp(net)
    assert net.converged


@pytest.mark.slow
def test_generation_is_deterministic(tmp_path):
    from assets.generate import build_district, write_district

    for run in ("a", "b"):
        d = build_district("liangxi")
        write_district(d, "liangxi", tmp_path / run)
    for f in ("water.inp", "water.valves.csv", "power.json", "manifest.json"):
        assert filecmp.cmp(tmp_path / "a" / f, tmp_path / "b" / f, shallow=False), f
        assert filecmp.cmp(tmp_path / "a" / f, ASSETS / "liangxi" / f, shallow=False), f
