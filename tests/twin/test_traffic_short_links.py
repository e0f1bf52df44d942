"""Very short links (a few m, shorter than a vehicle drives in one step): a vehicle crosses
at most one node per step and is queued on one lane only (the Lihu teleports of issue 10
part 6: a vehicle that crossed a 3 m link in the step it entered it was served again at that
link's stop line with its stale next hop, queued on its own lane twice and stood behind
itself until teleported)."""

import numpy as np
import pytest

from twin.kernels import traffic as tr

SPEED = 13.9  # m/s: ~14 m per 1 s step, several times the short link


def chain(short=3.0, lanes=1):
    """Links 0 (400 m), 1 (``short`` m), 2 (400 m), 3 (``short`` m), 4 (400 m) in a straight
    line, drawn node to node (no junction paths), no signals."""
    x = np.cumsum([0.0, 400.0, short, 400.0, short, 400.0])
    xy = np.stack([x, np.zeros_like(x)], axis=1)
    lengths = [400.0, short, 400.0, short, 400.0]
    return tr.Network(xy, np.arange(5), np.arange(1, 6), lengths, [lanes] * 5, [SPEED] * 5)


@pytest.mark.parametrize("short", [3.0, 0.5, 11.0])
@pytest.mark.parametrize("lanes", [1, 2])
def test_short_links_cross_at_free_speed(short, lanes):
    net = chain(short, lanes)
    n = 60
    trips = tr.Trips(np.arange(n) * 4.0, np.zeros(n, int), np.full(n, 4))
    params = tr.TrafficParams(debug=True)  # overlap / backward motion / conservation checks
    seen_twice = []
    links_visited = [set() for _ in range(n)]

    def record(s, stats):
        cnt, buf, slot0 = s.lane_count[0], s.lane_buf[0], s.lane_slot0
        on_lanes = np.concatenate([buf[slot0[g]:slot0[g] + cnt[g]] for g in range(cnt.size)])
        if np.unique(on_lanes).size != on_lanes.size:
            seen_twice.append(s.time)
        for g in range(cnt.size):  # each queued vehicle is on the link of its lane
            vs = buf[slot0[g]:slot0[g] + cnt[g]]
            assert (s.v_lane[vs] == g).all() and (s.v_link[vs] == net.lane_link[g]).all()
        active = np.flatnonzero(s.v_link >= 0)
        for v in active:
            links_visited[v].add(int(s.v_link[v]))

    res = tr.run(net, trips, params, until=600.0, on_step=record)
    assert not seen_twice, f"a vehicle queued twice at t = {seen_twice[:5]}"
    c = tr.counts(res.state)
    assert c["teleported"][0] == 0 and c["stuck"][0] == 0
    assert c["arrived"][0] == n
    done = res.trips
    assert (done["teleports"] == 0).all()
    # free flow: 1206 m (+ 2 short links) at about the link speed, no stop behind itself
    assert done["travel_time"].max() < 1.5 * (1200.0 + 2 * short) / SPEED
    # at most one node per step: every vehicle ends a step on each short link
    assert all(seen == {0, 1, 2, 3, 4} for seen in links_visited)
