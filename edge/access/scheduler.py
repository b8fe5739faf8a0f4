"""Door schedules at the edge: normally-open windows and first-card unlock, carried out.

``DoorScheduler.run`` works out what each scheduled door should be now and sets it when that
differs from what it last set: at a window's start the door goes normally open (a 微耕/UHPPOTE
door's control mode; an OSDP reader door's output held on), at its end back to controlled. A
``first_card`` door stays controlled in its window until ``notice`` sees a granted card there
(not a remote open), then stands open until the window ends. Each change is a
``door.mode_changed`` event (reason ``schedule``, ``first_card`` or ``guard``).

Who wins, highest first:

1. fire linkage: a door it holds open (``held``) is never touched; on its reset
   ``EgressDoors`` asks ``settle`` and the door goes to what the schedule says *now*;
2. a guard's ``door.mode`` (``GuardedDoor``): kept until the schedule's next change (the
   window's start or end), so a forgotten override does not outlive the day;
3. the schedule.

Guard overrides and first-card openings are kept in ``state_file`` so an edge restarted
mid-window puts every door back as it was meant to be. Time is the site's, from the injected
clock; the loop sleeps until the next change (at most ``MAX_SLEEP_S``) or ``poke``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from contract import Clock, Kind, NewEvent
from drivers.base import Emit
from edge.access.door_schedule import DoorSchedule, DoorSchedules

log = structlog.get_logger(__name__)

OPEN, CONTROLLED = "normally_open", "controlled"
STATE_FILE = "door-schedule.json"
MAX_SLEEP_S = 30.0
#: A door that could not be set is tried again this often.
RETRY_S = 5.0
DOOR_TIMEOUT_S = 3.0
#: How long the first pass waits for fire linkage to have read back its incident.
READY_WAIT_S = 10.0
MODE_ZH = {"normally_open": "常开", "normally_closed": "常闭", "controlled": "受控（刷卡）"}


class ModeDriver(Protocol):
    """Sets a door's mode (``UhppoteDriver``; ``ReaderModes`` for reader doors)."""

    async def set_door_mode(self, door_id: str, mode: str,
                            delay: int | None = None) -> tuple[str, int]: ...

    async def door_mode(self, door_id: str) -> tuple[str, int]: ...


@dataclass(slots=True)
class Override:
    mode: str
    by: str
    until: datetime | None


@dataclass(slots=True)
class FirstCard:
    credential: str
    until: datetime | None


class DoorScheduler:
    def __init__(self, schedules: DoorSchedules, drivers: Mapping[str, ModeDriver], emit: Emit,
                 clock: Clock, *, state_file: Path | None = None,
                 held: Callable[[str], bool] | None = None,
                 ready: Callable[[], bool] | None = None,
                 door_timeout: float = DOOR_TIMEOUT_S, retry_s: float = RETRY_S) -> None:
        self._schedules: dict[str, DoorSchedule] = {}
        for s in schedules:
            if s.door in drivers:
                self._schedules[s.door] = s
            else:
                log.warning("有时段的门没有驱动，忽略 / a scheduled door has no driver: ignored",
                            door=s.door)
        self._drivers = drivers
        self._tz = ZoneInfo(schedules.timezone)
        self._emit = emit
        self._clock = clock
        self._state_file = state_file
        self._held = held or (lambda _door: False)
        self._ready = ready
        self._timeout = door_timeout
        self._retry = retry_s
        self._locks = {d: asyncio.Lock() for d in self._schedules}
        self._wake = asyncio.Event()
        #: The mode each door was last set to (by us, or settled by a linkage reset).
        self.applied: dict[str, str] = {}
        self._overrides: dict[str, Override] = {}
        self._first: dict[str, FirstCard] = {}
        self._failing: set[str] = set()
        self._dirty = False
        self.passes = 0

    @property
    def doors(self) -> list[str]:
        return sorted(self._schedules)

    # -- what a door should be ---------------------------------------------------------------
    def wanted(self, door: str, now: datetime | None = None) -> tuple[str, str, datetime | None]:
        """(mode, reason, until): what ``door`` should be now, why, and till when."""
        now = now or self._clock.now()
        o = self._overrides.get(door)
        if o is not None and (o.until is None or now < o.until):
            return o.mode, "guard", o.until
        sched = self._schedules[door]
        is_open, change = sched.state(now, self._tz)
        if not is_open:
            return CONTROLLED, "schedule", change
        if sched.first_card:
            first = self._first.get(door)
            if first is None or (first.until is not None and now >= first.until):
                return CONTROLLED, "schedule", change
            return OPEN, "first_card", change
        return OPEN, "schedule", change

    def settle(self, door: str) -> str | None:
        """For ``EgressDoors.settle``: the mode a door returns to on a linkage reset (None:
        not a scheduled door). The reset records its own result; once linkage lets the door
        go (``poke``) the next pass reads the door and sets it again should the reset have
        failed."""
        if door not in self._schedules:
            return None
        self.applied.pop(door, None)
        return self.wanted(door)[0]

    # -- what happens --------------------------------------------------------------------------
    def notice(self, ev: NewEvent) -> None:
        """Every stored event passes here: a granted card at a ``first_card`` door within its
        window opens it for the rest of the window. Never blocks."""
        if ev.kind != Kind.ACCESS_GRANTED:
            return
        door = str(ev.data.get("door", ""))
        sched = self._schedules.get(door)
        credential = str(ev.data.get("credential") or "")
        if (sched is None or not sched.first_card or credential in ("", "remote")
                or ev.data.get("method") == "remote"):
            return
        now = self._clock.now()
        if self.wanted(door, now)[1] != "schedule":  # already open, or a guard decided
            return
        is_open, change = sched.state(now, self._tz)
        # A grant read back late (catch-up after a restart) from before this window: not it.
        if not is_open or sched.state(ev.ts, self._tz) != (True, change):
            return
        self._first[door] = FirstCard(credential, change)
        self._dirty = True
        log.info("首卡开门 / first card", door=door, credential=credential)
        self.poke()

    async def guard(self, door: str, mode: str, *, by: str) -> None:
        """A guard set ``door`` to ``mode`` (``door.mode``): kept until the next change."""
        if door not in self._schedules:
            return
        now = self._clock.now()
        _, change = self._schedules[door].state(now, self._tz)
        self._overrides[door] = Override(mode, by, change)
        self.applied[door] = mode
        await self._event(door, mode, "guard", by, change)
        await self._save()

    def lock(self, door: str) -> asyncio.Lock:
        return self._locks[door]

    def poke(self) -> None:
        """Look again now (a test moved the clock, a card came, a reset happened)."""
        self._wake.set()

    # -- running -------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.load()
        await self._until_ready()
        log.info("门常开时段已启动 / door schedules running", doors=self.doors)
        while True:
            self._wake.clear()
            await self.reconcile()
            try:
                async with asyncio.timeout(self._sleep()):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def reconcile(self) -> None:
        """One pass: every door to what it should be now."""
        now = self._clock.now()
        for door, o in list(self._overrides.items()):
            if o.until is not None and now >= o.until:
                del self._overrides[door]
                self._dirty = True
        for door, f in list(self._first.items()):
            if f.until is not None and now >= f.until:
                del self._first[door]
                self._dirty = True
        if self._dirty:  # on disk before the doors move: a restart keeps what was decided
            await self._save()
        await asyncio.gather(*(self._door(d, now) for d in self._schedules))
        self.passes += 1

    def _sleep(self) -> float:
        if self._failing:
            return self._retry
        now = self._clock.now()
        changes = [c for d in self._schedules if (c := self.wanted(d, now)[2]) is not None]
        ahead = min(((c - now).total_seconds() for c in changes), default=MAX_SLEEP_S)
        return min(max(ahead, 0.0), MAX_SLEEP_S)

    async def _until_ready(self) -> None:
        if self._ready is None:
            return
        try:
            async with asyncio.timeout(READY_WAIT_S):
                # Linkage has no event to wait on for this: look often.
                while not self._ready():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        except TimeoutError:
            log.warning("火警联动未就绪，按时段继续 / fire linkage not ready: schedules go on")

    async def _door(self, door: str, now: datetime) -> None:
        async with self._locks[door]:
            if self._held(door):
                return
            want, reason, until = self.wanted(door, now)
            before = self.applied.get(door)
            if before == want and door not in self._failing:
                return
            driver = self._drivers[door]
            try:
                async with asyncio.timeout(self._timeout):
                    if before is None:  # first pass: what the door is now, for the record
                        before = await _mode_or_none(driver, door)
                    got, _ = await driver.set_door_mode(door, want)
            except Exception as exc:  # one door's failure is its own; tried again shortly
                self._failing.add(door)
                log.warning("门常开时段：设置失败 / door schedule: could not set the door",
                            door=door, mode=want, error=f"{type(exc).__name__}: {exc}")
                return
            self._failing.discard(door)
            self.applied[door] = got
            if got != before:
                by = self._first[door].credential if reason == "first_card" else reason
                await self._event(door, got, reason, by, until)

    async def _event(self, door: str, mode: str, reason: str, by: str,
                     until: datetime | None) -> None:
        zh = MODE_ZH.get(mode, mode)
        text = {
            "schedule": (f"门 {door} 按时段设为{zh}", f"door {door} set {mode} by its schedule"),
            "first_card": (f"门 {door} 首卡 {by} 开门，常开至时段结束",
                           f"door {door} open after the first card {by} until its window "
                           "ends"),
            "guard": (f"门 {door} 由 {by} 设为{zh}（至下一时段变化）",
                      f"door {door} set {mode} by {by} (until the schedule's next change)"),
        }[reason]
        log.info("门控制方式 / door mode", door=door, mode=mode, reason=reason, by=by)
        await self._emit(NewEvent(door, Kind.DOOR_MODE_CHANGED, {
            "v": 1, "door": door, "mode": mode, "reason": reason, "by": by,
            "until": until.isoformat() if until else None,
            "message": f"{text[0]} / {text[1]}"}, self._clock.now()))

    # -- state kept over a restart -------------------------------------------------------------
    async def load(self) -> None:
        """Read back guard overrides and first-card openings (``run`` does it first)."""
        if self._state_file is None:
            return
        try:
            raw = await asyncio.to_thread(_read_json, self._state_file)
            for door, o in ((raw or {}).get("overrides") or {}).items():
                if door in self._schedules:
                    self._overrides[door] = Override(str(o["mode"]), str(o["by"]),
                                                     _instant(o.get("until")))
            for door, f in ((raw or {}).get("first_card") or {}).items():
                if door in self._schedules:
                    self._first[door] = FirstCard(str(f["credential"]),
                                                  _instant(f.get("until")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("门常开时段状态无法读取，从时段重新开始 / door schedule state unreadable: "
                      "starting from the schedules", file=str(self._state_file), error=str(exc))
            self._overrides.clear()
            self._first.clear()

    async def _save(self) -> None:
        self._dirty = False
        if self._state_file is None:
            return
        doc = {"v": 1,
               "overrides": {d: {"mode": o.mode, "by": o.by, "until": _iso(o.until)}
                             for d, o in self._overrides.items()},
               "first_card": {d: {"credential": f.credential, "until": _iso(f.until)}
                              for d, f in self._first.items()}}
        try:
            await asyncio.to_thread(_write_json, self._state_file, doc)
        except OSError as exc:
            log.error("门常开时段状态无法保存 / door schedule state not saved",
                      file=str(self._state_file), error=str(exc))

    def status(self) -> dict[str, Any]:
        now = self._clock.now()
        out: dict[str, Any] = {}
        for door in self.doors:
            mode, reason, until = self.wanted(door, now)
            out[door] = {"wanted": mode, "reason": reason, "until": _iso(until),
                         "applied": self.applied.get(door), "held_by_linkage": self._held(door),
                         "failing": door in self._failing}
        return out


async def _mode_or_none(driver: ModeDriver, door: str) -> str | None:
    try:
        return (await driver.door_mode(door))[0]
    except Exception:  # not knowing the mode only means the first change is recorded
        return None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _instant(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text)) if text else None


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    return raw


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
