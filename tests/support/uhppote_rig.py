"""Simulated 微耕/UHPPOTE controllers on loopback addresses of their own, and a driver for them.

Each controller binds a random 127.x.y.z address and an ephemeral port (several sessions test
on one machine), the driver listens on 127.0.0.1 with an ephemeral port, and nothing is ever
broadcast beyond loopback. ``Rig.until`` waits for a condition without sleeping for a fixed time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

from contract import NewEvent, SystemClock
from drivers.access.cursors import Cursors, MemoryCursors
from drivers.access.uhppote import UhppoteDriver
from drivers.access.uhppote_model import AccessConfig, ControllerSpec, DoorSpec
from simulators.access.uhppote_sim import SimController

TZ = ZoneInfo("Asia/Shanghai")
SERIALS = (405419896, 303986753)


def loopback() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


@dataclass
class Outbox:
    events: list[NewEvent] = field(default_factory=list)

    async def __call__(self, ev: NewEvent) -> None:
        self.events.append(ev)

    def of(self, kind: str) -> list[NewEvent]:
        return [e for e in self.events if e.kind == kind]

    def indexes(self, serial: int) -> list[int]:
        return [e.data["index"] for e in self.events if e.data.get("controller") == serial
                and "index" in e.data]


@dataclass
class Rig:
    sims: dict[str, SimController]
    config: AccessConfig
    outbox: Outbox
    cursors: Cursors
    driver: UhppoteDriver | None = None
    task: asyncio.Task[None] | None = None

    async def start_driver(self) -> UhppoteDriver:
        self.driver = UhppoteDriver(self.config, self.outbox, SystemClock(), TZ, self.cursors)
        self.task = asyncio.create_task(self.driver.run())
        for cid in self.sims:
            await self.until(partial(self._ready, cid), what=f"{cid} ready")
        return self.driver

    def _ready(self, cid: str) -> bool:
        assert self.task is not None and self.driver is not None
        if self.task.done():
            self.task.result()
        return self.driver.ready[cid].is_set()

    async def stop_driver(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def until(self, cond: Callable[[], bool], *, within: float = 5.0,
                    what: str = "condition") -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not cond():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)


def door_specs() -> tuple[DoorSpec, ...]:
    """c1 (4 doors): 1-east and 1-west egress in building 1, 1-lobby not; c2 (2 doors):
    2-east egress in building 2, 2-garage not."""
    return (DoorSpec("1-east", "c1", 1, "1", egress=True, open_delay=3),
            DoorSpec("1-west", "c1", 2, "1", egress=True, open_delay=3),
            DoorSpec("1-lobby", "c1", 3, "1", egress=False),
            DoorSpec("2-east", "c2", 1, "2", egress=True, open_delay=4),
            DoorSpec("2-garage", "c2", 2, "2", egress=False))


@asynccontextmanager
async def rig(*, cursors: Cursors | None = None, poll_interval: float = 0.2,
              held_open_after: float = 10.0, doors: Sequence[int] = (4, 2),
              start: bool = True) -> AsyncIterator[Rig]:
    sims: dict[str, SimController] = {}
    r: Rig | None = None
    try:
        for n, (serial, count) in enumerate(zip(SERIALS, doors, strict=False), start=1):
            sims[f"c{n}"] = await SimController(serial, loopback(), 0, doors=count,
                                                held_open_after=held_open_after).start()
        config = AccessConfig(
            controllers=tuple(ControllerSpec(cid, s.state.serial, s.address,
                                             doors=s.state.doors_count)
                              for cid, s in sims.items()),
            doors=door_specs() if len(sims) == 2 else (),
            listen="127.0.0.1:0", bind="127.0.0.1", broadcast=f"{loopback()}:60000",
            timeout=0.3, poll_interval=poll_interval, offline_after=2)
        r = Rig(sims, config, Outbox(), cursors if cursors is not None else MemoryCursors())
        if start:
            await r.start_driver()
        yield r
    finally:
        if r is not None:
            await r.stop_driver()
        for sim in sims.values():
            await sim.stop()


def now_utc() -> datetime:
    return datetime.now(UTC)
