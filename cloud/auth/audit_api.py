"""``GET /api/audit``: the audit log, newest first, filtered and paged by ``before_id``.

A reader limited to some sites sees only entries of those sites (logins and account changes
have no site and are for all-site readers).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from cloud.auth.guard import requires
from cloud.auth.scope import scoped
from cloud.auth.tables import AuditEntry
from cloud.db.models import Site
from cloud.web.errors import bad_param
from cloud.web.keys import SESSIONS
from cloud.web.params import int_param, text_param, time_param
from cloud.web.present import utc_iso
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok

MAX_ID = 2**63 - 1
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def entry_json(e: AuditEntry, slug: str | None) -> dict[str, Any]:
    return {"id": int(e.id), "at": utc_iso(e.at), "actor": e.actor, "actor_name": e.actor_name,
            "action": e.action, "entity": e.entity, "entity_id": e.entity_id,
            "site": slug, "before": e.before, "after": e.after, "detail": e.detail}


@requires("audit.read")
async def list_audit(request: web.Request) -> web.Response:
    """Filters: entity, entity_id, actor (ref such as ``user:3``), action, since, until, site."""
    before = int_param(request, "before_id", 0, 0, MAX_ID)
    limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    since = time_param(request, "since")
    until = time_param(request, "until")
    if since is not None and until is not None and since >= until:
        raise bad_param("since", "since 必须早于 until", "since must be earlier than until")
    query = select(AuditEntry, Site.slug).outerjoin(Site, Site.id == AuditEntry.site_id)
    for name, column, max_len in (("entity", AuditEntry.entity, 64),
                                  ("entity_id", AuditEntry.entity_id, 64),
                                  ("actor", AuditEntry.actor, 64),
                                  ("action", AuditEntry.action, 32)):
        value = text_param(request, name, max_len)
        if value is not None:
            query = query.where(column == value)
    if before:
        query = query.where(AuditEntry.id < before)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    query = scoped(query, AuditEntry.site_id, request)
    async with request.app[SESSIONS]() as session:
        slug = text_param(request, "site", 63)
        if slug is not None:
            query = query.where(AuditEntry.site_id == (await site_by_slug(session, slug)).id)
        rows = (await session.execute(
            query.order_by(AuditEntry.id.desc()).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return json_ok({"entries": [entry_json(e, s) for e, s in rows],
                    "next_before_id": int(rows[-1][0].id) if more else None})
