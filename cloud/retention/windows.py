"""The effective window of each class for a site: the site's row, else the company default
row, else the class's default (``cloud.retention.classes``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.retention.classes import BY_NAME, CLASSES, DataClass
from cloud.retention.tables import RetentionWindow


@dataclass(frozen=True, slots=True)
class Window:
    data_class: DataClass
    days: int
    #: ``site`` (this site's override), ``company`` (the company default row) or ``default``.
    source: str
    updated_by: str | None = None
    updated_at: datetime | None = None


async def effective_windows(session: AsyncSession, site_id: int) -> dict[str, Window]:
    """``{class name: Window}`` for every class, the site's own row winning."""
    rows = (await session.scalars(select(RetentionWindow).where(
        or_(RetentionWindow.site_id == site_id, RetentionWindow.site_id.is_(None))))).all()
    company = {r.data_class: r for r in rows if r.site_id is None}
    site = {r.data_class: r for r in rows if r.site_id is not None}
    out: dict[str, Window] = {}
    for c in CLASSES:
        row = site.get(c.name)
        source = "site"
        if row is None:
            row, source = company.get(c.name), "company"
        if row is None or row.data_class not in BY_NAME:
            out[c.name] = Window(c, c.default_days, "default")
        else:
            out[c.name] = Window(c, row.days, source, row.updated_by, row.updated_at)
    return out
