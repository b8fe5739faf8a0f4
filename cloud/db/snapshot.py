"""One consistent read of several statements: what a dataset pull needs.

A document read statement by statement under READ COMMITTED (PostgreSQL's default) sees every
write committed between two of its statements; under a burst of edits the version moves under
the read on every try. On PostgreSQL, REPEATABLE READ makes the whole transaction one snapshot
(a read-only one never fails to serialise), so the pull answers the version it started on and
later writes wait for the next pull.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.dialect import dialect_name

SNAPSHOT_ISOLATION = "REPEATABLE READ"


async def read_one_snapshot(session: AsyncSession) -> None:
    """Make the session's coming transaction one snapshot, on PostgreSQL.

    Call it before the session's first statement (the isolation level is set as the
    connection is taken). SQLite keeps statement by statement reads: its callers check the
    version before and after, as they do anyway.
    """
    if dialect_name(session) == "postgresql":
        await session.connection(execution_options={"isolation_level": SNAPSHOT_ISOLATION})
