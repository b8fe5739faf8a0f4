"""``GET /api/retention`` and ``PUT /api/retention/{site}/{class}``: the windows an admin sees
and sets.

``{site}`` is a site slug, or ``_company`` for the company default (no slug can start with
``_``). Only an all-site administrator sets the company default; a site-limited one sets
windows of their sites, and another site is a 404 like any record they cannot see. A window
below the class's minimum is refused naming ``days`` and the minimum.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.auth.audit import Actor, actor_of, record
from cloud.auth.guard import requires
from cloud.auth.scope import check_site_slug, scoped
from cloud.db.models import Site
from cloud.retention.classes import BY_NAME, CLASSES
from cloud.retention.tables import RetentionWindow
from cloud.retention.windows import Window, effective_windows
from cloud.web.body import json_object
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.present import utc_iso
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok

COMPANY = "_company"
#: 30 years: longer than any reason to keep personal data.
MAX_DAYS = 30 * 366


def _window_json(w: Window) -> dict[str, Any]:
    c = w.data_class
    return {"class": c.name, "zh": c.zh, "en": c.en, "days": w.days, "source": w.source,
            "default_days": c.default_days, "min_days": c.min_days,
            "reason_zh": c.reason_zh, "reason_en": c.reason_en,
            "updated_by": w.updated_by, "updated_at": utc_iso(w.updated_at)}


@requires("retention.admin")
async def list_windows(request: web.Request) -> web.Response:
    """The company defaults and each visible site's effective windows."""
    async with request.app[SESSIONS]() as session:
        company = {r.data_class: r for r in (await session.scalars(
            select(RetentionWindow).where(RetentionWindow.site_id.is_(None)))).all()}
        sites = (await session.scalars(
            scoped(select(Site), Site.id, request).order_by(Site.slug))).all()
        per_site = [{"site": s.slug, "windows": [
            _window_json(w) for w in (await effective_windows(session, s.id)).values()]}
            for s in sites]
    defaults = []
    for c in CLASSES:
        row = company.get(c.name)
        defaults.append(_window_json(
            Window(c, c.default_days, "default") if row is None
            else Window(c, row.days, "company", row.updated_by, row.updated_at)))
    return json_ok({"company": defaults, "sites": per_site})


def _days(body: dict[str, Any], min_days: int) -> int:
    days = body.get("days")
    if not isinstance(days, int) or isinstance(days, bool):
        raise bad_param("days", "必须为整数天数", "must be a whole number of days")
    if days < min_days:
        raise bad_param("days", f"不能少于 {min_days} 天", f"must be at least {min_days} days")
    if days > MAX_DAYS:
        raise bad_param("days", f"不能超过 {MAX_DAYS} 天", f"must be at most {MAX_DAYS} days")
    return days


@requires("retention.admin")
async def put_window(request: web.Request) -> web.Response:
    """Set one class's window for a site (or the company default); audited."""
    actor = actor_of(request)
    slug = request.match_info["site"]
    cls = BY_NAME.get(request.match_info["class"])
    if cls is None:
        raise not_found("class", "数据类别", "data class", request.match_info["class"])
    days = _days(await json_object(request, allowed=("days",)), cls.min_days)
    now = request.app[CLOCK].now()
    try:
        site_id = await _store_window(request, actor, slug, cls.name, days, now)
    except IntegrityError:  # another admin created the row meanwhile: now it is an update
        site_id = await _store_window(request, actor, slug, cls.name, days, now)
    source = "company" if site_id is None else "site"
    return json_ok({"site": slug, **_window_json(Window(cls, days, source, actor.ref, now))})


async def _store_window(request: web.Request, actor: Actor, slug: str, name: str, days: int,
                        now: datetime) -> int | None:
    """Create or update the row in one transaction; the site's id (None: company)."""
    async with request.app[SESSIONS]() as session, session.begin():
        site_id: int | None = None
        if slug == COMPANY:
            if actor.sites is not None:
                raise ApiError(403, "forbidden", "只有管理全部小区的管理员可设置公司默认值",
                               "only an administrator of every site sets the company default",
                               field="site")
        else:
            await check_site_slug(session, request, slug)
            site_id = (await site_by_slug(session, slug)).id
        row = (await session.scalars(select(RetentionWindow).where(
            RetentionWindow.site_id.is_(None) if site_id is None
            else RetentionWindow.site_id == site_id,
            RetentionWindow.data_class == name).with_for_update())).one_or_none()
        before = None if row is None else {"days": row.days}
        if row is None:
            row = RetentionWindow(site_id=site_id, data_class=name, days=days,
                                  updated_by=actor.ref[:100], updated_at=now)
            session.add(row)
        else:
            row.days, row.updated_by, row.updated_at = days, actor.ref[:100], now
        await session.flush()
        record(session, at=now, actor=actor, action="update" if before else "create",
               entity="retention_window", entity_id=f"{slug}/{name}", site_id=site_id,
               before=before, after={"days": days})
    return site_id


def add_retention_routes(app: web.Application) -> None:
    app.router.add_get("/api/retention", list_windows)
    app.router.add_put("/api/retention/{site}/{class}", put_window)
