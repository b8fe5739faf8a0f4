"""Cloud test fixtures: a migrated database (SQLite and PostgreSQL through ``db_url``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.engine import make_engine, migrate
from cloud.db.engine import session_factory as make_sessions


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a freshly migrated database; a test module may define its own."""
    await migrate(db_url)
    engine = make_engine(db_url)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()
