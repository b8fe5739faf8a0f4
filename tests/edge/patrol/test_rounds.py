"""Round tracking as a supervisor sees it: on time, late, out of order, missed exactly at the
deadline, rounds nobody started, any-order routes, overnight and Monday-only plans.

Site time Asia/Shanghai (UTC+8); Monday 2026-03-02. The day plan: a round every 2 hours from
09:00 to 17:00, start window 10 min; route a (due +0), b (+5 min), c (+10 min); tolerance
2 min (c: 5 min), late 5 min more. So b is due 09:05, on time to 09:07, late to 09:12.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract import FakeClock, NewEvent
from edge.patrol.rounds import RoundTracker
from edge.patrol.store import PatrolStore

SH = ZoneInfo("Asia/Shanghai")
TAG = "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949"
LOOSE = "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:1:2"  # a tag issued to nobody
GUARD = "张保安"


def at(h: int, m: int = 0, s: int = 0, day: int = 2) -> datetime:
    """Site time on March ``day`` 2026 (the 2nd is a Monday), as UTC."""
    return datetime(2026, 3, day, h, m, s, tzinfo=SH).astimezone(UTC)


def document(version: int = 1, *, ordered: bool = True,
             points: tuple[tuple[str, int], ...] = (("a", 0), ("b", 300), ("c", 600)),
             **plan: Any) -> dict[str, Any]:
    names = {"a": "北门岗亭", "b": "1号楼大堂", "c": "地库入口", "d": "东门"}
    return {
        "version": version,
        "checkpoints": {k: {"name": v, "building": "", "floor": "", "area": "",
                            "receiver": f"rx-{k}", "qr": False} for k, v in names.items()},
        "routes": {"r": {"name": "日间", "ordered": ordered,
                         "points": [{"checkpoint": c, "offset_s": o} for c, o in points]}},
        "plans": {"day": {"name": "日班每2小时", "route": "r", "days": [1, 2, 3, 4, 5, 6, 7],
                          "start": "09:00:00", "end": "17:00:00", "every_s": 7200,
                          "start_window_s": 600, "tolerance_s": 120, "late_s": 300,
                          "tolerances": {"c": 300}, "escalate_s": 600, **plan}},
        "tags": {TAG: {"guard": GUARD, "label": "巡更棒 07"}},
    }


class Rig:
    """A tracker on a FakeClock and a real patrol.db, with what it emitted."""

    def __init__(self, data_dir: Path, start: datetime) -> None:
        self.data_dir = data_dir
        self.clock = FakeClock(start)
        self.emitted: list[NewEvent] = []
        self.fail_emit = False
        self.store: PatrolStore | None = None
        self.tracker: RoundTracker

    async def emit(self, ev: NewEvent) -> None:
        if self.fail_emit:
            raise OSError("outbox disk full")
        self.emitted.append(ev)

    async def start(self) -> RoundTracker:
        """(Re)start: a new store and tracker on the same file, as after a reboot."""
        if self.store is not None:
            await self.store.aclose()
        self.store = await PatrolStore.open(self.data_dir)
        self.tracker = RoundTracker(SH, self.clock, self.emit, self.store)
        await self.tracker.restore()
        return self.tracker

    def move_to(self, t: datetime) -> None:
        assert t >= self.clock.now(), "time only moves forward"
        self.clock.advance((t - self.clock.now()).total_seconds())

    async def visit(self, cp: str, t: datetime, *, guard: str | None = GUARD,
                    tag: str = TAG) -> list[NewEvent]:
        self.move_to(t)
        return await self.tracker.visit(cp, t, tag=tag, guard=guard, source="ble",
                                        receiver=f"rx-{cp}", rssi=-4, dwell_s=5.24)

    async def tick(self, t: datetime) -> list[NewEvent]:
        self.move_to(t)
        return await self.tracker.tick(t)


def what(events: list[NewEvent]) -> list[tuple[str, str]]:
    """(kind without ``patrol.``, the detail a supervisor reads first)."""
    out = []
    for e in events:
        d = e.data
        detail = (d.get("status") if e.kind == "patrol.checkpoint"
                  else d.get("checkpoint") if e.kind == "patrol.checkpoint_missed"
                  else d.get("outcome", ""))
        out.append((e.kind.removeprefix("patrol."), f"{d.get('checkpoint', '')}:{detail}"
                    if e.kind == "patrol.checkpoint" else str(detail)))
    return out


@asynccontextmanager
async def day_rig(data_dir: Path) -> AsyncIterator[Rig]:
    """A rig at 08:45 on the Monday with the day plan loaded; its store closed after."""
    r = Rig(data_dir, at(8, 45))
    await r.start()
    try:
        assert await r.tracker.load(document())
        yield r
    finally:
        if r.store is not None:
            await r.store.aclose()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with day_rig(tmp_path) as r:
        yield r


async def test_a_perfect_ordered_round(rig: Rig) -> None:
    got = await rig.visit("a", at(9, 1))
    returned = list(got)
    assert what(got) == [("round_started", ""), ("checkpoint", "a:on_time")]
    started, visit = got
    assert started.data["round"] == visit.data["round"] == "day@2026-03-02T01:00:00Z"
    assert started.data["guard"] == GUARD and started.data["tag"] == TAG
    assert visit.device == "rx-a" and started.device == "patrol"
    assert visit.data["rssi"] == -4 and visit.data["dwell_s"] == 5.2
    assert visit.data["due"] == "2026-03-02T01:00:00.000000Z"
    assert "张保安" in visit.data["message"] and "北门岗亭" in visit.data["message"]
    got = await rig.visit("b", at(9, 6))
    returned += got
    assert what(got) == [("checkpoint", "b:on_time")]
    got = await rig.visit("c", at(9, 12))
    returned += got
    assert what(got) == [("checkpoint", "c:on_time"), ("round_completed", "complete")]
    done = got[-1].data
    assert (done["on_time"], done["late"], done["missed"], done["out_of_order"]) == (3, 0, 0, 0)
    assert rig.emitted == returned  # emitted by the tracker itself, each once
    assert len({e.id for e in returned}) == 5
    assert await rig.tick(at(10, 0)) == []  # nothing left to raise for this round


async def test_a_skipped_checkpoint_is_missed_exactly_at_its_deadline(rig: Rig) -> None:
    await rig.visit("a", at(9, 1))
    assert rig.tracker.next_deadline() == at(9, 12)  # b: 09:05 + 2 min + 5 min
    assert await rig.tick(at(9, 11, 59)) == []
    got = await rig.tick(at(9, 12))
    assert what(got) == [("checkpoint_missed", "b")]
    alarm = got[0]
    assert alarm.ts == at(9, 12) and alarm.data["deadline"] == "2026-03-02T01:12:00.000000Z"
    assert alarm.data["guard"] == GUARD and alarm.data["escalate_s"] == 600
    assert "1号楼大堂" in alarm.data["message"] and "09:12" in alarm.data["message"]
    assert await rig.tick(at(9, 12, 30)) == []  # once, not on every tick
    late_b = await rig.visit("b", at(9, 12, 40))  # too late to count: recorded, no round
    assert what(late_b) == [("checkpoint", "b:unplanned")]
    got = await rig.visit("c", at(9, 14))
    assert what(got) == [("checkpoint", "c:on_time"), ("round_completed", "incomplete")]
    assert got[-1].data["missed"] == 1 and got[-1].data["on_time"] == 2


async def test_a_late_visit(rig: Rig) -> None:
    await rig.visit("a", at(9, 1))
    got = await rig.visit("b", at(9, 9))
    assert what(got) == [("checkpoint", "b:late")]
    assert "迟到" in got[0].data["message"] and "late" in got[0].data["message"]


async def test_out_of_order_on_an_ordered_route(rig: Rig) -> None:
    await rig.visit("a", at(9, 1))
    assert what(await rig.visit("c", at(9, 4))) == [("checkpoint", "c:out_of_order")]
    got = await rig.visit("b", at(9, 6))
    assert what(got) == [("checkpoint", "b:on_time"), ("round_completed", "complete")]
    assert got[-1].data["out_of_order"] == 1 and got[-1].data["on_time"] == 3


async def test_an_ordered_round_starts_only_at_its_first_checkpoint(rig: Rig) -> None:
    got = await rig.visit("b", at(9, 1))
    assert what(got) == [("checkpoint", "b:unplanned")]
    assert got[0].data["round"] is None and got[0].data["plan"] is None
    assert what(await rig.visit("a", at(9, 1, 30))) == [("round_started", ""),
                                                    ("checkpoint", "a:on_time")]


async def test_a_round_nobody_started_is_missed_at_the_end_of_its_window(rig: Rig) -> None:
    assert rig.tracker.next_deadline() == at(8, 50)  # the 09:00 round becomes trackable
    assert await rig.tick(at(8, 50)) == []
    assert rig.tracker.next_deadline() == at(9, 10)
    assert await rig.tick(at(9, 9, 59)) == []
    got = await rig.tick(at(9, 10))
    assert what(got) == [("round_missed", "")]
    assert got[0].data["round"] == "day@2026-03-02T01:00:00Z" and got[0].ts == at(9, 10)
    assert "未在 09:10 前开始" in got[0].data["message"]
    assert await rig.tick(at(9, 30)) == []  # no checkpoint alarms for a round never started
    assert rig.tracker.next_deadline() == at(10, 50)  # the 11:00 round becomes trackable
    late_start = await rig.visit("a", at(9, 31))
    assert what(late_start) == [("checkpoint", "a:unplanned")]


async def test_early_start_within_the_window(rig: Rig) -> None:
    assert what(await rig.visit("a", at(8, 49))) == [("checkpoint", "a:unplanned")]
    got = await rig.visit("a", at(8, 51))
    assert what(got) == [("round_started", ""), ("checkpoint", "a:on_time")]


async def test_an_unissued_tag_never_starts_a_round(rig: Rig) -> None:
    got = await rig.visit("a", at(9, 1), guard=None, tag=LOOSE)
    assert what(got) == [("checkpoint", "a:unplanned")]
    assert "guard" not in got[0].data and "未发放" in got[0].data["message"]
    assert what(await rig.tick(at(9, 10))) == [("round_missed", "")]


async def test_any_order_route(tmp_path: Path) -> None:
    r = Rig(tmp_path, at(8, 45))
    await r.start()
    await r.tracker.load(document(ordered=False))
    assert what(await r.visit("c", at(9, 2))) == [("round_started", ""),
                                                  ("checkpoint", "c:on_time")]
    assert what(await r.visit("a", at(9, 3))) == [("checkpoint", "a:late")]  # due 09:00
    got = await r.visit("b", at(9, 4))
    assert what(got) == [("checkpoint", "b:on_time"), ("round_completed", "complete")]
    assert got[-1].data["out_of_order"] == 0 and got[-1].data["late"] == 1
    assert r.store is not None
    await r.store.aclose()


async def test_repeat_visits_of_a_checkpoint_make_no_second_event(rig: Rig) -> None:
    await rig.visit("a", at(9, 1))
    assert await rig.visit("a", at(9, 2)) == []
    assert await rig.visit("a", at(9, 3, 30)) == []
    assert len(rig.emitted) == 2


async def test_overlapping_rounds_of_one_plan_each_get_their_own_visits(tmp_path: Path) -> None:
    r = Rig(tmp_path, at(8, 45))
    await r.start()  # every 10 minutes, a 15-minute route: two rounds are open at once
    await r.tracker.load(document(every_s=600, points=(("a", 0), ("b", 900))))
    first = await r.visit("a", at(9, 0))
    second = await r.visit("a", at(9, 10))  # a of the 09:00 round is done: the 09:10 one
    rounds = [first[0].data["round"], second[0].data["round"]]
    assert rounds == ["day@2026-03-02T01:00:00Z", "day@2026-03-02T01:10:00Z"]
    b1 = await r.visit("b", at(9, 15))  # goes to the earliest round still waiting for b
    assert b1[0].data["round"] == rounds[0] and b1[0].data["status"] == "on_time"
    b2 = await r.visit("b", at(9, 25))
    assert b2[0].data["round"] == rounds[1]
    assert what(b1)[-1] == what(b2)[-1] == ("round_completed", "complete")
    assert r.store is not None
    await r.store.aclose()


async def test_an_overnight_round_crosses_midnight(tmp_path: Path) -> None:
    r = Rig(tmp_path, at(23, 0))
    await r.start()
    await r.tracker.load(document(start="23:50:00", end="02:00:00", every_s=0,
                                  points=(("a", 0), ("b", 900))))
    got = await r.visit("a", at(23, 52))
    assert got[0].data["round"] == "day@2026-03-02T15:50:00Z"
    assert await r.tick(at(0, 11, 59, day=3)) == []  # b due 00:05, deadline 00:12
    assert what(await r.tick(at(0, 12, day=3))) == [("checkpoint_missed", "b"),
                                                    ("round_completed", "incomplete")]
    assert r.store is not None
    await r.store.aclose()


async def test_a_monday_only_plan_skips_the_other_days(tmp_path: Path) -> None:
    r = Rig(tmp_path, at(8, 0))
    await r.start()
    await r.tracker.load(document(days=[1], every_s=0))
    assert what(await r.tick(at(9, 10))) == [("round_missed", "")]  # Monday's
    assert r.tracker.next_deadline() == at(8, 50, day=9)  # next Monday, not Tuesday
    for day in range(3, 9):
        assert await r.tick(at(9, 30, day=day)) == []
    assert what(await r.tick(at(9, 10, day=9))) == [("round_missed", "")]
    assert r.store is not None
    await r.store.aclose()
