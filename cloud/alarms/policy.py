"""Which events open alarms, how repeats fold, and who is told when nobody acknowledges.

All of it is data: ``DEFAULT_POLICY`` below is what a site gets with no file, and a YAML file
(``configs/alarms/*.yaml``, named by ``COURTYARD_ALARM_POLICY``) may override any part of it,
so a property can re-rate ``fire.shielded`` or lengthen the acknowledge window without a
release. The lifecycle (``TRANSITIONS``) is data too, but not configurable: the guard board
and the audit trail rely on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cloud.lifecycle import Lifecycle, Refusal, Transition
from contract import Kind
from yamlcheck.positions import plain, read_yaml, where_is
from yamlcheck.problems import ConfigError, Pos, Problem

SEVERITIES = ("critical", "major", "minor")
SEVERITY_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES))}  # minor 0 … critical 2

#: A guard's actions. Acknowledge may be skipped: an open alarm may go straight to in
#: progress, resolved or false alarm. Everything not listed here is refused (HTTP 409) with
#: the current state. The last two states end an alarm (a repeat afterwards opens a new one).
#: Only a false alarm needs a note (why it was not real); a resolved alarm's record is its
#: events, the edge's linkage reports and who resolved it, so clearing a fire is one click.
LIFECYCLE = Lifecycle({
    "open": "未确认", "acknowledged": "已确认", "in_progress": "处理中", "resolved": "已处理",
    "false_alarm": "误报",
}, (
    Transition("acknowledge", "确认", ("open",), "acknowledged"),
    Transition("start", "开始处理", ("open", "acknowledged"), "in_progress"),
    Transition("resolve", "处理完毕", ("open", "acknowledged", "in_progress"), "resolved"),
    Transition("false_alarm", "误报", ("open", "acknowledged", "in_progress"), "false_alarm",
               note_required=True),
), Refusal("告警当前状态为“{state_zh}”，不能{action_zh}",
           "cannot {action_en} an alarm that is {state}"))

STATES = LIFECYCLE.states
ACTIVE_STATES = ("open", "acknowledged", "in_progress")
FINAL_STATES = ("resolved", "false_alarm")
TRANSITIONS = LIFECYCLE.transitions
STATE_ZH = LIFECYCLE.state_zh


@dataclass(frozen=True)
class AlarmRule:
    """An event kind that opens an alarm.

    ``source`` names the data fields that, with the device, identify the thing in trouble (a
    detector's system, zone and position; an elevator); ``detail`` the fields that tell one
    condition of it from another (an elevator's fault reason). Together with the site and the
    kind they are the fold key: a repeat of the same key while the alarm is active adds to its
    count instead of opening another. A field written ``a|b`` takes the first one present;
    ``x.y`` reads inside a nested object.

    ``condition`` names the condition in the words restore events use for what cleared (a
    data field, or ``=literal``): a ``fire.restored`` with ``cleared: ["fire"]`` marks the
    detector's fire alarm restored, not its fault alarm.
    """

    kind: str
    severity: str
    title_zh: str
    title_en: str
    source: tuple[str, ...] = ()
    detail: tuple[str, ...] = ()
    #: Take the severity from this event data field when it holds a known severity; a
    #: value in ``NO_ALARM_SEVERITIES`` (``info``) opens no alarm.
    severity_field: str | None = None
    condition: str | None = None


@dataclass(frozen=True)
class RestoreRule:
    """An event that records on the matching active alarms that the condition cleared.

    It never closes them (a guard resolves), it only sets ``restored_at``. It matches the
    active alarms of ``kinds`` whose source (device + the alarm rule's ``source`` fields, read
    from the restore event) is the same thing; when the restore also carries the rule's
    ``detail`` fields, the condition must be the same too; and when it names what cleared
    (``cleared_field``: a value or a list; absent or null means everything), the alarm's
    ``condition`` must be among them.
    """

    kind: str
    kinds: tuple[str, ...]
    cleared_field: str | None = "cleared"


@dataclass(frozen=True)
class Role:
    key: str
    zh: str
    en: str


@dataclass(frozen=True)
class EscalationPolicy:
    """Unacknowledged for ``ack_timeout_s[severity]`` seconds: tell the next role in ``chain``.

    Level 0 is the first role (the guards, who see every alarm on the board); each further
    window without an acknowledgement raises the level by one, up to the end of the chain.
    """

    ack_timeout_s: Mapping[str, float] = field(default_factory=lambda: {
        "critical": 60.0, "major": 300.0, "minor": 1800.0})
    chain: tuple[Role, ...] = (
        Role("guard", "保安", "guard"),
        Role("security_supervisor", "安保主管", "security supervisor"),
        Role("property_manager", "物业经理", "property manager"),
    )

    @property
    def max_level(self) -> int:
        return len(self.chain) - 1


#: A fire event's thing: the UITD, the facility system and the component's zone and
#: position (``drivers.fire.events``; system-level and UITD-level events lack the latter).
_FIRE_SOURCE = ("uitd", "system_type", "system_address|system_addr", "zone", "position")
_UITD_SOURCE = ("uitd",)
#: The fire driver names each raised condition (``fire``, ``main_power_fault``…) and lists
#: the cleared ones in its restore events.
_CONDITION = ("condition",)


def _r(kind: str, severity: str, zh: str, en: str, source: tuple[str, ...] = (),
       detail: tuple[str, ...] = (), severity_field: str | None = None,
       condition: str | None = None) -> AlarmRule:
    return AlarmRule(kind, severity, zh, en, source, detail, severity_field, condition)


def _fire(kind: str, severity: str, zh: str, en: str,
          source: tuple[str, ...] = _FIRE_SOURCE) -> AlarmRule:
    return _r(kind, severity, zh, en, source, _CONDITION, condition="condition")


DEFAULT_RULES: tuple[AlarmRule, ...] = (
    _fire(Kind.FIRE_ALARM, "critical", "火警", "Fire alarm"),
    _fire(Kind.FIRE_FAULT, "major", "消防设备故障", "Fire equipment fault"),
    _fire(Kind.FIRE_SUPERVISORY, "major", "消防监管报警", "Fire supervisory alarm"),
    _fire(Kind.FIRE_POWER_FAULT, "major", "消防电源故障", "Fire system power fault"),
    _fire(Kind.FIRE_SHIELDED, "minor", "消防设备被屏蔽", "Fire device disabled (shielded)"),
    _fire(Kind.UITD_POWER_FAULT, "major", "用户信息传输装置电源故障", "UITD power fault",
          _UITD_SOURCE),
    _fire(Kind.UITD_FAULT, "major", "用户信息传输装置故障", "UITD fault", _UITD_SOURCE),
    # One trapped alarm per elevator whatever the reason (a trap detected from the state may
    # turn into the box's own trapped code); faults fold per fault.
    _r(Kind.ELEVATOR_TRAPPED, "critical", "电梯困人", "Passengers trapped in elevator",
       condition="=trapped"),
    _r(Kind.ELEVATOR_FAULT, "major", "电梯故障", "Elevator fault", (), ("key|code",),
       severity_field="severity", condition="=fault"),
    _r(Kind.GATE_FAULT, "major", "道闸故障", "Barrier gate fault", ("gate",), ("fault",)),
    _r(Kind.CAMERA_DEGRADED, "minor", "摄像机画面异常", "Camera degraded"),
    _r(Kind.DOOR_FORCED, "major", "门被强行打开", "Door forced open", ("door",)),
    _r(Kind.DOOR_HELD_OPEN, "minor", "门长时间未关", "Door held open", ("door",)),
    # A controller down leaves its doors unknown (cards may still work on its own list).
    _r(Kind.CONTROLLER_OFFLINE, "major", "门禁控制器离线", "Door controller offline"),
    _r(Kind.READER_OFFLINE, "minor", "读卡器离线", "Card reader offline", ("reader",)),
    _r(Kind.READER_TAMPER, "major", "读卡器防拆报警", "Card reader tamper", ("reader",),
       condition="=tamper"),
    _r(Kind.READER_POWER_FAULT, "major", "读卡器电源故障", "Card reader power fault",
       ("reader",), condition="=power_fault"),
    # The reader looked as for any grant; only the guards learn of it.
    _r(Kind.ACCESS_DURESS, "critical", "胁迫开门（静默报警）", "Duress code used (silent alarm)",
       ("reader",)),
    # Patrol (巡更): one alarm per missed checkpoint of a round, per missed round, per tag
    # heard where it could not have walked to (a cloned tag).
    _r(Kind.PATROL_CHECKPOINT_MISSED, "major", "巡更漏检", "Patrol checkpoint missed",
       ("plan", "checkpoint"), ("round",)),
    _r(Kind.PATROL_ROUND_MISSED, "major", "巡更未按时开始", "Patrol round not started",
       ("plan",), ("round",)),
    _r(Kind.PATROL_TAG_CLONED, "critical", "巡更标签疑似被复制", "Patrol tag cloned",
       ("tag",)),
    # Stored by ingest: an event came to a stored position with another id (forged, or a
    # cloned edge data dir); one alarm per outbox epoch folds the repeats.
    _r(Kind.INGEST_CONFLICT, "major", "事件序号冲突（疑似伪造或克隆网关）",
       "Event position conflict (forged events or a cloned edge)", ("epoch",)),
)

DEFAULT_RESTORES: tuple[RestoreRule, ...] = (
    RestoreRule(Kind.FIRE_RESTORED, (Kind.FIRE_ALARM, Kind.FIRE_FAULT, Kind.FIRE_SUPERVISORY,
                                     Kind.FIRE_POWER_FAULT, Kind.FIRE_SHIELDED)),
    RestoreRule(Kind.UITD_RESTORED, (Kind.UITD_FAULT, Kind.UITD_POWER_FAULT,
                                     Kind.FIRE_ALARM)),
    RestoreRule(Kind.ELEVATOR_RECOVERED, (Kind.ELEVATOR_TRAPPED, Kind.ELEVATOR_FAULT)),
    RestoreRule(Kind.CAMERA_RECOVERED, (Kind.CAMERA_DEGRADED,), cleared_field=None),
    RestoreRule(Kind.READER_RESTORED, (Kind.READER_TAMPER, Kind.READER_POWER_FAULT)),
    RestoreRule(Kind.READER_ONLINE, (Kind.READER_OFFLINE,), cleared_field=None),
    RestoreRule(Kind.CONTROLLER_ONLINE, (Kind.CONTROLLER_OFFLINE,), cleared_field=None),
)

#: An event severity that opens no alarm (an elevator's "fire return" is information).
NO_ALARM_SEVERITIES = ("info",)

#: Edge linkage reports, attached to the alarm opened by their ``cause_event``
#: (``linkage.reset`` names an incident, not an event, so it is not attached).
LINKAGE_KINDS = (Kind.LINKAGE_TRIGGERED, Kind.LINKAGE_ACTION)


@dataclass(frozen=True)
class AlarmPolicy:
    rules: Mapping[str, AlarmRule] = field(
        default_factory=lambda: {r.kind: r for r in DEFAULT_RULES})
    restores: Mapping[str, RestoreRule] = field(
        default_factory=lambda: {r.kind: r for r in DEFAULT_RESTORES})
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)

    def severity_for(self, rule: AlarmRule, data: Mapping[str, Any]) -> str | None:
        """The alarm's severity, or None when the event says it is information only."""
        if rule.severity_field:
            raw = data.get(rule.severity_field)
            if isinstance(raw, str) and raw.lower() in SEVERITIES:
                return raw.lower()
            if isinstance(raw, str) and raw.lower() in NO_ALARM_SEVERITIES:
                return None
        return rule.severity


DEFAULT_POLICY = AlarmPolicy()


class AlarmPolicyError(ConfigError, ValueError):
    """A policy we cannot use: ``where`` and ``reason`` name the first problem, ``problems``
    lists them all (from a file, each at FILE:LINE:COL)."""

    def __init__(self, where: str, reason: str, problems: list[Problem] | None = None) -> None:
        super().__init__(problems or [Problem(where, 0, 0, reason, "")])
        self.where = where
        self.reason = reason


def _fields(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise AlarmPolicyError(where, "须为字段名列表 / must be a list of field names")
    return tuple(raw)


def _severity(raw: Any, where: str) -> str:
    if raw not in SEVERITIES:
        raise AlarmPolicyError(where, f"须为 {'/'.join(SEVERITIES)} 之一 / must be one of "
                                      f"{', '.join(SEVERITIES)}; got {raw!r}")
    return str(raw)


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise AlarmPolicyError(where, "须为映射 / must be a mapping")
    return raw


def _rule(kind: str, raw: Any, base: AlarmRule | None, where: str) -> AlarmRule | None:
    if raw is None or raw is False:
        return None  # ``kind: null`` switches a default rule off
    doc = _mapping(raw, where)
    unknown = set(doc) - {"severity", "title", "source", "detail", "severity_field",
                          "condition"}
    if unknown:
        raise AlarmPolicyError(f"{where}.{sorted(unknown)[0]}", "未知字段 / unknown field")
    rule = base or AlarmRule(kind, "major", kind, kind)
    if "severity" in doc:
        rule = replace(rule, severity=_severity(doc["severity"], f"{where}.severity"))
    if "title" in doc:
        title = _mapping(doc["title"], f"{where}.title")
        zh, en = title.get("zh"), title.get("en")
        if not (isinstance(zh, str) and zh and isinstance(en, str) and en):
            raise AlarmPolicyError(f"{where}.title", "须有 zh 与 en / needs zh and en")
        rule = replace(rule, title_zh=zh, title_en=en)
    if "source" in doc:
        rule = replace(rule, source=_fields(doc["source"], f"{where}.source"))
    if "detail" in doc:
        rule = replace(rule, detail=_fields(doc["detail"], f"{where}.detail"))
    for name in ("severity_field", "condition"):
        if name in doc:
            value = doc[name]
            if value is not None and not (isinstance(value, str) and value):
                raise AlarmPolicyError(f"{where}.{name}", "须为字段名 / must be a field name")
            rule = (replace(rule, severity_field=value) if name == "severity_field"
                    else replace(rule, condition=value))
    return rule


def _escalation(raw: Any, base: EscalationPolicy, where: str) -> EscalationPolicy:
    doc = _mapping(raw, where)
    unknown = set(doc) - {"ack_timeout_s", "chain"}
    if unknown:
        raise AlarmPolicyError(f"{where}.{sorted(unknown)[0]}", "未知字段 / unknown field")
    out = base
    if "ack_timeout_s" in doc:
        timeouts = dict(base.ack_timeout_s)
        for sev, secs in _mapping(doc["ack_timeout_s"], f"{where}.ack_timeout_s").items():
            _severity(sev, f"{where}.ack_timeout_s")
            if isinstance(secs, bool) or not isinstance(secs, int | float) or secs <= 0:
                raise AlarmPolicyError(f"{where}.ack_timeout_s.{sev}",
                                       "须为正数（秒）/ must be a positive number of seconds")
            timeouts[sev] = float(secs)
        out = replace(out, ack_timeout_s=timeouts)
    if "chain" in doc:
        chain_raw = doc["chain"]
        if not isinstance(chain_raw, list) or not chain_raw:
            raise AlarmPolicyError(f"{where}.chain", "须为非空列表 / must be a non-empty list")
        roles = []
        for i, item in enumerate(chain_raw):
            spot = f"{where}.chain[{i}]"
            entry = _mapping(item, spot)
            key, zh, en = entry.get("role"), entry.get("zh"), entry.get("en")
            if not all(isinstance(v, str) and v for v in (key, zh, en)):
                raise AlarmPolicyError(spot, "须有 role、zh、en / needs role, zh and en")
            if len(str(key)) > 64:
                raise AlarmPolicyError(f"{spot}.role", "最长 64 个字符 / at most 64 characters")
            roles.append(Role(str(key), str(zh), str(en)))
        out = replace(out, chain=tuple(roles))
    return out


def policy_from_dict(doc: Mapping[str, Any], where: str = "policy", *,
                     problems: list[AlarmPolicyError] | None = None) -> AlarmPolicy:
    """The defaults with ``doc`` laid over them (rules merge field by field, per kind).

    The first problem raises; with ``problems``, each refused part (a field, a rule, the
    escalation) is recorded there instead, so a file's every mistake shows in one run.
    """

    def refuse(exc: AlarmPolicyError) -> None:
        if problems is None:
            raise exc
        problems.append(exc)

    doc = _mapping(doc, where)
    for name in sorted(set(doc) - {"rules", "escalation"}):
        refuse(AlarmPolicyError(f"{where}.{name}", "未知字段 / unknown field"))
    rules = dict(DEFAULT_POLICY.rules)
    entries: Mapping[str, Any] = {}
    try:
        entries = _mapping(doc.get("rules") or {}, f"{where}.rules")
    except AlarmPolicyError as exc:
        refuse(exc)
    for kind, raw in entries.items():
        try:
            if kind in DEFAULT_POLICY.restores or kind in LINKAGE_KINDS:
                raise AlarmPolicyError(f"{where}.rules.{kind}",
                                       "此事件用于恢复或联动，不能开告警 / this kind restores or "
                                       "reports linkage; it cannot open alarms")
            rule = _rule(str(kind), raw, rules.get(str(kind)), f"{where}.rules.{kind}")
        except AlarmPolicyError as exc:
            refuse(exc)
            continue
        if rule is None:
            rules.pop(str(kind), None)
        else:
            rules[str(kind)] = rule
    escalation = DEFAULT_POLICY.escalation
    if doc.get("escalation") is not None:
        try:
            escalation = _escalation(doc["escalation"], escalation, f"{where}.escalation")
        except AlarmPolicyError as exc:
            refuse(exc)
    return AlarmPolicy(rules=rules, restores=DEFAULT_POLICY.restores, escalation=escalation)


def load_policy(path: str | Path | None) -> AlarmPolicy:
    """The policy in a YAML file, or the defaults when no file is named (or it is empty).

    Every problem of the file is raised at once, each at FILE:LINE:COL.
    """
    if path is None or str(path).strip() == "":
        return DEFAULT_POLICY
    file = str(Path(path))
    try:
        doc = plain(read_yaml(Path(path), allow_empty=True))
    except ConfigError as exc:
        raise AlarmPolicyError(file, exc.problems[0].what, exc.problems) from None
    found: list[AlarmPolicyError] = []
    try:
        policy = policy_from_dict(doc, file, problems=found)
    except AlarmPolicyError as exc:  # the file is not a mapping at all
        found.append(exc)
    if not found:
        return policy
    problems = [Problem.at(where_is(doc, file, e.where) or Pos(file, 0, 0), e.reason, "",
                           e.where[len(file) + 1:]) for e in found]
    problems.sort(key=lambda p: (p.line, p.col))
    raise AlarmPolicyError(found[0].where, found[0].reason, problems)
