"""EPANET network sections → the columns of a :class:`cim.model.water.WaterNetwork` (SI).

:class:`InpBuilder` reads the sections in dependency order (options, times, patterns,
curves, nodes, links, then what refers to them), whatever their order in the file. Every
bad line raises (strict) or is skipped and reported (lenient) through
:class:`cim.errors.Problems`, naming the line and the element.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import CIMError, FormatError, ReferenceError_, SchemaError, ValueRangeError
from ..model.water import VALVE_TYPES, WaterCurve, WaterDemands
from ._inp_parse import keyword

_CURVE_KINDS = {"PUMP": "pump", "HEAD": "pump", "EFFIC": "efficiency", "VOLUME": "volume",
                "HEADLOSS": "headloss"}


class InpBuilder:
    """Collects nodes and links of one .inp; ``units`` (:class:`Units`), ``options``."""

    def __init__(self, sections: dict, problems, units, options: dict, order=()):
        self.sec = sections
        self.order = list(order)
        self.problems = problems
        self.units = units
        self.options = options
        self.nodes: list[dict] = []
        self.node_index: dict[str, int] = {}
        self.node_line: dict[str, int] = {}
        self.links: list[dict] = []
        self.link_index: dict[str, int] = {}
        self.link_line: dict[str, int] = {}
        self.patterns: dict[str, list] = {}
        self.raw_curves: dict[str, dict] = {}
        self.curve_use: dict[str, str] = {}
        self.demands: list[tuple] = []
        self.vertices: dict[int, list] = {}

    # ---- driving -------------------------------------------------------------------------
    def each(self, name: str, fn) -> None:
        """Call ``fn(line)`` for every data line of section ``name``; route errors."""
        for ln in self.sec.get(name, []):
            if not ln.tokens:
                continue
            try:
                fn(ln)
            except CIMError as e:
                self.problems.handle(e, obj_id=e.obj_id or ln.tokens[0], line=ln.no)

    def build(self) -> None:
        self.each("PATTERNS", self._pattern)
        self._curves()
        self.each("JUNCTIONS", self._junction)
        self.each("RESERVOIRS", self._reservoir)
        self.each("TANKS", self._tank)
        first = {name: k for k, (name, _) in reversed(list(enumerate(self.order)))}
        for name in sorted(("PIPES", "PUMPS", "VALVES"), key=lambda n: first.get(n, 99)):
            self.each(name, {"PIPES": self._pipe, "PUMPS": self._pump,
                             "VALVES": self._valve}[name])   # links in the file's order
        self._energy_curves()
        self._convert_curves()
        self._replaced: set = set()
        self.each("DEMANDS", self._demand)
        self.each("EMITTERS", self._emitter)
        self.each("STATUS", self._status)
        self.each("COORDINATES", self._coordinate)
        self.each("VERTICES", self._vertex)

    # ---- references ---------------------------------------------------------------------
    def pattern_ref(self, name: str, what: str) -> str:
        if name not in self.patterns:
            raise ReferenceError_(f"{what}: pattern {name!r} is not defined")
        return name

    def curve_ref(self, name: str, what: str, kind: str) -> str:
        if name not in self.raw_curves:
            raise ReferenceError_(f"{what}: curve {name!r} is not defined")
        self.curve_use.setdefault(name, kind)
        return name

    def node_ref(self, name: str, what: str) -> int:
        i = self.node_index.get(name)
        if i is None:
            raise ReferenceError_(f"{what}: node {name!r} is not defined")
        return i

    def link_ref(self, name: str, what: str) -> int:
        i = self.link_index.get(name)
        if i is None:
            raise ReferenceError_(f"{what}: link {name!r} is not defined")
        return i

    # ---- patterns and curves -------------------------------------------------------------
    def _pattern(self, ln) -> None:
        name = ln.tokens[0]
        vals = [ln.num(k, "pattern multiplier", name) for k in range(1, len(ln.tokens))]
        self.patterns.setdefault(name, []).extend(vals)

    def _curves(self) -> None:
        last_comment = ""
        for ln in self.sec.get("CURVES", []):
            if not ln.tokens:
                last_comment = ln.comment
                continue
            name = ln.tokens[0]
            try:
                ln.need(3, "<curve id> <x> <y>", name)
                x, y = ln.num(1, "curve x", name), ln.num(2, "curve y", name)
                c = self.raw_curves.get(name)
                if c is None:
                    kind = None
                    head = last_comment.split(":", 1)[0].strip().upper()
                    if ":" in last_comment and head in _CURVE_KINDS:
                        kind = _CURVE_KINDS[head]
                    c = self.raw_curves[name] = {"x": [], "y": [], "kind": kind, "line": ln.no}
                if c["x"] and x <= c["x"][-1]:
                    raise ValueRangeError(f"curve x values must increase ({x:g} after "
                                          f"{c['x'][-1]:g})", obj_id=name)
                c["x"].append(x)
                c["y"].append(y)
            except CIMError as e:
                self.problems.handle(e, obj_id=name, line=ln.no)
            last_comment = ""

    def _energy_curves(self) -> None:
        for ln in self.sec.get("ENERGY", []):
            t = ln.tokens
            if len(t) >= 4 and keyword(t[0], "PUMP") and keyword(t[2], "EFFIC"):
                if t[3] in self.raw_curves:
                    self.curve_use.setdefault(t[3], "efficiency")

    def _convert_curves(self) -> None:
        self.curves: dict[str, WaterCurve] = {}
        for name, c in self.raw_curves.items():
            kind = self.curve_use.get(name) or c["kind"] or "generic"
            fx, fy = self.units.curve(kind)
            self.curves[name] = WaterCurve(kind, np.asarray(c["x"]) * fx,
                                           np.asarray(c["y"]) * fy)

    # ---- nodes ---------------------------------------------------------------------------
    def add_node(self, ln, node_type: str, **cols) -> None:
        name = ln.tokens[0]
        if name in self.node_index:
            raise SchemaError(f"duplicate node id {name!r} (first defined on line "
                              f"{self.node_line[name]})", obj_id=name)
        self.node_index[name] = len(self.nodes)
        self.node_line[name] = ln.no
        cols.update(id=name, type=node_type, line=ln.no)
        self.nodes.append(cols)

    def _junction(self, ln) -> None:
        t, name = ln.tokens, ln.tokens[0]
        ln.need(2, "<id> <elevation> [<demand> [<pattern>]]", name)
        elev = ln.num(1, "elevation", name) * self.units.length
        base = ln.num(2, "demand", name) * self.units.flow if len(t) > 2 else 0.0
        pat = self.pattern_ref(t[3], f"junction {name}") if len(t) > 3 else None
        self.add_node(ln, "junction", elevation=elev)
        self.demands.append((self.node_index[name], base, pat, "", True))

    def _reservoir(self, ln) -> None:
        t, name = ln.tokens, ln.tokens[0]
        ln.need(2, "<id> <head> [<pattern>]", name)
        head = ln.num(1, "head", name) * self.units.length
        pat = self.pattern_ref(t[2], f"reservoir {name}") if len(t) > 2 else None
        self.add_node(ln, "reservoir", elevation=head, pattern=pat)

    def _tank(self, ln) -> None:
        t, name, u = ln.tokens, ln.tokens[0], self.units
        if len(t) <= 3:   # EPANET: a tank line with only an elevation is a reservoir
            self._reservoir(ln)
            return
        ln.need(6, "<id> <elevation> <init level> <min level> <max level> <diameter> "
                "[<min volume> [<volume curve> [<overflow>]]]", name)
        elev, init, lo, hi, diam = (ln.num(k, w, name) * u.length for k, w in enumerate(
            ("elevation", "initial level", "minimum level", "maximum level", "diameter"),
            start=1))
        minvol = ln.num(6, "minimum volume", name) * u.volume if len(t) > 6 else 0.0
        curve = None
        if len(t) > 7 and t[7] != "*":
            curve = self.curve_ref(t[7], f"tank {name}", "volume")
        overflow = len(t) > 8 and t[8].upper() in ("YES", "TRUE")
        if diam < 0 or minvol < 0:
            raise ValueRangeError("tank diameter and minimum volume must be >= 0", obj_id=name)
        if curve is None and diam == 0:
            raise ValueRangeError("a cylindrical tank needs a diameter > 0", obj_id=name)
        if not (lo <= init <= hi):
            raise ValueRangeError(f"levels must satisfy min <= init <= max (got {lo:g}, "
                                  f"{init:g}, {hi:g} m)", obj_id=name)
        self.add_node(ln, "tank", elevation=elev, init_level=init, min_level=lo,
                      max_level=hi, diameter=diam, min_volume=minvol, volume_curve=curve,
                      overflow=overflow)

    # ---- links ---------------------------------------------------------------------------
    def add_link(self, ln, link_type: str, **cols) -> None:
        t, name = ln.tokens, ln.tokens[0]
        if name in self.link_index:
            raise SchemaError(f"duplicate link id {name!r} (first defined on line "
                              f"{self.link_line[name]})", obj_id=name)
        a = self.node_ref(t[1], f"{link_type} {name} start")
        b = self.node_ref(t[2], f"{link_type} {name} end")
        if a == b:
            raise ValueRangeError(f"{link_type} {name} starts and ends at node {t[1]!r}",
                                  obj_id=name)
        self.link_index[name] = len(self.links)
        self.link_line[name] = ln.no
        cols.update(id=name, type=link_type, a=a, b=b, line=ln.no)
        self.links.append(cols)

    def _pipe(self, ln) -> None:
        t, name, u = ln.tokens, ln.tokens[0], self.units
        ln.need(6, "<id> <node1> <node2> <length> <diameter> <roughness> [<minor loss> "
                "[<status>]]", name)
        length = ln.num(3, "length", name) * u.length
        diam = ln.num(4, "diameter", name) * u.diameter
        rough = ln.num(5, "roughness", name) * u.roughness(self.options["headloss"])
        minor, status = 0.0, "open"
        rest = t[6:8]
        if rest and rest[-1].upper() in ("OPEN", "CLOSED", "CV"):
            status = rest.pop().lower()
        if rest:
            minor = ln.num(6, "minor loss", name)
        if length <= 0 or diam <= 0 or rough <= 0 or minor < 0:
            raise ValueRangeError(f"pipe {name}: length, diameter and roughness must be > 0 "
                                  "and the minor loss >= 0", obj_id=name)
        self.add_link(ln, "pipe", length=length, diameter=diam, roughness=rough,
                      minor=minor, status=status)

    def _pump(self, ln) -> None:
        t, name = ln.tokens, ln.tokens[0]
        ln.need(4, "<id> <node1> <node2> HEAD <curve> | POWER <value> [SPEED <s>] "
                "[PATTERN <p>]", name)
        cols = {"status": "open", "setting": 1.0}
        rest = t[3:]
        if _is_number(rest[0]):          # EPANET 1.1 style: a single constant power
            rest = ["POWER"] + rest[:1]
        if len(rest) % 2:
            raise FormatError(f"pump {name}: keyword {rest[-1]!r} has no value", obj_id=name)
        for key, val in zip(rest[::2], rest[1::2]):
            k = key.upper()
            if k == "HEAD":
                cols["curve"] = self.curve_ref(val, f"pump {name}", "pump")
            elif k == "POWER":
                p = _value(val, "pump power", ln.no, name)
                if p <= 0:
                    raise ValueRangeError(f"pump {name}: power must be > 0", obj_id=name)
                cols["power"] = p * self.units.power
            elif k == "SPEED":
                s = _value(val, "pump speed", ln.no, name)
                if s < 0:
                    raise ValueRangeError(f"pump {name}: speed must be >= 0", obj_id=name)
                cols["setting"] = s
            elif k == "PATTERN":
                cols["pattern"] = self.pattern_ref(val, f"pump {name}")
            else:
                raise FormatError(f"pump {name}: unknown keyword {key!r}", obj_id=name)
        if "curve" not in cols and "power" not in cols:
            raise SchemaError(f"pump {name} has neither a HEAD curve nor a POWER",
                              obj_id=name)
        self.add_link(ln, "pump", **cols)

    def _valve(self, ln) -> None:
        t, name, u = ln.tokens, ln.tokens[0], self.units
        ln.need(6, "<id> <node1> <node2> <diameter> <type> <setting> [<minor loss>]", name)
        diam = ln.num(3, "diameter", name) * u.diameter
        vt = t[4].lower()
        if vt not in VALVE_TYPES:
            raise FormatError(f"valve {name}: unknown valve type {t[4]!r}", obj_id=name)
        cols = {"diameter": diam, "status": None}
        if vt == "gpv":
            cols["curve"] = self.curve_ref(t[5], f"valve {name}", "headloss")
        else:
            cols["setting"] = ln.num(5, "valve setting", name) * u.setting(vt)
        cols["minor"] = ln.num(6, "minor loss", name) if len(t) > 6 else 0.0
        if diam <= 0 or cols["minor"] < 0:
            raise ValueRangeError(f"valve {name}: diameter must be > 0 and the minor loss "
                                  ">= 0", obj_id=name)
        self.add_link(ln, vt, **cols)

    # ---- what refers to nodes and links ---------------------------------------------------
    def _demand(self, ln) -> None:
        t, name = ln.tokens, ln.tokens[0]
        if keyword(name, "MULT") and len(t) >= 2 and _is_number(t[1]):
            self.options["demand_multiplier"] = ln.num(1, "demand multiplier", name)
            return
        ln.need(2, "<junction> <base demand> [<pattern>] [;<category>]", name)
        i = self.node_ref(name, "demand")
        if self.nodes[i]["type"] != "junction":
            raise SchemaError(f"demand on {self.nodes[i]['type']} {name!r} (only junctions "
                              "have demands)", obj_id=name)
        base = ln.num(1, "base demand", name) * self.units.flow
        pat = self.pattern_ref(t[2], f"demand at {name}") if len(t) > 2 else None
        if i not in self._replaced:   # [DEMANDS] replaces the junction line's demand
            self._replaced.add(i)
            self.demands = [d for d in self.demands if not (d[0] == i and d[4])]
        self.demands.append((i, base, pat, ln.comment, False))

    def _emitter(self, ln) -> None:
        name = ln.tokens[0]
        ln.need(2, "<junction> <coefficient>", name)
        i = self.node_ref(name, "emitter")
        c = ln.num(1, "emitter coefficient", name)
        if c < 0:
            raise ValueRangeError(f"emitter coefficient {c:g} must be >= 0", obj_id=name)
        self.nodes[i]["emitter"] = c * self.units.emitter(self.options["emitter_exponent"])

    def _status(self, ln) -> None:
        t, name = ln.tokens, ln.tokens[0]
        ln.need(2, "<link> OPEN|CLOSED|ACTIVE|<setting>", name)
        k = self.link_ref(name, "status")
        lk = self.links[k]
        word = t[1].upper()
        if lk["type"] == "pipe" and lk.get("status") == "cv":
            raise SchemaError(f"the status of check-valve pipe {name} cannot be set",
                              obj_id=name)
        if word in ("OPEN", "CLOSED"):
            lk["status"] = word.lower()
            if lk["type"] == "pump" and word == "OPEN":
                lk["setting"] = 1.0
        elif word == "ACTIVE":
            if lk["type"] in VALVE_TYPES:
                lk["status"] = None
        else:
            v = ln.num(1, "status or setting", name)
            if lk["type"] in ("pipe", "gpv"):
                raise ValueRangeError(f"a {lk['type']} takes OPEN or CLOSED, not a setting",
                                      obj_id=name)
            if lk["type"] == "pump":
                if v < 0:
                    raise ValueRangeError(f"pump speed {v:g} must be >= 0", obj_id=name)
                lk["setting"], lk["status"] = v, ("open" if v > 0 else "closed")
            else:
                lk["setting"], lk["status"] = v * self.units.setting(lk["type"]), None

    def _coordinate(self, ln) -> None:
        name = ln.tokens[0]
        ln.need(3, "<node> <x> <y>", name)
        i = self.node_ref(name, "coordinates")
        self.nodes[i]["xy"] = (ln.num(1, "x", name), ln.num(2, "y", name))

    def _vertex(self, ln) -> None:
        name = ln.tokens[0]
        ln.need(3, "<link> <x> <y>", name)
        k = self.link_ref(name, "vertex")
        self.vertices.setdefault(k, []).append((ln.num(1, "x", name), ln.num(2, "y", name)))

    # ---- packing -------------------------------------------------------------------------
    def node_columns(self) -> dict:
        n = self.nodes

        def col(key, fill, dtype=np.float64):
            if dtype is object:
                a = np.empty(len(n), object)
                a[:] = [r.get(key, fill) for r in n]
                return a
            return np.array([r.get(key, fill) for r in n], dtype=dtype).reshape(len(n))

        xy = np.array([r.get("xy", (math.nan, math.nan)) for r in n], float).reshape(-1, 2)
        return dict(node_ids=col("id", "", object), node_xy=xy,
                    node_type=col("type", "junction", object),
                    node_elevation=col("elevation", 0.0), node_pattern=col("pattern", None,
                                                                           object),
                    node_emitter=col("emitter", 0.0), node_init_level=col("init_level", math.nan),
                    node_min_level=col("min_level", math.nan),
                    node_max_level=col("max_level", math.nan),
                    node_diameter=col("diameter", math.nan),
                    node_min_volume=col("min_volume", math.nan),
                    node_volume_curve=col("volume_curve", None, object),
                    node_overflow=col("overflow", False, bool))

    def link_columns(self, node_xy: np.ndarray) -> dict:
        lk = self.links

        def col(key, fill, dtype=np.float64):
            if dtype is object:
                a = np.empty(len(lk), object)
                a[:] = [r.get(key, fill) for r in lk]
                return a
            return np.array([r.get(key, fill) for r in lk], dtype=dtype).reshape(len(lk))

        offsets, pts = [0], []
        for k, r in enumerate(lk):
            poly = [node_xy[r["a"]], *self.vertices.get(k, []), node_xy[r["b"]]]
            pts.extend(poly)
            offsets.append(len(pts))
        return dict(link_ids=col("id", "", object), link_from=col("a", 0, np.int64),
                    link_to=col("b", 0, np.int64), link_length=col("length", 0.0),
                    geometry_offsets=np.asarray(offsets, np.int64),
                    geometry_xy=np.asarray(pts, float).reshape(-1, 2),
                    link_type=col("type", "pipe", object),
                    link_diameter=col("diameter", math.nan),
                    link_roughness=col("roughness", math.nan), link_minor_loss=col("minor", 0.0),
                    link_status=col("status", "open", object),
                    link_setting=col("setting", math.nan), link_curve=col("curve", None, object),
                    link_power=col("power", math.nan), link_pattern=col("pattern", None, object))

    def demand_table(self) -> WaterDemands:
        """The demand rows by junction (a junction's categories in file order)."""
        d = sorted(self.demands, key=lambda r: r[0])
        pat = np.empty(len(d), object)
        pat[:] = [r[2] for r in d]
        cat = np.empty(len(d), object)
        cat[:] = [r[3] for r in d]
        return WaterDemands(np.array([r[0] for r in d], np.int64),
                            np.array([r[1] for r in d], float), pat, cat)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _value(token, what, line, obj_id) -> float:
    from ._inp_parse import number
    return number(token, what, line=line, obj_id=obj_id)
