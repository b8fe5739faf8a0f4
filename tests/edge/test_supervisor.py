"""The supervisor keeps drivers running: crash → logged restart with backoff, others untouched."""

from __future__ import annotations

import asyncio

from contract import FakeClock
from edge.supervisor import Supervisor


class Recorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def test_crashing_task_restarts_with_capped_backoff_and_others_keep_running() -> None:
    rec = Recorder()
    sup = Supervisor(FakeClock(), initial_backoff=1.0, max_backoff=4.0, sleep=rec.sleep)
    runs = 0
    healthy_ticks = 0
    stable = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 5:
            raise ConnectionError(f"bus down #{runs}")
        stable.set()
        await asyncio.Event().wait()

    async def steady() -> None:
        nonlocal healthy_ticks
        while True:
            healthy_ticks += 1
            await asyncio.sleep(0)

    sup.add("bus:flaky", flaky)
    sup.add("bus:steady", steady)
    task = asyncio.create_task(sup.run())
    async with asyncio.timeout(5):
        await stable.wait()
    ticks_at_stable = healthy_ticks
    await asyncio.sleep(0.01)
    assert rec.delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert sup.states["bus:flaky"].restarts == 5
    assert sup.states["bus:flaky"].last_error == "ConnectionError: bus down #5"
    assert sup.states["bus:flaky"].running
    assert sup.states["bus:steady"].restarts == 0
    assert healthy_ticks > ticks_at_stable > 0, "the other task never stopped"
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled()
    assert not sup.states["bus:flaky"].running and not sup.states["bus:steady"].running


async def test_backoff_resets_after_a_long_healthy_run() -> None:
    rec = Recorder()
    clock = FakeClock()
    sup = Supervisor(clock, initial_backoff=1.0, max_backoff=60.0, healthy_after=100.0,
                     sleep=rec.sleep)
    runs = 0
    done = asyncio.Event()

    async def sometimes() -> None:
        nonlocal runs
        runs += 1
        if runs == 4:
            clock.advance(500)  # ran well for a long time before this crash
        if runs == 6:
            done.set()
            await asyncio.Event().wait()
        raise RuntimeError("crash")

    sup.add("bus:x", sometimes)
    task = asyncio.create_task(sup.run())
    async with asyncio.timeout(5):
        await done.wait()
    task.cancel()
    await asyncio.wait([task])
    assert rec.delays == [1.0, 2.0, 4.0, 1.0, 2.0]


async def test_cancelling_the_supervisor_cancels_every_task() -> None:
    sup = Supervisor(initial_backoff=0.01, max_backoff=0.01)
    cleaned: list[str] = []
    started = 0
    both = asyncio.Event()

    def make(name: str):  # type: ignore[no-untyped-def]
        async def body() -> None:
            nonlocal started
            started += 1
            if started == 2:
                both.set()
            try:
                await asyncio.Event().wait()
            finally:
                cleaned.append(name)
        return body

    sup.add("a", make("a"))
    sup.add("b", make("b"))
    task = asyncio.create_task(sup.run())
    async with asyncio.timeout(5):
        await both.wait()
    task.cancel()
    await asyncio.wait([task])
    assert sorted(cleaned) == ["a", "b"]
