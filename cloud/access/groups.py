"""Access groups (门禁组) under ``/api/sites/{site}/access/groups``: a named set of doors per
site. A card issued with a group opens the group's doors; the dataset document expands them
(``cloud.access.service.expand``), so editing a group moves the doors of every card in it at
the next version. Reading needs ``records.read``, editing ``records.write``; each edit bumps
the ``access`` version in its transaction with its audit row, like the other access writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access import service as svc
from cloud.access.routes import PREFIX, api_error, versioned_write
from cloud.access.tables import ACCESS_DATASET, AccessGroup
from cloud.auth.audit import actor_of, record
from cloud.auth.guard import requires
from cloud.db.models import Site
from cloud.parking.dataset import current_version
from cloud.web.body import json_object, text_field
from cloud.web.keys import SESSIONS
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok


def group_json(g: AccessGroup) -> dict[str, Any]:
    return {"name": g.name, "zh": g.zh, "doors": list(g.doors)}


@requires("records.read")
async def list_groups(request: web.Request) -> web.Response:
    """The site's access groups by name, with the dataset version."""
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        rows = (await session.scalars(select(AccessGroup).where(
            AccessGroup.site_id == site.id).order_by(AccessGroup.name))).all()
        version = await current_version(session, site.id, ACCESS_DATASET)
    return json_ok({"site": site.slug, "version": version,
                    "groups": [group_json(g) for g in rows]})


@requires("records.write")
async def put_group(request: web.Request) -> web.Response:
    """Create or replace a group: ``doors`` (required, ``["*"]`` is every door) and an
    optional Chinese label ``zh``."""
    try:
        name = svc.group_name(request.match_info["name"])
        body = await json_object(request, allowed=("doors", "zh"))
        doors = svc.doors(body.get("doors"))
    except svc.Invalid as err:
        raise api_error(err) from None
    zh = text_field(body, "zh", 64, required=False)

    async def op(session: AsyncSession, site: Site, now: datetime) -> AccessGroup:
        found = (await session.scalars(select(AccessGroup).where(
            AccessGroup.site_id == site.id, AccessGroup.name == name))).first()
        before = ({"doors": list(found.doors), "zh": found.zh} if found is not None
                  else None)
        if found is None:
            found = AccessGroup(site_id=site.id, name=name, zh=zh, doors=doors,
                                updated_at=now)
            session.add(found)
            await session.flush()
        else:
            found.doors, found.zh, found.updated_at = doors, zh, now
        record(session, at=now, actor=actor_of(request),
               action="create" if before is None else "update", entity="access_group",
               entity_id=found.id, site_id=site.id, before=before,
               after={"doors": doors, "zh": zh})
        return found

    group, version = await versioned_write(request, op)
    return json_ok({**group_json(group), "version": version})


def add_group_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/groups", list_groups, name="access_groups")
    r.add_put(f"{PREFIX}/groups/{{name}}", put_group, name="access_group")
