"""The patrol dataset as the edge reads it, and the schedule of a plan's rounds in site time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from edge.patrol.plans import (
    Plan,
    Point,
    Route,
    next_start,
    read_plans,
    round_id,
    scheduled_starts,
)

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz).astimezone(UTC)


def plan(start: str = "22:00:00", end: str = "06:00:00", every_s: int = 7200,
         days: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)) -> Plan:
    route = Route("r", "外围", True, (Point("a", 0),))
    h, m, s = (int(x) for x in start.split(":"))
    eh, em, es = (int(x) for x in end.split(":"))
    return Plan("p", "夜班", route, frozenset(days), time(h, m, s), time(eh, em, es), every_s,
                600, 120, 300)


def doc(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "version": 3,
        "checkpoints": {"a": {"name": "北门岗亭", "building": "", "floor": "", "area": "北门",
                              "receiver": "omg-north", "qr": False},
                        "b": {"name": "1号楼大堂", "building": "1", "floor": "1", "area": "",
                              "receiver": None, "qr": True}},
        "routes": {"r": {"name": "外围", "ordered": True,
                         "points": [{"checkpoint": "a", "offset_s": 0},
                                    {"checkpoint": "b", "offset_s": 300}]}},
        "plans": {"p": {"name": "夜班", "route": "r", "days": [1, 2, 3, 4, 5, 6, 7],
                        "start": "22:00:00", "end": "06:00:00", "every_s": 7200,
                        "start_window_s": 600, "tolerance_s": 120, "late_s": 300,
                        "tolerances": {"b": 300}, "escalate_s": 600}},
        "tags": {"ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949":
                 {"guard": "张保安", "label": "巡更棒 07"}},
    }
    d.update(over)
    return d


def test_a_good_document_reads_whole() -> None:
    data = read_plans(doc())
    assert data.version == 3 and data.skipped == []
    p = data.plans["p"]
    assert [pt.checkpoint for pt in p.route.points] == ["a", "b"]
    assert p.tolerance_for("b") == 300 and p.tolerance_for("a") == 120
    assert data.checkpoint_at("omg-north") == "a"
    assert data.guard_of("ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949") == "张保安"
    assert data.guard_of("ibeacon:00000000-0000-0000-0000-000000000000:1:1") is None


def test_bad_entries_are_skipped_one_by_one_with_a_reason() -> None:
    d = doc()
    d["routes"]["empty"] = {"name": "空", "ordered": False, "points": []}
    d["routes"]["ghost"] = {"name": "幽灵", "ordered": True,
                            "points": [{"checkpoint": "nowhere", "offset_s": 0}]}
    d["plans"]["bad-time"] = {**d["plans"]["p"], "start": "25:00:00"}
    d["plans"]["no-route"] = {**d["plans"]["p"], "route": "empty"}
    d["plans"]["bad-days"] = {**d["plans"]["p"], "days": [0, 8]}
    d["tags"]["x"] = {"label": "no guard"}
    data = read_plans(d)
    skipped = dict(data.skipped)
    assert set(skipped) == {"routes.empty", "routes.ghost", "plans.bad-time", "plans.no-route",
                            "plans.bad-days", "tags.x"}
    assert "empty route" in skipped["routes.empty"]
    assert "nowhere" in skipped["routes.ghost"]
    assert "HH:MM:SS" in skipped["plans.bad-time"]
    assert "route" in skipped["plans.no-route"]
    assert set(data.plans) == {"p"} and set(data.routes) == {"r"}  # the rest still works


def test_a_non_document_is_refused() -> None:
    bads: list[Any] = [None, [], {"version": "x"}, {"version": -1}]
    for bad in bads:
        try:
            read_plans(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was read")


def test_overnight_plan_runs_past_midnight() -> None:
    got = scheduled_starts(plan(), SH, local(2026, 3, 2, 12), local(2026, 3, 3, 12))
    assert [s.astimezone(SH).strftime("%a %H:%M") for s in got] == [
        "Mon 22:00", "Tue 00:00", "Tue 02:00", "Tue 04:00"]  # not 06:00: end is exclusive


def test_a_range_starting_after_midnight_still_sees_yesterdays_shift() -> None:
    got = scheduled_starts(plan(), SH, local(2026, 3, 3, 1), local(2026, 3, 3, 5))
    assert [s.astimezone(SH).strftime("%H:%M") for s in got] == ["02:00", "04:00"]


def test_days_are_the_weekday_of_each_start() -> None:
    monday = plan(days=(1,))
    week = scheduled_starts(monday, SH, local(2026, 3, 2, 0), local(2026, 3, 9, 0))
    # The weekday of each start counts, not the shift's: Tue 00:00… (Monday night's shift)
    # start on a Tuesday and are not scheduled; Mon 00:00… (Sunday night's shift) are.
    assert [s.astimezone(SH).strftime("%a %H:%M") for s in week] == [
        "Mon 00:00", "Mon 02:00", "Mon 04:00", "Mon 22:00"]


def test_one_a_day_and_a_24_hour_shift() -> None:
    daily = plan(start="08:30:00", end="08:30:00", every_s=0)
    got = scheduled_starts(daily, SH, local(2026, 3, 2, 0), local(2026, 3, 5, 0))
    assert [s.astimezone(SH).strftime("%d %H:%M") for s in got] == ["02 08:30", "03 08:30",
                                                                      "04 08:30"]
    allday = plan(start="00:00:00", end="00:00:00", every_s=6 * 3600)
    got = scheduled_starts(allday, SH, local(2026, 3, 2, 0), local(2026, 3, 3, 0))
    assert [s.astimezone(SH).hour for s in got] == [0, 6, 12, 18]


def test_range_bounds_are_half_open() -> None:
    at = local(2026, 3, 2, 22)
    assert scheduled_starts(plan(), SH, at, at + timedelta(seconds=1)) == [at]
    assert scheduled_starts(plan(), SH, at - timedelta(hours=1), at) == []
    assert next_start(plan(), SH, at) == local(2026, 3, 3, 0)
    assert next_start(plan(days=(1,)), SH, at) == local(2026, 3, 9, 0)


def test_dst_keeps_wall_times_and_never_doubles_a_round() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # 2026-03-29 02:00 → 03:00; 2026-10-25 03:00 → 02:00
    hourly = plan(start="00:00:00", end="05:00:00", every_s=3600)
    spring = scheduled_starts(hourly, berlin, local(2026, 3, 29, 0, tz=berlin),
                              local(2026, 3, 29, 6, tz=berlin))
    assert len(spring) == len(set(spring)) == 4  # 02:00 does not exist that night
    assert [s.astimezone(berlin).hour for s in spring] == [0, 1, 3, 4]
    autumn = scheduled_starts(hourly, berlin, local(2026, 10, 25, 0, tz=berlin),
                              local(2026, 10, 25, 6, tz=berlin))
    assert [s.astimezone(berlin).hour for s in autumn] == [0, 1, 2, 3, 4]
    assert autumn == sorted(autumn)


def test_round_id_names_plan_and_utc_start() -> None:
    assert round_id("night-2h", local(2026, 3, 2, 22)) == "night-2h@2026-03-02T14:00:00Z"
