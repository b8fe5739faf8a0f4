"""Run a ModbusBusDriver for a while against a real server and look at what it emitted."""

from __future__ import annotations

import asyncio
import itertools
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from contract import Kind, NewEvent, SystemClock
from drivers.base import DriverStats
from drivers.modbus import ModbusBusDriver
from drivers.modbus.model import MeterDevice, RtuBus, TcpBus


@dataclass
class Recorder:
    """The emit callback: keeps every event in order (what the outbox would store)."""

    events: list[NewEvent] = field(default_factory=list)

    async def __call__(self, event: NewEvent) -> None:
        self.events.append(event)

    def of(self, device: str, kind: str | None = None) -> list[NewEvent]:
        return [e for e in self.events if e.device == device and (kind is None or e.kind == kind)]

    def readings(self) -> dict[str, list[NewEvent]]:
        out: dict[str, list[NewEvent]] = defaultdict(list)
        for e in self.events:
            if e.kind == Kind.METER_READING:
                out[e.device].append(e)
        return out

    def transitions(self, device: str) -> list[str]:
        return [e.kind for e in self.of(device)
                if e.kind in (Kind.DEVICE_ONLINE, Kind.DEVICE_OFFLINE)]

    def max_gap(self, device: str) -> float:
        """Longest time between two consecutive readings of ``device`` (seconds)."""
        ts = [e.ts.timestamp() for e in self.readings()[device]]
        return max(b - a for a, b in itertools.pairwise(ts))

    def median_gap(self, device: str) -> float:
        """The typical time between two consecutive readings of ``device`` (seconds): a
        dead neighbour that delayed every cycle moves it, one busy moment of a loaded
        machine does not."""
        ts = [e.ts.timestamp() for e in self.readings()[device]]
        return statistics.median(b - a for a, b in itertools.pairwise(ts))


@asynccontextmanager
async def running(bus: TcpBus | RtuBus, devices: list[MeterDevice],
                  **kw: Any) -> AsyncIterator[tuple[ModbusBusDriver, Recorder, DriverStats]]:
    recorder, stats = Recorder(), DriverStats()
    driver = ModbusBusDriver(bus, devices, recorder, SystemClock(), stats, **kw)
    task = asyncio.create_task(driver.run())
    try:
        yield driver, recorder, stats
        assert not task.done(), f"run() ended on its own: {task!r}"
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def wait_for(predicate: Callable[[], bool], within: float, step: float = 0.05) -> None:
    """Poll ``predicate()`` (plain state, no event to wait on) until it holds or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if predicate():
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(step)
