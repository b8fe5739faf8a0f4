"""A reader on a pty: the simulated OSDP reader (libosdp PD) ↔ the edge's OsdpBus (libosdp CP)
with the local decision in between, as the edge wires them."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import NewEvent, SystemClock
from drivers.access.osdp import OsdpBus
from drivers.access.osdp_model import ReaderSpec
from edge.access.credentials import CredentialStore
from edge.access.decide import AccessPoint, Decider
from edge.access.readers import ReaderDoors
from edge.access.visitor_passes import PassGate
from simulators.access.osdp_sim import OsdpReaderSim
from simulators.pty import pty_pair

KEY = bytes(range(0x30, 0x40))
OTHER_KEY = bytes(range(0x40, 0x50))
ADDRESS = 101
READER = "r-b1-in"
DOOR = "b1-lobby"
OWNER_CARD = (90, 324)        # test vector 5: number 5898564
BLOCKED_CARD = (90, 325)
UNKNOWN_CARD = (91, 1)


def dataset() -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "version": 1,
        "cards": {"5898564": {"holder": "owner-1", "doors": [DOOR],
                              "valid_from": (now - dt.timedelta(days=1)).isoformat()},
                  "5898565": {"holder": "owner-2", "doors": [DOOR]}},
        "pins": {"2580": {"holder": "owner-1", "doors": [DOOR]},
                 "2589": {"holder": "owner-1", "doors": [DOOR], "duress": True}},
        "blocked": ["5898565"],
    }


@dataclass
class Recorder:
    events: list[NewEvent] = field(default_factory=list)

    async def __call__(self, event: NewEvent) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[NewEvent]:
        return [e for e in self.events if e.kind == kind]


@dataclass
class Rig:
    sim: OsdpReaderSim
    bus: OsdpBus
    doors: ReaderDoors
    outbox: Recorder
    enrolled: list[str]

    async def until(self, cond: Callable[[], bool], what: str, within: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            if cond():
                return
            if loop.time() > deadline:
                raise AssertionError(f"{what}: not within {within}s; events: "
                                     f"{[(e.kind, e.data) for e in self.outbox.events]}")
            await asyncio.sleep(0.02)

    async def online(self) -> None:
        await self.until(lambda: self.bus.is_online(READER), "reader online")


@asynccontextmanager
async def rig(tmp: Path, *, reader_key: bytes | None = KEY, edge_key: bytes = KEY,
              reader_install: bool = False, edge_install: bool = False,
              points: list[AccessPoint] | None = None, retry_s: float = 1.0,
              offline_after_s: float = 2.0, passes: PassGate | None = None,
              data: dict[str, Any] | None = None) -> AsyncIterator[Rig]:
    async with pty_pair(tmp / "edge.pty", tmp / "reader.pty") as (edge_end, reader_end):
        sim = OsdpReaderSim(reader_end, address=ADDRESS, scbk=reader_key,
                            install=reader_install)
        await sim.start()
        outbox = Recorder()
        enrolled: list[str] = []
        decider = Decider(CredentialStore.from_dataset(data or dataset()), points or [
            AccessPoint(READER, DOOR, area="b1", direction="in", building="1")],
            passes=passes)
        doors = ReaderDoors(decider, outbox, SystemClock())
        bus = OsdpBus(edge_end, [ReaderSpec(READER, ADDRESS, edge_key, install=edge_install,
                                            building="1")],
                      outbox, SystemClock(), doors.on_input, on_enrolled=enrolled.append,
                      retry_s=retry_s, offline_after_s=offline_after_s)
        doors.attach(bus)
        await bus.start()
        try:
            yield Rig(sim, bus, doors, outbox, enrolled)
        finally:
            await bus.stop()
            await sim.stop()
