"""OSM tag rules of the OSM reader: which ways are car roads, their lanes, speeds and
vehicle-class permissions, and ``turn:lanes`` arrows.

**Car roads.** A ``highway`` way is a car road unless its class is in :data:`NOT_CAR_ROADS`
(``track``, ``path``, ``bridleway``, ``cycleway``, ``footway``, ``steps``, ``pedestrian`` and
other non-street values: never car roads, whatever ``access`` says) or it is an area
(``area=yes``). ``highway=service`` is a road (class "service", a minor class) only
without ``access``, ``vehicle``, ``motor_vehicle`` or ``motorcar`` = no / private (or, with
them, with ``psv`` / ``bus`` = yes / designated: then for buses only).
``highway=busway`` is a road open to buses only.

**Vehicle classes** (SUMO's, :data:`cim.model.roads.VCLASSES`), from the most general tag to
the most specific (OSM's access hierarchy): ``access`` (no / agricultural / forestry /
military → none; private / permit keep every class: residents' and permit holders' trips
are part of the demand, and netconvert keeps them open too; else all), ``vehicle``,
``motor_vehicle``, ``motorcar`` (cars: passenger, hov, taxi, evehicle, private), ``hgv``
(truck, trailer), ``psv`` (bus, coach, taxi), ``bus`` (bus, coach), ``taxi``, ``bicycle``,
``foot``; each ``no`` removes its classes, each of yes / designated / permissive /
destination / customers / delivery adds them. ``highway=busway`` starts from bus, coach and
emergency. Lane overrides: ``busway[:both|:right|:left]=lane`` (the rightmost lane of that
direction is bus-only when the direction has more than one lane; ``right`` is the forward
direction, ``left`` the backward one), ``bus:lanes`` / ``psv:lanes`` (``[:forward|:backward]``,
lanes listed left to right: designated → bus-only, no → no buses), ``lanes:bus`` /
``lanes:psv`` counts (that many rightmost lanes bus-only, split per direction on two-way
roads).
"""

from __future__ import annotations

import math

from ..errors import ValueRangeError
from ..model.roads import ALL_VCLASSES, vclass_mask
from ._common import parse_number

_ONEWAY_YES = ("yes", "1", "true")
_ONEWAY_REVERSE = ("-1", "reverse")
_ONEWAY_NO = ("no", "0", "false")
_SPEED_WORDS = ("none", "signals", "walk", "variable", "unknown", "implicit")
_MPH = 1.609344
#: most lanes a way may have (toll plazas reach about 30)
MAX_LANES = 40
#: highway values that are never car roads
NOT_CAR_ROADS = frozenset({
    "footway", "path", "cycleway", "steps", "pedestrian", "bridleway", "track", "corridor",
    "elevator", "platform", "proposed", "construction", "raceway", "bus_stop", "via_ferrata",
    "traffic_signals", "crossing", "street_lamp", "abandoned", "razed", "escape", "emergency_bay",
    "rest_area", "services", "bus_guideway", "ladder", "planned", "disused"})
#: highway values that are walkways (with ``foot`` not ``no``)
FOOT_WAYS = {"footway": 2.0, "pedestrian": 5.0, "steps": 1.5, "path": 1.5, "corridor": 2.0,
             "living_street": 3.0}
#: other highway values that are walkways when ``foot`` is yes / designated / permissive
FOOT_IF_ALLOWED = {"cycleway": 2.0, "bridleway": 2.0, "track": 3.0, "service": 2.0}
_NO = ("no", "private", "agricultural", "forestry", "military", "permit", "discouraged")
#: access values that admit the owners' / permit holders' traffic (part of the demand)
_OWNERS = ("private", "permit")
_YES = ("yes", "designated", "permissive", "destination", "customers", "delivery", "official")

CARS = vclass_mask(["passenger", "hov", "taxi", "evehicle", "private"])
BUSES = vclass_mask(["bus", "coach"])
PSV = vclass_mask(["bus", "coach", "taxi"])
_NON_MOTOR = vclass_mask(["pedestrian", "bicycle", "wheelchair", "scooter"])
_RAIL_ETC = vclass_mask(["tram", "rail_urban", "rail", "rail_electric", "rail_fast", "ship",
                         "container", "cable_car", "subway", "aircraft", "drone"])
VEHICLES = ALL_VCLASSES & ~vclass_mask(["pedestrian", "wheelchair"])
MOTOR = ALL_VCLASSES & ~_NON_MOTOR
#: tag -> classes it names, most general first (the order in which they are applied)
_HIERARCHY = (("vehicle", VEHICLES), ("motor_vehicle", MOTOR), ("motorcar", CARS),
              ("hgv", vclass_mask(["truck", "trailer"])), ("psv", PSV), ("bus", BUSES),
              ("taxi", vclass_mask(["taxi"])), ("bicycle", vclass_mask(["bicycle"])),
              ("foot", vclass_mask(["pedestrian", "wheelchair"])))
PASSENGER = vclass_mask(["passenger"])


def is_car_road(tags: dict) -> bool:
    """True when a way with these tags is a car road (see the module docstring)."""
    hw = tags.get("highway")
    if hw is None or hw in NOT_CAR_ROADS or tags.get("area") == "yes":
        return False
    if hw == "service":
        closed = ("no", "private")
        return not any(str(tags.get(k, "")).lower() in closed for k in (
            "access", "vehicle", "motor_vehicle", "motorcar")) or any(
            str(tags.get(k, "")).lower() in ("yes", "designated") for k in ("psv", "bus"))
    return True


def foot_width(tags: dict) -> float | None:
    """Return the default width (m) of a way that is a walkway, None when it is not one."""
    hw = tags.get("highway")
    foot = str(tags.get("foot", "")).lower()
    if hw in FOOT_WAYS and foot != "no" and str(tags.get("access", "")).lower() != "no" \
            or hw in FOOT_WAYS and foot in _YES:
        return FOOT_WAYS[hw]
    if hw in FOOT_IF_ALLOWED and foot in _YES:
        return FOOT_IF_ALLOWED[hw]
    return None


def sidewalk_sides(tags: dict) -> tuple[int, ...]:
    """Return the sides (+1 left, −1 right of the way as drawn) of a car road with a
    sidewalk on the road itself: those that ``sidewalk`` / ``sidewalk:both|left|right``
    say (yes / both / left / right); none for no / none / separate (separate ones are
    mapped as footways); and, without any ``sidewalk`` tag, both sides unless the road is a
    motorway or trunk, a tunnel, or ``foot=no`` (people may walk along an ordinary street)."""
    keys = [k for k in tags if k == "sidewalk" or k.startswith("sidewalk:")]
    if not keys:
        hw = str(tags.get("highway", ""))
        if (hw.startswith(("motorway", "trunk")) or str(tags.get("foot", "")).lower() == "no"
                or str(tags.get("tunnel", "no")).lower() not in ("no", "false", "0")):
            return ()
        return (1, -1)
    v = str(tags.get("sidewalk", "")).lower()
    out = set({"both": (1, -1), "yes": (1, -1), "left": (1,), "right": (-1,)}.get(v, ()))
    if str(tags.get("sidewalk:both", "")).lower() == "yes":
        out |= {1, -1}
    for side, s in (("left", 1), ("right", -1)):
        if str(tags.get(f"sidewalk:{side}", "")).lower() == "yes":
            out.add(s)
    return tuple(sorted(out, reverse=True))


def access_mask(tags: dict) -> int:
    """Return the vehicle-class bit mask of a road way (module docstring)."""
    if tags.get("highway") == "busway":
        m = BUSES | vclass_mask(["emergency"])
    else:
        m = ALL_VCLASSES & ~_RAIL_ETC
        a = str(tags.get("access", "")).lower()
        if a in _NO and a not in _OWNERS:
            m = 0
    for key, bits in _HIERARCHY:
        v = str(tags.get(key, "")).lower()
        if v in _NO and v not in _OWNERS:
            m &= ~bits
        elif v in _YES:
            m |= bits
    return m


def maxspeed_kmh(value) -> float | None:
    """Return an OSM ``maxspeed`` in km/h ("50", "30 mph", "50;30"); None for zone values
    ("CN:urban", "DE:rural") and words ("none", "signals"), which mean the class default.
    Raises ValueRangeError for anything else."""
    if value is None:
        return None
    s = str(value).strip().lower().split(";")[0].strip()
    if ":" in s or s in _SPEED_WORDS:
        return None
    factor = 1.0
    if s.endswith("mph"):
        s, factor = s[:-3].strip(), _MPH
    elif s.endswith("km/h") or s.endswith("kmh"):
        s = s.rsplit("k", 1)[0].strip()
    v = parse_number(s, "maxspeed", minimum=1e-9)
    return v * factor


def lane_list(tags: dict, key: str, direction: str, oneway: bool) -> list[str] | None:
    """Return the ``key`` per-lane values ("a|b|c", left to right in the travel direction)
    for ``direction`` "forward" / "backward" along the way (plain ``key`` on a one-way
    road), or None."""
    v = tags.get(f"{key}:{direction}")
    if v is None and oneway:  # a one-way road's only direction
        v = tags.get(key)
    if v is None:
        return None
    return [s.strip().lower() for s in str(v).split("|")]


def road_fields(tags: dict) -> dict:
    """Return the :meth:`RoadNetworkBuilder.add_segment` keywords of a highway's tags, plus
    ``reverse`` (True for ``oneway=-1``: the segment runs against the way's direction).
    Lanes per direction: ``lanes:forward`` / ``lanes:backward``, else ``lanes`` split (the
    odd lane forward), else the number of ``turn:lanes`` entries. Raises ValueRangeError
    for bad numbers (``lanes=-2``, ``maxspeed=fast``)."""
    cls = str(tags.get("highway", "unclassified"))
    ow = str(tags.get("oneway", "")).strip().lower()
    implied = cls in ("motorway", "motorway_link") or tags.get("junction") in (
        "roundabout", "circular")
    reverse = ow in _ONEWAY_REVERSE
    oneway = ow in _ONEWAY_YES or reverse or (implied and ow not in _ONEWAY_NO)
    lanes = parse_number(tags.get("lanes"), "lanes", minimum=1)
    lf = parse_number(tags.get("lanes:forward"), "lanes:forward", minimum=1)
    lb = parse_number(tags.get("lanes:backward"), "lanes:backward", minimum=1)
    if lf is None and tags.get("turn:lanes:forward"):
        lf = len(str(tags["turn:lanes:forward"]).split("|"))
    if lb is None and tags.get("turn:lanes:backward"):
        lb = len(str(tags["turn:lanes:backward"]).split("|"))
    if lanes is None and oneway and tags.get("turn:lanes") and lf is None:
        lanes = len(str(tags["turn:lanes"]).split("|"))
    for what, v in (("lanes", lanes), ("lanes:forward", lf), ("lanes:backward", lb)):
        if v is not None and v > MAX_LANES:
            raise ValueRangeError(f"{what} = {v:g} is not valid (must be <= {MAX_LANES})")
    if reverse:
        lf, lb = lb, lf
    if oneway:
        lanes_forward, lanes_backward = (lf or lanes), 0
    elif lf is not None or lb is not None:
        rest = None if lanes is None else lanes - (lf or 0) - (lb or 0)
        lanes_forward = lf if lf is not None else max(1, rest or 1)
        lanes_backward = lb if lb is not None else max(1, rest or 1)
    elif lanes is not None:
        lanes_forward, lanes_backward = max(1, math.ceil(lanes / 2)), max(1, int(lanes // 2))
    else:
        lanes_forward = lanes_backward = None
    return dict(
        oneway=oneway, reverse=reverse, cls=cls,
        lanes_forward=None if lanes_forward is None else int(lanes_forward),
        lanes_backward=None if lanes_backward is None else int(lanes_backward),
        maxspeed_kmh=maxspeed_kmh(tags.get("maxspeed")),
        name=tags.get("name") or tags.get("name:en") or tags.get("ref") or "",
        tunnel=str(tags.get("tunnel", "no")).lower() not in ("no", "false", "0"),
        bridge=str(tags.get("bridge", "no")).lower() not in ("no", "false", "0"),
        width_m=parse_number(tags.get("width"), "width", minimum=1e-9))


def lane_masks(tags: dict, mask: int, n: int, direction: str, oneway: bool) -> list[int]:
    """Return the vehicle-class mask of each of the ``n`` lanes (index 0 = rightmost) of
    the link in ``direction`` ("forward" / "backward" along the way) of a road with class
    mask ``mask`` (bus-lane tags of the module docstring)."""
    out = [mask] * n
    for key in ("bus:lanes", "psv:lanes"):
        vals = lane_list(tags, key, direction, oneway)
        if vals is None or len(vals) != n:
            continue
        for j, v in enumerate(reversed(vals)):  # listed left to right; index 0 = rightmost
            if v in ("designated", "only"):
                out[j] = (BUSES if key == "bus:lanes" else PSV) | (
                    mask & vclass_mask(["emergency"]))
            elif v == "no":
                out[j] &= ~(BUSES if key == "bus:lanes" else PSV)
    if n > 1:
        side = "right" if direction == "forward" else "left"
        bw = {str(tags.get(k, "")).lower() for k in ("busway", "busway:both", f"busway:{side}")}
        if "lane" in bw:
            out[0] = BUSES | (mask & vclass_mask(["emergency"]))
        for key in ("lanes:bus", "lanes:psv"):
            k = _count(tags.get(f"{key}:{direction}"))
            if k is None:
                k = _count(tags.get(key))
                if k is not None and not oneway:
                    k = k / 2
            for j in range(min(int(math.ceil(k or 0)), n - 1)):
                out[j] = (BUSES if key == "lanes:bus" else PSV) | (
                    mask & vclass_mask(["emergency"]))
    return out


def _count(v) -> float | None:
    """A lane count tag (None when absent or not a number ≥ 0: such tags are ignored)."""
    try:
        return parse_number(v, "lanes", minimum=0)
    except ValueRangeError:
        return None


#: ``turn:lanes`` arrows -> movement class (l left, s straight, r right, t turnaround,
#: * unmarked: any)
_ARROWS = {"left": "l", "slight_left": "l", "sharp_left": "l", "through": "s", "none": "*",
           "": "*", "right": "r", "slight_right": "r", "sharp_right": "r", "reverse": "t",
           "merge_to_left": "s", "merge_to_right": "s"}


def turn_arrows(tags: dict, direction: str, oneway: bool, n: int) -> list[set] | None:
    """Return per lane (index 0 = rightmost) the movement classes of ``turn:lanes``
    (``[:forward|:backward]``) for a link of ``n`` lanes, or None (absent, or a lane count
    that does not match ``n``)."""
    vals = lane_list(tags, "turn:lanes", direction, oneway)
    if vals is None or len(vals) != n:
        return None
    return [{_ARROWS.get(a.strip(), "s") for a in v.split(";")} for v in reversed(vals)]
