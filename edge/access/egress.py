"""Reader doors for fire linkage and remote commands, and one door driver over several.

``ReaderEgress`` is the ``DoorDriver`` ``EgressDoors`` needs for doors an OSDP reader
releases: ``normally_open`` holds every reader output of the door on (``hold_open``), any
other mode releases them to the readers' own grants. ``DoorRouter`` sends each door to the
driver that owns it, so one ``EgressDoors`` covers a site's controllers and readers alike.
``ReaderDoor`` answers ``door.open`` / ``door.mode`` from the console. ``LinkageHold`` stands
between ``EgressDoors`` and the controllers' driver and keeps which doors fire linkage holds
open, so the console cannot lock them (``edge.access_doors``) until the reset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

import structlog

from contract import Clock, Kind, NewEvent
from drivers.base import Emit
from edge.access.reader_config import ReadersConfig
from edge.linkage.doors import DoorDriver

log = structlog.get_logger(__name__)

OPEN, CONTROLLED, CLOSED = "normally_open", "controlled", "normally_closed"


class ReaderLine(Protocol):
    """What a reader door needs of its line (``drivers.access.osdp.OsdpBus``)."""

    def is_online(self, reader: str) -> bool: ...

    async def hold_open(self, reader: str) -> None: ...

    async def release(self, reader: str) -> None: ...

    async def grant(self, reader: str, pulse_s: float | None = None) -> float: ...


class ReaderEgress:
    """Door modes for reader doors (held open or not), by door id."""

    def __init__(self, config: ReadersConfig, lines: Mapping[str, ReaderLine]) -> None:
        self.doors = config.doors()
        self._readers: dict[str, list[tuple[str, ReaderLine]]] = {}
        for r in config.readers:
            self._readers.setdefault(r.door, []).append((r.id, lines[r.id]))
        self._mode: dict[str, str] = {}
        #: Doors fire linkage holds open: the console may not lock them until the reset.
        self.linkage_held: set[str] = set()

    def readers_of(self, door_id: str) -> list[tuple[str, ReaderLine]]:
        try:
            return self._readers[door_id]
        except KeyError:
            raise LookupError(f"未知的门 / unknown door {door_id!r}") from None

    async def set_door_mode(self, door_id: str, mode: str,
                            delay: int | None = None) -> tuple[str, int]:
        """Fire linkage's path (``EgressDoors``): the hold is remembered until restored."""
        got = await self.apply(door_id, mode)
        if mode == OPEN:
            self.linkage_held.add(door_id)
        else:
            self.linkage_held.discard(door_id)
        return got

    async def apply(self, door_id: str, mode: str) -> tuple[str, int]:
        readers = self.readers_of(door_id)
        hold = mode == OPEN
        await asyncio.gather(*(line.hold_open(r) if hold else line.release(r)
                               for r, line in readers))
        self._mode[door_id] = mode
        return mode, 0

    async def door_mode(self, door_id: str) -> tuple[str, int]:
        self.readers_of(door_id)
        return self._mode.get(door_id, CONTROLLED), 0


class LinkageHold:
    """A ``DoorDriver`` (the controllers') that remembers the doors linkage holds open."""

    def __init__(self, driver: DoorDriver) -> None:
        self._driver = driver
        #: Doors fire linkage set normally open and has not restored yet.
        self.held: set[str] = set()

    async def set_door_mode(self, door_id: str, mode: str,
                            delay: int | None = None) -> tuple[str, int]:
        if mode == OPEN:  # held from the first try: a guard must not race the unlock
            self.held.add(door_id)
        got = await self._driver.set_door_mode(door_id, mode, delay)
        if mode != OPEN:
            self.held.discard(door_id)
        return got

    async def door_mode(self, door_id: str) -> tuple[str, int]:
        return await self._driver.door_mode(door_id)


class DoorRouter:
    """A ``DoorDriver`` that hands each door to the driver owning it."""

    def __init__(self, owners: Mapping[str, DoorDriver]) -> None:
        self._owners = dict(owners)

    def _owner(self, door_id: str) -> DoorDriver:
        try:
            return self._owners[door_id]
        except KeyError:
            raise LookupError(f"未知的门 / unknown door {door_id!r}") from None

    async def set_door_mode(self, door_id: str, mode: str,
                            delay: int | None = None) -> tuple[str, int]:
        return await self._owner(door_id).set_door_mode(door_id, mode, delay)

    async def door_mode(self, door_id: str) -> tuple[str, int]:
        return await self._owner(door_id).door_mode(door_id)


class ReaderDoor:
    """One reader door as the command channel sees it (``edge.commands.Door``)."""

    def __init__(self, egress: ReaderEgress, door_id: str, emit: Emit, clock: Clock) -> None:
        self._egress = egress
        self.id = door_id
        self._emit = emit
        self._clock = clock

    def _online(self) -> list[tuple[str, ReaderLine]]:
        readers = [(r, line) for r, line in self._egress.readers_of(self.id)
                   if line.is_online(r)]
        if not readers:
            raise LookupError(f"门 {self.id} 的读卡器离线 / the readers of door {self.id} "
                              "are offline")
        return readers

    async def open(self, *, by: str, reason: str) -> str:
        reader, line = self._online()[0]
        await line.grant(reader)
        await self._emit(NewEvent(self.id, Kind.ACCESS_GRANTED, {
            "v": 1, "door": self.id, "reader": reader, "method": "remote",
            "credential": "remote", "message": "远程开门 / remote open"}, self._clock.now()))
        log.info("远程开门 / remote open", door=self.id, reader=reader, by=by, reason=reason)
        return f"门 {self.id} 已开锁 / door {self.id} released"

    async def set_mode(self, mode: str, *, by: str, reason: str) -> str:
        if str(mode) == CLOSED:
            raise ValueError("读卡器门不支持常闭 / reader doors have no normally-closed mode")
        if self.id in self._egress.linkage_held and str(mode) != OPEN:
            raise ValueError(f"门 {self.id} 由火警联动保持常开，请先复位联动 / door {self.id} is "
                             "held open by fire linkage: reset the linkage first")
        self._online()
        got, _ = await self._egress.apply(self.id, str(mode))
        log.info("门控制方式 / door mode", door=self.id, mode=got, by=by, reason=reason)
        zh = "常开" if got == OPEN else "受控（刷卡）"
        return f"门 {self.id} 已设为{zh} / door {self.id} set {got}"
