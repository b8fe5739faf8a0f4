"""Late fees (滞纳金) on overdue bills (being built)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit import Actor


async def assess_late_fees(session: AsyncSession, *, site_id: int, as_of: date, now: datetime,
                           actor: Actor) -> int:
    """Bring each overdue bill's late-fee line up to date as of the site-local date ``as_of``
    (daily rate after the grace days, capped), inside the caller's transaction; idempotent
    for the same ``as_of``. Returns how many bills changed."""
    del session, site_id, as_of, now, actor
    return 0
