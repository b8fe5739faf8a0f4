"""Door schedules in the site file's ``access`` section: normally-open windows, first card.

```yaml
access:
  time_profiles:                       # named windows doors can share
    office: [{days: [1, 2, 3, 4, 5], from: "08:00", to: "18:00"}]
  doors:
    - {id: 1-lobby, controller: c1, door: 3, normally_open: office, first_card: true}
  readers:
    - {id: r-2-in, line: /dev/ttyUSB0, address: 1, door: 2-lobby,
       normally_open: [{days: [6, 7], from: "09:00", to: "12:00"}]}
```

``normally_open`` is a list of windows or the name of one of ``time_profiles``; ``days`` are
ISO weekdays (1 = Monday, all seven when left out) and the times are the site's; a ``to`` not
after ``from`` runs past midnight. ``first_card: true`` keeps the door controlled within a
window until the first granted card there. On reader doors the schedule is written on one
reader of the door. Every mistake is reported at FILE:LINE:COL with the fix.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from edge.access.credentials import Window
from edge.access.door_schedule import DoorSchedule, DoorSchedules
from edge.config.schema import (
    INVALID,
    Bool,
    Ctx,
    Field,
    Int,
    ListOf,
    MapOf,
    Record,
    RecordValue,
    Spec,
    Str,
    suggest,
)
from yamlcheck.positions import YNode, YScalar, YSeq
from yamlcheck.problems import bi

#: The keys a door or reader entry may carry for its schedule (not the drivers' business).
SCHEDULE_KEYS = ("normally_open", "first_card")
ALL_DAYS = frozenset(range(1, 8))
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_TIME = Str(zh='时刻 "HH:MM"，如 "07:30"', en='a time of day "HH:MM", e.g. "07:30"',
            pattern=r"([01]?[0-9]|2[0-3]):[0-5][0-9]")

WINDOW = Record(fields={
    "days": Field(ListOf(item=Int(lo=1, hi=7)), required=False),
    "from": Field(_TIME, example='from: "08:00"'),
    "to": Field(_TIME, example='to: "18:00"'),
})
WINDOWS = ListOf(item=WINDOW)


class NormallyOpen(Spec):
    """A list of windows, or the name of a profile under ``access.time_profiles``."""

    def __init__(self) -> None:
        super().__init__(zh="时段列表（[{days, from, to}]）或 time_profiles 中的名称",
                         en="a list of windows ([{days, from, to}]) or a name from "
                            "time_profiles")

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        if isinstance(node, YSeq):
            return WINDOWS.convert(node, ctx, label)
        if isinstance(node, YScalar) and isinstance(node.value, str):
            return Str(zh=self.zh, en=self.en, pattern=_NAME).convert(node, ctx, label)
        return self.wrong(node, ctx, label, '例如 normally_open: [{days: [1, 2, 3, 4, 5], '
                          'from: "08:00", to: "18:00"}]',
                          'e.g. normally_open: [{days: [1, 2, 3, 4, 5], from: "08:00", '
                          'to: "18:00"}]')


#: Added to the door and reader records (edge/config/access_schema.py, reader_schema.py).
SCHEDULE_FIELDS = {
    "normally_open": Field(NormallyOpen(), required=False),
    "first_card": Field(Bool(), required=False),
}
TIME_PROFILES = MapOf(value=WINDOWS)


def _records(raw: RecordValue, key: str) -> list[RecordValue]:
    return [item for item in raw.get(key, []) if isinstance(item, RecordValue)]


def _check_windows(ctx: Ctx, owner: RecordValue, key: str, windows: list[Any]) -> None:
    if not windows:
        ctx.add(owner.pos(key), bi(f'"{key}" 至少需要一个时段', f'"{key}" needs a window'),
                bi('例如 [{days: [1, 2, 3, 4, 5], from: "08:00", to: "18:00"}]',
                   'e.g. [{days: [1, 2, 3, 4, 5], from: "08:00", to: "18:00"}]'))
    for w in windows:
        if not isinstance(w, RecordValue):
            continue
        if "days" in w and not w["days"]:
            ctx.add(w.pos("days"), bi("days 为空：该时段永不生效",
                                      "days is empty: the window never applies"),
                    bi("写出星期几（1 = 周一 … 7 = 周日），或删除 days 表示每天",
                       "list the weekdays (1 = Monday … 7 = Sunday), or drop days for every "
                       "day"))
        if "from" in w and "to" in w and _time(w["from"]) == _time(w["to"]):
            ctx.add(w.pos("to"), bi(f"时段从 {w['from']} 到 {w['to']}：起止相同",
                                    f"the window runs from {w['from']} to {w['to']}: "
                                    "no length"),
                    bi('让 to 与 from 不同；跨午夜写 from: "22:00", to: "06:00"',
                       'make to differ from from; past midnight write from: "22:00", '
                       'to: "06:00"'))


def check_schedules(ctx: Ctx, access: RecordValue) -> None:
    """Profiles named exist, windows have a length, first_card has windows, one reader per
    door carries the door's schedule."""
    profiles = access.get("time_profiles")
    names = list(profiles) if isinstance(profiles, RecordValue) else []
    if isinstance(profiles, RecordValue):
        for name, windows in profiles.items():
            _check_windows(ctx, profiles, name, windows)
    scheduled_by: dict[Any, Any] = {}
    for kind, entry in ([("door", d) for d in _records(access, "doors")]
                        + [("reader", r) for r in _records(access, "readers")]):
        value = entry.get("normally_open")
        if isinstance(value, list):
            _check_windows(ctx, entry, "normally_open", value)
        elif isinstance(value, str) and value not in names:
            close = suggest(value, names)
            ctx.add(entry.pos("normally_open"),
                    bi(f"时段 {value} 未在 access.time_profiles 中定义",
                       f"time profile {value} is not defined under access.time_profiles"),
                    bi(f'是否应为 "{close}"?', f'did you mean "{close}"?') if close else
                    bi(f"可用：{', '.join(names) or '无'}；或直接写时段列表",
                       f"known: {', '.join(names) or 'none'}; or write the windows here"))
        if entry.get("first_card") and "normally_open" not in entry.node.entries:
            ctx.add(entry.pos("first_card"),
                    bi("first_card 需要 normally_open 时段（首卡后常开到时段结束）",
                       "first_card needs normally_open windows (open after the first card "
                       "until the window ends)"),
                    bi('添加 normally_open: [{from: "08:00", to: "18:00"}]，或删除 first_card',
                       'add normally_open: [{from: "08:00", to: "18:00"}], or remove '
                       'first_card'))
        if kind != "reader" or not any(k in entry for k in SCHEDULE_KEYS):
            continue
        door, first = entry.get("door"), scheduled_by.get(entry.get("door"))
        if first is not None:
            key = "normally_open" if "normally_open" in entry else "first_card"
            ctx.add(entry.pos(key),
                    bi(f"门 {door} 的时段已写在读卡器 {first} 上",
                       f"the schedule of door {door} is already on reader {first}"),
                    bi("每个门的时段只写在它的一个读卡器上",
                       "write a door's schedule on one of its readers only"))
        else:
            scheduled_by[door] = entry.get("id")


def _time(text: Any) -> time | Any:
    hours, _, minutes = str(text).partition(":")
    try:
        return time(int(hours), int(minutes))
    except ValueError:
        return INVALID


def _windows(raw: list[Any]) -> tuple[Window, ...]:
    return tuple(Window(frozenset(w.get("days") or ALL_DAYS), _time(w["from"]), _time(w["to"]))
                 for w in raw)


def without_schedule(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's fields less its schedule (for the driver's own door or reader spec)."""
    return {k: v for k, v in entry.items() if k not in SCHEDULE_KEYS}


def build_schedules(raw: RecordValue | None, timezone: str) -> DoorSchedules | None:
    """The doors with a ``normally_open`` schedule; None when none has one."""
    if raw is None:
        return None
    profiles = raw.get("time_profiles") or {}
    out = []
    for entry in [*raw.get("doors", ()), *raw.get("readers", ())]:
        value = entry.get("normally_open")
        if value is None:
            continue
        named = value if isinstance(value, str) else None
        windows = _windows(profiles[named] if named is not None else value)
        out.append(DoorSchedule(str(entry["door"] if "line" in entry else entry["id"]),
                                windows, bool(entry.get("first_card", False)), named))
    return DoorSchedules(tuple(out), timezone) if out else None
