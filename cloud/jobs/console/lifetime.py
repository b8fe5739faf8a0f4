"""The console's job runner, started and stopped with the web app: every console process
(and every app a test builds) claims jobs from the same table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from cloud.jobs.console.kinds import handlers
from cloud.jobs.runner import JOB_RUNNER, JobRunner
from cloud.web.keys import CLOCK, SESSIONS


async def job_runner_lifetime(app: web.Application) -> AsyncIterator[None]:
    runner = JobRunner(app[SESSIONS], app[CLOCK], handlers(app))
    app[JOB_RUNNER] = runner
    task = asyncio.create_task(runner.run(), name="job-runner")
    yield
    task.cancel()
    await asyncio.wait([task])
