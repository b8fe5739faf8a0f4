"""A console on a real database (SQLite and PostgreSQL) with two sites, for the register."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.settings import Settings
from contract import FakeClock
from tests.support.auth import admin_headers, token_headers

REPO = Path(__file__).resolve().parents[2]
#: Monday 2026-11-23, 10:00 in Shanghai.
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass
class Console:
    client: TestClient[Any, Any]
    clock: FakeClock
    sessions: async_sessionmaker[AsyncSession]
    headers: dict[str, str]

    async def call(self, method: str, path: str, status: int, body: Any = None, *,
                   headers: dict[str, str] | None = None, data: Any = None) -> Any:
        resp = await self.client.request(method, path, json=body, data=data,
                                         headers=headers if headers is not None
                                         else self.headers)
        raw = await resp.read()
        assert resp.status == status, (resp.status, raw[:2000])
        if resp.content_type == "application/json":
            return await resp.json()
        return raw

    async def as_role(self, role: str, sites: list[str] | None = None) -> dict[str, str]:
        return await token_headers(self.sessions, role, sites=sites)


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add_all([Site(slug="garden", name="花园小区"), Site(slug="lake", name="湖畔")])
    clock = FakeClock(T0)
    client = TestClient(TestServer(create_app(Settings(database_url=db_url), sessions, clock)))
    await client.start_server()
    try:
        yield Console(client, clock, sessions, await admin_headers(sessions))
    finally:
        await client.close()
        await engine.dispose()


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    """The error object; its message is Chinese, then English."""
    err: dict[str, Any] = body["error"]
    zh, en = err["message"].split(" / ", 1)
    assert zh and en
    return err
