"""Duties: recurring work every console runs, each tick taken by one console.

A duty's tick first takes its lease row (``duty_leases``): an upsert that only succeeds when
the lease lapsed or is already this console's. The holder renews it every tick, so while it
lives the others skip; when it dies, the next console to tick after the lease lapsed takes
over. Ticks are idempotent work (escalate what is overdue, make the due PM orders, turn due
schedules into jobs), so a tick repeated after a takeover does no harm.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.jobs.tables import DutyLease
from contract import Clock

log = structlog.get_logger(__name__)

#: The longest a tick may take: a hung tick must not hold the duty for ever.
TICK_TIMEOUT_S = 300.0

Tick = Callable[[], Awaitable[Any]]


async def take_tick(sessions: async_sessionmaker[AsyncSession], name: str, owner: str,
                    clock: Clock, lease_s: float) -> bool:
    """Whether ``owner`` holds duty ``name`` for the next ``lease_s`` seconds (taken when
    free or lapsed, renewed when already ``owner``'s)."""
    now = clock.now()
    async with sessions() as session, session.begin():
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(DutyLease).values(name=name, owner=owner,
                                        lease_until=now + timedelta(seconds=lease_s))
        result = await session.execute(stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"owner": stmt.excluded.owner, "lease_until": stmt.excluded.lease_until},
            where=(DutyLease.lease_until < now) | (DutyLease.owner == owner)))
        assert isinstance(result, CursorResult)
        return (result.rowcount or 0) == 1


async def run_duty(name: str, every_s: float, fn: Tick,
                   sessions: async_sessionmaker[AsyncSession], clock: Clock, owner: str, *,
                   lease_s: float | None = None) -> None:
    """Until cancelled: every ``every_s`` seconds, run ``fn`` if this console holds the
    duty. The lease outlives one interval (twice it, by default) so the holder keeps it
    from tick to tick; a failed tick is logged and the next one tries again."""
    lease = lease_s if lease_s is not None else every_s * 2
    bound = log.bind(duty=name, owner=owner)
    while True:
        try:
            if await take_tick(sessions, name, owner, clock, lease):
                async with asyncio.timeout(min(TICK_TIMEOUT_S, lease)):
                    await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database hiccup or a bad row must not end the duty
            bound.error("duty.tick_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(every_s)
