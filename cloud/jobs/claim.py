"""Claiming jobs so that each runs in exactly one console at a time.

A job is claimed by a conditional ``UPDATE`` (still queued, or its lease lapsed) after picking
a candidate with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so consoles claiming
together skip each other's rows instead of queueing behind them; SQLite (one process) ignores
the row lock and the conditional update alone decides. Every later write by the worker names
its ``lease_owner``: a worker whose lease was taken over writes nothing.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.jobs.tables import Job

log = structlog.get_logger(__name__)

#: A job claimed this many times without finishing (its console died each time) is failed.
MAX_ATTEMPTS = 3
MAX_ERROR = 2000


def owner_id() -> str:
    """This console's name in leases: host, process and a random part (a restarted process
    with a recycled pid is someone else)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Claimed:
    """A job as its worker sees it: what to do, and how many claims it has had."""

    id: int
    kind: str
    site_id: int | None
    key: str
    payload: dict[str, Any]
    attempts: int


def _rows(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


async def enqueue(session: AsyncSession, *, kind: str, key: str, site_id: int | None,
                  payload: dict[str, Any], now: datetime, again: bool = False) -> int:
    """The id of the job (kind, key), added as ``queued`` unless it exists (inside the
    caller's transaction). ``again`` queues a finished or failed one anew (a bill run
    resumed by posting its period again); a queued or running one is left as it is."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(Job).values(
        kind=kind, key=key, site_id=site_id, state="queued", payload=payload, progress=None,
        attempts=0, created_at=now).on_conflict_do_nothing(index_elements=["kind", "key"]))
    job_id = (await session.execute(select(Job.id).where(
        Job.kind == kind, Job.key == key))).scalar_one()
    if again:
        await session.execute(update(Job).where(
            Job.id == job_id, Job.state.in_(("done", "failed"))).values(
            state="queued", attempts=0, error=None, finished_at=None, lease_owner=None,
            lease_until=None, payload=payload))
    return int(job_id)


def _claimable(now: datetime) -> Any:
    return or_(Job.state == "queued",
               and_(Job.state == "running", Job.lease_until < now))


async def claim(sessions: async_sessionmaker[AsyncSession], *, owner: str, now: datetime,
                lease_s: float, kinds: tuple[str, ...],
                max_attempts: int = MAX_ATTEMPTS) -> Claimed | None:
    """Take the oldest claimable job of ``kinds`` for ``owner``, or None. A lapsed job that
    has had ``max_attempts`` claims is failed instead (visible with its last error)."""
    while True:
        async with sessions() as session, session.begin():
            job = (await session.execute(
                select(Job).where(Job.kind.in_(kinds), _claimable(now)).order_by(Job.id)
                .limit(1).with_for_update(skip_locked=True))).scalar_one_or_none()
            if job is None:
                return None
            if job.state == "running" and job.attempts >= max_attempts:
                await session.execute(update(Job).where(Job.id == job.id, _claimable(now))
                                      .values(state="failed", finished_at=now,
                                              lease_owner=None, lease_until=None,
                                              error=_gave_up(job)))
                log.warning("jobs.gave_up", job_id=job.id, kind=job.kind,
                            attempts=job.attempts)
                continue
            claimed = Claimed(job.id, job.kind, job.site_id, job.key, dict(job.payload),
                              job.attempts + 1)
            taken = _rows(await session.execute(
                update(Job).where(Job.id == job.id, _claimable(now)).values(
                    state="running", attempts=Job.attempts + 1, lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_s),
                    started_at=job.started_at or now)
                .execution_options(synchronize_session=False)))
            if taken:
                return claimed
            # SQLite: another claimer updated it between our two statements; look again


def _gave_up(job: Job) -> str:
    last = f"; {job.error}" if job.error else ""
    return (f"租约过期 {job.attempts} 次，已放弃 / the lease lapsed {job.attempts} times "
            f"(its console stopped each time), given up{last}")[:MAX_ERROR]


def _mine(job_id: int, owner: str) -> Any:
    return and_(Job.id == job_id, Job.lease_owner == owner, Job.state == "running")


async def renew(sessions: async_sessionmaker[AsyncSession], job_id: int, owner: str,
                now: datetime, lease_s: float,
                progress: dict[str, Any] | None = None) -> bool:
    """Extend ``owner``'s lease (and record progress); False when the job is no longer its."""
    values: dict[str, Any] = {"lease_until": now + timedelta(seconds=lease_s)}
    if progress is not None:
        values["progress"] = progress
    async with sessions() as session, session.begin():
        return _rows(await session.execute(
            update(Job).where(_mine(job_id, owner)).values(**values))) == 1


async def finish(sessions: async_sessionmaker[AsyncSession], job_id: int, owner: str,
                 now: datetime, progress: dict[str, Any] | None = None) -> bool:
    """Mark ``owner``'s job done; False when it was no longer its."""
    values: dict[str, Any] = {"state": "done", "finished_at": now, "lease_until": None,
                              "error": None}
    if progress is not None:
        values["progress"] = progress
    async with sessions() as session, session.begin():
        return _rows(await session.execute(
            update(Job).where(_mine(job_id, owner)).values(**values))) == 1


async def fail(sessions: async_sessionmaker[AsyncSession], job_id: int, owner: str,
               now: datetime, error: str) -> bool:
    """Mark ``owner``'s job failed with ``error`` (shown at /schedules)."""
    async with sessions() as session, session.begin():
        return _rows(await session.execute(update(Job).where(_mine(job_id, owner)).values(
            state="failed", finished_at=now, lease_until=None,
            error=error[:MAX_ERROR]))) == 1


async def release(sessions: async_sessionmaker[AsyncSession], job_id: int, owner: str) -> bool:
    """Give ``owner``'s job back (the console is stopping): queued again at once, and the
    interrupted claim does not count as an attempt."""
    async with sessions() as session, session.begin():
        return _rows(await session.execute(update(Job).where(_mine(job_id, owner)).values(
            state="queued", lease_owner=None, lease_until=None,
            attempts=Job.attempts - 1))) == 1
