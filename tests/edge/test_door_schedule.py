"""Door schedules at the edge against two simulated 微耕/UHPPOTE controllers over UDP, with the
edge's clock moved by the test: a normally-open window opens the door on the controller at
its start and puts it back to controlled at its end; a ``first_card`` door waits for the first
granted card; fire linkage outranks the schedule and its reset leaves each door as the
schedule says at that moment; a guard's ``door.mode`` outranks the schedule until its next
change; an edge restarted mid-window (or mid-fire) puts every door right again.

Site time is Asia/Shanghai; the window is 08:00–09:00 every day. 1-east (c1 door 1) is an
egress door of building 1 on that window, 1-lobby (c1 door 3) the same window with
``first_card``; 2-east (c2 door 1) has no schedule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from contract import FakeClock, Kind, NewEvent
from contract.commands import DoorMode
from edge.access.schedule_wiring import GuardedDoor, guard_doors
from edge.access.scheduler import STATE_FILE, DoorScheduler
from edge.access_doors import command_doors
from edge.commands.doors import DoorRegistry
from edge.config import load_site
from edge.safety import SafetyService
from simulators.access import uhppote_wire as w
from simulators.access.uhppote_sim import SimController
from simulators.access.uhppote_state import Card
from tests.edge.config.conftest import BASE_SITE, FIXTURE_PROFILES
from tests.edge.linkage.conftest import fire
from tests.support.uhppote_rig import TZ, Outbox, Rig, rig

CARD = 8165538
#: Monday 7 December 2026, 07:59 in the site's time zone.
BEFORE = dt.datetime(2026, 12, 7, 7, 59, tzinfo=TZ)


def _site(tmp: Path, r: Rig) -> Path:
    c1, c2 = r.sims["c1"].address, r.sims["c2"].address
    text = BASE_SITE.replace("data_dir: var/edge-court-7", f"data_dir: {tmp / 'edge'}") + f"""\
linkage:
  rules:
    - {{id: fire-any, raise_gates: false, recall_elevators: false}}
access:
  listen: 127.0.0.1:0
  bind: 127.0.0.1
  timeout: 0.5
  poll_interval: 0.2
  time_profiles:
    morning: [{{from: "08:00", to: "09:00"}}]
  controllers:
    - {{id: c1, serial: 405419896, address: "{c1}", doors: 4}}
    - {{id: c2, serial: 303986753, address: "{c2}", doors: 2}}
  doors:
    - {{id: 1-east, controller: c1, door: 1, building: "1", egress: true,
       normally_open: morning}}
    - {{id: 1-lobby, controller: c1, door: 3, building: "1", normally_open: morning,
       first_card: true}}
    - {{id: 2-east, controller: c2, door: 1, building: "2", egress: true}}
"""
    path = tmp / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Edge:
    """The safety part of one edge run (it is what runs the schedules), on a moved clock."""

    def __init__(self, r: Rig, tmp: Path, clock: FakeClock) -> None:
        self.r = r
        self.clock = clock
        self.outbox = Outbox()
        config = load_site(_site(tmp, r), FIXTURE_PROFILES)
        self.service = SafetyService(config, self.outbox, clock)
        assert self.service.schedule is not None and self.service.access is not None
        self.schedule: DoorScheduler = self.service.schedule
        self.registry = DoorRegistry()
        hold = self.service.access_hold
        assert hold is not None
        for key, door in command_doors(self.service.access, hold.held).items():
            self.registry.register(key, door)
        guard_doors(self.registry, self.schedule, self.service.door_held)

    async def settled(self) -> None:
        """Wait for one full pass of the scheduler after now."""
        seen = self.schedule.passes
        self.schedule.poke()
        await self.r.until(lambda: self.schedule.passes > seen, what="a scheduler pass")

    async def at(self, hour: int, minute: int, second: int = 0) -> None:
        """Move the edge's clock (and the controllers' own clocks) to that time today."""
        target = BEFORE.replace(hour=hour, minute=minute, second=second)
        self.clock.advance((target - self.clock.now()).total_seconds())
        for sim in self.r.sims.values():
            sim.state.set_time(target.replace(tzinfo=None))
        await self.settled()

    def changes(self, door: str) -> list[tuple[str, str]]:
        return [(e.data["mode"], e.data["reason"]) for e in self.outbox.of(Kind.DOOR_MODE_CHANGED)
                if e.data["door"] == door]


def mode(r: Rig, cid: str, door: int) -> int:
    return r.sims[cid].state.doors[door].mode


@asynccontextmanager
async def edge_running(r: Rig, tmp: Path, clock: FakeClock) -> AsyncIterator[Edge]:
    e = Edge(r, tmp, clock)
    task = asyncio.create_task(e.service.run())
    try:
        access = e.service.access
        assert access is not None
        await r.until(lambda: all(ev.is_set() for ev in access.ready.values()) or task.done(),
                      what="controllers ready")
        await r.until(lambda: e.schedule.passes > 0 or task.done(), what="first pass")
        assert not task.done(), task
        yield e
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def _clock() -> FakeClock:
    return FakeClock(BEFORE.astimezone(dt.UTC))


def _card(sim: SimController) -> None:
    sim.state.put_card(Card(CARD, dt.date(2026, 1, 1), dt.date(2027, 12, 31), (1, 1, 1, 1)))


async def test_a_window_opens_the_door_at_its_start_and_controls_it_at_its_end(
        tmp_path: Path) -> None:
    async with rig(start=False) as r, edge_running(r, tmp_path, _clock()) as e:
        assert (mode(r, "c1", 1), mode(r, "c1", 3)) == (w.CONTROLLED, w.CONTROLLED)
        assert e.changes("1-east") == []  # already as the schedule says: nothing to record
        await e.at(8, 0)
        await r.until(lambda: mode(r, "c1", 1) == w.NORMALLY_OPEN, what="1-east open")
        assert e.changes("1-east") == [("normally_open", "schedule")]
        [ev] = e.outbox.of(Kind.DOOR_MODE_CHANGED)
        assert ev.device == "1-east" and ev.data["until"] == "2026-12-07T01:00:00+00:00"
        assert "按时段设为常开" in ev.data["message"]
        assert mode(r, "c1", 3) == w.CONTROLLED, "first card: controlled until a card"
        assert mode(r, "c2", 1) == w.CONTROLLED, "no schedule: untouched"
        status = e.service.status()["door_schedules"]
        assert status["1-lobby"]["wanted"] == "controlled" and status["1-east"]["applied"] == (
            "normally_open")
        await e.at(8, 59, 59)
        assert mode(r, "c1", 1) == w.NORMALLY_OPEN
        await e.at(9, 0)
        await r.until(lambda: mode(r, "c1", 1) == w.CONTROLLED, what="1-east controlled")
        assert e.changes("1-east") == [("normally_open", "schedule"), ("controlled", "schedule")]
        assert e.changes("1-lobby") == []


async def test_first_card_keeps_the_door_controlled_until_a_granted_card(
        tmp_path: Path) -> None:
    async with rig(start=False) as r, edge_running(r, tmp_path, _clock()) as e:
        c1 = r.sims["c1"]
        _card(c1)
        c1.swipe(CARD, 3)  # 07:59: before the window, a card opens the door once, no more
        await r.until(lambda: bool(e.outbox.of(Kind.ACCESS_GRANTED)), what="early grant")
        await e.at(8, 0, 30)
        assert mode(r, "c1", 3) == w.CONTROLLED
        c1.swipe(4242, 3)  # an unknown card is denied: still waiting
        await r.until(lambda: bool(e.outbox.of(Kind.ACCESS_DENIED)), what="a denial")
        await e.settled()
        assert mode(r, "c1", 3) == w.CONTROLLED
        c1.swipe(CARD, 3)
        await r.until(lambda: mode(r, "c1", 3) == w.NORMALLY_OPEN, what="open on first card")
        [ev] = [x for x in e.outbox.of(Kind.DOOR_MODE_CHANGED) if x.device == "1-lobby"]
        assert (ev.data["reason"], ev.data["by"]) == ("first_card", str(CARD))
        assert "首卡" in ev.data["message"]
        await e.at(8, 30)
        assert mode(r, "c1", 3) == w.NORMALLY_OPEN
        await e.at(9, 0)
        await r.until(lambda: mode(r, "c1", 3) == w.CONTROLLED, what="controlled at the end")
        assert e.changes("1-lobby") == [("normally_open", "first_card"),
                                        ("controlled", "schedule")]
        # The next morning waits for its own first card.
        await e.at(8, 10)
        e.clock.advance(24 * 3600)
        await e.settled()
        assert mode(r, "c1", 3) == w.CONTROLLED


async def test_a_remote_open_is_not_a_first_card(tmp_path: Path) -> None:
    async with rig(start=False) as r, edge_running(r, tmp_path, _clock()) as e:
        await e.at(8, 5)
        door = e.registry.get("1-lobby")
        assert isinstance(door, GuardedDoor)
        await door.open(by="guard-07", reason="快递 / a parcel")
        await r.until(lambda: any(x.data.get("credential") == "remote"
                                  for x in e.outbox.of(Kind.ACCESS_GRANTED)), what="remote")
        await e.settled()
        assert mode(r, "c1", 3) == w.CONTROLLED


@pytest.mark.parametrize(("fire_at", "reset_at", "after_reset"), [
    ((7, 30), (8, 20), w.NORMALLY_OPEN),   # the window began during the fire
    ((8, 30), (9, 20), w.CONTROLLED),      # the window ended during the fire
])
async def test_a_fire_reset_returns_the_egress_door_to_its_schedule_now(
        tmp_path: Path, fire_at: tuple[int, int], reset_at: tuple[int, int],
        after_reset: int) -> None:
    async with rig(start=False) as r, edge_running(r, tmp_path, _clock()) as e:
        await e.at(*fire_at)
        before = e.changes("1-east")
        await e.service.emit(fire("1"))
        linkage = e.service.linkage
        assert linkage is not None
        await linkage.wait_idle()
        assert mode(r, "c1", 1) == w.NORMALLY_OPEN
        assert e.service.door_held("1-east") and not e.service.door_held("1-lobby")
        # While linkage holds it, neither the schedule (its window starts or ends meanwhile)
        # nor a guard locks it.
        await e.at(fire_at[0], 59, 59)
        await e.at(fire_at[0] + 1, 0, 1)
        assert mode(r, "c1", 1) == w.NORMALLY_OPEN
        assert e.changes("1-east") == before
        door = e.registry.get("1-east")
        assert door is not None
        with pytest.raises(ValueError, match="火警联动"):
            await door.set_mode(DoorMode.CONTROLLED, by="guard-07", reason="误报 / false")
        await e.at(*reset_at)
        result = await linkage.reset(by="guard-07", reason="现场确认 / all clear")
        assert result["result"] == "ok", result
        assert mode(r, "c1", 1) == after_reset
        [undo] = result["results"]
        assert undo["result"] == "ok", undo
        assert not e.service.door_held("1-east")
        await e.settled()
        assert mode(r, "c1", 1) == after_reset
        assert e.changes("1-east") == before, "the reset itself is linkage's record"
        # Linkage's hold is gone: the guard may lock the door again.
        await door.set_mode(DoorMode.NORMALLY_CLOSED, by="guard-07", reason="检修 / repair")
        assert mode(r, "c1", 1) == w.NORMALLY_CLOSED


async def test_a_guards_mode_outranks_the_schedule_until_its_next_change(
        tmp_path: Path) -> None:
    async with rig(start=False) as r, edge_running(r, tmp_path, _clock()) as e:
        await e.at(8, 10)
        await r.until(lambda: mode(r, "c1", 1) == w.NORMALLY_OPEN, what="open")
        door = e.registry.get("1-east")
        assert door is not None
        detail = await door.set_mode(DoorMode.NORMALLY_CLOSED, by="guard-07", reason="施工")
        assert "时段在下次变化时接管" in detail
        assert mode(r, "c1", 1) == w.NORMALLY_CLOSED
        assert e.changes("1-east")[-1] == ("normally_closed", "guard")
        await e.at(8, 50)
        assert mode(r, "c1", 1) == w.NORMALLY_CLOSED, "the guard's choice holds in the window"
        await e.at(9, 0)
        await r.until(lambda: mode(r, "c1", 1) == w.CONTROLLED, what="schedule takes over")
        assert e.changes("1-east")[-1] == ("controlled", "schedule")


async def test_a_restart_mid_window_puts_the_doors_right_again(tmp_path: Path) -> None:
    clock = _clock()
    async with rig(start=False) as r:
        c1 = r.sims["c1"]
        _card(c1)
        async with edge_running(r, tmp_path, clock) as e:
            await e.at(8, 0)
            c1.swipe(CARD, 3)
            await r.until(lambda: mode(r, "c1", 3) == w.NORMALLY_OPEN, what="first card")
            assert mode(r, "c1", 1) == w.NORMALLY_OPEN
        assert (tmp_path / "edge" / STATE_FILE).is_file()
        for door in (1, 3):  # the controller lost power meanwhile: back to controlled
            c1.state.doors[door].mode = w.CONTROLLED
        clock.advance(20 * 60)
        async with edge_running(r, tmp_path, clock) as e2:
            await r.until(lambda: (mode(r, "c1", 1), mode(r, "c1", 3)) == (
                w.NORMALLY_OPEN, w.NORMALLY_OPEN), what="both opened again")
            assert e2.changes("1-east") == [("normally_open", "schedule")]
            assert e2.changes("1-lobby") == [("normally_open", "first_card")]


async def test_a_restart_mid_fire_after_the_window_keeps_the_egress_door_open(
        tmp_path: Path) -> None:
    clock = _clock()
    async with rig(start=False) as r:
        async with edge_running(r, tmp_path, clock) as e:
            await e.at(8, 30)
            await e.service.emit(fire("1"))
            assert e.service.linkage is not None
            await e.service.linkage.wait_idle()
        clock.advance(3600)  # 09:30: the window is over, the fire is not
        async with edge_running(r, tmp_path, clock) as e2:
            linkage = e2.service.linkage
            assert linkage is not None
            await linkage.wait_idle()
            await e2.settled()
            assert mode(r, "c1", 1) == w.NORMALLY_OPEN
            assert e2.changes("1-east") == []
            result = await linkage.reset(by="guard-07", reason="现场确认 / all clear")
            assert result["result"] == "ok"
            assert mode(r, "c1", 1) == w.CONTROLLED


def test_grants_caught_up_from_before_the_window_do_not_open_it(tmp_path: Path) -> None:
    """A grant read back by index after a restart, stamped before the window: not a first
    card (unit level: the scheduler alone)."""
    from edge.access.credentials import Window
    from edge.access.door_schedule import DoorSchedule, DoorSchedules

    clock = FakeClock(BEFORE.replace(hour=8, minute=30).astimezone(dt.UTC))
    window = Window(frozenset(range(1, 8)), dt.time(8), dt.time(9))
    schedules = DoorSchedules((DoorSchedule("1-lobby", (window,), first_card=True),))
    drivers: dict[str, Any] = {"1-lobby": object()}

    async def emit(ev: NewEvent) -> None:
        raise AssertionError(ev)

    s = DoorScheduler(schedules, drivers, emit, clock)

    def grant(at: dt.datetime, credential: str = str(CARD)) -> NewEvent:
        return NewEvent("1-lobby", Kind.ACCESS_GRANTED, {"door": "1-lobby",
                                                          "credential": credential}, at)

    s.notice(grant(BEFORE.replace(hour=7, minute=58)))
    s.notice(grant(BEFORE.replace(hour=8, minute=20), "remote"))
    assert s.wanted("1-lobby")[:2] == ("controlled", "schedule")
    s.notice(grant(BEFORE.replace(hour=8, minute=29)))
    assert s.wanted("1-lobby")[:2] == ("normally_open", "first_card")
