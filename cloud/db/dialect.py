"""Dialect-specific INSERT … ON CONFLICT, the one statement the ingest path cannot do without."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, exists, func, select
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


def json_list_has(session: AsyncSession, column: Any, value: int) -> ColumnElement[bool]:
    """``value`` is an element of the JSON list in ``column``, tested in the database:
    ``@>`` on PostgreSQL's jsonb, ``json_each`` on SQLite."""
    if dialect_name(session) == "postgresql":
        return column.op("@>")(func.jsonb_build_array(value))  # type: ignore[no-any-return]
    items = func.json_each(column).table_valued("value")
    return exists(select(items.c.value).where(items.c.value == value))
