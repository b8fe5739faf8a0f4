"""Schedules and jobs under ``/api/schedules`` and ``/api/jobs``.

Reading needs ``billing.read`` (finance, operations leads and service staff see what runs
and whether it failed); creating and changing a schedule needs ``billing.write``, and a purge
schedule (it deletes personal data) also ``staff.admin``. Staff see only their sites'
schedules and jobs; another site's is a 404, the same as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, actor_of, record
from cloud.auth.guard import requires
from cloud.auth.scope import scoped
from cloud.db.models import Site
from cloud.jobs.schedules import (
    DEFAULT_SPECS,
    SpecError,
    next_slot,
    parse_spec,
    zone_of,
)
from cloud.jobs.tables import JOB_STATES, SCHEDULE_KINDS, Job, Schedule
from cloud.web.body import json_object, text_field, unknown_fields
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.params import int_param, text_param
from cloud.web.present import local_iso, utc_iso
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok

MAX_ID = 2**31 - 1
JOB_LIMIT = 50


def schedule_json(s: Schedule, site: Site) -> dict[str, Any]:
    tz = zone_of(site.timezone)
    return {"id": s.id, "site": site.slug, "kind": s.kind, "enabled": s.enabled,
            "spec": s.spec, "timezone": str(tz), "next_due": utc_iso(s.next_due),
            "next_due_local": local_iso(s.next_due, tz), "last_slot": utc_iso(s.last_slot),
            "updated_by": s.updated_by, "updated_at": utc_iso(s.updated_at)}


def job_json(j: Job, slug: str | None) -> dict[str, Any]:
    return {"id": j.id, "kind": j.kind, "site": slug, "key": j.key, "state": j.state,
            "attempts": j.attempts, "progress": j.progress, "error": j.error,
            "created_at": utc_iso(j.created_at), "started_at": utc_iso(j.started_at),
            "finished_at": utc_iso(j.finished_at)}


def _may_edit(actor: Actor, kind: str) -> None:
    if kind == "purge" and not actor.can("staff.admin"):
        raise ApiError(403, "forbidden", "清理计划仅管理员可修改",
                       "only an administrator may change a purge schedule", field="kind")


def _spec(kind: str, raw: object) -> dict[str, Any]:
    try:
        return parse_spec(kind, raw).as_json()
    except SpecError as err:
        raise bad_param(err.field, err.zh, err.en) from None


def _enabled(body: dict[str, Any], default: bool) -> bool:
    value = body.get("enabled", default)
    if not isinstance(value, bool):
        raise bad_param("enabled", "须为 true 或 false", "must be true or false")
    return value


def _visible_site(actor: Actor, site: Site) -> None:
    if not actor.may_see(site.id):
        raise not_found("site", "小区", "site", site.slug)


def _advance(s: Schedule, site: Site, now: Any) -> None:
    """``next_due`` from the (new) spec: the first slot after now; none while disabled."""
    spec = parse_spec(s.kind, s.spec)
    s.next_due = next_slot(spec, zone_of(site.timezone), now) if s.enabled else None


@requires("billing.read")
async def list_schedules(request: web.Request) -> web.Response:
    """The schedules of the actor's sites (``?site=`` one of them)."""
    slug = text_param(request, "site", 63)
    query = scoped(select(Schedule, Site).join(Site, Site.id == Schedule.site_id),
                   Schedule.site_id, request)
    if slug is not None:
        query = query.where(Site.slug == slug)
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(query.order_by(Site.slug, Schedule.kind,
                                                     Schedule.id))).all()
    return json_ok({"schedules": [schedule_json(s, site) for s, site in rows]})


@requires("billing.write")
async def create_schedule(request: web.Request) -> web.Response:
    """A new schedule for a site: ``kind``, optional ``spec`` (the kind's default) and
    ``enabled`` (true)."""
    body = await json_object(request)
    unknown_fields(body, ("site", "kind", "enabled", "spec"))
    slug = text_field(body, "site", 63)
    kind = body.get("kind")
    if kind not in SCHEDULE_KINDS:
        raise bad_param("kind", f"类型须为 {', '.join(SCHEDULE_KINDS)}",
                        f"kind must be one of {', '.join(SCHEDULE_KINDS)}")
    actor = actor_of(request)
    _may_edit(actor, kind)
    spec = _spec(kind, body.get("spec", DEFAULT_SPECS[kind]))
    enabled = _enabled(body, True)
    assert slug is not None
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, slug)
        _visible_site(actor, site)
        s = Schedule(site_id=site.id, kind=kind, enabled=enabled, spec=spec, next_due=None,
                     last_slot=None, updated_by=actor.ref[:100], updated_at=now)
        _advance(s, site, now)
        session.add(s)
        await session.flush()
        record(session, at=now, actor=actor, action="create", entity="schedule",
               entity_id=s.id, site_id=site.id,
               after={"kind": kind, "enabled": enabled, "spec": spec})
        out = schedule_json(s, site)
    return json_ok(out, status=201)


async def _schedule(session: AsyncSession, request: web.Request) -> tuple[Schedule, Site]:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "计划任务", "schedule", raw[:40])
    row = (await session.execute(select(Schedule, Site).join(Site, Site.id == Schedule.site_id)
                                 .where(Schedule.id == int(raw)).with_for_update(of=Schedule))
           ).first()
    if row is None or not actor_of(request).may_see(row[1].id):
        raise not_found("id", "计划任务", "schedule", raw[:40])
    return row[0], row[1]


@requires("billing.write")
async def update_schedule(request: web.Request) -> web.Response:
    """Change ``enabled`` and/or ``spec``; the next slot is computed from now."""
    body = await json_object(request)
    unknown_fields(body, ("enabled", "spec"))
    actor = actor_of(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        s, site = await _schedule(session, request)
        _may_edit(actor, s.kind)
        spec = _spec(s.kind, body["spec"]) if "spec" in body else s.spec
        enabled = _enabled(body, s.enabled)
        before = {"enabled": s.enabled, "spec": s.spec}
        s.spec, s.enabled, s.updated_by, s.updated_at = spec, enabled, actor.ref[:100], now
        _advance(s, site, now)
        record(session, at=now, actor=actor, action="update", entity="schedule",
               entity_id=s.id, site_id=site.id, before=before,
               after={"enabled": enabled, "spec": spec})
        out = schedule_json(s, site)
    return json_ok(out)


@requires("billing.read")
async def list_jobs(request: web.Request) -> web.Response:
    """Recent jobs of the actor's sites, newest first (``?site=``, ``?kind=``, ``?state=``)."""
    slug = text_param(request, "site", 63)
    kind = text_param(request, "kind", 32)
    state = text_param(request, "state", 16)
    if state is not None and state not in JOB_STATES:
        raise bad_param("state", f"状态须为 {', '.join(JOB_STATES)}",
                        f"state must be one of {', '.join(JOB_STATES)}")
    limit = int_param(request, "limit", JOB_LIMIT, 1, 500)
    query = scoped(select(Job, Site.slug).outerjoin(Site, Site.id == Job.site_id),
                   Job.site_id, request)
    if slug is not None:
        query = query.where(Site.slug == slug)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if state is not None:
        query = query.where(Job.state == state)
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(query.order_by(Job.id.desc()).limit(limit))).all()
    return json_ok({"jobs": [job_json(j, slug) for j, slug in rows]})


def add_schedule_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/schedules", list_schedules, name="schedules")
    r.add_post("/api/schedules", create_schedule)
    r.add_put("/api/schedules/{id}", update_schedule, name="schedule")
    r.add_get("/api/jobs", list_jobs, name="jobs")
