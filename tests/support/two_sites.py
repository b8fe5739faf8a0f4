"""A console serving two communities, ``north`` (site A) and ``south`` (site B), and staff of
each: the ground for attacks by one site's staff on the other's records.

Staff log in through ``/api/login`` (a cookie session with its CSRF header, as a browser) or
carry an API token; ``admin`` below is a token serving every site, used to set the scene.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.auth.tables import AuditEntry, StaffUser
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.parking.routes import configure_parking
from cloud.settings import Settings
from contract import FakeClock
from tests.support.auth import create_staff, token_headers

SITE_A, SITE_B = "north", "south"
CREDENTIALS = {SITE_A: "north-secret-0123", SITE_B: "south-secret-4567"}
#: Monday 2026-11-23, 10:00 in Shanghai.
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PASSWORD = "staff-password-1"


@dataclass
class Caller:
    """One principal's HTTP client against the console."""

    http: aiohttp.ClientSession
    headers: dict[str, str] = field(default_factory=dict)

    async def call(self, method: str, path: str, status: int | tuple[int, ...] | None = 200,
                   body: Any = None, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        async with self.http.request(method, path, json=body, headers=headers, **kw) as resp:
            got = await resp.json() if resp.content_type == "application/json" else None
            wanted = (status,) if isinstance(status, int) else status
            assert wanted is None or resp.status in wanted, (method, path, resp.status, got)
            return got


@dataclass
class TwoSites:
    server: TestServer
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    _open: list[aiohttp.ClientSession] = field(default_factory=list)
    #: A token of every site, to set the scene.
    admin: Caller = field(init=False)

    def url(self, path: str = "/") -> str:
        return str(self.server.make_url(path))

    def _http(self) -> aiohttp.ClientSession:
        http = aiohttp.ClientSession(base_url=self.url(), cookie_jar=aiohttp.CookieJar(
            unsafe=True), timeout=aiohttp.ClientTimeout(total=30))
        self._open.append(http)
        return http

    async def token(self, role: str, sites: list[str] | None) -> Caller:
        """A caller with an API token of ``role`` on ``sites`` (None: every site)."""
        return Caller(self._http(), await token_headers(self.sessions, role, sites))

    async def staff(self, username: str, role: str, sites: list[str] | None,
                    name: str | None = None) -> Caller:
        """A staff member logged in through /api/login (cookie + CSRF), shown as ``name``."""
        user_id = await create_staff(self.sessions, username, PASSWORD, role, sites=sites)
        if name is not None:
            async with self.sessions() as session, session.begin():
                user = await session.get(StaffUser, user_id)
                assert user is not None
                user.display_name = name
        caller = Caller(self._http())
        await caller.call("POST", "/api/login", 200,
                          {"username": username, "password": PASSWORD})
        me = await caller.call("GET", "/api/me")
        caller.headers["X-CSRF-Token"] = me["csrf_token"]
        return caller

    async def audit(self, entity: str) -> list[AuditEntry]:
        async with self.sessions() as session:
            return list((await session.scalars(select(AuditEntry).where(
                AuditEntry.entity == entity).order_by(AuditEntry.id))).all())

    async def close(self) -> None:
        for http in self._open:
            await http.close()


@asynccontextmanager
async def two_sites(db_url: str, **settings: Any) -> AsyncIterator[TwoSites]:
    """The console on ``db_url`` with both sites and their dataset credentials."""
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add_all([Site(slug=SITE_A, name="北苑", timezone="Asia/Shanghai"),
                         Site(slug=SITE_B, name="南苑", timezone="Asia/Shanghai")])
    clock = FakeClock(T0)
    app = create_app(Settings(database_url=db_url, **settings), sessions, clock)
    configure_parking(app, CREDENTIALS)
    server = TestServer(app)
    await server.start_server()
    world = TwoSites(server, sessions, clock)
    world.admin = await world.token("admin", None)
    try:
        yield world
    finally:
        await world.close()
        await server.close()
        await engine.dispose()
