"""The payments list's one query: a site's payments newest first, by unit and site-local date
range, from a keyset cursor (``GET /api/payments`` and its export)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.models import Site
from cloud.payments.late_fees import site_zone
from cloud.payments.tables import Payment
from cloud.records.tables import Unit
from cloud.web.cursor import newest_first_after


async def payments_page(session: AsyncSession, site: Site, code: str | None, since: date | None,
                    until: date | None, limit: int | None,
                    after: tuple[datetime, int] | None = None) -> list[tuple[Payment, str]]:
    """Newest first; the site-local dates become UTC bounds, so the database reads only the
    page (index on site and received_at)."""
    query = (select(Payment, Unit.code).join(Unit, Unit.id == Payment.unit_id)
             .where(Payment.site_id == site.id))
    if code is not None:
        query = query.where(Unit.code == code)
    zone = site_zone(site)
    if since is not None:
        query = query.where(Payment.received_at >= datetime.combine(since, time(), zone))
    if until is not None:
        query = query.where(Payment.received_at < datetime.combine(
            until + timedelta(days=1), time(), zone))
    if after is not None:
        query = query.where(newest_first_after(Payment.received_at, Payment.id, after))
    query = query.order_by(Payment.received_at.desc(), Payment.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [(p, u) for p, u in (await session.execute(query)).all()]
