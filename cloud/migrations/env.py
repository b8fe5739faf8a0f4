"""Alembic environment: uses the connection ``cloud.db.migrate`` passes in, else the URL.

The command line (``alembic -c cloud/migrations/alembic.ini ...``) uses the console's own
database (``COURTYARD_DATABASE_URL`` through ``cloud.settings``); the server passes its own
open connection so no second event loop is needed.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import cloud.features  # noqa: F401  (every feature's tables join Base.metadata)
from cloud.db.models import Base
from cloud.db.types import UTCDateTime
from cloud.settings import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    """The URL given in code (``alembic_config(url)``), else the console's setting."""
    return config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our UTC timestamp type as the plain column type it is in the database."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    existing = config.attributes.get("connection")
    if existing is not None:
        _run(existing)
    else:
        asyncio.run(_run_async())
