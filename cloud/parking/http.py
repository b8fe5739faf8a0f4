"""What every parking route needs: which sites exist for it, and the site's time zone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.models import Site
from cloud.web.errors import ApiError
from cloud.web.keys import DEFAULT_TZ, SITE_CREDENTIALS
from cloud.web.present import zone

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def site_credentials(request: web.Request) -> Mapping[str, str]:
    return request.app.get(SITE_CREDENTIALS) or {}


def no_site(slug: str) -> ApiError:
    return ApiError(404, "not_found", f"小区不存在：{slug}（尚未上报，也不在 "
                    "COURTYARD_SITE_CREDENTIALS 中）",
                    f"no such site: {slug} (it has not reported and is not in "
                    "COURTYARD_SITE_CREDENTIALS)", field="site")


async def site_or_none(session: AsyncSession, request: web.Request, slug: str) -> Site | None:
    """The site; None for a configured site no edge has reported from yet (it has nothing)."""
    site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
    if site is None and slug not in site_credentials(request):
        raise no_site(slug)
    return site


def site_tz(request: web.Request, site: Site | None) -> ZoneInfo:
    default = request.app[DEFAULT_TZ]
    return zone((site.timezone if site is not None else None) or default, default)
