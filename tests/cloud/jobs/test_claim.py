"""Claiming jobs: concurrent claimers on PostgreSQL never share a job, a lapsed lease is
claimed again and finished by its new owner (the old one can no longer write), a job whose
console keeps dying is failed after MAX_ATTEMPTS, and the runner records errors and
progress."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.engine import make_engine, session_factory
from cloud.jobs import claim as jobs
from cloud.jobs.claim import Claimed
from cloud.jobs.runner import JobRunner, Work
from cloud.jobs.tables import Job
from contract import FakeClock

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
KINDS = ("test",)


async def _enqueue(sessions: async_sessionmaker[AsyncSession], n: int,
                   now: datetime = T0) -> list[int]:
    async with sessions() as session, session.begin():
        return [await jobs.enqueue(session, kind="test", key=f"k{i}", site_id=None,
                                   payload={"i": i}, now=now) for i in range(n)]


async def _job(sessions: async_sessionmaker[AsyncSession], job_id: int) -> Job:
    async with sessions() as session:
        return (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()


async def test_concurrent_claimers_on_postgresql_never_share_a_job(pg_url: str) -> None:
    # two "consoles" (engines), six claimers each, 300 jobs
    engines = [make_engine(pg_url) for _ in range(2)]
    try:
        consoles = [session_factory(e) for e in engines]
        await _enqueue(consoles[0], 300)
        taken: list[tuple[str, int]] = []

        async def claimer(sessions: async_sessionmaker[AsyncSession], owner: str) -> None:
            while (job := await jobs.claim(sessions, owner=owner, now=T0, lease_s=60,
                                           kinds=KINDS)) is not None:
                taken.append((owner, job.id))
                await asyncio.sleep(0)

        async with asyncio.TaskGroup() as tg:
            for c, sessions in enumerate(consoles):
                for n in range(6):
                    tg.create_task(claimer(sessions, f"console{c}:{n}"))
        counts = Counter(job_id for _, job_id in taken)
        assert len(counts) == 300 and set(counts.values()) == {1}
        assert len({owner for owner, _ in taken}) > 2  # they really ran side by side
        async with consoles[0]() as session:
            rows = (await session.execute(select(Job.lease_owner, Job.id))).all()
        assert dict((i, o) for o, i in rows) == {i: o for o, i in taken}
    finally:
        for e in engines:
            await e.dispose()


async def test_enqueue_is_idempotent_and_again_requeues_only_a_finished_job(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    first = (await _enqueue(sessions, 1))[0]
    assert (await _enqueue(sessions, 1))[0] == first
    job = await jobs.claim(sessions, owner="a", now=T0, lease_s=30, kinds=KINDS)
    assert job is not None and job.id == first
    async with sessions() as session, session.begin():  # running: left alone
        await jobs.enqueue(session, kind="test", key="k0", site_id=None, payload={}, now=T0,
                           again=True)
    assert (await _job(sessions, first)).state == "running"
    assert await jobs.finish(sessions, first, "a", T0, {"n": 1})
    async with sessions() as session, session.begin():
        again = await jobs.enqueue(session, kind="test", key="k0", site_id=None,
                                   payload={"i": 9}, now=T0, again=True)
    row = await _job(sessions, again)
    assert (again, row.state, row.attempts, row.payload) == (first, "queued", 0, {"i": 9})


async def test_a_lapsed_lease_is_claimed_again_and_the_old_owner_writes_nothing(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    (job_id,) = await _enqueue(sessions, 1)
    a = await jobs.claim(sessions, owner="a", now=clock.now(), lease_s=30, kinds=KINDS)
    assert a is not None and a.attempts == 1
    clock.advance(29)
    assert await jobs.claim(sessions, owner="b", now=clock.now(), lease_s=30,
                            kinds=KINDS) is None  # still a's
    assert await jobs.renew(sessions, job_id, "a", clock.now(), 30)  # a renews: +30 s
    clock.advance(20)  # past the first lease, inside the renewed one
    assert await jobs.claim(sessions, owner="b", now=clock.now(), lease_s=30,
                            kinds=KINDS) is None  # the renewal held
    clock.advance(11)  # a stopped renewing (its console died)
    b = await jobs.claim(sessions, owner="b", now=clock.now(), lease_s=30, kinds=KINDS)
    assert b is not None and (b.id, b.attempts) == (job_id, 2)
    assert not await jobs.renew(sessions, job_id, "a", clock.now(), 30)
    assert not await jobs.finish(sessions, job_id, "a", clock.now())
    assert not await jobs.fail(sessions, job_id, "a", clock.now(), "late")
    assert await jobs.finish(sessions, job_id, "b", clock.now(), {"done": True})
    row = await _job(sessions, job_id)
    assert (row.state, row.lease_owner, row.progress, row.error) == (
        "done", "b", {"done": True}, None)


async def test_a_job_whose_console_keeps_dying_is_failed_visibly(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    (job_id,) = await _enqueue(sessions, 1)
    for n in range(1, jobs.MAX_ATTEMPTS + 1):
        got = await jobs.claim(sessions, owner=f"o{n}", now=clock.now(), lease_s=30,
                               kinds=KINDS)
        assert got is not None and got.attempts == n
        clock.advance(31)
    assert await jobs.claim(sessions, owner="last", now=clock.now(), lease_s=30,
                            kinds=KINDS) is None
    row = await _job(sessions, job_id)
    assert row.state == "failed" and row.lease_owner is None
    assert row.error is not None and "given up" in row.error and "3" in row.error


async def test_the_runner_records_progress_results_and_errors(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    ids = await _enqueue(sessions, 3)
    seen: list[int] = []

    async def handler(job: Claimed, work: Work) -> dict[str, Any] | None:
        seen.append(job.payload["i"])
        await work.report({"step": 1})
        if job.payload["i"] == 1:
            raise ValueError("账期不存在 / no such period")
        return {"i": job.payload["i"], "ok": True}

    runner = JobRunner(sessions, clock, {"test": handler}, owner="r", poll_s=0.05)
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(10):
            while True:
                rows = [await _job(sessions, i) for i in ids]
                if all(r.state in ("done", "failed") for r in rows):
                    break
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.wait([task])
    assert sorted(seen) == [0, 1, 2]
    assert [(r.state, r.progress) for r in rows] == [
        ("done", {"i": 0, "ok": True}), ("failed", {"step": 1}), ("done", {"i": 2, "ok": True})]
    assert rows[1].error == "ValueError: 账期不存在 / no such period"


async def test_a_stopping_runner_gives_its_job_back_at_once(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    (job_id,) = await _enqueue(sessions, 1)
    started = asyncio.Event()

    async def forever(job: Claimed, work: Work) -> dict[str, Any] | None:
        started.set()
        await asyncio.Event().wait()
        return None

    runner = JobRunner(sessions, clock, {"test": forever}, owner="r", poll_s=0.05)
    task = asyncio.create_task(runner.run())
    async with asyncio.timeout(10):
        await started.wait()
    task.cancel()
    await asyncio.wait([task])
    row = await _job(sessions, job_id)
    assert (row.state, row.lease_owner, row.attempts) == ("queued", None, 0)
    again = await jobs.claim(sessions, owner="b", now=clock.now(), lease_s=30, kinds=KINDS)
    assert again is not None and again.id == job_id
