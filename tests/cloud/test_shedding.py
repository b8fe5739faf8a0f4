"""When the console cannot serve it says so at once (503 with Retry-After), on a real console
and PostgreSQL: a burst beyond the in-flight bound is refused while the admitted requests
finish, and an unreachable database is a 503 that names it, never a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from cloud.app import create_app
from cloud.db.engine import make_engine, session_factory
from cloud.db.models import Site
from cloud.settings import Settings
from cloud.web.errors import error_middleware
from cloud.web.hygiene import db_error_as_client_error
from cloud.web.shedding import SHEDDER
from tests.e2e.test_box_replacement import until
from tests.support.auth import admin_headers
from tests.support.services import free_port


async def test_a_burst_beyond_the_bound_is_refused_at_once_and_the_admitted_finish(
        pg_url: str) -> None:
    engine = make_engine(pg_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add(Site(slug="garden", name="花园小区"))
    app = create_app(Settings(database_url=pg_url, max_in_flight=2), sessions)
    client: TestClient[Any, Any] = TestClient(TestServer(app),
                                              headers=await admin_headers(sessions))
    await client.start_server()
    locker = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    try:
        assert (await client.get("/api/sites")).status == 200  # the token is known
        # The database holds every read of the sites table: two requests stay in flight.
        await locker.execute("BEGIN; LOCK TABLE sites IN ACCESS EXCLUSIVE MODE")
        held = [asyncio.create_task(client.get("/api/sites")) for _ in range(2)]

        await until(lambda: app[SHEDDER].in_flight == 2, "two requests in flight")
        for _ in range(3):
            r = await client.get("/api/sites")
            body = await r.json()
            assert r.status == 503 and body["error"]["code"] == "overloaded"
            assert r.headers["Retry-After"] == "1"
            assert "繁忙" in body["error"]["message"]
        health = await client.get("/healthz")  # a supervisor still gets an answer
        assert health.status != 429 and "status" in await health.json()
        assert all(not t.done() for t in held) and app[SHEDDER].refused == 3
        await locker.execute("ROLLBACK")
        for t in held:
            r = await t
            assert r.status == 200 and [s["slug"] for s in (await r.json())["sites"]] == \
                ["garden"]
        assert (await client.get("/api/sites")).status == 200, "the bound is free again"
    finally:
        await locker.close()
        await client.close()
        await engine.dispose()


async def test_an_unreachable_database_is_a_503_that_says_so() -> None:
    """The console's own error middlewares around a handler whose database has nothing
    listening (the whole console would also start background work that logs the outage)."""
    gone = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere")

    async def reads(request: web.Request) -> web.Response:
        async with session_factory(gone)() as session:
            await session.execute(select(Site))
        return web.json_response({})

    app = web.Application(middlewares=[error_middleware, db_error_as_client_error])
    app.router.add_get("/api/sites", reads)
    app.router.add_get("/records", reads)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        r = await client.get("/api/sites")
        body = await r.json()
        assert r.status == 503 and body["error"]["code"] == "database_unavailable"
        assert r.headers["Retry-After"] == "5" and "数据库" in body["error"]["message"]
        page = await client.get("/records", headers={"Accept": "text/html"})
        assert page.status == 503 and "数据库暂时无法连接" in await page.text()
    finally:
        await client.close()
        await gone.dispose()
