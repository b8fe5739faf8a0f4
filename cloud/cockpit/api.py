"""The cockpit's API (``cockpit.read``): ``GET /api/cockpit/company`` (the viewer's sites ranked
by attention) and ``GET /api/cockpit/sites/{site}`` (every panel of one site).

Both are scoped to the viewer's sites: the company view lists only those, and another site's
slug is a 404 like a missing one (the request guard checks ``{site}`` first; the handler
checks again so the rule holds wherever the route is mounted). "Now" is the console's clock.
Requests for the same view close together share one computation (``cache``): the site view
is the same for every viewer allowed to see it, the company view for every viewer with the
same sites.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from cloud.auth.audit import actor_of
from cloud.auth.guard import requires
from cloud.auth.scope import scoped
from cloud.cockpit.cache import VIEWS, ViewCache
from cloud.cockpit.views import company_view, site_view
from cloud.db.models import Site
from cloud.web.errors import not_found
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS, VIEW_SHARE_S
from cloud.web.respond import json_ok

COMPANY = "/api/cockpit/company"
SITE = "/api/cockpit/sites/{site}"


@requires("cockpit.read")
async def get_company(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        sites = (await session.scalars(scoped(select(Site), Site.id, request)
                                       .order_by(Site.slug))).all()

        async def compute() -> dict[str, Any]:
            return await company_view(session, sites, request.app[CLOCK].now())

        body = await request.app[VIEWS].get(("company", tuple(s.id for s in sites)), compute)
    return json_ok(body)


@requires("cockpit.read")
async def get_site(request: web.Request) -> web.Response:
    slug = request.match_info["site"]
    async with request.app[SESSIONS]() as session:
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        if site is None or not actor_of(request).may_see(site.id):
            raise not_found("site", "小区", "site", slug[:63])

        async def compute() -> dict[str, Any]:
            return await site_view(session, site, request.app[CLOCK].now(),
                                   request.app.get(DEFAULT_TZ) or "Asia/Shanghai")

        body = await request.app[VIEWS].get(("site", site.id), compute)
    return json_ok(body)


def add_cockpit_api(app: web.Application) -> None:
    app[VIEWS] = ViewCache(app.get(VIEW_SHARE_S, 0.0))
    app.router.add_get(COMPANY, get_company, name="cockpit_company")
    app.router.add_get(SITE, get_site, name="cockpit_site")
