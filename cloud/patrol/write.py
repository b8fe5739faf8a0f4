"""The one way a patrol edit is written: the ``patrol`` version bump, the change and its
audit row in one transaction, then the ``down/sync`` notice after the commit (never blocking
or failing the request). ``Invalid`` from the validators becomes the API's 400/404/409 naming
the field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.models import Site
from cloud.parking.dataset import bump_version
from cloud.patrol.tables import PATROL_DATASET
from cloud.patrol.validate import Invalid
from cloud.web.errors import ApiError
from cloud.web.keys import CLOCK, SESSIONS, SYNC
from cloud.web.queries import site_by_slug

T = TypeVar("T")
PREFIX = "/api/sites/{site}/patrol"


def api_error(err: Invalid) -> ApiError:
    return ApiError(err.status, err.code, err.zh, err.en, field=err.field)


async def versioned_write(request: web.Request,
                          op: Callable[[AsyncSession, Site, datetime], Awaitable[T]]
                          ) -> tuple[T, int]:
    """``op`` after the version bump in one transaction, then the notice; (result, version)."""
    slug = request.match_info["site"]
    now = request.app[CLOCK].now()
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            site = await site_by_slug(session, slug)
            version = await bump_version(session, site.id, now, PATROL_DATASET)
            result = await op(session, site, now)
    except Invalid as err:
        raise api_error(err) from None
    publisher = request.app.get(SYNC)
    if publisher is not None:
        publisher.notify(slug, PATROL_DATASET, version)
    return result, version
