"""Duties: each tick is taken by one console; the holder keeps it while it ticks, another
takes over once its lease lapsed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.engine import make_engine, session_factory
from cloud.jobs.duties import run_duty, take_tick
from contract import FakeClock

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


async def test_one_owner_takes_each_tick_and_another_takes_over_a_lapsed_lease(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    assert await take_tick(sessions, "d", "a", clock, 10)
    assert not await take_tick(sessions, "d", "b", clock, 10)
    clock.advance(9)
    assert await take_tick(sessions, "d", "a", clock, 10)  # renewed to +19
    clock.advance(9)
    assert not await take_tick(sessions, "d", "b", clock, 10)
    assert await take_tick(sessions, "other", "b", clock, 10)  # duties are independent
    clock.advance(11)  # a stopped ticking
    assert await take_tick(sessions, "d", "b", clock, 10)
    assert not await take_tick(sessions, "d", "a", clock, 10)


async def test_two_consoles_ticking_together_run_each_tick_once(pg_url: str) -> None:
    clock = FakeClock(T0)
    engines = [make_engine(pg_url) for _ in range(2)]
    try:
        consoles = [session_factory(e) for e in engines]
        runs: list[tuple[int, str]] = []
        for tick in range(30):
            got = await asyncio.gather(*(take_tick(s, "escalation", owner, clock, 10)
                                         for s, owner in zip(consoles, ("a", "b"),
                                                             strict=True)))
            runs.extend((tick, owner) for owner, ok in zip(("a", "b"), got, strict=True) if ok)
            # every fifth tick the holder's console "dies" for a lease: the other takes over
            clock.advance(11 if tick % 5 == 4 else 5)
        assert [t for t, _ in runs] == list(range(30))  # exactly one per tick
    finally:
        for e in engines:
            await e.dispose()


async def test_run_duty_with_two_owners_calls_the_tick_from_one_of_them(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    calls: list[str] = []
    enough = asyncio.Event()

    def tick_of(owner: str):  # type: ignore[no-untyped-def]
        async def tick() -> None:
            calls.append(owner)
            clock.advance(1)  # a tick's worth of time: the lease (2 s) outlives one interval
            if len(calls) >= 20:
                enough.set()
        return tick

    tasks = [asyncio.create_task(run_duty("pm", 0.01, tick_of(o), sessions, clock, o,
                                          lease_s=2)) for o in ("a", "b")]
    try:
        async with asyncio.timeout(20):
            await enough.wait()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks)
    assert len(set(calls)) == 1, calls  # the holder kept it; the other never ran a tick
