"""Test helpers: a real LprEndpoint on a free port, an event recorder and a stub decision chain."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from contract import Clock, NewEvent, SystemClock
from drivers.base import DriverStats
from drivers.lpr import CameraSpec, LaneReply, LprConfig, LprEndpoint, PlateRead
from drivers.lpr.model import DecisionHook

LOCAL = ("127.0.0.1",)


@dataclass
class Recorder:
    """The emit callback: keeps every event in order, as the outbox would."""

    events: list[NewEvent] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, event: NewEvent) -> None:
        if self.fail:
            raise OSError("disk full")
        self.events.append(event)

    def of(self, kind: str, device: str | None = None) -> list[NewEvent]:
        return [e for e in self.events
                if e.kind == kind and (device is None or e.device == device)]


@dataclass
class StubDecider:
    """A test double for the decision chain: opens for the listed plates."""

    open_for: set[str] = field(default_factory=set)
    relay_pulse: bool = False
    delay_s: float = 0.0
    raise_error: bool = False
    calls: list[PlateRead] = field(default_factory=list)

    async def __call__(self, read: PlateRead) -> LaneReply:
        self.calls.append(read)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.raise_error:
            raise RuntimeError("decision chain broke")
        ok = read.plate_raw in self.open_for
        return LaneReply(open=ok,
                         led_lines=[read.plate_raw, "月租车 欢迎光临" if ok else "临时车 请缴费",
                                    "¥12.00"],
                         relay_pulse=self.relay_pulse, reason="stub")


@dataclass
class Lane:
    endpoint: LprEndpoint
    recorder: Recorder
    stats: DriverStats
    decider: StubDecider
    base_url: str

    def url(self, vendor: str, camera_id: str) -> str:
        return f"{self.base_url}/lpr/{vendor}/{camera_id}"


def cameras(**extra: CameraSpec) -> dict[str, CameraSpec]:
    base = {"cam-in-1": CameraSpec("vzenith", LOCAL, relay_io=1),
            "hik-out-1": CameraSpec("hikvision", LOCAL, heartbeat_s=None)}
    base.update(extra)
    return base


@asynccontextmanager
async def serving(cams: Mapping[str, CameraSpec] | None = None,
                  decider: StubDecider | None = None, *, clock: Clock | None = None,
                  config: LprConfig | None = None, on_decision: DecisionHook | None = None,
                  **kw: Any) -> AsyncIterator[Lane]:
    recorder, stats = Recorder(), DriverStats()
    decider = decider or StubDecider(open_for={"粤B12345"})
    endpoint = LprEndpoint(cams if cams is not None else cameras(), decider, recorder,
                           clock or SystemClock(), stats, config=config,
                           on_decision=on_decision, **kw)
    runner = web.AppRunner(endpoint.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Lane(endpoint, recorder, stats, decider, f"http://{host}:{port}")
    finally:
        await runner.cleanup()


async def wait_for(predicate: Callable[[], bool], within: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)
