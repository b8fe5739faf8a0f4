"""Text no handler should see (NUL, lone surrogates) and values the database refuses as data
are the caller's 400 naming the field, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from cloud.db.engine import make_engine
from cloud.web.errors import error_middleware
from cloud.web.hygiene import db_error_as_client_error, hygiene_middleware

Client = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def aiohttp_client() -> AsyncIterator[Client]:
    clients: list[TestClient[Any, Any]] = []

    async def make(app: web.Application) -> TestClient[Any, Any]:
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def _app(handler: Any) -> web.Application:
    app = web.Application(middlewares=[error_middleware, db_error_as_client_error,
                                       hygiene_middleware])
    app.router.add_route("*", "/api/echo", handler)
    return app


async def _echo(request: web.Request) -> web.Response:
    body = await request.json() if request.body_exists else None
    return web.json_response({"query": dict(request.query), "body": body})


async def test_nul_in_query_or_json_is_refused_naming_the_field(aiohttp_client: Client) -> None:
    client = await aiohttp_client(_app(_echo))
    r = await client.get("/api/echo", params={"site": "a\x00b"})
    assert r.status == 400
    err = (await r.json())["error"]
    assert err["field"] == "site" and "NUL" in err["message"]
    r = await client.post("/api/echo", json={"owner": {"names": ["ok", "bad\x00"]}})
    assert r.status == 400
    assert (await r.json())["error"]["field"] == "owner.names[1]"
    r = await client.post("/api/echo", data=b'{"name": "\\ud800"}',
                          headers={"Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["error"]["field"] == "name"


async def test_clean_requests_reach_the_handler_with_their_body(aiohttp_client: Client) -> None:
    client = await aiohttp_client(_app(_echo))
    r = await client.post("/api/echo?site=demo", json={"name": "张三"})
    assert r.status == 200
    assert await r.json() == {"query": {"site": "demo"}, "body": {"name": "张三"}}


async def test_a_value_postgresql_refuses_is_a_400(aiohttp_client: Client, pg_url: str) -> None:
    engine = make_engine(pg_url)

    async def overflow(request: web.Request) -> web.Response:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT CAST(:v AS integer)"), {"v": "99999999999"})
        return web.json_response({})

    async def broken(request: web.Request) -> web.Response:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))
        return web.json_response({})

    try:
        app = _app(overflow)
        app.router.add_get("/api/broken", broken)
        client = await aiohttp_client(app)
        r = await client.get("/api/echo")
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_value"
        r = await client.get("/api/broken")  # a bug of ours stays a 500
        assert r.status == 500
    finally:
        await engine.dispose()
