"""A bill run as a job: the worker running it is cancelled (its console stops) or stalls
(its console hangs past the lease) after the first batch, and a second worker finishes the
run with every unit billed exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.audit import SYSTEM
from cloud.billing.runs import open_run
from cloud.billing.settle import SETTLE
from cloud.billing.tables import Bill, BillRun
from cloud.db.models import Site
from cloud.jobs.claim import Claimed, enqueue
from cloud.jobs.console.kinds import BILL_BATCH, handlers
from cloud.jobs.runner import Handler, JobRunner, Work
from cloud.jobs.tables import Job
from cloud.payments.balances import apply_prepaid
from contract import FakeClock
from tests.billing.conftest import T0, load_sample


def _app() -> web.Application:
    app = web.Application()
    app[BILL_BATCH] = 4  # ten units: three batches
    app[SETTLE] = apply_prepaid
    return app


async def _bill_job(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        site = (await session.execute(select(Site).where(Site.slug == "sunny"))).scalar_one()
        run, _ = await open_run(session, site=site, cycle="monthly", period="2026-11",
                                actor=SYSTEM, now=T0)
        job_id = await enqueue(session, kind="bill_run", key=f"run:{run.id}", site_id=site.id,
                               payload={"run_id": run.id}, now=T0)
    return run.id, job_id


def _stopping_after_first_batch(real: Handler, reached: asyncio.Event,
                                resume: asyncio.Event | None = None) -> Handler:
    """``real``, stuck once it reported its first batch (a console that stops or hangs
    there) until ``resume`` is set (never, by default)."""

    async def handler(job: Claimed, work: Work) -> dict[str, Any] | None:
        async def report(progress: dict[str, Any]) -> None:
            await work.report(progress)
            if progress.get("units_done") and not reached.is_set():
                reached.set()
                await (resume or asyncio.Event()).wait()

        return await real(job, Work(work.sessions, work.clock, report))

    return handler


async def _job(sessions: async_sessionmaker[AsyncSession], job_id: int) -> Job:
    async with sessions() as session:
        return (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()


async def _until(cond: Callable[[], Any]) -> None:
    """Poll the database (another worker's writes reach us through it only)."""
    async with asyncio.timeout(30):
        while True:
            if await cond():
                return
            await asyncio.sleep(0.02)


async def _billed_once(sessions: async_sessionmaker[AsyncSession], run_id: int) -> None:
    async with sessions() as session:
        counts = (await session.execute(select(func.count()).select_from(Bill).where(
            Bill.run_id == run_id).group_by(Bill.unit_id))).scalars().all()
        run = (await session.execute(select(BillRun).where(BillRun.id == run_id))).scalar_one()
    assert list(counts) == [1] * 10
    assert (run.state, run.units_done, run.bills, run.held) == ("done", 10, 10, 1)
    assert str(run.total) == "7601.93"


async def test_a_cancelled_worker_gives_the_run_back_and_another_finishes_it(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await load_sample(sessions)
    clock = FakeClock(T0)
    run_id, job_id = await _bill_job(sessions)
    app = _app()
    reached = asyncio.Event()
    first = JobRunner(sessions, clock, {"bill_run": _stopping_after_first_batch(
        handlers(app)["bill_run"], reached)}, owner="console-1", poll_s=0.05)
    task = asyncio.create_task(first.run())
    async with asyncio.timeout(30):
        await reached.wait()
    task.cancel()  # the console stops mid-run
    await asyncio.wait([task])
    row = await _job(sessions, job_id)
    assert row.progress is not None
    assert (row.state, row.progress["units_done"]) == ("queued", 4)
    second = JobRunner(sessions, clock, handlers(app), owner="console-2", poll_s=0.05)
    task = asyncio.create_task(second.run())
    try:
        await _until(lambda: _state_is(sessions, job_id, "done"))
    finally:
        task.cancel()
        await asyncio.wait([task])
    row = await _job(sessions, job_id)
    assert row.progress is not None
    assert (row.lease_owner, row.attempts, row.progress["units_done"]) == ("console-2", 1, 10)
    await _billed_once(sessions, run_id)


async def test_a_hung_worker_loses_the_run_to_another_once_its_lease_lapses(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await load_sample(sessions)
    clock = FakeClock(T0)
    run_id, job_id = await _bill_job(sessions)
    app = _app()
    reached, resume = asyncio.Event(), asyncio.Event()
    # the hung console's heartbeat would come only after a minute: it never renews here
    hung = JobRunner(sessions, clock, {"bill_run": _stopping_after_first_batch(
        handlers(app)["bill_run"], reached, resume)}, owner="console-1", poll_s=0.05,
        lease_s=180)
    hung_task = asyncio.create_task(hung.run())
    second_task: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(30):
            await reached.wait()
        clock.advance(181)
        second = JobRunner(sessions, clock, handlers(app), owner="console-2", poll_s=0.05)
        second_task = asyncio.create_task(second.run())
        await _until(lambda: _state_is(sessions, job_id, "done"))
        # the hung console wakes up, bills its next batch (nothing left: skipped), reports,
        # finds the job taken and stops without touching the run or the job
        resume.set()
        await _until(lambda: _no_jobs(hung))
    finally:
        for t in (hung_task, second_task):
            if t is not None:
                t.cancel()
                await asyncio.wait([t])
    row = await _job(sessions, job_id)
    # the hung console's release on stopping changed nothing: the job is console-2's
    assert (row.state, row.lease_owner, row.attempts) == ("done", "console-2", 2)
    await _billed_once(sessions, run_id)


async def _state_is(sessions: async_sessionmaker[AsyncSession], job_id: int,
                    state: str) -> bool:
    return (await _job(sessions, job_id)).state == state


async def _no_jobs(runner: JobRunner) -> bool:
    return not runner.running
