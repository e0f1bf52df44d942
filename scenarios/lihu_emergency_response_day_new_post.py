"""Lihu emergency morning with one more ambulance post — what-if on lihu_emergency_response_day.py.

The same busy morning (same traffic, the same calls at the same times: same seed), with a
new ambulance post of 3 ambulances where it helps most on paper: at the residents-weighted
centre of the planning zone whose residents live farthest, on average, from a hospital. The
dispatch centre now also sends ambulances from the post (a post is not a hospital: patients
still go to the nearest hospital). Compared with the baseline by ``twin run``: response-time
median and 90th percentile per call type and zone, ambulance utilisation.
"""

import numpy as np

import twin
from agents.responders import Locator
from cim.model import Attributes, Sites
from twin.cli.scenario_file import main, sibling

BASELINE = "lihu_emergency_response_day.py"
POST_AMBULANCES = 3


def post_site(city) -> tuple[np.ndarray, str]:
    """(x, y) and zone of the new post (see the docstring)."""
    b = city.buildings
    loc = Locator(city)
    xy = b.footprint.centroids()[:, :2]
    res = np.nan_to_num(b.residents)
    zones = loc.zone(xy).astype(str)
    hosp = city.sites.xyz[np.asarray(city.sites.kind) == "hospital", :2]
    dist = np.min(np.hypot(xy[:, None, 0] - hosp[None, :, 0],
                           xy[:, None, 1] - hosp[None, :, 1]), axis=1)
    names = sorted(set(zones.tolist()))
    mean = [np.average(dist[zones == z], weights=res[zones == z] + 1e-9) for z in names]
    zone = names[int(np.argmax(mean))]
    sel = zones == zone
    return np.average(xy[sel], axis=0, weights=res[sel] + 1e-9), zone


def scenario(quick: bool = False) -> twin.Scenario:
    sc = sibling(__file__, BASELINE).scenario(quick)
    city = sc.city
    (x, y), zone = post_site(city)
    s = city.sites
    city.sites = Sites(np.append(s.ids, "new-ambulance-post").astype(object),
                       np.append(s.kind, "ambulance_station").astype(object),
                       np.append(s.name, f"New ambulance post ({zone})").astype(object),
                       np.vstack([s.xyz, [x, y, 0.0]]), np.append(s.capacity, POST_AMBULANCES),
                       Attributes.concat([s.attributes, Attributes(1)]))
    dispatch = sc.agents[0]
    fleet = dict(dispatch.units)
    fleet["ambulance"] = [fleet["ambulance"], ("ambulance_station", POST_AMBULANCES)]
    dispatch.units = fleet
    sc.name, sc.description = "lihu_emergency_response_day_new_post", __doc__.splitlines()[0]
    return sc


if __name__ == "__main__":
    raise SystemExit(main(__file__))
