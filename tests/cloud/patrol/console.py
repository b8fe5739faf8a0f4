"""A console on a migrated database for the patrol API tests, with the ``down/sync`` notices
recorded and the demo site's pull credential (``tests.support.console_app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from tests.support.console_app import Console, Notices, basic, console_app

__all__ = ["PULL", "SECRET", "T0", "Console", "Notices", "P", "console"]

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 Monday, Asia/Shanghai
P = "/api/sites/demo/patrol"
SECRET = "demo-secret-0001"
PULL = basic("demo", SECRET)


@asynccontextmanager
async def console(db_url: str) -> AsyncIterator[Console]:
    async with console_app(db_url, T0, {"demo": SECRET}) as c:
        yield c
