"""The rounds of a period as the patrol report counts them (``report.RoundFact``): the one
query behind the report, its export and the cockpit's patrol panel, so they never disagree.
A round belongs to the site day its scheduled start falls in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.patrol import report as rp
from cloud.patrol.tables import PatrolPlan, PatrolRoute
from cloud.patrol.tables import PatrolRound as RoundRow


def _utc_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


async def facts(session: AsyncSession, site_id: int, start: date, end: date,
                tz: ZoneInfo) -> tuple[list[rp.RoundFact], dict[str, str]]:
    """The period's rounds as report facts, and the route names by code."""
    lo, hi = _utc_midnight(start, tz), _utc_midnight(end + timedelta(days=1), tz)
    rounds = (await session.scalars(select(RoundRow).where(
        RoundRow.site_id == site_id, RoundRow.scheduled_at >= lo,
        RoundRow.scheduled_at < hi))).all()
    routes = {r.code: r for r in (await session.scalars(
        select(PatrolRoute).where(PatrolRoute.site_id == site_id))).all()}
    plan_route = dict((await session.execute(select(PatrolPlan.code, PatrolPlan.route).where(
        PatrolPlan.site_id == site_id))).all())
    out = []
    for r in rounds:
        route = r.route or plan_route.get(r.plan) or ""
        points = len(routes[route].points or []) if route in routes else 0
        out.append(rp.RoundFact(day=r.scheduled_at.astimezone(tz).date(), route=route,
                                guard=r.guard, status=r.status, on_time=r.on_time or 0,
                                late=r.late or 0, missed=r.missed or 0, route_points=points))
    return out, {code: r.name for code, r in routes.items()}
