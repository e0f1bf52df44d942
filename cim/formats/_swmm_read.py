"""Build a :class:`cim.model.drainage.DrainageNetwork` from the sections of a SWMM 5 .inp,
converting to SI (see :mod:`._swmm_parse`)."""

from __future__ import annotations

import numpy as np

from ..errors import CIMError, FormatError, ReferenceError_, ValueRangeError
from ..model.drainage import Inflow, Subcatchments
from ._swmm_parse import Units, num

_OUTFALLS = {"FREE": "free", "NORMAL": "normal", "FIXED": "fixed", "TIDAL": "tidal",
             "TIMESERIES": "timeseries"}
#: shapes whose 3rd geometry field is a length (the 1st and 2nd are, for numeric shapes)
_G3_LENGTH = ("RECT_TRIANGULAR", "RECT_ROUND", "MODBASKETHANDLE")
_REF_SHAPES = {"CUSTOM": 1, "IRREGULAR": 0, "STREET": 0}
LINK_SECTIONS = {"CONDUITS": "conduit", "PUMPS": "pump", "ORIFICES": "orifice",
                 "WEIRS": "weir", "OUTLETS": "outlet"}
NODE_SECTIONS = {"JUNCTIONS": "junction", "OUTFALLS": "outfall", "STORAGE": "storage",
                 "DIVIDERS": "divider"}


def geom_lengths(shape: str, force_main_dw: bool) -> np.ndarray:
    """(4,) bool: which of geom1..4 of ``shape`` (upper case) are lengths."""
    m = np.array([True, True, shape in _G3_LENGTH, False])
    if shape == "FORCE_MAIN":
        m[1] = force_main_dw
    if shape in ("CIRCULAR", "EGG", "HORSESHOE", "GOTHIC", "CATENARY", "SEMIELLIPTICAL",
                 "BASKETHANDLE", "SEMICIRCULAR", "DUMMY"):
        m[1] = False
    return m


class SwmmBuilder:
    """Collects nodes, links and side tables of one file; ``problems`` strict or lenient."""

    def __init__(self, sections: dict, problems, units: Units, options: dict):
        self.s, self.p, self.u, self.options = sections, problems, units, options
        self.nodes: dict[str, dict] = {}
        self.links: dict[str, dict] = {}

    # ---- nodes ------------------------------------------------------------------------
    def _node(self, ln, kind):
        name = ln.tokens[0]
        if name in self.nodes:
            raise FormatError(f"node {name!r} is defined twice", obj_id=name)
        u = self.u
        d = {"node_type": kind, "line": ln.no,
             "node_invert": num(ln, 1, "invert elevation", name) * u.length}
        t = ln.tokens
        if kind == "junction":
            d["node_max_depth"] = num(ln, 2, "max depth", name, default=0.0, low=0) * u.length
            d["node_init_depth"] = num(ln, 3, "initial depth", name, default=0.0) * u.length
            d["node_surcharge_depth"] = num(ln, 4, "surcharge depth", name, default=0.0) \
                * u.length
            d["node_ponded_area"] = num(ln, 5, "ponded area", name, default=0.0, low=0) * u.area
        elif kind == "outfall":
            if len(t) < 3:
                raise FormatError("expected 'name elevation type …'", obj_id=name)
            typ = _OUTFALLS.get(t[2].upper())
            if typ is None:
                raise FormatError(f"unknown outfall type {t[2]!r}", obj_id=name)
            d["node_outfall_type"] = typ
            k = 3
            if typ == "fixed":
                d["node_outfall_stage"] = num(ln, 3, "fixed stage", name) * u.length
                k = 4
            elif typ in ("tidal", "timeseries"):
                if len(t) < 4:
                    raise FormatError(f"{typ} outfall needs a curve/series name", obj_id=name)
                d["node_outfall_series"] = t[3]
                k = 4
            if len(t) > k:
                d["node_flap_gate"] = t[k].upper() == "YES"
            if len(t) > k + 1:
                d["node_route_to"] = t[k + 1]
        elif kind == "storage":
            d["node_max_depth"] = num(ln, 2, "max depth", name, low=0) * u.length
            d["node_init_depth"] = num(ln, 3, "initial depth", name, default=0.0) * u.length
            if len(t) < 5:
                raise FormatError("expected a storage shape (FUNCTIONAL/TABULAR/…)", obj_id=name)
            shape = t[4].upper()
            d["node_storage_shape"] = shape.lower()
            if shape == "TABULAR":
                if len(t) < 6:
                    raise FormatError("TABULAR storage needs a curve name", obj_id=name)
                d["node_storage_curve"], rest = t[5], t[6:]
            elif shape == "FUNCTIONAL":
                a, b, c = (num(ln, 5 + i, "storage coefficient", name) for i in range(3))
                d["node_storage_params"] = (a * u.area / u.length ** b, b, c * u.area)
                rest = t[8:]
            else:
                d["node_storage_params"] = tuple(num(ln, 5 + i, "storage dimension", name,
                                                     default=0.0) for i in range(3))
                rest = t[8:]
            d["node_extra"] = tuple(rest) or None
        else:  # divider: elevation, then kept as written
            d["node_extra"] = tuple(t[2:])
        if d.get("node_max_depth", 0.0) < 0:
            raise ValueRangeError("negative max depth", obj_id=name)
        self.nodes[name] = d

    # ---- links ------------------------------------------------------------------------
    def _link(self, ln, kind):
        t = ln.tokens
        name = t[0]
        if name in self.links:
            raise FormatError(f"link {name!r} is defined twice", obj_id=name)
        if len(t) < 3:
            raise FormatError("expected 'name from-node to-node …'", obj_id=name)
        for end in t[1:3]:
            if end not in self.nodes:
                raise ReferenceError_(f"link {name!r} refers to undefined node {end!r}",
                                      obj_id=name)
        d = {"link_type": kind, "from": t[1], "to": t[2], "line": ln.no}
        u = self.u
        if kind == "conduit":
            length = num(ln, 3, "length", name)
            if not length > 0:
                raise ValueRangeError(f"conduit length must be > 0, not {length:g}", obj_id=name)
            n = num(ln, 4, "Manning n", name)
            if not n > 0:
                raise ValueRangeError(f"Manning n must be > 0, not {n:g}", obj_id=name)
            d.update(link_length=length * u.length, link_roughness=n,
                     link_in_offset=num(ln, 5, "inlet offset", name, default=0.0),
                     link_out_offset=num(ln, 6, "outlet offset", name, default=0.0),
                     link_init_flow=num(ln, 7, "initial flow", name, default=0.0) * u.flow,
                     link_max_flow=num(ln, 8, "max flow", name, default=0.0) * u.flow)
            for k in ("link_in_offset", "link_out_offset"):
                d[k] *= u.length
            if self.options.get("LINK_OFFSETS", "DEPTH").upper().startswith("ELEV"):
                d["elev_offsets"] = True
        else:
            d["link_params"] = tuple(t[3:])
        self.links[name] = d

    def _xsection(self, ln):
        t = ln.tokens
        name = t[0]
        if name not in self.links:
            raise ReferenceError_(f"cross-section of undefined link {name!r}", obj_id=name)
        if len(t) < 2:
            raise FormatError("expected 'link shape geom1 …'", obj_id=name)
        shape = t[1].upper()
        d = self.links[name]
        geom = np.zeros(4)
        if shape in _REF_SHAPES:
            if shape == "CUSTOM":
                geom[0] = num(ln, 2, "height", name) * self.u.length
                ref = t[3] if len(t) > 3 else None
                rest = 4
            else:
                ref = t[2] if len(t) > 2 else None
                rest = 3
            if ref is None:
                raise FormatError(f"{shape} cross-section needs a name", obj_id=name)
            d["link_shape_ref"] = ref
        else:
            geom = np.array([num(ln, 2 + i, f"geom{i + 1}", name, default=0.0)
                             for i in range(4)])
            if not geom[0] > 0 and shape != "DUMMY":
                raise ValueRangeError(f"{shape} cross-section needs geom1 > 0", obj_id=name)
            dw = self.options.get("FORCE_MAIN_EQUATION", "H-W").upper() == "D-W"
            geom = np.where(geom_lengths(shape, dw), geom * self.u.length, geom)
            rest = 6
        d["link_shape"] = shape.lower()
        d["link_geom"] = geom
        if len(t) > rest:
            d["link_barrels"] = int(num(ln, rest, "barrels", name, low=1))
        if len(t) > rest + 1:
            d["link_culvert"] = t[rest + 1]

    def _loss(self, ln):
        name = ln.tokens[0]
        if name not in self.links:
            raise ReferenceError_(f"losses of undefined link {name!r}", obj_id=name)
        d = self.links[name]
        d["link_losses"] = tuple(num(ln, 1 + i, "loss coefficient", name, default=0.0)
                                 for i in range(3))
        if len(ln.tokens) > 4:
            d["link_flap_gate"] = ln.tokens[4].upper() == "YES"
        # seepage rate: in/h or mm/h → m/s
        f = (0.0254 if self.u.us else 1e-3) / 3600.0
        d["link_seepage"] = num(ln, 5, "seepage rate", name, default=0.0) * f

    # ---- driver -----------------------------------------------------------------------
    def _each(self, section, fn, *args):
        for ln in self.s.get(section, []):
            try:
                fn(ln, *args)
            except CIMError as e:
                self.p.handle(e, obj_id=ln.tokens[0] if ln.tokens else None, line=ln.no)

    def build(self) -> None:
        for sec, kind in NODE_SECTIONS.items():
            self._each(sec, self._node, kind)
        for sec, kind in LINK_SECTIONS.items():
            self._each(sec, self._link, kind)
        self._each("XSECTIONS", self._xsection)
        self._each("LOSSES", self._loss)
        for name, d in self.links.items():
            if d["link_type"] == "conduit" and "link_shape" not in d:
                self.p.handle(FormatError("conduit has no [XSECTIONS] entry", obj_id=name,
                                          line=d["line"]))
                d["link_shape"], d["link_geom"] = "dummy", np.zeros(4)
        self.xy = {}
        self.vertices: dict[str, list] = {}
        for ln in self.s.get("COORDINATES", []):
            try:
                self.xy[ln.tokens[0]] = (num(ln, 1, "x", ln.tokens[0]),
                                         num(ln, 2, "y", ln.tokens[0]))
            except CIMError as e:
                self.p.handle(e, line=ln.no)
        for ln in self.s.get("VERTICES", []):
            try:
                self.vertices.setdefault(ln.tokens[0], []).append(
                    (num(ln, 1, "x", ln.tokens[0]), num(ln, 2, "y", ln.tokens[0])))
            except CIMError as e:
                self.p.handle(e, line=ln.no)

    def node_columns(self) -> dict:
        names = list(self.nodes)
        n = len(names)
        cols = {"node_ids": np.array(names, dtype=object).reshape(n),
                "node_xy": np.array([self.xy.get(k, (np.nan, np.nan)) for k in names],
                                    float).reshape(n, 2)}
        keys = ("node_type", "node_invert", "node_max_depth", "node_init_depth",
                "node_surcharge_depth", "node_ponded_area", "node_outfall_type",
                "node_outfall_stage", "node_outfall_series", "node_flap_gate", "node_route_to",
                "node_storage_shape", "node_storage_curve", "node_storage_params",
                "node_extra")
        from ..model.drainage import DrainageNetwork

        proto = DrainageNetwork(node_ids=cols["node_ids"], node_xy=cols["node_xy"],
                                link_ids=np.empty(0, object), link_from=np.zeros(0, np.int64),
                                link_to=np.zeros(0, np.int64), link_length=np.zeros(0),
                                geometry_offsets=np.zeros(1, np.int64),
                                geometry_xy=np.zeros((0, 2)))
        for k in keys:
            a = getattr(proto, k)
            for i, nm in enumerate(names):
                if k in self.nodes[nm]:
                    a[i] = self.nodes[nm][k]
            cols[k] = a
        return cols

    def link_columns(self, node_cols: dict) -> dict:
        names = list(self.links)
        L = len(names)
        index = {k: i for i, k in enumerate(node_cols["node_ids"])}
        inv = node_cols["node_invert"]
        fr = np.array([index[self.links[k]["from"]] for k in names], np.int64).reshape(L)
        to = np.array([index[self.links[k]["to"]] for k in names], np.int64).reshape(L)
        from ..model.drainage import DrainageNetwork

        proto = DrainageNetwork.empty()
        cols = {"link_ids": np.array(names, dtype=object).reshape(L), "link_from": fr,
                "link_to": to}
        keys = ("link_type", "link_roughness", "link_in_offset", "link_out_offset",
                "link_init_flow", "link_max_flow", "link_shape", "link_geom", "link_shape_ref",
                "link_barrels", "link_culvert", "link_losses", "link_flap_gate",
                "link_seepage", "link_params")
        for k in keys:
            f = next(f for f in proto.__dataclass_fields__.values() if f.name == k)
            md = f.metadata
            a = np.empty((L,) if md["width"] is None else (L, md["width"]), md["dtype"])
            a[...] = md["fill"]
            for i, nm in enumerate(names):
                if k in self.links[nm]:
                    a[i] = self.links[nm][k]
            cols[k] = a
        elev = np.array([bool(self.links[k].get("elev_offsets")) for k in names], bool)
        cols["link_in_offset"] = np.where(elev, cols["link_in_offset"] - inv[fr],
                                          cols["link_in_offset"]) if L else cols["link_in_offset"]
        cols["link_out_offset"] = np.where(elev, cols["link_out_offset"] - inv[to],
                                           cols["link_out_offset"]) if L else \
            cols["link_out_offset"]
        xy = node_cols["node_xy"]
        length = np.array([self.links[k].get("link_length", np.nan) for k in names],
                          float).reshape(L)
        offs, pts = [0], []
        for i, k in enumerate(names):
            line = [xy[fr[i]], *self.vertices.get(k, []), xy[to[i]]]
            pts += line
            offs.append(len(pts))
            if not np.isfinite(length[i]):
                seg = np.diff(np.asarray(line, float), axis=0)
                length[i] = float(np.hypot(seg[:, 0], seg[:, 1]).sum()) if len(seg) else 0.0
        cols["link_length"] = length
        cols["geometry_offsets"] = np.array(offs, np.int64)
        cols["geometry_xy"] = np.asarray(pts, float).reshape(-1, 2)
        return cols

    def subcatchments(self) -> Subcatchments:
        rows, u = {}, self.u
        for ln in self.s.get("SUBCATCHMENTS", []):
            t = ln.tokens
            try:
                if len(t) < 8:
                    raise FormatError("expected 'name raingage outlet area %imperv width "
                                      "slope curb-length'", obj_id=t[0])
                rows[t[0]] = dict(raingage=t[1], outlet=t[2],
                                  area=num(ln, 3, "area", t[0], low=0) * u.land,
                                  imperv=num(ln, 4, "% impervious", t[0], low=0) / 100.0,
                                  width=num(ln, 5, "width", t[0], low=0) * u.length,
                                  slope=num(ln, 6, "slope", t[0]) / 100.0,
                                  curb_length=num(ln, 7, "curb length", t[0]),
                                  snowpack=t[8] if len(t) > 8 else None)
            except CIMError as e:
                self.p.handle(e, line=ln.no)
        sub = {k: (np.full(5, np.nan), None, np.nan) for k in rows}
        dep = 0.0254 if u.us else 1e-3  # depression storage in / mm
        for ln in self.s.get("SUBAREAS", []):
            t = ln.tokens
            try:
                if t[0] not in rows:
                    raise ReferenceError_(f"subareas of undefined subcatchment {t[0]!r}",
                                          obj_id=t[0])
                v = np.array([num(ln, 1 + i, "subarea parameter", t[0]) for i in range(5)])
                v[2:4] *= dep
                sub[t[0]] = (v, t[6] if len(t) > 6 else None,
                             num(ln, 7, "% routed", t[0], default=np.nan) if len(t) > 7
                             else np.nan)
            except CIMError as e:
                self.p.handle(e, line=ln.no)
        polys: dict[str, list] = {}
        for ln in self.s.get("POLYGONS", []):
            try:
                polys.setdefault(ln.tokens[0], []).append((num(ln, 1, "x"), num(ln, 2, "y")))
            except CIMError as e:
                self.p.handle(e, line=ln.no)
        ids = list(rows)

        def col(k, dtype=float):
            return np.array([rows[i][k] for i in ids], dtype=dtype).reshape(len(ids))
        return Subcatchments(
            ids=np.array(ids, object).reshape(len(ids)), raingage=col("raingage", object),
            outlet=col("outlet", object), area=col("area"), imperv=col("imperv"),
            width=col("width"), slope=col("slope"), curb_length=col("curb_length"),
            snowpack=col("snowpack", object),
            subareas=np.array([sub[i][0] for i in ids], float).reshape(len(ids), 5),
            route_to=np.array([sub[i][1] for i in ids], object).reshape(len(ids)),
            pct_routed=np.array([sub[i][2] for i in ids], float).reshape(len(ids)),
            polygons=[np.asarray(polys.get(i, []), float).reshape(-1, 2) for i in ids])

    def inflows(self, node_index: dict) -> list:
        """Return the FLOW [INFLOWS] as :class:`Inflow` (SI)."""
        out = []
        for ln in self.s.get("INFLOWS", []):
            t = ln.tokens
            try:
                if len(t) < 3:
                    raise FormatError("expected 'node parameter series …'", obj_id=t[0])
                if t[1].upper() != "FLOW":
                    continue
                if t[0] not in node_index:
                    raise ReferenceError_(f"inflow at undefined node {t[0]!r}", obj_id=t[0])
                mf = num(ln, 4, "units factor", t[0], default=1.0)
                sf = num(ln, 5, "scale factor", t[0], default=1.0)
                base = num(ln, 6, "baseline", t[0], default=0.0)
                series = t[2] if t[2] not in ("", '""') else None
                f = self.u.flow * mf
                out.append(Inflow(node_index[t[0]], series, f * sf, f * base))
            except CIMError as e:
                self.p.handle(e, line=ln.no)
        return out
