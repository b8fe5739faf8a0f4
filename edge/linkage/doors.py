"""What fire linkage needs of the access-control driver: unlock a building's egress doors.

``EgressDoors`` does it over the site's door controllers (微耕/UHPPOTE): every door of the
building marked ``egress: true`` in the site YAML is set normally open, all at once, each with
its own deadline, and each door's result is kept (``results``) and named in the outcome.
``restore`` puts each door back to the mode it had before the unlock: a door locked normally
closed goes back to that; one found already open, or whose mode is unknown (the edge restarted
during the fire), goes back to ``controlled`` (card and button as usual) — unless ``settle``
names the mode the door should have now (its schedule: ``edge.access.scheduler``).
``held`` says which doors fire linkage holds open, from the unlock until the restore, so
nothing else (schedules, guards) moves them meanwhile.
``NoDoors`` stays for sites without door controllers: every unlock is still planned, logged
and reported (as ``noop``), and the guard board shows that nobody unlocked the doors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from edge.linkage.model import ALL_BUILDINGS, ActionOutcome

log = structlog.get_logger("edge.linkage.doors")

#: Seconds one door may take to answer (the whole unlock must finish within 2 s).
DOOR_TIMEOUT_S = 1.5
OPEN, CONTROLLED = "normally_open", "controlled"

NO_DOOR_DRIVER = "门禁驱动未接入 / no access-control driver yet"


class DoorControl(Protocol):
    """The access-control driver's linkage commands.

    ``building`` is a building id from the site YAML, or ``"*"`` (``ALL_BUILDINGS``) for every
    building: an alarm whose location is unknown unlocks all egress doors. Errors may be
    raised or answered as ``failed``; linkage retries once either way.
    """

    async def unlock_egress(self, building: str, *, by: str, reason: str) -> ActionOutcome: ...

    async def restore(self, building: str, *, by: str) -> ActionOutcome: ...


class NoDoors:
    """The door driver until there is one: every command is a ``noop`` that says why."""

    async def unlock_egress(self, building: str, *, by: str, reason: str) -> ActionOutcome:
        return ActionOutcome("noop", NO_DOOR_DRIVER)

    async def restore(self, building: str, *, by: str) -> ActionOutcome:
        return ActionOutcome("noop", NO_DOOR_DRIVER)


class DoorDriver(Protocol):
    """What ``EgressDoors`` needs of a door driver (``drivers.access.uhppote.UhppoteDriver``)."""

    async def set_door_mode(self, door_id: str, mode: str,
                            delay: int | None = None) -> tuple[str, int]: ...

    async def door_mode(self, door_id: str) -> tuple[str, int]: ...


@dataclass(frozen=True, slots=True)
class EgressDoor:
    id: str
    building: str | None
    egress: bool


@dataclass(frozen=True, slots=True)
class DoorResult:
    door: str
    mode: str
    result: str
    detail: str = ""


class EgressDoors:
    """DoorControl over real controllers (see the module docstring)."""

    def __init__(self, doors: Sequence[Any], driver: DoorDriver, *,
                 timeout: float = DOOR_TIMEOUT_S) -> None:
        self._doors = [EgressDoor(d.id, d.building, bool(d.egress)) for d in doors]
        self._driver = driver
        self._timeout = timeout
        self._before: dict[str, str] = {}
        self._holding: set[str] = set()
        #: The mode a door returns to on restore (None: the mode it had before the unlock).
        self.settle: Callable[[str], str | None] | None = None
        #: Told each door restored, after its driver call: whoever keeps linkage's holds
        #: drops it there (a door restored to normally open is no longer linkage's).
        self.released: Callable[[str], None] | None = None
        #: The last result per door, for the edge's status page and the tests.
        self.results: dict[str, DoorResult] = {}

    def held(self, door: str) -> bool:
        """Whether fire linkage holds ``door`` open (from the unlock until its restore)."""
        return door in self._holding

    def egress_of(self, building: str) -> list[str]:
        return [d.id for d in self._doors
                if d.egress and (building == ALL_BUILDINGS or d.building == building)]

    async def unlock_egress(self, building: str, *, by: str, reason: str) -> ActionOutcome:
        return await self._apply(building, OPEN, by=by)

    async def restore(self, building: str, *, by: str) -> ActionOutcome:
        return await self._apply(building, CONTROLLED, by=by)

    async def _apply(self, building: str, mode: str, *, by: str) -> ActionOutcome:
        doors = self.egress_of(building)
        where = "全部楼栋 / every building" if building == ALL_BUILDINGS else building
        if not doors:
            return ActionOutcome("noop", f"{where} 没有疏散门 / no egress doors in {where}")
        if mode == OPEN:
            self._holding.update(doors)  # before any await: nothing moves them from now on
        results = await asyncio.gather(*(self._one(d, mode) for d in doors))
        if mode == CONTROLLED:
            self._holding.difference_update(doors)
            released = self.released
            if released is not None:
                for door in doors:
                    released(door)
        for r in results:
            self.results[r.door] = r
            log.info("疏散门 / egress door", door=r.door, mode=r.mode, result=r.result,
                     detail=r.detail, by=by, building=building)
        failed = [r for r in results if r.result != "ok"]
        names = ", ".join(f"{r.door} {r.result}" + (f" ({r.detail})" if r.detail else "")
                          for r in results)
        verb = ("疏散门常开", "egress doors held open") if mode == OPEN else (
            "疏散门恢复", "egress doors restored")
        if failed:
            return ActionOutcome("failed", f"{verb[0]} {len(results) - len(failed)}/"
                                           f"{len(results)}：{names} / {verb[1]} "
                                           f"{len(results) - len(failed)}/{len(results)}")
        return ActionOutcome("ok", f"{verb[0]}：{names} / {verb[1]}: {names}")

    async def _one(self, door: str, mode: str) -> DoorResult:
        target = mode
        if mode == CONTROLLED:
            settled = self.settle(door) if self.settle is not None else None
            target = settled or self._before.get(door, CONTROLLED)
        try:
            async with asyncio.timeout(self._timeout):
                if mode == OPEN and door not in self._before:
                    self._before[door] = await self._before_mode(door)
                got, _ = await self._driver.set_door_mode(door, target)
        except TimeoutError:
            t = f"{self._timeout:g}"
            return DoorResult(door, target, "failed", f"{t} 秒内无应答 / no answer within {t} s")
        except Exception as exc:  # a door's failure is its result, never the others'
            return DoorResult(door, target, "failed", f"{type(exc).__name__}: {exc}")
        if mode == CONTROLLED:
            self._before.pop(door, None)
        return DoorResult(door, got, "ok" if got == target else "failed")

    async def _before_mode(self, door: str) -> str:
        """The door's mode before the fire; ``controlled`` when it cannot be read."""
        try:
            mode, _ = await self._driver.door_mode(door)
        except Exception:  # the unlock matters more than knowing what to restore
            return CONTROLLED
        return CONTROLLED if mode == OPEN else mode
