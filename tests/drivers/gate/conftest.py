"""A gate driver against the barrier simulator over real Modbus TCP, both on one FakeClock.

The arm only moves when a test moves the clock, and the driver decides every timeout and
auto-close from the same clock, so a scenario is exact. Polling, pulses and network timeouts
still run in real time (they are wire timing, not decisions): ``Rig.polls`` waits for the
driver to have read the inputs again after a step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog

from contract import Clock, FakeClock, NewEvent
from drivers.base import DriverStats
from drivers.gate import ModbusGateSpec, ModbusRelayGate
from drivers.modbus.model import RtuBus, TcpBus
from simulators.gate import BarrierSimulator
from tests.drivers.harness import wait_for
from tests.support import services

TRAVEL_S = 1.0        # simulated arm travel, on the fake clock
CONFIRM_S = 2.0       # fake seconds
AUTO_CLOSE_S = 0.5    # fake seconds
POLL_S = 0.02         # real seconds
PULSE_MS = 30         # real milliseconds
TIMEOUT_S = 0.15      # real seconds (reply timeout)


@dataclass
class GateRecorder:
    """The emit callback; notes how many buttons the barrier had seen when each event was
    stored, which shows whether an event was durable before its relay pulse."""

    sim: BarrierSimulator
    events: list[NewEvent] = field(default_factory=list)
    presses_at_emit: list[int] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, event: NewEvent) -> None:
        if self.fail:
            raise OSError("outbox disk full")
        self.events.append(event)
        self.presses_at_emit.append(len(self.sim.commands))

    def of(self, kind: str) -> list[NewEvent]:
        return [e for e in self.events if e.kind == kind]

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@dataclass
class Rig:
    sim: BarrierSimulator
    gate: ModbusRelayGate
    clock: Clock
    rec: GateRecorder
    stats: DriverStats
    logs: list[MutableMapping[str, Any]]

    async def polls(self, n: int = 3, within: float = 5.0) -> None:
        """Wait until the driver has finished ``n`` more polls."""
        target = self.stats.get("polls") + n
        await wait_for(lambda: self.stats.get("polls") >= target, within, step=0.005)

    async def advance(self, seconds: float) -> None:
        assert isinstance(self.clock, FakeClock), "only a FakeClock is moved by hand"
        self.clock.advance(seconds)
        await self.polls()

    async def until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        await wait_for(predicate, within, step=0.005)

    def logged(self, event: str) -> list[MutableMapping[str, Any]]:
        return [e for e in self.logs if e.get("event") == event]


def spec(**overrides: Any) -> ModbusGateSpec:
    fields: dict[str, Any] = {
        "id": "gate-out-1", "bus": "tcp-gates", "address": 10, "lane": "lane-out-1",
        "open_coil": 0, "close_coil": 1, "stop_coil": 2, "pulse_ms": PULSE_MS,
        "open_limit_input": 0, "closed_limit_input": 1, "loop_input": 2,
        "confirm_timeout": CONFIRM_S, "auto_close": AUTO_CLOSE_S, "poll_interval": POLL_S,
        "offline_after": 3, "online_after": 2}
    fields.update(overrides)
    return ModbusGateSpec(**fields)


@asynccontextmanager
async def rig_running(gate_spec: ModbusGateSpec | None = None, *,
                      clock: Clock | None = None, travel_s: float = TRAVEL_S,
                      active_low: bool = False,
                      rtu_line: tuple[str, str] | None = None) -> AsyncIterator[Rig]:
    """Simulator and driver over Modbus TCP on a free port, or over RTU on ``rtu_line``
    (edge end, simulator end)."""
    clock = clock if clock is not None else FakeClock()
    gate_spec = gate_spec if gate_spec is not None else spec()
    port = services.free_port()
    where: dict[str, Any] = ({"serial_port": rtu_line[1]} if rtu_line
                             else {"tcp": ("127.0.0.1", port)})
    with structlog.testing.capture_logs() as logs:
        async with BarrierSimulator(unit=gate_spec.address, travel_s=travel_s,
                                    active_low=active_low, clock=clock.monotonic,
                                    **where) as sim:
            bus: TcpBus | RtuBus = (
                RtuBus(id=gate_spec.bus, port=rtu_line[0], timeout=TIMEOUT_S, retries=1)
                if rtu_line else
                TcpBus(id=gate_spec.bus, host="127.0.0.1", port=port, timeout=TIMEOUT_S,
                       retries=1))
            rec, stats = GateRecorder(sim), DriverStats()
            gate = ModbusRelayGate(gate_spec, bus, rec, clock, stats)
            task = asyncio.create_task(gate.run())
            rig = Rig(sim, gate, clock, rec, stats, logs)
            try:
                yield rig
                assert not task.done(), f"run() ended on its own: {task!r}"
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            # Whatever happened, no relay is left on and no two were ever on together.
            assert sim.coils == [False] * sim.channels
            assert sim.relay_conflicts == 0


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with rig_running() as r:
        await r.polls()
        yield r
