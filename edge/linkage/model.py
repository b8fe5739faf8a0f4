"""Fire linkage rules as data, and what a fire event says about where it is.

A rule turns an event (``fire.alarm`` by default) into actions at the edge: unlock the egress
doors of the event's building, hold the barrier gates open, recall the building's elevators
and raise a critical alarm. Rules come from the site YAML (``rules_from_config``) or
``default_rules()`` (every fire alarm anywhere triggers everything).

An alarm whose location is unknown (no ``location``, or no building in it) could be in any
building, so it is treated as being in every building the rule covers: the egress doors of
all of them (``ALL_BUILDINGS`` for the door driver) and all their elevators. Unlocking a door
or recalling a lift that did not need it costs little; leaving people behind a locked door
costs lives. For the same reason a rule limited to some buildings still fires for an alarm of
unknown location, and then acts on the buildings it names. An elevator whose site entry names
no building is recalled only for an alarm of unknown location.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from contract import Kind, NewEvent

Result = Literal["ok", "failed", "noop", "refused"]
RESULTS: tuple[str, ...] = ("ok", "failed", "noop", "refused")
ActionName = Literal["unlock_doors", "raise_gate", "recall_elevator", "alarm"]

#: The door target (and building key) of an alarm whose building is unknown: every building.
ALL_BUILDINGS = "*"

FIRE_ALARM = Kind.FIRE_ALARM
FIRE_OPERATION = Kind.FIRE_OPERATION
LINKAGE_TRIGGERED = Kind.LINKAGE_TRIGGERED
LINKAGE_ACTION = Kind.LINKAGE_ACTION
LINKAGE_RESET = Kind.LINKAGE_RESET
EVENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What a device part answered to one command: a result and a zh / en explanation."""

    result: Result
    detail: str = ""

    def __post_init__(self) -> None:
        if self.result not in RESULTS:
            raise ValueError(f"result must be one of {', '.join(RESULTS)}, not {self.result!r}")


@dataclass(frozen=True, slots=True)
class LinkageRule:
    """Which events trigger which actions (see the module docstring for unknown locations)."""

    id: str
    on: tuple[str, ...] = (FIRE_ALARM,)       # event kinds
    buildings: tuple[str, ...] = ()           # empty = any building
    unlock_doors: bool = True                 # egress doors of the event's building
    raise_gates: tuple[str, ...] | str = "all"  # gate ids, or "all"
    recall_elevators: bool = True             # the elevators of the event's building
    alarm: bool = True                        # a critical local alarm (event linkage.triggered)
    include_test_mode: bool = True            # fires with bit0 clear still trigger
    reset_on_panel_reset: bool = False        # a panel reset does not reset linkage unless set

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError("联动规则须有 id / a linkage rule needs an id")
        if not self.on or not all(isinstance(k, str) and k for k in self.on):
            raise ValueError(f"rule {self.id}: on must list event kinds")
        if FIRE_OPERATION in self.on:
            raise ValueError(f"rule {self.id}: {FIRE_OPERATION} resets linkage, it cannot "
                             "trigger it")
        if isinstance(self.raise_gates, str) and self.raise_gates != "all":
            raise ValueError(f"rule {self.id}: raise_gates is 'all' or a list of gate ids, "
                             f"not {self.raise_gates!r}")
        if not isinstance(self.raise_gates, str) and not all(
                isinstance(g, str) and g for g in self.raise_gates):
            raise ValueError(f"rule {self.id}: raise_gates must list gate ids")
        if not all(isinstance(b, str) and b for b in self.buildings):
            raise ValueError(f"rule {self.id}: buildings must be non-empty strings")

    def matches(self, ev: NewEvent) -> bool:
        if ev.kind not in self.on:
            return False
        if is_test_mode(ev) and not self.include_test_mode:
            return False
        building = event_building(ev)
        # Unknown location: it may be in one of our buildings, so the rule applies.
        return not self.buildings or building is None or building in self.buildings

    def target_buildings(self, building: str | None) -> tuple[str, ...]:
        """The buildings this rule acts on for an alarm in ``building`` (None: unknown)."""
        if building is not None:
            return (building,)
        return self.buildings if self.buildings else (ALL_BUILDINGS,)

    def gate_ids(self, available: Iterable[str]) -> tuple[str, ...]:
        if isinstance(self.raise_gates, str):
            return tuple(sorted(available))
        return self.raise_gates


def default_rules() -> list[LinkageRule]:
    """A fire alarm anywhere unlocks egress doors, holds every gate open, recalls the
    building's elevators and raises the alarm; only a guard resets it."""
    return [LinkageRule(id="fire-default")]


def event_building(ev: NewEvent) -> str | None:
    """The building of a fire event's ``location`` as text, None when it is unknown."""
    loc = ev.data.get("location") if isinstance(ev.data, Mapping) else None
    if not isinstance(loc, Mapping):
        return None
    raw = loc.get("building")
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    return text or None


def event_location(ev: NewEvent) -> dict[str, Any] | None:
    loc = ev.data.get("location") if isinstance(ev.data, Mapping) else None
    return dict(loc) if isinstance(loc, Mapping) else None


def is_test_mode(ev: NewEvent) -> bool:
    return isinstance(ev.data, Mapping) and ev.data.get("test_mode") is True


def is_panel_reset(ev: NewEvent) -> bool:
    if ev.kind != FIRE_OPERATION or not isinstance(ev.data, Mapping):
        return False
    ops = ev.data.get("operations")
    return isinstance(ops, list | tuple) and "reset" in ops


def place_parts(building: str | None,
                location: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """``("1号楼 3层", "building 1, floor 3")``: where, in Chinese and in English."""
    if building is None or building == ALL_BUILDINGS:
        return "位置未知（全部楼栋）", "location unknown (all buildings)"
    zh, en = _unit(building, "号楼"), f"building {building}"
    floor = location.get("floor") if location else None
    if floor not in (None, ""):
        zh, en = f"{zh} {_unit(str(floor), '层')}", f"{en}, floor {floor}"
    return zh, en


def _unit(value: str, suffix: str) -> str:
    """``1`` → ``1号楼``; a name already written in Chinese (``1栋``, ``3层``) stays as is."""
    return value if any(ord(ch) > 0x2E7F for ch in value) else f"{value}{suffix}"


def place_text(building: str | None, location: Mapping[str, Any] | None = None) -> str:
    """``1号楼 3层 / building 1, floor 3`` (zh / en), for people."""
    zh, en = place_parts(building, location)
    return f"{zh} / {en}"


def linkage_text(zh: str, en: str, building: str | None,
                 location: Mapping[str, Any] | None = None) -> str:
    """``火警联动启动：1号楼 3层 / fire linkage triggered: building 1, floor 3``."""
    pz, pe = place_parts(building, location)
    return f"{zh}：{pz} / {en}: {pe}"


_LIST_FIELDS = ("on", "buildings")


def rules_from_config(raw: Any) -> list[LinkageRule]:
    """Rules from the site YAML (a list of mappings with the field names of ``LinkageRule``).

    ``None`` or a missing section means ``default_rules()``; an empty list means no linkage.
    Raises ValueError naming the rule and field that is wrong.
    """
    if raw is None:
        return default_rules()
    if not isinstance(raw, list):
        raise ValueError("linkage.rules 须为列表 / linkage.rules must be a list")
    known = {f.name for f in fields(LinkageRule)}
    rules: list[LinkageRule] = []
    for i, item in enumerate(raw):
        where = f"linkage.rules[{i}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where} 须为映射 / {where} must be a mapping")
        # YAML 1.1 (PyYAML's safe_load) reads an unquoted ``on:`` key as the boolean true.
        item = {("on" if key is True else key): value for key, value in item.items()}
        unknown = sorted(set(map(str, item)) - known)
        if unknown:
            raise ValueError(f"{where}: 未知字段 / unknown field(s): {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for key, value in item.items():
            if key in _LIST_FIELDS:
                kwargs[key] = _strings(value, f"{where}.{key}")
            elif key == "raise_gates":
                if value is None or value is False:
                    kwargs[key] = ()
                else:
                    kwargs[key] = value if value == "all" else _strings(value, f"{where}.{key}")
            elif key == "id":
                kwargs[key] = str(value)
            else:
                if not isinstance(value, bool):
                    raise ValueError(f"{where}.{key} 须为 true/false / must be true or false")
                kwargs[key] = value
        if "id" not in kwargs:
            raise ValueError(f"{where}.id 缺失 / {where}.id is required")
        rules.append(LinkageRule(**kwargs))
    ids = [r.id for r in rules]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise ValueError(f"联动规则 id 重复 / duplicate linkage rule id(s): {', '.join(dupes)}")
    return rules


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{where} 须为字符串列表 / {where} must be a list of strings")
    return tuple(str(v).strip() for v in value)
