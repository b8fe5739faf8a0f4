"""The cockpit's two views (docs/cockpit.md): a site's panels and the company's sites ranked by
what needs attention.

A site view runs every registered panel in page order on one read-only session. A panel that
raises is logged with the site bound and drawn as ``{"empty": true, "error": …}``: the wall
never goes blank because one panel failed. The failed transaction is rolled back so the next
panel reads on a clean one; that expires the session's loaded rows, so the views read what
they need of the ``Site`` row first (a caller must not read it after the view: an expired
row cannot load itself lazily under asyncio).

The company view is a handful of grouped queries over all the viewer's sites (alarms by site
and severity, overdue work orders by site, the edges' latest health), never one per site.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.alarms.policy import ACTIVE_STATES, SEVERITIES
from cloud.alarms.tables import Alarm
from cloud.cockpit.panels.registry import PanelContext, PanelSpec, panels
from cloud.db.models import Site
from cloud.sites.edge_health import EdgeHealthRow, is_stale
from cloud.web.present import utc_iso, zone
from cloud.workorders.states import OPEN_STATES
from cloud.workorders.tables import WorkOrder

log = structlog.get_logger(__name__)

DEFAULT_TZ = "Asia/Shanghai"
#: Attention weights (docs/cockpit.md, company view).
WEIGHT = {"critical": 100, "major": 10, "minor": 1}
EDGE_WEIGHT = 50
OVERDUE_WEIGHT = 5

PANEL_FAILED = ("面板暂时无法计算，已记录日志",
                "this panel could not be computed; the error is logged")


def context(session: AsyncSession, site_row: Site, now: datetime,
            default_tz: str = DEFAULT_TZ) -> PanelContext:
    return PanelContext(session=session, site_id=site_row.id, site=site_row.slug,
                        tz=zone(site_row.timezone or default_tz, default_tz), now=now)


async def _one(spec: PanelSpec, ctx: PanelContext) -> dict[str, Any]:
    titles = {"title_zh": spec.title_zh, "title_en": spec.title_en}
    try:
        body = await spec.compute(ctx)
    except Exception as exc:  # one panel never blanks the wall
        log.exception("cockpit.panel_failed", site=ctx.site, panel=spec.name,
                      error=type(exc).__name__)
        await ctx.session.rollback()
        return {**titles, "empty": True, "error": f"{PANEL_FAILED[0]} / {PANEL_FAILED[1]}"}
    return {**titles, **body}


def _site_head(site_row: Site, ctx: PanelContext) -> dict[str, Any]:
    return {"slug": site_row.slug, "name": site_row.name or site_row.slug,
            "timezone": ctx.tz.key, "online": bool(site_row.online)}


async def panels_view(session: AsyncSession, site_row: Site, now: datetime,
                      names: Iterable[str], default_tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """Only the named panels (unknown names are skipped): ``{name: panel}`` in page order."""
    wanted = set(names)
    ctx = context(session, site_row, now, default_tz)
    return {spec.name: await _one(spec, ctx) for spec in panels() if spec.name in wanted}


async def site_view(session: AsyncSession, site_row: Site, now: datetime,
                    default_tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """The body of ``GET /api/cockpit/sites/{site}``: every panel in page order."""
    ctx = context(session, site_row, now, default_tz)
    specs = panels()
    return {"site": _site_head(site_row, ctx), "now": utc_iso(now),
            "day": ctx.today.isoformat(), "order": [s.name for s in specs],
            "panels": {s.name: await _one(s, ctx) for s in specs}}


# --- the company ----------------------------------------------------------------------------


async def _alarms_open(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: dict.fromkeys(SEVERITIES, 0) for i in ids}
    rows = await session.execute(
        select(Alarm.site_id, Alarm.severity, func.count())
        .where(Alarm.site_id.in_(ids), Alarm.state.in_(ACTIVE_STATES))
        .group_by(Alarm.site_id, Alarm.severity))
    for site_id, severity, n in rows:
        if severity in out[site_id]:
            out[site_id][severity] = int(n)
    return out


async def _overdue(session: AsyncSession, ids: list[int], now: datetime) -> dict[int, int]:
    rows = await session.execute(
        select(WorkOrder.site_id, func.count())
        .where(WorkOrder.site_id.in_(ids), WorkOrder.state.in_(OPEN_STATES),
               WorkOrder.resolved_at.is_(None), WorkOrder.resolve_due <= now)
        .group_by(WorkOrder.site_id))
    return {int(s): int(n) for s, n in rows}


Edge = tuple[datetime | None, float | None]


async def _edges(session: AsyncSession, ids: list[int]) -> dict[int, Edge]:
    """Each site's last health report time and oldest buffered event's age (none: absent)."""
    rows = await session.execute(
        select(EdgeHealthRow.site_id, EdgeHealthRow.reported_at, EdgeHealthRow.oldest_age_s)
        .where(EdgeHealthRow.site_id.in_(ids)))
    return {int(s): (at, None if age is None else float(age)) for s, at, age in rows}


def _stale(online: bool, reported_at: datetime | None, now: datetime) -> bool:
    """Offline, never reported its health, or its last report is too old to vouch for."""
    return reported_at is None or is_stale(reported_at, now, online=online)


def attention(alarms_open: dict[str, int], overdue: int, edge_bad: bool) -> int:
    """How much a site needs a look (docs/cockpit.md): alarms by severity, the edge, orders."""
    return (sum(WEIGHT[s] * alarms_open.get(s, 0) for s in WEIGHT)
            + (EDGE_WEIGHT if edge_bad else 0) + OVERDUE_WEIGHT * overdue)


async def company_view(session: AsyncSession, site_rows: Sequence[Site],
                       now: datetime) -> dict[str, Any]:
    """The body of ``GET /api/cockpit/company``: ``site_rows`` ranked by attention."""
    ids = [s.id for s in site_rows]
    alarms = await _alarms_open(session, ids) if ids else {}
    overdue = await _overdue(session, ids, now) if ids else {}
    edges = await _edges(session, ids) if ids else {}
    sites: list[dict[str, Any]] = []
    for s in site_rows:
        reported_at, oldest = edges.get(s.id, (None, None))
        stale = _stale(bool(s.online), reported_at, now)
        late = overdue.get(s.id, 0)
        sites.append({"slug": s.slug, "name": s.name or s.slug, "online": bool(s.online),
                      "alarms_open": alarms[s.id], "workorders_overdue": late,
                      "edge_stale": stale, "oldest_age_s": oldest,
                      "attention": attention(alarms[s.id], late, stale)})
    sites.sort(key=lambda e: (-e["attention"], e["slug"]))
    totals = {"sites": len(sites), "online": sum(1 for e in sites if e["online"]),
              "edge_stale": sum(1 for e in sites if e["edge_stale"]),
              "alarms_open": {sev: sum(e["alarms_open"][sev] for e in sites)
                              for sev in SEVERITIES},
              "workorders_overdue": sum(e["workorders_overdue"] for e in sites),
              "attention": sum(e["attention"] for e in sites)}
    return {"now": utc_iso(now), "sites": sites, "totals": totals}
