"""Auth test fixtures: the console app on a migrated database with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.support.console_app import Console, console_app

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    async with console_app(db_url, T0) as c:
        yield c
