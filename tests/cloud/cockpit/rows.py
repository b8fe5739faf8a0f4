"""Scripted rows for the cockpit's view and panel tests: sites, devices, alarms, work orders,
technicians, edge health and elevator cars written straight into the console's tables (each
as the feature that owns it would leave it), so each figure can be computed by hand."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.tables import Alarm
from cloud.db.models import Device, Site
from cloud.sites.edge_health import store_health
from cloud.workorders.tables import Technician, WorkOrder

_n = itertools.count(1)


async def site(session: AsyncSession, slug: str, *, online: bool = True, name: str = "",
               timezone: str = "Asia/Shanghai") -> Site:
    row = Site(slug=slug, name=name or slug, timezone=timezone, online=online)
    session.add(row)
    await session.flush()
    return row


async def device(session: AsyncSession, site_id: int, key: str, kind: str | None, *,
                 online: bool = True, changed_at: datetime | None = None) -> Device:
    row = Device(site_id=site_id, key=key, kind=kind, online=online,
                 status_changed_at=changed_at)
    session.add(row)
    await session.flush()
    return row


def alarm(site_id: int, severity: str, opened_at: datetime, *, state: str = "open",
          kind: str = "fire.alarm", place: str = "", title: str = "火警") -> Alarm:
    n = next(_n)
    return Alarm(site_id=site_id, kind=kind, severity=severity, state=state,
                 fold_key=f"{kind}|dev-{n}", source_key=f"dev-{n}", device=f"dev-{n}",
                 title_zh=title, title_en=f"{kind} en", location_text=place, count=1,
                 first_ts=opened_at, last_ts=opened_at, opened_at=opened_at,
                 resolved_at=None if state in ("open", "acknowledged", "in_progress")
                 else opened_at + timedelta(minutes=5),
                 event_id=n, event_uuid=f"uuid-{n}", evidence={}, updated_at=opened_at)


def order(site_id: int, opened_at: datetime, resolve_due: datetime, *, state: str = "assigned",
          resolved_at: datetime | None = None, assignees: list[int] | None = None) -> WorkOrder:
    n = next(_n)
    return WorkOrder(site_id=site_id, number=f"WO-{n}", category="plumbing", priority="normal",
                     state=state, title_zh="漏水", title_en="leak", description="",
                     source_kind="request", fold_key=f"req-{n}", count=1,
                     last_event_ts=opened_at, opened_at=opened_at, cause_ts=opened_at,
                     response_due=opened_at + timedelta(minutes=30), resolve_due=resolve_due,
                     resolved_at=resolved_at, assignee_ids=assignees or [],
                     updated_at=opened_at)


async def technician(session: AsyncSession, name: str, site_ids: list[int], *,
                     active: bool = True) -> int:
    row = Technician(name=name, skills=[], site_ids=site_ids, active=active)
    session.add(row)
    await session.flush()
    return row.id


async def health(session: AsyncSession, site_id: int, at: datetime, *, depth: int = 0,
                 oldest_age_s: float | None = None,
                 receivers: dict[str, int] | None = None) -> None:
    await store_health(session, site_id, reported_at=at, edge_ts=at, outbox_depth=depth,
                       oldest_age_s=oldest_age_s, devices={}, patrol_receivers=receivers)


def add_all(session: AsyncSession, rows: list[Any]) -> None:
    session.add_all(rows)


async def view(sessions: async_sessionmaker[AsyncSession], slug: str, now: datetime,
               *names: str) -> dict[str, Any]:
    """The named panels of site ``slug`` at ``now`` (``panels_view``, as the live feed asks)."""
    from cloud.cockpit.panels.load import load_panels
    from cloud.cockpit.views import panels_view

    load_panels()
    async with sessions() as session:
        row = (await session.scalars(select(Site).where(Site.slug == slug))).one()
        return await panels_view(session, row, now, names)
