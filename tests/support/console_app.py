"""The console app on a migrated database for API tests: one factory for every feature.

A fake clock the test moves, the ``down/sync`` notices recorded (``Notices``: no broker), and
with ``credentials`` the sites' pull credentials configured (``configure_parking``), so the
edge's dataset pulls can be tried too.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.parking.routes import configure_parking
from cloud.settings import Settings
from contract import FakeClock


def basic(login: str, secret: str) -> dict[str, str]:
    """The ``Authorization`` header of an edge's dataset pull."""
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()}


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
    db_url: str

    async def call(self, method: str, path: str, headers: dict[str, str], status: int,
                   body: Any = None) -> Any:
        resp = await self.client.request(method, path, json=body, headers=headers)
        assert resp.status == status, await resp.text()
        return await resp.json()

    async def login(self, username: str, password: str, status: int = 200,
                    **kw: Any) -> Any:
        resp = await self.client.post("/api/login",
                                      json={"username": username, "password": password}, **kw)
        body = await resp.json()
        assert resp.status == status, (resp.status, body)
        return body


@asynccontextmanager
async def console_app(db_url: str, t0: datetime,
                      credentials: dict[str, str] | None = None) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(t0)
    app = create_app(Settings(database_url=db_url), sessions, clock)
    notices = Notices()
    if credentials is not None:
        configure_parking(app, credentials, notices)  # type: ignore[arg-type]
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Console(client, sessions, notices, clock, db_url)
    finally:
        await client.close()
        await engine.dispose()


DEMO_SECRET = "demo-secret-0001"
DEMO_PULL = basic("demo", DEMO_SECRET)
"""The demo site's pull credential, as ``demo_console`` configures it."""


def demo_console(db_url: str, t0: datetime) -> AbstractAsyncContextManager[Console]:
    """``console_app`` with the demo site's pull credential (``DEMO_PULL``)."""
    return console_app(db_url, t0, {"demo": DEMO_SECRET})
