"""Alembic environment: uses the connection ``cloud.db.migrate`` passes in, else the URL.

The command line (``alembic -c cloud/migrations/alembic.ini ...``) reads the URL from
``COURTYARD_DATABASE_URL``; the server passes its own open connection so no second event loop
is needed.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import cloud.features  # noqa: F401  (every feature's tables join Base.metadata)
from cloud.db.models import Base
from cloud.db.types import UTCDateTime

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = os.environ.get("COURTYARD_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set COURTYARD_DATABASE_URL to the cloud database URL")
    return url


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
