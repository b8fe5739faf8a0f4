"""A site for linkage tests: real gate controllers on a fake relay board, a camera-relay gate,
elevators and doors that answer like the real drivers (ok, refusal, hang, error), and an
outbox stand-in that records what was stored.

Nothing here sleeps to let things happen: ``Linkage.wait_idle`` returns once every action,
save and event of the linkage is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from contract import FakeClock, NewEvent
from drivers.base import DriverStats
from drivers.gate import CameraRelayGate, CameraRelayGateSpec, GateController, GateIOError
from drivers.gate.model import Command, GateBehaviour
from edge.linkage import ActionOutcome, DoorControl, Linkage, LinkageRule, NoDoors
from edge.linkage.model import default_rules

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
TIMEOUT_S = 0.05      # real seconds: only a hanging part ever waits this long
SITE = "demo"


class RelayBoard:
    """GateIO: records pulses; ``down`` makes the board unreachable."""

    def __init__(self) -> None:
        self.pulses: list[Command] = []
        self.down = False

    async def command(self, command: Command) -> None:
        if self.down:
            raise GateIOError("连接被拒绝 / connection refused")
        self.pulses.append(command)


@dataclass
class Outbox:
    """The emit callback: stores events; ``hold`` keeps every store waiting until set."""

    events: list[NewEvent] = field(default_factory=list)
    hold: asyncio.Event | None = None
    fail: bool = False

    async def __call__(self, ev: NewEvent) -> None:
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            raise OSError("outbox disk full")
        self.events.append(ev)

    def of(self, kind: str) -> list[NewEvent]:
        return [e for e in self.events if e.kind == kind]

    def actions(self) -> dict[tuple[str, str], dict[str, Any]]:
        """``linkage.action`` data by (action, target); a repeated action fails the test."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for e in self.of("linkage.action"):
            key = (e.data["action"], e.data["target"])
            assert key not in out, f"action {key} reported twice"
            out[key] = e.data
        return out


@dataclass(frozen=True)
class Recall:
    result: str
    reason: str


class Elevator:
    """An elevator as the elevator driver exposes it; ``answers`` are used in turn (the last
    one repeats): a Recall (or the driver's RecallResult), ``"hang"`` (never answers) or an
    exception to raise."""

    def __init__(self, id: str, building: str, *answers: Any) -> None:
        self.id = id
        self.config = SimpleNamespace(building=building)
        self.answers = list(answers) or [Recall("ok", "已迫降 / recalled")]
        self.calls: list[dict[str, str]] = []
        self.called = asyncio.Event()

    async def recall(self, *, by: str, reason: str) -> Any:
        self.calls.append({"by": by, "reason": reason})
        self.called.set()
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if answer == "hang":
            await asyncio.Event().wait()
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Doors:
    """A door driver that unlocks (or fails to, with ``fail``)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    async def unlock_egress(self, building: str, *, by: str, reason: str) -> ActionOutcome:
        self.calls.append(("unlock", building))
        if self.fail:
            return ActionOutcome("failed", "门禁控制器离线 / door controller offline")
        return ActionOutcome("ok", "疏散门已解锁 / egress doors unlocked")

    async def restore(self, building: str, *, by: str) -> ActionOutcome:
        self.calls.append(("restore", building))
        return ActionOutcome("ok", "门禁已恢复 / doors back to normal")


def gate(id: str, board: RelayBoard, outbox: Outbox, clock: FakeClock) -> GateController:
    behaviour = GateBehaviour(id=id, lane=f"lane-{id}", has_open_limit=True,
                              has_closed_limit=True, has_loop=True)
    return GateController(behaviour, board, outbox, clock, DriverStats())


@dataclass
class Site:
    """Two Modbus gates and a camera-relay gate; lifts A1, A2 in building 1, B1 in 2."""

    tmp: Path
    clock: FakeClock = field(default_factory=lambda: FakeClock(T0))
    outbox: Outbox = field(default_factory=Outbox)
    boards: dict[str, RelayBoard] = field(default_factory=dict)
    gates: dict[str, Any] = field(default_factory=dict)
    elevators: dict[str, Elevator] = field(default_factory=dict)
    doors: DoorControl = field(default_factory=NoDoors)

    def __post_init__(self) -> None:
        self.rebuild_gates()
        self.elevators = {"A1": Elevator("A1", "1"), "A2": Elevator("A2", "1"),
                          "B1": Elevator("B1", "2")}

    def rebuild_gates(self) -> None:
        """Fresh gate controllers, as after an edge restart (nothing held)."""
        self.boards = {g: RelayBoard() for g in ("gate-in", "gate-out")}
        self.gates = {g: gate(g, b, self.outbox, self.clock) for g, b in self.boards.items()}
        self.gates["gate-cam"] = CameraRelayGate(
            CameraRelayGateSpec(id="gate-cam", camera="cam-1"), self.outbox, self.clock,
            DriverStats())

    @property
    def state_file(self) -> Path:
        return self.tmp / "linkage.json"

    def linkage(self, rules: Sequence[LinkageRule] | None = None, *,
                state_file: bool = True, action_timeout: float = TIMEOUT_S) -> Linkage:
        return Linkage(default_rules() if rules is None else rules, gates=self.gates,
                       elevators=self.elevators, doors=self.doors, emit=self.outbox,
                       clock=self.clock, site=SITE,
                       state_file=self.state_file if state_file else None,
                       action_timeout=action_timeout, retry_delay=0)


@asynccontextmanager
async def running(linkage: Linkage) -> AsyncIterator[Linkage]:
    task = asyncio.create_task(linkage.run())
    await started(linkage, task)
    try:
        yield linkage
        await linkage.wait_idle()
        assert not task.done(), f"run() ended on its own: {task!r}"
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def started(linkage: Linkage, task: asyncio.Task[None]) -> None:
    """Until ``run`` has taken up (a saved incident is being re-asserted by then)."""
    while not linkage.status()["running"]:
        assert not task.done(), f"run() ended: {task!r}"
        await asyncio.sleep(0.001)


def fire(building: str | None, *, floor: str = "3", device: str = "uitd-1",
         test_mode: bool = False, zone: int = 7) -> NewEvent:
    location = None if building is None else {"building": building, "floor": floor,
                                               "area": "电梯厅 / lift lobby"}
    return NewEvent(device=device, kind="fire.alarm", ts=T0, data={
        "v": 1, "location": location, "uitd": device, "zone": zone, "test_mode": test_mode,
        "system_type": 1, "component_type": 40, "address": 1234})


def panel_reset(device: str = "uitd-1") -> NewEvent:
    return NewEvent(device=device, kind="fire.operation", ts=T0,
                    data={"v": 1, "operations": ["reset"]})


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)
