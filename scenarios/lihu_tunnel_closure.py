"""What if the Lihu Avenue tunnel under Zhouxin Road closes at 08:00 in the morning peak?

The baseline morning peak (``lihu_morning_peak.py``: same demand, same seed), with both bores
of the 420 m tunnel that carries Lihu Avenue under Zhouxin Road closed at 08:00 — an incident
or a flooded underpass — and not reopened before 10:00. Drivers learn of the closure at once
and re-route over the surface streets; the comparison with the baseline shows what the
district loses: vehicle-hours, trip times, delays and the links that take the diverted
traffic.

Quick version (``--quick``): the baseline's busiest half hour, 07:45–08:15, closure at 08:00.
"""

import datetime as dt

import twin
from twin.cli.scenario_file import main, sibling
from twin.kernels import traffic

BASELINE = "lihu_morning_peak.py"
TUNNEL = ("lihu_avenue-045:f", "lihu_avenue-045:b")  # Lihu Avenue under Zhouxin Road
CLOSED_AT = dt.time(8, 0)


def scenario(quick: bool = False) -> twin.Scenario:
    sc = sibling(__file__, BASELINE).scenario(quick)
    at = (dt.datetime.combine(sc.start.date(), CLOSED_AT) - sc.start).total_seconds()
    sc.events += [traffic.closure(link, at=at) for link in TUNNEL]
    sc.name, sc.description = "lihu_tunnel_closure", __doc__.splitlines()[0]
    return sc


if __name__ == "__main__":
    raise SystemExit(main(__file__))
