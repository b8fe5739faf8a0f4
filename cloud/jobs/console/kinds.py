"""The job kinds and what each runs: bill runs, reminders, late fees, purge.

Every handler is safe to run again after a crash: the bill run resumes (one bill per unit
and run is a unique key), reminders are keyed per bill and day, late fees are idempotent for
one ``as_of`` day, the purge deletes what is past its window.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web

from cloud.auth.audit import SYSTEM, Actor, record
from cloud.billing.periods import parse_period
from cloud.billing.runs import BATCH_SIZE, RunRefused, execute, open_run, site_zone
from cloud.billing.settle import SETTLE
from cloud.billing.tables import BillRun
from cloud.db.models import Site
from cloud.jobs.claim import Claimed
from cloud.jobs.console.period_data import wait_for_period_data
from cloud.jobs.runner import Handler, Work
from cloud.payments.late_fees import assess_late_fees
from cloud.payments.reminders import LogSender, dispatch_due, schedule_reminders
from cloud.retention.purge import purge_site
from cloud.web.keys import BLOBS

#: Units per bill-run batch for jobs (tests make it small to stop a run between batches).
BILL_BATCH = web.AppKey("jobs_bill_batch", int)


def actor_payload(actor: Actor) -> dict[str, str]:
    """Who asked for a job, as its payload keeps it (their audit rows name them)."""
    return {"ref": actor.ref, "name": actor.name, "role": actor.role}


def _actor(payload: dict[str, Any]) -> Actor:
    who = payload.get("actor")
    if not isinstance(who, dict):
        return SYSTEM
    return Actor(str(who.get("ref", "system")), str(who.get("name", "system")),
                 str(who.get("role", "admin")), None)


def _as_of(job: Claimed) -> date:
    return date.fromisoformat(str(job.payload["as_of"]))


def _slot(job: Claimed) -> datetime | None:
    """The schedule slot a job is for (None: enqueued by hand)."""
    slot = job.payload.get("slot")
    return datetime.fromisoformat(str(slot)) if slot else None


def _site_id(job: Claimed) -> int:
    if job.site_id is None:
        raise ValueError(f"job {job.id} ({job.kind}) names no site")
    return job.site_id


def _run_progress(run: BillRun) -> dict[str, Any]:
    return {"run_id": run.id, "period": run.period, "state": run.state,
            "units_total": run.units_total, "units_done": run.units_done, "bills": run.bills,
            "held": run.held}


def handlers(app: web.Application) -> dict[str, Handler]:
    """The handler of each job kind, reading what it needs from ``app`` when it runs."""

    async def bill_run(job: Claimed, work: Work) -> dict[str, Any] | None:
        actor = _actor(job.payload)
        run_id = job.payload.get("run_id")
        if run_id is None:  # a schedule's slot: open (or reopen) the period's run
            async with work.sessions() as session:
                site = await session.get(Site, _site_id(job))
                if site is None:
                    raise ValueError(f"site {job.site_id} is gone")
                period_end = parse_period(job.payload["cycle"],
                                          job.payload["period"]).bounds(site_zone(site))[1]
            complete = await wait_for_period_data(
                work.sessions, work.clock, site_id=site.id, period_end=period_end,
                slot=_slot(job) or work.clock.now(), report=work.report)
            async with work.sessions() as session, session.begin():
                site = await session.get(Site, _site_id(job))
                if site is None:
                    raise ValueError(f"site {job.site_id} is gone")
                try:
                    run, _ = await open_run(session, site=site, cycle=job.payload["cycle"],
                                            period=job.payload["period"], actor=actor,
                                            now=work.clock.now())
                except RunRefused as err:
                    if err.code == "period_billed":
                        return {"skipped": err.en, "period": job.payload["period"]}
                    raise
                run_id = run.id
            await work.report({"run_id": run_id, "edge_data_complete": complete})

        async def progress(run: BillRun) -> None:
            await work.report(_run_progress(run))

        run = await execute(work.sessions, int(run_id), clock=work.clock, actor=actor,
                            batch_size=app.get(BILL_BATCH, BATCH_SIZE), progress=progress,
                            settle=app.get(SETTLE))
        return _run_progress(run)

    async def reminders(job: Claimed, work: Work) -> dict[str, Any] | None:
        as_of = _as_of(job)
        async with work.sessions() as session, session.begin():
            created = await schedule_reminders(session, _site_id(job), as_of)
        counts = await dispatch_due(work.sessions, LogSender(), work.clock.now())
        return {"as_of": as_of.isoformat(), "scheduled": created, **counts}

    async def late_fees(job: Claimed, work: Work) -> dict[str, Any] | None:
        as_of, site_id, now = _as_of(job), _site_id(job), work.clock.now()
        async with work.sessions() as session, session.begin():
            changed = await assess_late_fees(session, site_id=site_id, as_of=as_of, now=now,
                                             actor=SYSTEM)
            record(session, at=now, actor=SYSTEM, action="assess_late_fees", entity="site",
                   entity_id=site_id, site_id=site_id,
                   detail={"as_of": as_of.isoformat(), "bills_changed": changed,
                           "job": job.id})
        return {"as_of": as_of.isoformat(), "bills_changed": changed}

    async def purge(job: Claimed, work: Work) -> dict[str, Any] | None:
        report = await purge_site(work.sessions, site_id=_site_id(job), now=work.clock.now(),
                                  actor=SYSTEM, blobs=app.get(BLOBS))
        return report.as_dict()

    return {"bill_run": bill_run, "reminders": reminders, "late_fees": late_fees,
            "purge": purge}
