"""Auth test fixtures: the console app on a migrated database with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.settings import Settings
from contract import FakeClock

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass
class Console:
    client: TestClient[Any, Any]
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    db_url: str

    async def login(self, username: str, password: str, status: int = 200,
                    **kw: Any) -> Any:
        resp = await self.client.post("/api/login",
                                      json={"username": username, "password": password}, **kw)
        body = await resp.json()
        assert resp.status == status, (resp.status, body)
        return body


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    app = create_app(Settings(database_url=db_url), sessions, clock)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Console(client, sessions, clock, db_url)
    finally:
        await client.close()
        await engine.dispose()
