"""A console with its cockpit feed running, and an edge sending through the real ingest path on
an engine of its own (as the ingest worker, another process, does): the rig of the live tests.

Receives have a generous timeout only so a broken feed fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.cockpit.live import COCKPIT_LIVE, CockpitHub, Timing
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.settings import Settings
from contract import FakeClock
from tests.cloud.test_alarms_ingest import Edge
from tests.support.auth import admin_headers

T0 = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)  # 14:30 in Shanghai
RECEIVE_TIMEOUT_S = 15.0
#: Fast enough for tests, the same code paths as production's.
FAST = Timing(coalesce_s=0.05, company_s=0.1, sweep_s=3600.0, ping_s=3600.0, recheck_s=3600.0)

Message = dict[str, Any]


@dataclass
class Rig:
    url: str
    client: TestClient[Any, Any]
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    edge: Edge
    ingest_engine: AsyncEngine

    @property
    def hub(self) -> CockpitHub:
        assert self.client.app is not None
        hub = self.client.app[COCKPIT_LIVE].hub
        assert hub is not None
        return hub

    async def connect(self, query: str = "?site=demo",
                      **kw: Any) -> aiohttp.ClientWebSocketResponse:
        return await self.client.ws_connect(f"/api/cockpit/ws{query}", **kw)


async def until(ws: aiohttp.ClientWebSocketResponse, wanted: Callable[[Message], bool],
                seen: list[Message] | None = None) -> Message:
    """The first message ``wanted`` accepts (the others are kept in ``seen``)."""
    async with asyncio.timeout(RECEIVE_TIMEOUT_S):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
            body: Message = msg.json()
            if wanted(body):
                return body
            if seen is not None:
                seen.append(body)


def of_type(kind: str) -> Callable[[Message], bool]:
    return lambda m: m["type"] == kind


@asynccontextmanager
async def live_rig(url: str, timing: Timing = FAST, headers: dict[str, str] | None = None,
                   ingest_engine: AsyncEngine | None = None,
                   clock: FakeClock | None = None) -> AsyncIterator[Rig]:
    await migrate(url)
    engine = make_engine(url)
    own_ingest = ingest_engine is None
    ingest = ingest_engine or make_engine(url)
    clock = clock or FakeClock(T0)
    sessions = session_factory(engine)
    app = create_app(Settings(database_url=url), sessions, clock)
    app[COCKPIT_LIVE].timing = timing
    client = TestClient(TestServer(app), headers=headers or await admin_headers(sessions))
    await client.start_server()
    try:
        yield Rig(url, client, sessions, clock, Edge(session_factory(ingest), clock), ingest)
    finally:
        await client.close()
        await engine.dispose()
        if own_ingest:
            await ingest.dispose()
