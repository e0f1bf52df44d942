"""The dispatch centre as a runtime process: :class:`DispatchProcess` (a
:class:`twin.MesaProcess` stepping :class:`~agents.responders.dispatch.DispatchModel`).

::

    from agents.responders import DispatchProcess, incident
    disp = DispatchProcess(incidents=[incident("fire", at=600, building="b123")],
                           generate={"scale": 1.0}, dt=1.0)
    sc = twin.Scenario(city, duration=3 * 3600, kernels=[traffic.TrafficProcess(), ...],
                       agents=[disp], couplings={"dispatch/speed_factor": "flood/speed_factor"})
    run = twin.run(sc, out=...); run.table("dispatch", "calls"); twin.kpis(run)

Records (layer ``name``): ``units_busy``, ``calls_queued`` (requested, no unit free yet),
``calls_open`` (received, no unit on scene yet), ``unit_stage`` per unit (0 free, else the
stage of its call: :data:`~agents.responders.dispatch.STAGE_NAMES`), ``unit_x``/``unit_y``
per unit (m: on the road while driving, else at its station, the scene or the hospital;
the viewer draws them as points). Table ``calls`` (dim
``call``): one row per call, written when its unit is back at its station (the rest at the
end): :data:`CALL_COLUMNS`. KPIs: :mod:`agents.responders.kpis`.

Read ports: ``speed_factor`` and ``capacity_factor`` (road_link, 0..1), e.g. from a flood
kernel: links below :data:`~agents.responders.routing.IMPASSABLE` are not driven on.
The dispatcher's ``dt`` should equal the traffic kernel's (arrivals are then seen at the
step they happen, and a crew's isolation event is applied at its arrival time).
"""

from __future__ import annotations

import numpy as np

from twin.core.kernel import Draw, LayerData, Spec, Table
from twin.core.mesa_process import MesaProcess

from . import kpis as _kpis
from .dispatch import DispatchModel
from .errors import DispatchError
from .flood_calls import FloodCallRule, flood_calls_for
from .incidents import INCIDENT_TYPES, Incidents, generate_incidents
from .places import Locator, make_fleet

_LINK = ("road_link",)

#: the calls table: column -> (dtype, fill, units). Times are s from the scenario start
#: (NaN: did not happen by the end); ``call_response_s`` = arrival on scene − call time;
#: ``call_est_travel_s`` the dispatcher's live estimate of the drive; ``call_trip_scene``
#: the traffic trip (id in the traffic layer's trips table) to the scene, ``call_trip`` the
#: last one (back to the station); ``call_stuck`` a trip was removed as stuck;
#: ``call_from_road`` the unit was on its way home from another call (no turnout);
#: ``call_redirected`` its unit left the way home for another call (``call_back_s`` is then
#: that moment); ``call_reroutes`` times the unit was sent round water that cut its route;
#: ``call_staging_link`` the passable link a scene on a flooded link was served from.
CALL_COLUMNS = {
    "call_id": (np.int64, -1, ""), "call_type": (str, "", ""),
    "call_building": (str, "", ""), "call_road_link": (str, "", ""),
    "call_water_link": (str, "", ""), "call_power_link": (str, "", ""),
    "call_zone": (str, "", ""), "call_time_s": (np.float64, np.nan, "s"),
    "call_priority": (np.int64, -1, ""), "call_unit": (str, "", ""),
    "call_unit_kind": (str, "", ""), "call_queued": (np.int8, 0, ""),
    "call_dispatched_s": (np.float64, np.nan, "s"), "call_departed_s": (np.float64, np.nan, "s"),
    "call_arrived_s": (np.float64, np.nan, "s"), "call_cleared_s": (np.float64, np.nan, "s"),
    "call_hospital_s": (np.float64, np.nan, "s"), "call_back_s": (np.float64, np.nan, "s"),
    "call_response_s": (np.float64, np.nan, "s"),
    "call_est_travel_s": (np.float64, np.nan, "s"), "call_trip": (np.int64, -1, ""),
    "call_trip_scene": (np.int64, -1, ""),
    "call_scripted": (np.int8, 0, ""), "call_stuck": (np.int8, 0, ""),
    "call_from_road": (np.int8, 0, ""), "call_redirected": (np.int8, 0, ""),
    "call_reroutes": (np.int64, 0, ""), "call_staging_link": (str, "", ""),
}
#: the ``unit_links`` table: each road link a unit entered (seen at the dispatcher's step
#: after the traffic kernel's), with the flood ``speed_factor`` read then (1 when none)
LEG_COLUMNS = {
    "leg_trip": (np.int64, -1, ""), "leg_call": (np.int64, -1, ""),
    "leg_unit": (str, "", ""), "leg_road_link": (str, "", ""),
    "leg_enter_s": (np.float64, np.nan, "s"), "leg_speed_factor": (np.float64, np.nan, "1"),
}


class DispatchProcess(MesaProcess):
    """Incidents, dispatch and responders of a run (see the module docstring).

    incidents : scripted incidents (:func:`~agents.responders.incidents.incident` results,
    or one :class:`Incidents`); generate : keyword arguments of
    :func:`~agents.responders.incidents.generate_incidents` (``scale``, ``types``,
    ``rates``, ``rain_factor``…) to draw Poisson incidents, or None for none; units : the
    fleet (:func:`~agents.responders.places.make_fleet`); types : {type: IncidentType}
    (default :data:`INCIDENT_TYPES`); dt : s between steps; traffic : the traffic kernel's
    name; name : layer name; redirect : units on their way home can take calls
    (:mod:`~agents.responders.live`; default False: a returning unit is not available);
    flood_calls : a :class:`~agents.responders.flood_calls.FloodCallRule` (or True for the
    defaults) to make flooding calls from the coupled ``building_depth`` and
    ``speed_factor`` (:mod:`~agents.responders.flood_calls`); None: none.
    """

    reads = {"speed_factor": Spec(_LINK, "1"), "capacity_factor": Spec(_LINK, "1"),
             "building_depth": Spec(("building",), "m")}
    tables = {"calls": Table("call", CALL_COLUMNS), "unit_links": Table("leg", LEG_COLUMNS)}
    outputs = {"units_busy": Spec((), "1"), "calls_queued": Spec((), "1"),
               "calls_open": Spec((), "1"), "unit_stage": Spec(("unit",), "1"),
               "unit_x": Spec(("unit",), "m"), "unit_y": Spec(("unit",), "m")}
    #: the viewer draws the units as glyphs coloured by their call's stage
    draw = {"unit_stage": Draw("points", cmap="tab10", clim=(0, 9), x="unit_x", y="unit_y",
                               label="responders")}

    def __init__(self, incidents=None, *, generate: dict | None = None, units=None,
                 types: dict | None = None, dt: float = 1.0, traffic: str = "traffic",
                 name: str = "dispatch", redirect: bool = False, flood_calls=None):
        super().__init__(self._make, dt=dt, name=name, outputs=dict(self.outputs))
        if isinstance(incidents, Incidents):
            incidents = [incidents]
        self.incidents = Incidents.concat(list(incidents or []))
        self.generate = None if generate is None else dict(generate)
        self.units = units
        self.types = dict(INCIDENT_TYPES if types is None else types)
        self.traffic = traffic
        self.redirect = bool(redirect)
        self.flood_calls = FloodCallRule() if flood_calls is True else flood_calls

    def config(self) -> dict:
        inc = self.incidents
        fc = self.flood_calls
        return {"dt": self.dt, "traffic": self.traffic, "generate": self.generate,
                "redirect": self.redirect, "flood_calls": None if fc is None else vars(fc),
                "units": self.units, "types": {k: vars(v) for k, v in self.types.items()},
                "incidents": {c: np.asarray(getattr(inc, c)).tolist() for c in inc.COLUMNS},
                "incident_details": list(inc.details)}

    # ---- setup -----------------------------------------------------------------------------
    def _make(self, ctx) -> DispatchModel:
        sc = ctx.scenario
        try:
            tr = ctx.kernel(self.traffic)
        except KeyError:
            raise DispatchError(f"{self.name}: the scenario has no traffic kernel "
                              f"{self.traffic!r} for the units to drive in") from None
        if not hasattr(tr, "insert_trips"):
            raise DispatchError(f"{self.name}: kernel {self.traffic!r} cannot insert trips")
        city = ctx.city
        loc = Locator(city, (tr.net.turn_from, tr.net.turn_to_arr))
        parts = [self.incidents]
        if self.generate is not None:
            start = sc.start.hour * 3600 + sc.start.minute * 60 + sc.start.second
            opts = {"start_s": float(start), **self.generate}
            parts.append(generate_incidents(city, float(sc.duration), ctx.rng, **opts))
        inc = Incidents.concat(parts)
        inc = inc if not len(inc) else _select(inc, inc.time < float(sc.duration))
        links, xy = loc.place(inc)
        fleet = make_fleet(city, loc, self.units)
        sites = city.sites
        hosp = sites.kind.astype(str) == "hospital"
        hospitals = loc.nearest_link(sites.xyz[hosp, :2]) if hosp.any() else np.zeros(0, int)
        self.coords = {"unit": fleet.ids.astype(str),
                       "unit_kind": (("unit",), fleet.kind.astype(str)),
                       "unit_site": (("unit",), fleet.site.astype(str)),
                       "unit_home_x": (("unit",), fleet.xy[:, 0]),
                       "unit_home_y": (("unit",), fleet.xy[:, 1])}
        self.layer_attrs = {"n_calls": int(len(inc)), "n_units": int(len(fleet)),
                            "duration_s": float(sc.duration)}
        fc = None if self.flood_calls is None else flood_calls_for(city, loc, ctx.seed,
                                                                   self.flood_calls)
        return DispatchModel(ctx, inc, (links, xy, loc.zone(xy)), fleet, hospitals,
                             types=self.types, dt=sc.kernel_dt(self), traffic=self.traffic,
                             hospital_xy=sites.xyz[hosp, :2], redirect=self.redirect,
                             flood_calls=fc)

    # ---- the calls table ----------------------------------------------------------------------
    def on_checkpoint(self, final: bool, ctx) -> None:
        m = self.model
        self._legs(ctx)
        C = m.calls
        done = np.isfinite(C["back"]) & ~m.flushed
        if final:
            done = ~m.flushed
        sel = np.flatnonzero(done)
        if not sel.size:
            return
        sel = sel[np.lexsort((sel, np.where(np.isfinite(C["back"][sel]), C["back"][sel],
                                             np.inf)))]
        m.flushed[sel] = True
        inc, unit = m.incidents, C["unit"][sel]
        tr = ctx.kernel(self.traffic)
        ids = m.fleet.ids.astype(str)
        rows = {"call_id": sel.astype(np.int64), "call_type": inc.type[sel].astype(str),
                "call_building": inc.building[sel].astype(str),
                "call_road_link": tr.coords["road_link"][C["scene"][sel]].astype(str),
                "call_staging_link": np.where(
                    C["link"][sel] != C["scene"][sel],
                    tr.coords["road_link"][C["link"][sel]].astype(str), ""),
                "call_water_link": inc.water_link[sel].astype(str),
                "call_power_link": inc.power_link[sel].astype(str),
                "call_zone": C["zone"][sel].astype(str), "call_time_s": C["time"][sel],
                "call_priority": C["priority"][sel].astype(np.int64),
                "call_unit": np.where(unit >= 0, ids[np.maximum(unit, 0)], ""),
                "call_unit_kind": C["unit_kind"][sel].astype(str),
                "call_queued": C["queued"][sel].astype(np.int8),
                "call_dispatched_s": C["dispatched"][sel],
                "call_departed_s": C["departed"][sel], "call_arrived_s": C["arrived"][sel],
                "call_cleared_s": C["cleared"][sel], "call_hospital_s": C["at_hospital"][sel],
                "call_back_s": C["back"][sel],
                "call_response_s": C["arrived"][sel] - C["time"][sel],
                "call_est_travel_s": C["est_travel"][sel], "call_trip": C["trip"][sel],
                "call_trip_scene": C["trip_scene"][sel],
                "call_scripted": inc.scripted[sel].astype(np.int8),
                "call_stuck": C["stuck"][sel].astype(np.int8),
                "call_from_road": C["from_road"][sel].astype(np.int8),
                "call_redirected": C["redirected"][sel].astype(np.int8),
                "call_reroutes": C["reroutes"][sel].astype(np.int64)}
        ctx.table("calls").append(rows)

    def _legs(self, ctx) -> None:
        rows = self.model.take_leg_rows()
        if not rows:
            return
        trip, call, unit, link, t, f = (np.array(x) for x in zip(*rows))
        ids = self.model.fleet.ids.astype(str)
        tr = ctx.kernel(self.traffic)
        ctx.table("unit_links").append({
            "leg_trip": trip.astype(np.int64), "leg_call": call.astype(np.int64),
            "leg_unit": np.where(unit >= 0, ids[np.maximum(unit, 0)], ""),
            "leg_road_link": tr.coords["road_link"][link.astype(np.int64)].astype(str),
            "leg_enter_s": t.astype(float), "leg_speed_factor": f.astype(float)})

    # ---- KPIs ---------------------------------------------------------------------------------
    @classmethod
    def kpis(cls, layer: LayerData):
        """Response-time distribution per type and zone, utilisation, calls queued."""
        return _kpis.kpi_list(layer)

    @classmethod
    def report(cls, layer: LayerData) -> str:
        return _kpis.report_text(layer)


def _select(inc: Incidents, keep) -> Incidents:
    keep = np.asarray(keep, bool)
    out = Incidents(**{c: getattr(inc, c)[keep] for c in inc.COLUMNS},
                    details=[d for d, k in zip(inc.details, keep) if k])
    return out
