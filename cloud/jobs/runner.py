"""The job runner every console runs: claims jobs, runs their handlers, keeps their leases.

Nothing lives only in memory: a console that dies mid-job stops renewing its lease and any
console claims the job again once it lapses; a console that stops cleanly gives its jobs back
at once (``release``). Other consoles notice new jobs by polling; a job enqueued here wakes
this runner at once (``wake``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.jobs import claim as jobs
from cloud.jobs.claim import Claimed
from contract import Clock

log = structlog.get_logger(__name__)

LEASE_S = 30.0
POLL_S = 2.0


@dataclass
class Work:
    """What a handler gets besides its job: the database, the clock, and ``report`` to
    record progress (it also renews the lease)."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    report: Callable[[dict[str, Any]], Awaitable[None]]


#: A job kind's handler: does the work (resumably: it may be run again after a crash) and
#: returns the progress to keep with the finished job.
Handler = Callable[[Claimed, Work], Coroutine[Any, Any, dict[str, Any] | None]]


@dataclass
class JobRunner:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    handlers: Mapping[str, Handler]
    owner: str = field(default_factory=jobs.owner_id)
    lease_s: float = LEASE_S
    poll_s: float = POLL_S
    concurrency: int = 2
    max_attempts: int = jobs.MAX_ATTEMPTS
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    running: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    def wake(self) -> None:
        """Look for jobs now (one was just enqueued)."""
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: claim and run jobs, ``concurrency`` at a time; on cancellation
        the running ones are cancelled and given back."""
        bound = log.bind(owner=self.owner)
        try:
            while True:
                self._wake.clear()
                try:
                    while len(self.running) < self.concurrency:
                        job = await jobs.claim(self.sessions, owner=self.owner,
                                               now=self.clock.now(), lease_s=self.lease_s,
                                               kinds=tuple(self.handlers),
                                               max_attempts=self.max_attempts)
                        if job is None:
                            break
                        task = asyncio.create_task(self._run_one(job), name=f"job-{job.id}")
                        self.running[job.id] = task
                        task.add_done_callback(self._done)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database may be briefly unreachable
                    bound.warning("jobs.claim_failed", error=f"{type(exc).__name__}: {exc}")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_s):
                        await self._wake.wait()
        finally:
            tasks = list(self.running.values())
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)

    def _done(self, task: asyncio.Task[None]) -> None:
        for job_id, mine in list(self.running.items()):
            if mine is task:
                del self.running[job_id]
        self._wake.set()  # room for another job

    async def _run_one(self, job: Claimed) -> None:
        bound = log.bind(job_id=job.id, kind=job.kind, key=job.key, attempt=job.attempts,
                         owner=self.owner)
        lost = asyncio.Event()
        tasks: list[asyncio.Task[Any]] = []

        async def report(progress: dict[str, Any]) -> None:
            if not await jobs.renew(self.sessions, job.id, self.owner, self.clock.now(),
                                    self.lease_s, progress):
                # Taken over: stop as a cancellation (the work stays resumable, e.g. a bill
                # run stays ``running`` for its new owner), not as an error of the work.
                lost.set()
                tasks[0].cancel()

        work = Work(self.sessions, self.clock, report)
        bound.info("jobs.started")
        handler = asyncio.create_task(self.handlers[job.kind](job, work))
        tasks.append(handler)
        beat = asyncio.create_task(self._heartbeat(job.id, lost, handler))
        try:
            result = await handler
        except asyncio.CancelledError:
            if lost.is_set():
                bound.warning("jobs.lease_lost")
                return
            if not handler.done():
                handler.cancel()
                await asyncio.wait([handler])
            with contextlib.suppress(Exception):
                await asyncio.shield(jobs.release(self.sessions, job.id, self.owner))
            bound.info("jobs.released")
            raise
        except Exception as exc:
            bound.exception("jobs.failed")
            await jobs.fail(self.sessions, job.id, self.owner, self.clock.now(),
                            f"{type(exc).__name__}: {exc}")
            return
        finally:
            beat.cancel()
            await asyncio.wait([beat])
        await jobs.finish(self.sessions, job.id, self.owner, self.clock.now(), result)
        bound.info("jobs.done")

    async def _heartbeat(self, job_id: int, lost: asyncio.Event,
                         handler: asyncio.Task[Any]) -> None:
        """Renew the lease every third of it; cancel the handler if the job was taken."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                mine = await jobs.renew(self.sessions, job_id, self.owner, self.clock.now(),
                                        self.lease_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a missed renewal is retried; the lease has slack
                log.warning("jobs.renew_failed", job_id=job_id, error=repr(exc))
                continue
            if not mine:
                lost.set()
                handler.cancel()
                return


JOB_RUNNER = web.AppKey("job_runner", JobRunner)
