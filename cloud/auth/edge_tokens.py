"""``POST /api/sites/{site}/edge-token``: a staff member's credential for the site's edge.

The edge's operator listener (booth payments, manual gate openings, linkage reset) must work
with the cloud unreachable, so it cannot ask the console who is calling. The console signs a
short-lived operator token instead (``contract.operator_token``: one site, one staff member,
their role, a shift's lifetime) with a key derived from the site secret the edge already
holds (``COURTYARD_SITE_CREDENTIALS``). Only an actor who serves the site gets one (the
request guard answers 404 for other sites), only for a role that may do something at the
edge, and every issue is audited. A token cannot be revoked before it expires: keep the
lifetime to a shift.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from cloud.auth.audit import actor_of, record
from cloud.auth.guard import SIGNED_IN, requires
from cloud.auth.scope import check_site_slug
from cloud.db.models import Site
from cloud.web.body import json_object
from cloud.web.errors import ApiError, bad_param
from cloud.web.keys import CLOCK, SESSIONS, SITE_CREDENTIALS
from cloud.web.present import utc_iso
from cloud.web.respond import json_ok
from contract.operator_token import (
    DEFAULT_LIFETIME,
    EDGE_ACTIONS,
    MAX_LIFETIME,
    issue,
    roles_with_any_action,
)

MAX_HOURS = int(MAX_LIFETIME.total_seconds() // 3600)


@requires(SIGNED_IN)
async def create_edge_token(request: web.Request) -> web.Response:
    """``{hours?: 1–24}`` → ``{token, site, sub, name, role, actions, expires_at}``."""
    slug = request.match_info["site"]
    actor = actor_of(request)
    raw = await request.read()
    body = await json_object(request, allowed=("hours",)) if raw.strip() else {}
    hours = body.get("hours")
    if hours is not None and (not isinstance(hours, int) or isinstance(hours, bool)
                              or not 1 <= hours <= MAX_HOURS):
        raise bad_param("hours", f"须为 1–{MAX_HOURS} 的整数", f"must be an integer from 1 "
                                                              f"to {MAX_HOURS}")
    lifetime = timedelta(hours=hours) if hours is not None else DEFAULT_LIFETIME
    if actor.role not in roles_with_any_action():
        raise ApiError(403, "forbidden", f"角色 {actor.role} 在边缘没有可执行的操作",
                       f"role {actor.role} may do nothing at the edge", field="site")
    secret = (request.app.get(SITE_CREDENTIALS) or {}).get(slug)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        await check_site_slug(session, request, slug)
        if not secret:
            raise ApiError(404, "not_found", f"小区不存在或未配置凭据：{slug[:63]}",
                           f"no such site, or it has no credential: {slug[:63]}", field="site")
        token = issue(secret, site=slug, sub=actor.ref, name=actor.name, role=actor.role,
                      now=now, lifetime=lifetime)
        expires = now + lifetime
        actions = sorted(a for a, roles in EDGE_ACTIONS.items() if actor.role in roles)
        site_id = (await session.scalars(select(Site.id).where(Site.slug == slug))
                   ).one_or_none()
        record(session, at=now, actor=actor, action="issue", entity="edge_token",
               entity_id=slug, site_id=site_id,
               detail={"site": slug, "role": actor.role, "actions": actions,
                       "expires_at": utc_iso(expires)})
    return json_ok({"token": token, "site": slug, "sub": actor.ref, "name": actor.name,
                    "role": actor.role, "actions": actions, "expires_at": utc_iso(expires)},
                   status=201)
