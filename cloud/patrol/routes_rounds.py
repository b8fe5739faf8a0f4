"""A day's rounds and the rounds in progress, under ``/api/sites/{site}/patrol/rounds``
(patrol.read): the supervisor's view of today and the guard board's live panel.

``GET rounds?date=YYYY-MM-DD`` (site-local date, default today): every round the edge has
reported scheduled that day, plus the rounds the site's active plans schedule that day that
the edge has not reported yet (``status: scheduled``, from ``cloud.patrol.schedule``).
``GET rounds/live``: started rounds not yet ended. Each round lists its route's checkpoints
with their due time and state: ``on_time`` / ``late`` / ``out_of_order`` from the visits,
``missed`` from the edge's missed events, else ``pending`` with the deadline it is missed at.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.guard import requires
from cloud.patrol.schedule import day_bounds, round_id, scheduled_starts
from cloud.patrol.service import guard_names, plan_entry
from cloud.patrol.tables import PatrolCheckpoint, PatrolPlan, PatrolRound, PatrolRoute, PatrolVisit
from cloud.patrol.write import PREFIX
from cloud.web.errors import bad_param
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.params import text_param
from cloud.web.present import site_zone, times
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok

MAX_ROUNDS = 2000


class Setup:
    """The site's plans, routes and checkpoint names, read once per request."""

    def __init__(self, plans: dict[str, PatrolPlan], routes: dict[str, PatrolRoute],
                 names: dict[str, str]) -> None:
        self.plans, self.routes, self.names = plans, routes, names

    @classmethod
    async def read(cls, session: AsyncSession, site_id: int) -> Setup:
        plans = (await session.scalars(select(PatrolPlan).where(
            PatrolPlan.site_id == site_id))).all()
        routes = (await session.scalars(select(PatrolRoute).where(
            PatrolRoute.site_id == site_id))).all()
        names = (await session.execute(select(PatrolCheckpoint.code, PatrolCheckpoint.name)
                                       .where(PatrolCheckpoint.site_id == site_id))).all()
        return cls({p.code: p for p in plans}, {r.code: r for r in routes},
                   {str(c): str(n) for c, n in names})


def _checkpoints(r: PatrolRound, setup: Setup, visits: list[PatrolVisit],
                 tz: ZoneInfo) -> list[dict[str, Any]]:
    plan = setup.plans.get(r.plan)
    route = setup.routes.get(r.route or (plan.route if plan is not None else ""))
    if route is None:
        return []
    first: dict[str, PatrolVisit] = {}
    for v in sorted(visits, key=lambda v: v.at):
        first.setdefault(v.checkpoint, v)
    out: list[dict[str, Any]] = []
    for p in route.points:
        cp = str(p["checkpoint"])
        due = r.scheduled_at + timedelta(seconds=int(p["offset_s"]))
        tolerance = (int(plan.tolerances.get(cp, plan.tolerance_s)) if plan is not None else 0)
        deadline = due + timedelta(seconds=tolerance + (plan.late_s if plan is not None else 0))
        visit = first.get(cp)
        state = ("missed" if cp in r.missed_checkpoints and visit is None
                 else visit.status if visit is not None else "pending")
        out.append({"checkpoint": cp, "name": setup.names.get(cp, cp), "state": state,
                    **times("due", due, tz), **times("deadline", deadline, tz),
                    **times("visited_at", visit.at if visit is not None else None, tz),
                    "guard": visit.guard if visit is not None else None})
    return out


def round_json(r: PatrolRound, setup: Setup, visits: list[PatrolVisit],
               tz: ZoneInfo, names: dict[str, str] | None = None) -> dict[str, Any]:
    plan = setup.plans.get(r.plan)
    guard_name = (names or {}).get(r.guard or "", r.guard)
    return {"round": r.round_id, "plan": r.plan, "guard_name": guard_name,
            "plan_name": plan.name if plan is not None else r.plan,
            "route": r.route or (plan.route if plan is not None else None),
            "status": r.status, "guard": r.guard, "tag": r.tag,
            **times("scheduled_at", r.scheduled_at, tz), **times("started_at", r.started_at, tz),
            **times("ended_at", r.ended_at, tz),
            "on_time": r.on_time, "late": r.late, "missed": r.missed,
            "out_of_order": r.out_of_order,
            "checkpoints": _checkpoints(r, setup, visits, tz)}


async def _visits(session: AsyncSession, site_id: int, rounds: list[PatrolRound]
                  ) -> dict[str, list[PatrolVisit]]:
    ids = [r.round_id for r in rounds]
    out: dict[str, list[PatrolVisit]] = {i: [] for i in ids}
    for chunk in range(0, len(ids), 500):
        for v in (await session.scalars(select(PatrolVisit).where(
                PatrolVisit.site_id == site_id,
                PatrolVisit.round_id.in_(ids[chunk:chunk + 500])))).all():
            out[str(v.round_id)].append(v)
    return out


def _unseen(setup: Setup, seen: set[str], site_id: int, since: datetime, until: datetime,
            tz: ZoneInfo, now: datetime) -> list[PatrolRound]:
    """Rounds the active plans schedule in the range that the edge has not reported."""
    out: list[PatrolRound] = []
    for plan in setup.plans.values():
        route = setup.routes.get(plan.route)
        if not plan.active or route is None or not route.active:
            continue
        for at in scheduled_starts(plan_entry(plan), tz, since, until):
            rid = round_id(plan.code, at)
            if rid not in seen:
                out.append(PatrolRound(site_id=site_id, round_id=rid, plan=plan.code,
                                       route=plan.route, scheduled_at=at, status="scheduled",
                                       on_time=0, late=0, missed=0, out_of_order=0,
                                       missed_checkpoints={}, updated_at=now))
    return out


@requires("patrol.read")
async def day_rounds(request: web.Request) -> web.Response:
    raw = text_param(request, "date", 10)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        tz = site_zone(request, site.timezone)
        try:
            day = date.fromisoformat(raw) if raw is not None else now.astimezone(tz).date()
        except ValueError:
            raise bad_param("date", "须为 YYYY-MM-DD", "must be YYYY-MM-DD") from None
        since, until = day_bounds(day, tz)
        stored = list((await session.scalars(select(PatrolRound).where(
            PatrolRound.site_id == site.id, PatrolRound.scheduled_at >= since,
            PatrolRound.scheduled_at < until).order_by(PatrolRound.scheduled_at)
            .limit(MAX_ROUNDS))).all())
        setup = await Setup.read(session, site.id)
        visits = await _visits(session, site.id, stored)
        names = await guard_names(session, {r.guard for r in stored})
    rounds = stored + _unseen(setup, {r.round_id for r in stored}, site.id, since, until, tz,
                              now)
    rounds.sort(key=lambda r: (r.scheduled_at, r.plan))
    return json_ok({"site": site.slug, "date": day.isoformat(),
                    "rounds": [round_json(r, setup, visits.get(r.round_id, []), tz, names)
                               for r in rounds]})


@requires("patrol.read")
async def live_rounds(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        rows = list((await session.scalars(select(PatrolRound).where(
            PatrolRound.site_id == site.id, PatrolRound.status == "started",
            PatrolRound.ended_at.is_(None)).order_by(PatrolRound.scheduled_at)
            .limit(MAX_ROUNDS))).all())
        setup = await Setup.read(session, site.id)
        visits = await _visits(session, site.id, rows)
        names = await guard_names(session, {r.guard for r in rows})
    tz = site_zone(request, site.timezone)
    return json_ok({"site": site.slug,
                    "rounds": [round_json(r, setup, visits[r.round_id], tz, names)
                               for r in rows]})


def add_round_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/rounds", day_rounds, name="patrol_rounds")
    app.router.add_get(f"{PREFIX}/rounds/live", live_rounds, name="patrol_rounds_live")
