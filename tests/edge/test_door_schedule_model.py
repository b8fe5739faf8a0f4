"""When a door's schedule says open, and when that changes next: weekdays, windows past
midnight, back-to-back windows, and a state file the scheduler cannot read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contract import FakeClock, NewEvent
from edge.access.credentials import Window
from edge.access.door_schedule import DoorSchedule, DoorSchedules
from edge.access.scheduler import DoorScheduler

TZ = ZoneInfo("Asia/Shanghai")
WEEKDAYS = frozenset({1, 2, 3, 4, 5})


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """December 2026, site time (the 7th is a Monday)."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=TZ)


def test_a_weekday_window_changes_next_on_monday_after_a_friday_evening() -> None:
    s = DoorSchedule("d", (Window(WEEKDAYS, dt.time(8), dt.time(18)),))
    assert s.state(at(11, 9), TZ) == (True, at(11, 18))
    assert s.state(at(11, 18), TZ) == (False, at(14, 8))    # Friday 18:00 → Monday 08:00
    assert s.state(at(13, 12), TZ) == (False, at(14, 8))    # Sunday


def test_a_window_past_midnight_and_back_to_back_windows() -> None:
    night = DoorSchedule("d", (Window(frozenset({1}), dt.time(22), dt.time(6)),))
    assert night.state(at(7, 23), TZ) == (True, at(8, 6))    # Monday night → Tuesday 06:00
    assert night.state(at(8, 5), TZ) == (True, at(8, 6))
    assert night.state(at(8, 7), TZ) == (False, at(14, 22))
    days = frozenset(range(1, 8))
    joined = DoorSchedule("d", (Window(days, dt.time(8), dt.time(12)),
                                Window(days, dt.time(12), dt.time(14))))
    assert joined.state(at(7, 9), TZ) == (True, at(7, 14)), "12:00 is no change"


def test_a_window_that_never_ends_has_no_next_change() -> None:
    always = DoorSchedule("d", (Window(frozenset(range(1, 8)), dt.time(0), dt.time(0)),))
    assert always.state(at(9, 3), TZ) == (True, None)


async def test_an_unreadable_state_file_starts_from_the_schedules(tmp_path: Path) -> None:
    state = tmp_path / "door-schedule.json"
    state.write_text('{"v": 1, "overrides": {"d": {"mode": "normally_closed"}}}',
                     encoding="utf-8")  # no "by": not a state this edge wrote
    schedules = DoorSchedules((DoorSchedule(
        "d", (Window(frozenset(range(1, 8)), dt.time(8), dt.time(9)),)),))
    set_to: list[str] = []

    class Driver:
        async def set_door_mode(self, door_id: str, mode: str,
                                delay: int | None = None) -> tuple[str, int]:
            set_to.append(mode)
            return mode, 0

        async def door_mode(self, door_id: str) -> tuple[str, int]:
            return "controlled", 0

    events: list[NewEvent] = []

    async def emit(ev: NewEvent) -> None:
        events.append(ev)

    drivers: dict[str, Any] = {"d": Driver()}
    s = DoorScheduler(schedules, drivers, emit, FakeClock(at(7, 8, 30).astimezone(dt.UTC)),
                      state_file=state)
    await s.load()
    await s.reconcile()
    assert set_to == ["normally_open"]
    assert [(e.data["mode"], e.data["reason"]) for e in events] == [
        ("normally_open", "schedule")]
