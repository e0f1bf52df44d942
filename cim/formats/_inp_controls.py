"""EPANET [CONTROLS] and [RULES] ↔ :class:`cim.model.water.Control` / :class:`Rule` (SI).

Simple controls::

    LINK <id> OPEN|CLOSED|<setting> IF NODE <id> ABOVE|BELOW <value>
    LINK <id> OPEN|CLOSED|<setting> AT TIME <time>
    LINK <id> OPEN|CLOSED|<setting> AT CLOCKTIME <time> [AM|PM]

Rules: ``RULE <name>``, then ``IF`` / ``AND`` / ``OR`` premises ``<object> <id> <attribute>
<relation> <value>`` (``SYSTEM <attribute> …`` without an id), ``THEN`` / ``AND`` / ``ELSE``
actions ``<link object> <id> STATUS|SETTING IS|= <value>``, optional ``PRIORITY <value>``.
Values are converted to SI by what they measure: levels, heads m; pressures m; demands and
flows m³/s; settings by the link type (pressure, flow, speed); power W; times s.
"""

from __future__ import annotations

from ..errors import CIMError, FormatError, SchemaError
from ..model.water import VALVE_TYPES, Control, Rule, RuleClause
from ._inp_parse import format_time, hours, keyword, number, seconds

_NODE_OBJECTS = {"NODE": "node", "JUNC": "junction", "RESERV": "reservoir", "TANK": "tank"}
_LINK_OBJECTS = {"LINK": "link", "PIPE": "pipe", "PUMP": "pump", "VALVE": "valve"}
_ATTRIBUTES = ("demand", "head", "grade", "level", "pressure", "flow", "status", "setting",
               "power", "time", "clocktime", "filltime", "draintime")
_RELATIONS = {"=": "=", "<>": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "IS": "is",
              "NOT": "not", "BELOW": "below", "ABOVE": "above"}


# ---- simple controls --------------------------------------------------------------------
def parse_controls(lines, b, problems) -> list[Control]:
    """Return the controls of [CONTROLS] ``lines``; ``b`` is the InpBuilder (ids, units)."""
    out = []
    for ln in lines:
        if not ln.tokens:
            continue
        try:
            out.append(_control(ln, b))
        except CIMError as e:
            problems.handle(e, obj_id=e.obj_id or " ".join(ln.tokens[:2]), line=ln.no)
    return out


def _control(ln, b) -> Control:
    t = ln.tokens
    ln.need(6, "LINK <id> <status|setting> IF NODE <id> ABOVE|BELOW <value> | AT TIME <t> "
            "| AT CLOCKTIME <t> [AM|PM]")
    if not keyword(t[0], "LINK"):
        raise FormatError(f"a control starts with LINK, not {t[0]!r}")
    what = f"LINK {t[1]}"
    k = b.link_ref(t[1], "control")
    status, setting = _link_value(t[2], b.links[k], b.units, ln.no, what)
    if keyword(t[3], "IF"):
        ln.need(8, "LINK <id> <status|setting> IF NODE <id> ABOVE|BELOW <value>", what)
        i = b.node_ref(t[5], f"control on link {t[1]}")
        cond = t[6].lower()
        if cond not in ("above", "below"):
            raise FormatError(f"control condition {t[6]!r}: expected ABOVE or BELOW", obj_id=what)
        v = number(t[7], "control level", line=ln.no, obj_id=what)
        f = b.units.pressure if b.nodes[i]["type"] == "junction" else b.units.length
        return Control(k, cond, v * f, node=i, status=status, setting=setting, line=ln.no)
    if keyword(t[3], "AT"):
        if keyword(t[4], "CLOCK"):
            s = seconds(t[5:7], "control clock time", line=ln.no, obj_id=what) % 86400.0
            return Control(k, "clocktime", s, status=status, setting=setting, line=ln.no)
        if keyword(t[4], "TIME"):
            s = seconds(t[5:7], "control time", line=ln.no, obj_id=what)
            return Control(k, "time", s, status=status, setting=setting, line=ln.no)
    raise FormatError(f"control condition {' '.join(t[3:5])!r}: expected IF NODE, AT TIME or "
                      "AT CLOCKTIME", obj_id=what)


def _link_value(token, link, units, line, what):
    """Return (status, setting SI) of a control / action value for ``link`` (dict)."""
    w = token.upper()
    lt = link["type"]
    if lt == "pipe" and link.get("status") == "cv":
        raise SchemaError(f"check-valve pipe {link['id']} cannot be controlled", obj_id=what)
    if w in ("OPEN", "CLOSED", "ACTIVE"):
        if w == "ACTIVE" and lt not in VALVE_TYPES:
            raise FormatError(f"a {lt} cannot be ACTIVE", obj_id=what)
        return w.lower(), None
    v = number(token, "link setting", line=line, obj_id=what)
    if lt in ("pipe", "gpv"):
        raise FormatError(f"a {lt} takes OPEN or CLOSED, not a setting", obj_id=what)
    return None, v * units.setting(lt)


def format_control(c: Control, net, units) -> str:
    """Return the [CONTROLS] line of ``c`` in ``units``."""
    lt = net.link_type[c.link]
    val = c.status.upper() if c.status is not None else _num(c.setting / units.setting(lt))
    head = f"LINK {net.link_ids[c.link]} {val}"
    if c.condition in ("above", "below"):
        f = units.pressure if net.node_type[c.node] == "junction" else units.length
        return f"{head} IF NODE {net.node_ids[c.node]} {c.condition.upper()} {_num(c.value / f)}"
    word = "CLOCKTIME" if c.condition == "clocktime" else "TIME"
    return f"{head} AT {word} {format_time(c.value)}"


# ---- rules ------------------------------------------------------------------------------
def parse_rules(lines, b, problems) -> list[Rule]:
    """Return the rules of [RULES] ``lines`` (a rule with a bad clause is skipped whole in
    lenient mode)."""
    groups: list[list] = []
    for ln in lines:
        if not ln.tokens:
            continue
        if keyword(ln.tokens[0], "RULE"):
            groups.append([ln])
        elif not groups:
            problems.handle(FormatError("rule clause before the first RULE"), line=ln.no)
        else:
            groups[-1].append(ln)
    out = []
    for g in groups:
        head = g[0]
        name = head.tokens[1] if len(head.tokens) > 1 else ""
        try:
            if not name:
                raise FormatError("RULE without a name", line=head.no)
            out.append(_rule(name, g, b))
        except CIMError as e:
            problems.handle(e, obj_id=f"RULE {name}", line=e.line or head.no)
    return out


def _rule(name, lines, b) -> Rule:
    rule = Rule(name, [], [], [], 0.0, lines[0].no)
    part = None
    for ln in lines[1:]:
        t = ln.tokens
        w = t[0].upper()
        try:
            if w == "PRIORITY":
                ln.need(2, "PRIORITY <value>")
                rule.priority = ln.num(1, "priority")
                continue
            if w in ("IF", "THEN", "ELSE"):
                part = w
            elif w not in ("AND", "OR") or part is None:
                raise FormatError(f"unexpected rule keyword {t[0]!r}")
            if part == "IF":
                rule.premises.append(_premise(ln, b, w.lower()))
            elif w == "OR":
                raise FormatError("OR joins premises, not actions")
            else:
                (rule.then if part == "THEN" else rule.otherwise).append(
                    _action(ln, b, w.lower()))
        except CIMError as e:
            raise e.located(line=ln.no, obj_id=f"RULE {name}") from None
    if not rule.premises or not rule.then:
        raise SchemaError(f"rule {name} needs IF and THEN clauses", line=lines[0].no)
    return rule


def _object(ln, b, k=1):
    """Return (object kind, index, next token position) of a clause."""
    t = ln.tokens
    if keyword(t[k], "SYST"):
        return "system", -1, k + 1
    ln.need(k + 2, "<object> <id> …")
    for prefix, kind in _NODE_OBJECTS.items():
        if keyword(t[k], prefix):
            i = b.node_ref(t[k + 1], "rule")
            nt = b.nodes[i]["type"]
            if kind != "node" and nt != kind:
                raise SchemaError(f"{t[k + 1]!r} is a {nt}, not a {kind}")
            return kind, i, k + 2
    for prefix, kind in _LINK_OBJECTS.items():
        if keyword(t[k], prefix):
            i = b.link_ref(t[k + 1], "rule")
            return kind, i, k + 2
    raise FormatError(f"unknown rule object {t[k]!r}")


def _premise(ln, b, logic) -> RuleClause:
    t = ln.tokens
    ln.need(4, "IF|AND|OR <object> [<id>] <attribute> <relation> <value>")
    obj, i, k = _object(ln, b)
    ln.need(k + 3, "<attribute> <relation> <value>")
    attr = t[k].lower()
    if attr not in _ATTRIBUTES:
        raise FormatError(f"unknown rule attribute {t[k]!r}")
    rel = _RELATIONS.get(t[k + 1].upper())
    if rel is None:
        raise FormatError(f"unknown rule relation {t[k + 1]!r}")
    vt = t[k + 2:]
    if attr == "status":
        value = vt[0].lower()
        if value not in ("open", "closed", "active"):
            raise FormatError(f"status {vt[0]!r}: expected OPEN, CLOSED or ACTIVE")
    elif attr in ("time", "clocktime"):
        h = hours(vt[0], vt[1] if len(vt) > 1 else "")
        if h is None:
            raise FormatError(f"bad rule time {' '.join(vt)!r}")
        value = round(3600.0 * h, 6)
    else:
        value = number(vt[0], f"rule {attr} value") * _factor(attr, obj, i, b)
    return RuleClause(logic, obj, i, attr, rel, value)


def _factor(attr, obj, i, b) -> float:
    u = b.units
    if attr in ("filltime", "draintime"):
        return 3600.0
    if attr in ("demand", "flow"):
        return u.flow
    if attr in ("head", "grade", "level"):
        return u.length
    if attr == "pressure":
        return u.pressure
    if attr == "power":
        return u.power
    if attr == "setting" and i >= 0 and obj in _LINK_OBJECTS.values():
        return u.setting(b.links[i]["type"])
    return 1.0


def _action(ln, b, logic) -> RuleClause:
    t = ln.tokens
    ln.need(6, "THEN|AND|ELSE <link object> <id> STATUS|SETTING IS|= <value>")
    obj, i, k = _object(ln, b)
    if obj not in _LINK_OBJECTS.values():
        raise FormatError("a rule action must act on a link")
    attr = t[k].lower()
    if attr not in ("status", "setting"):
        raise FormatError(f"a rule action sets STATUS or SETTING, not {t[k]!r}")
    status, setting = _link_value(t[k + 2], b.links[i], b.units, ln.no, None)
    if attr == "status" and status is None:
        raise FormatError(f"STATUS {t[k + 2]!r}: expected OPEN, CLOSED or ACTIVE")
    return RuleClause(logic, obj, i, attr, "=", status if status is not None else setting)


def format_rule(r: Rule, net, units) -> list[str]:
    """Return the [RULES] lines of ``r`` in ``units``."""
    out = [f"RULE {r.name}"]
    for c in r.premises:
        out.append(f"{c.logic.upper():4s} {_clause(c, net, units)}")
    for part in (r.then, r.otherwise):
        for c in part:
            out.append(f"{c.logic.upper():4s} {_clause(c, net, units, True)}")
    if r.priority:
        out.append(f"PRIORITY {_num(r.priority)}")
    return out


def _clause(c: RuleClause, net, units, action: bool = False) -> str:
    if c.object == "system":
        obj = "SYSTEM"
    elif c.object in _NODE_OBJECTS.values():
        obj = f"{c.object.upper()} {net.node_ids[c.index]}"
    else:
        obj = f"{c.object.upper()} {net.link_ids[c.index]}"
    if isinstance(c.value, str):
        val = c.value.upper()
    elif c.attribute in ("time", "clocktime"):
        val = format_time(c.value)
    else:
        f = 1.0
        if c.attribute in ("filltime", "draintime"):
            f = 3600.0
        elif c.attribute in ("demand", "flow"):
            f = units.flow
        elif c.attribute in ("head", "grade", "level"):
            f = units.length
        elif c.attribute == "pressure":
            f = units.pressure
        elif c.attribute == "power":
            f = units.power
        elif c.attribute == "setting" and c.index >= 0:
            f = units.setting(net.link_type[c.index])
        val = _num(c.value / f)
    rel = "IS" if action else c.relation.upper()
    return f"{obj} {c.attribute.upper()} {rel} {val}"


def _num(v: float) -> str:
    return repr(float(v))
