"""Large imports run as jobs in the console process, so the page can show their progress.

A job lives in memory: it is the progress of one upload, not a record (the import's changes
and their audit rows are the record). Finished jobs are kept for a while for the page to
fetch the result, then forgotten.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from cloud.imports.register import ImportResult

log = structlog.get_logger(__name__)

#: Finished jobs remembered for the page to read their result.
KEEP_FINISHED = 50


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

    def progress(self, phase: str, done: int, total: int) -> None:
        self.phase, self.rows_done = phase, done
        if phase == "checking":
            self.rows_total = total

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "site": self.site, "dry_run": self.dry_run,
                "state": self.state, "phase": self.phase, "rows_done": self.rows_done,
                "rows_total": self.rows_total,
                "result": None if self.result is None else self.result.json()}


@dataclass
class Jobs:
    jobs: dict[str, Job] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self, job: Job, work: Callable[[Job], Awaitable[ImportResult]]) -> Job:
        self.jobs[job.id] = job

        async def run() -> None:
            try:
                job.result = await work(job)
                job.state = "done"
            except Exception:
                log.exception("records.import_job_failed", job=job.id, kind=job.kind)
                job.state = "failed"
            self._forget_old()

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return job

    def _forget_old(self) -> None:
        finished = [j for j in self.jobs.values() if j.state != "running"]
        for j in finished[:-KEEP_FINISHED]:
            self.jobs.pop(j.id, None)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def new_id() -> str:
    return uuid.uuid4().hex
