"""The scheduled job kinds run their feature's work: reminders for the bills due, late fees
as of the slot's day (audited as the system), the purge of the site by its windows; a bill
run of a period already billed is done with the reason, not failed."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.tables import AuditEntry
from cloud.db.models import Site
from cloud.jobs.claim import enqueue
from cloud.jobs.console.kinds import handlers
from cloud.jobs.runner import JobRunner
from cloud.jobs.tables import Job
from contract import FakeClock
from tests.billing.conftest import T0, load_sample


async def _run_all(sessions: async_sessionmaker[AsyncSession], clock: FakeClock,
                   jobs: list[tuple[str, dict[str, Any]]]) -> list[Job]:
    async with sessions() as session, session.begin():
        site_id = (await session.execute(select(Site.id).where(Site.slug == "sunny"))
                   ).scalar_one()
        ids = [await enqueue(session, kind=kind, key=f"t{n}", site_id=site_id,
                             payload=payload, now=clock.now())
               for n, (kind, payload) in enumerate(jobs)]
    runner = JobRunner(sessions, clock, handlers(web.Application()), owner="t", poll_s=0.05)
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(30):
            while True:
                async with sessions() as session:
                    rows = list((await session.execute(select(Job).where(Job.id.in_(ids))
                                                       .order_by(Job.id))).scalars())
                if all(r.state in ("done", "failed") for r in rows):
                    return rows
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.wait([task])


async def test_the_scheduled_kinds_run_their_features_work(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await load_sample(sessions)
    clock = FakeClock(T0)
    rows = await _run_all(sessions, clock, [
        ("reminders", {"as_of": "2026-12-01"}),
        ("late_fees", {"as_of": "2026-12-01"}),
        ("purge", {"as_of": "2026-12-01"}),
        ("bill_run", {"cycle": "monthly", "period": "2026-10", "as_of": "2026-11-01"}),
    ])
    assert [(r.kind, r.state, r.error) for r in rows] == [
        ("reminders", "done", None), ("late_fees", "done", None), ("purge", "done", None),
        ("bill_run", "done", None)]
    reminders, late, purge, bill = (r.progress or {} for r in rows)
    assert reminders["as_of"] == "2026-12-01" and reminders["scheduled"] >= 0
    assert late["as_of"] == "2026-12-01" and isinstance(late["bills_changed"], int)
    assert "plate_images" in purge["classes"]
    assert bill["period"] == "2026-10" and "already billed" in bill["skipped"]
    async with sessions() as session:
        audit = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "assess_late_fees"))).scalars().all()
    assert [(a.actor, (a.detail or {})["as_of"]) for a in audit] == [("system", "2026-12-01")]
