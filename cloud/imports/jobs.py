"""Large imports run as jobs, so the page can show their progress from any console process.

The process that accepted the upload runs the import; the job's state, progress and result
are in ``import_jobs``, so the page's polls may reach any process of ``serve --workers N``.
The runner renews the row (progress and ``heartbeat_at``) every ``HEARTBEAT_S``; a running
job whose heartbeat is older than ``LEASE`` belongs to a process that stopped (killed,
crashed, restarted) and reads as failed with a message saying so: the import ran in one
transaction per phase, so what it did not finish changed nothing. Finished jobs are kept
``KEEP`` for the page to fetch the result, then deleted.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.imports.register import ImportResult
from cloud.imports.tables import ImportJob
from contract import Clock

log = structlog.get_logger(__name__)

HEARTBEAT_S = 2.0
#: A running job not renewed for this long is taken for dead.
LEASE = timedelta(seconds=30)
#: Finished jobs are kept this long for the page to read their result.
KEEP = timedelta(days=1)
STALE_ZH = "导入任务中断：运行它的控制台进程已停止（未完成的部分没有写入），请重新导入"
STALE_EN = ("the import was interrupted: the console process running it stopped (the "
            "unfinished part changed nothing); please import again")


def owner_tag() -> str:
    """This process, as a job's owner: host and pid."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


@dataclass
class Job:
    id: str
    kind: str
    site: str
    actor: str
    dry_run: bool
    rows_total: int
    state: str = "running"  # running | done | failed
    phase: str = "checking"
    rows_done: int = 0
    result: ImportResult | None = None
    error: str | None = None

    def progress(self, phase: str, done: int, total: int) -> None:
        self.phase, self.rows_done = phase, done
        if phase == "checking":
            self.rows_total = total

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "site": self.site, "dry_run": self.dry_run,
                "state": self.state, "phase": self.phase, "rows_done": self.rows_done,
                "rows_total": self.rows_total,
                "result": None if self.result is None else self.result.json(),
                "error": self.error}


def row_json(row: ImportJob, now: datetime) -> dict[str, Any]:
    """A stored job as the API shows it; a running job with a stale heartbeat is failed."""
    state, error = row.state, row.error
    if state == "running" and row.heartbeat_at < now - LEASE:
        state, error = "failed", f"{STALE_ZH} / {STALE_EN}"
    return {"id": row.id, "kind": row.kind, "site": row.site, "dry_run": row.dry_run,
            "state": state, "phase": row.phase, "rows_done": row.rows_done,
            "rows_total": row.rows_total, "result": row.result, "error": error}


@dataclass
class Jobs:
    """The jobs this process runs (their tasks); their state is in the database."""

    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, job: Job,
                    work: Callable[[Job], Awaitable[ImportResult]]) -> Job:
        now = clock.now()
        async with sessions() as session, session.begin():
            await session.execute(delete(ImportJob).where(ImportJob.created_at < now - KEEP))
            session.add(ImportJob(
                id=job.id, kind=job.kind, site=job.site, actor=job.actor, dry_run=job.dry_run,
                state=job.state, phase=job.phase, rows_done=0, rows_total=job.rows_total,
                owner=owner_tag(), created_at=now, heartbeat_at=now))

        async def run() -> None:
            beat = asyncio.get_running_loop().create_task(self._beat(sessions, clock, job))
            try:
                job.result = await work(job)
                job.state = "done"
            except Exception as exc:
                log.exception("records.import_job_failed", job=job.id, kind=job.kind)
                job.state, job.error = "failed", f"导入失败 / import failed: {exc!r}"[:2000]
            finally:
                beat.cancel()
                await asyncio.gather(beat, return_exceptions=True)
            await self._save(sessions, clock, job)

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return job

    async def _beat(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                    job: Job) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._save(sessions, clock, job)
            except Exception as exc:  # a missed beat is retried; the lease allows several
                log.warning("records.import_job_beat_failed", job=job.id, error=repr(exc))

    async def _save(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                    job: Job) -> None:
        async with sessions() as session, session.begin():
            await session.execute(update(ImportJob).where(ImportJob.id == job.id).values(
                state=job.state, phase=job.phase, rows_done=job.rows_done,
                rows_total=job.rows_total, error=job.error,
                result=None if job.result is None else job.result.json(),
                heartbeat_at=clock.now()))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def new_id() -> str:
    return uuid.uuid4().hex
