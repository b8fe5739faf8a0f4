"""A console on a migrated database for the patrol API tests, with the ``down/sync`` notices
recorded and the demo site's pull credential."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.parking.routes import configure_parking
from cloud.settings import Settings
from contract import FakeClock

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 Monday, Asia/Shanghai
P = "/api/sites/demo/patrol"
SECRET = "demo-secret-0001"
PULL = {"Authorization": "Basic " + base64.b64encode(f"demo:{SECRET}".encode()).decode()}


@dataclass
class Notices:
    sent: list[tuple[str, str, int]] = field(default_factory=list)

    def notify(self, site: str, dataset: str, version: int) -> None:
        self.sent.append((site, dataset, version))


@dataclass
class Console:
    client: TestClient[Any, Any]
    sessions: async_sessionmaker[AsyncSession]
    notices: Notices
    clock: FakeClock

    async def call(self, method: str, path: str, headers: dict[str, str], status: int,
                   body: Any = None) -> Any:
        resp = await self.client.request(method, path, json=body, headers=headers)
        assert resp.status == status, await resp.text()
        return await resp.json()


@asynccontextmanager
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    app = create_app(Settings(database_url=db_url), sessions, clock)
    notices = Notices()
    configure_parking(app, {"demo": SECRET}, notices)  # type: ignore[arg-type]
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Console(client, sessions, notices, clock)
    finally:
        await client.close()
        await engine.dispose()
