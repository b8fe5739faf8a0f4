"""An elevator driver against the simulated box over real Modbus TCP, both on one FakeClock.

The car only moves when a test moves the clock, and the driver times trapped passengers with
the same clock, so every threshold is exact. Polls and reply timeouts still run in real time
(wire timing, not decisions): ``Rig.polls`` waits until the driver has read the box again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from contract import Clock, FakeClock, NewEvent
from drivers.base import DriverStats
from drivers.elevator.driver import ElevatorDriver
from drivers.elevator.model import ElevatorConfig
from drivers.elevator.profile import load_profile
from drivers.modbus.model import TcpBus
from simulators.elevator import ElevatorBox, ElevatorSimulator, SimCar
from tests.drivers.harness import wait_for
from tests.support import services

PROFILES = Path(__file__).resolve().parents[3] / "configs" / "elevators"
GENERIC = "generic_gbt24476"
VENDOR = "vendor_status_word"
POLL_S = 0.02        # real seconds
TIMEOUT_S = 0.15     # real seconds (reply timeout)
TRAPPED_AFTER = 30.0  # fake seconds
FLOOR_S = 1.0        # fake seconds per floor
DOOR_S = 1.0         # fake seconds to open or close


@dataclass
class Recorder:
    """The emit callback: every event in order, as the outbox would store them."""

    events: list[NewEvent] = field(default_factory=list)

    async def __call__(self, event: NewEvent) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[NewEvent]:
        return [e for e in self.events if e.kind == kind]

    def kinds(self, exclude: tuple[str, ...] = ("elevator.state",)) -> list[str]:
        return [e.kind for e in self.events if e.kind not in exclude]


@dataclass
class Rig:
    sim: ElevatorSimulator
    box: ElevatorBox
    driver: ElevatorDriver
    clock: FakeClock
    rec: Recorder
    stats: DriverStats
    logs: list[MutableMapping[str, Any]]

    @property
    def car(self) -> SimCar:
        return self.box.car

    async def polls(self, n: int = 2, within: float = 5.0) -> None:
        """Wait until the driver has finished ``n`` more polls."""
        target = self.stats.get("polls") + n
        await wait_for(lambda: self.stats.get("polls") >= target, within, step=0.005)

    async def advance(self, seconds: float, step: float = 0.5) -> None:
        """Move time on in steps, letting the driver read the box after each."""
        left = seconds
        while left > 1e-9:
            dt = min(step, left)
            self.clock.advance(dt)
            left -= dt
            await self.polls()

    async def until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        await wait_for(predicate, within, step=0.005)


def config(port: int, profile: str = GENERIC, **overrides: Any) -> ElevatorConfig:
    fields: dict[str, Any] = {
        "id": "elev-3-a", "profile": profile, "address": 7, "building": "3", "name": "3号楼A梯",
        "bus": TcpBus(id="tcp-elev", host="127.0.0.1", port=port, timeout=TIMEOUT_S,
                      retries=1),
        "poll_interval": POLL_S, "trapped_after": TRAPPED_AFTER, "main_landing": 1}
    fields.update(overrides)
    return ElevatorConfig(**fields)


@asynccontextmanager
async def rig_running(profile: str = GENERIC, *, start_floor: int = 1,
                      clock: Clock | None = None, **overrides: Any) -> AsyncIterator[Rig]:
    fake = clock if clock is not None else FakeClock()
    assert isinstance(fake, FakeClock)
    port = services.free_port()
    cfg = config(port, profile, **overrides)
    car = SimCar(start_floor=start_floor, floor_s=FLOOR_S, door_s=DOOR_S, dwell_s=3.0,
                 clock=fake.monotonic)
    box = ElevatorBox.from_profile(cfg.address, profile, car, main_landing=1,
                                   clock=fake.monotonic)
    with structlog.testing.capture_logs() as logs:
        async with ElevatorSimulator([box], tcp=("127.0.0.1", port)) as sim:
            rec, stats = Recorder(), DriverStats()
            driver = ElevatorDriver(cfg, load_profile(PROFILES / f"{profile}.yaml"), rec, fake,
                                    stats)
            task = asyncio.create_task(driver.run())
            rig = Rig(sim, box, driver, fake, rec, stats, logs)
            try:
                await rig.until(lambda: driver.online is True)
                yield rig
                assert not task.done(), f"run() ended on its own: {task!r}"
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
