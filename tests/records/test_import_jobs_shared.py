"""Import jobs are in the database (issue 16 §4): a job started on one console process is
read from another, and a job whose process stopped reads as failed once its lease is over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud.app import create_app
from cloud.db.engine import make_engine, session_factory
from cloud.imports.jobs import LEASE, Job, Jobs, new_id
from cloud.imports.register import ImportResult
from cloud.settings import Settings
from tests.records.conftest import Console
from tests.records.test_imports import UNITS_HEADER


@pytest.fixture
async def other(console: Console, db_url: str) -> AsyncIterator[Console]:
    """A second console process on the same database (its own app, engine and clock)."""
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    client = TestClient(TestServer(create_app(Settings(database_url=db_url), sessions,
                                              console.clock)))
    await client.start_server()
    try:
        yield Console(client, console.clock, sessions, console.headers)
    finally:
        await client.close()
        await engine.dispose()


async def test_a_job_started_on_one_process_is_followed_from_another(
        console: Console, other: Console) -> None:
    rows = "".join(f"{b}-1-{r},{b},1,80,occupied\n" for b in range(1, 4) for r in range(800))
    form = aiohttp.FormData()
    form.add_field("file", (UNITS_HEADER + rows).encode(), filename="units.csv")
    started = await console.call("POST", "/api/imports/units?site=garden", 202, data=form)
    job: dict[str, Any] = {}
    for _ in range(600):
        job = await other.call("GET", started["url"], 200)
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert job["state"] == "done" and job["rows_done"] == 2400 and job["error"] is None
    assert job["result"]["created"] == 2400
    stranger = await other.as_role("admin")
    await other.call("GET", started["url"], 404, headers=stranger)  # someone else's job


async def test_a_job_whose_process_stopped_is_failed_after_its_lease(
        console: Console, other: Console) -> None:
    me = await console.call("GET", "/api/me", 200)
    jobs, never = Jobs(), asyncio.Event()

    async def work(job: Job) -> ImportResult:
        job.progress("applying", 10, 2400)
        await never.wait()  # the process dies before it finishes
        raise AssertionError("unreachable")

    job = await jobs.start(console.sessions, console.clock,
                           Job(new_id(), "units", "garden", me["ref"], False, 2400), work)
    url = f"/api/imports/jobs/{job.id}"
    assert (await other.call("GET", url, 200))["state"] == "running"
    await jobs.close()  # killed: no final state is written
    console.clock.advance(LEASE.total_seconds() - 1)
    assert (await other.call("GET", url, 200))["state"] == "running"  # within its lease
    console.clock.advance(2)
    seen = await other.call("GET", url, 200)
    assert seen["state"] == "failed" and seen["result"] is None
    assert "控制台进程已停止" in seen["error"] and "process running it stopped" in seen["error"]


async def test_finished_jobs_are_forgotten_after_a_day(console: Console) -> None:
    me = await console.call("GET", "/api/me", 200)
    jobs = Jobs()

    async def work(job: Job) -> ImportResult:
        return ImportResult("units", "garden", False)

    old = await jobs.start(console.sessions, console.clock,
                           Job(new_id(), "units", "garden", me["ref"], False, 1), work)
    await asyncio.gather(*jobs.tasks)
    assert (await console.call("GET", f"/api/imports/jobs/{old.id}", 200))["state"] == "done"
    console.clock.advance(timedelta(days=1, seconds=1).total_seconds())
    await jobs.start(console.sessions, console.clock,
                     Job(new_id(), "units", "garden", me["ref"], False, 1), work)
    await console.call("GET", f"/api/imports/jobs/{old.id}", 404)
    await jobs.close()
