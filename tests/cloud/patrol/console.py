"""A console on a migrated database for the patrol API tests, with the ``down/sync`` notices
recorded and the demo site's pull credential (``tests.support.console_app``)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from tests.support.console_app import DEMO_PULL, DEMO_SECRET, Console, Notices, demo_console

__all__ = ["PULL", "SECRET", "T0", "Console", "Notices", "P", "console"]

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 Monday, Asia/Shanghai
P = "/api/sites/demo/patrol"
SECRET, PULL = DEMO_SECRET, DEMO_PULL


def console(db_url: str) -> AbstractAsyncContextManager[Console]:
    return demo_console(db_url, T0)
