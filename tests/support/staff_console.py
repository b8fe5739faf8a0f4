"""A real console on a free port with the sample community 阳光花园 and one login per role:
what the browser tests drive as staff do (``staff_console`` fixture in tests/browser).

Every role's account is its role name with ``-`` for ``_`` (``customer-service``), the password
``PASSWORD`` and a person's name (``DISPLAY_NAMES``); the technician login is the technician
record 刘师傅 (plumbing, 阳光花园), whose id is ``technician_id``. ``api`` calls the console
with an admin token so a test can assert what a click changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.auth.roles import ROLES
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.settings import Settings
from contract import SystemClock
from tests.support.auth import create_staff, token_headers
from tests.support.services import free_port

PASSWORD = "page-password"
#: The person behind each role's login, as pages show them (never a role code).
DISPLAY_NAMES = {
    "admin": "王管理", "finance": "李会计", "customer_service": "张客服", "guard": "赵保安",
    "operations_lead": "陈主管", "technician": "刘师傅", "installer": "周工",
    "cockpit": "大堂大屏",
}


class StaffConsole:
    def __init__(self, url: str, admin: dict[str, str],
                 sessions: async_sessionmaker[AsyncSession], technician_id: int = 0) -> None:
        self.url = url
        self.technician_id = technician_id
        self.admin = admin
        self.sessions = sessions

    async def api(self, method: str, path: str, json: Any = None,
                  expect: int | None = 200) -> Any:
        """The console's JSON answer to an admin token (``expect`` None: any status)."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10),
                                         headers=self.admin) as s, \
                s.request(method, self.url + path, json=json) as resp:
            body = await resp.json(content_type=None)
            if expect is not None:
                assert resp.status == expect, (resp.status, body)
            return body

    async def get(self, path: str) -> Any:
        return await self.api("GET", path)


@asynccontextmanager
async def staff_console(db_url: str, setup: Callable[[web.Application], None] | None = None,
                        ) -> AsyncIterator[StaffConsole]:
    """``setup`` wires extra parts into the app before it starts (a command link)."""
    from tests.billing.conftest import load_sample

    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    await load_sample(sessions)
    for role in ROLES:
        await create_staff(sessions, role.replace("_", "-"), PASSWORD, role,
                           display_name=DISPLAY_NAMES[role])
    port = free_port()
    app = create_app(Settings(database_url=db_url), sessions, SystemClock())
    if setup is not None:
        setup(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    console = StaffConsole(f"http://127.0.0.1:{port}", await token_headers(sessions), sessions)
    try:
        tech = await console.api("POST", "/api/technicians", {
            "name": DISPLAY_NAMES["technician"], "skills": ["plumbing"], "sites": ["sunny"]},
            expect=201)
        console.technician_id = int(tech["id"])
        yield console
    finally:
        await runner.cleanup()
        await engine.dispose()
