"""Keep every driver running, whatever the others do.

A driver that raises is logged and restarted after an exponential backoff (capped, one minute
by default) so a broken bus does not spin the CPU; the backoff resets once the driver has run
well for a while, so a rare crash does not inherit the penalty of an old crash loop. Each
driver is its own task in one TaskGroup: a crash is caught inside that task, so it never
cancels its siblings, and cancelling the supervisor cancels them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from contract import Clock, SystemClock

log = structlog.get_logger("edge.supervisor")

Factory = Callable[[], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class TaskState:
    name: str
    restarts: int = 0
    running: bool = False
    last_error: str | None = None
    delays: list[float] = field(default_factory=list)


class Supervisor:
    def __init__(self, clock: Clock | None = None, *, initial_backoff: float = 1.0,
                 max_backoff: float = 60.0, healthy_after: float = 120.0,
                 sleep: Sleep = asyncio.sleep, **context: str) -> None:
        if initial_backoff <= 0 or max_backoff < initial_backoff:
            raise ValueError("need 0 < initial_backoff ≤ max_backoff")
        self._clock: Clock = clock or SystemClock()
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.healthy_after = healthy_after
        self._sleep = sleep
        self._log = log.bind(**context)
        self._specs: dict[str, Factory] = {}
        self.states: dict[str, TaskState] = {}

    def add(self, name: str, factory: Factory) -> None:
        """Register a long-lived coroutine; ``factory`` makes a fresh one for each (re)start."""
        if name in self._specs:
            raise ValueError(f"task {name!r} is already supervised")
        self._specs[name] = factory
        self.states[name] = TaskState(name)

    async def run(self) -> None:
        """Run every task until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for name, factory in self._specs.items():
                tg.create_task(self._keep(name, factory), name=f"supervised:{name}")

    async def _keep(self, name: str, factory: Factory) -> None:
        state = self.states[name]
        tlog = self._log.bind(task=name)
        delay = self.initial_backoff
        while True:
            started = self._clock.monotonic()
            state.running = True
            try:
                await factory()
                state.last_error = "returned"
                tlog.warning("supervised task returned; restarting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                state.last_error = f"{type(exc).__name__}: {exc}"
                tlog.error("supervised task crashed", error=state.last_error, exc_info=exc)
            finally:
                state.running = False
            if self._clock.monotonic() - started >= self.healthy_after:
                delay = self.initial_backoff
            state.restarts += 1
            state.delays.append(delay)
            tlog.info("restarting supervised task", restarts=state.restarts, delay_s=delay)
            await self._sleep(delay)
            delay = min(self.max_backoff, delay * 2)
