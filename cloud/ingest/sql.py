"""Dialect-specific INSERT … ON CONFLICT, the one statement the ingest path cannot do without."""

from __future__ import annotations

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
