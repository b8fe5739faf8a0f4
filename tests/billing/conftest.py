"""Billing test helpers: a console app on a migrated database with a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.auth.audit import SYSTEM
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.sample_community import load_community
from cloud.settings import Settings
from contract import FakeClock
from tests.support.auth import token_headers

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "configs" / "billing" / "sample_community.yaml"
#: 2026-12-01 10:00 in Shanghai: November is over, its bills are run.
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@dataclass
class Console:
    client: TestClient[Any, Any]
    clock: FakeClock
    sessions: async_sessionmaker[AsyncSession]
    headers: dict[str, str]

    async def call(self, method: str, path: str, status: int, body: Any = None,
                   headers: dict[str, str] | None = None) -> Any:
        resp = await self.client.request(method, path, json=body,
                                         headers=self.headers if headers is None else headers)
        assert resp.status == status, (resp.status, await resp.text())
        return await resp.json()

    async def run_to_end(self, site: str, period: str, cycle: str = "monthly") -> Any:
        run = await self.call("POST", "/api/bill-runs", 202,
                              {"site": site, "cycle": cycle, "period": period})
        for _ in range(500):
            run = await self.call("GET", f"/api/bill-runs/{run['id']}", 200)
            if run["state"] != "running":
                return run
            await asyncio.sleep(0.02)
        raise AssertionError(f"run did not finish: {run}")


def sample_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    return doc


async def load_sample(sessions: async_sessionmaker[AsyncSession],
                      doc: dict[str, Any] | None = None) -> None:
    async with sessions() as session, session.begin():
        await load_community(session, doc or sample_doc(), SYSTEM, T0)


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    client = TestClient(TestServer(create_app(Settings(database_url=db_url), sessions, clock)))
    await client.start_server()
    try:
        headers = await token_headers(sessions, "finance")
        yield Console(client, clock, sessions, headers)
    finally:
        await client.close()
        await engine.dispose()
