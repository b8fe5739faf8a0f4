"""Dialect-specific INSERT … ON CONFLICT, the one statement the ingest path cannot do without."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def dialect_insert(session: AsyncSession, table: Table) -> PgInsert | SqliteInsert:
    """``insert`` with ``on_conflict_*`` for the session's database (PostgreSQL or SQLite)."""
    if dialect_name(session) == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


async def pg_driver(session: AsyncSession) -> Any:
    """The session's asyncpg connection, inside the session's open transaction.

    For the few bulk statements where SQLAlchemy's per-row work costs more than the database
    does (``unnest`` arrays, COPY). Only call it after the transaction's first statement ran
    through the session (the ingest path locks the site row first), so the transaction is open.
    """
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection
