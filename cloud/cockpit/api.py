"""The cockpit's API (``cockpit.read``): ``GET /api/cockpit/company`` (the viewer's sites ranked
by attention) and ``GET /api/cockpit/sites/{site}`` (every panel of one site).

Both are scoped to the viewer's sites: the company view lists only those, and another site's
slug is a 404 like a missing one (the request guard checks ``{site}`` first; the handler
checks again so the rule holds wherever the route is mounted). "Now" is the console's clock.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from cloud.auth.audit import actor_of
from cloud.auth.guard import requires
from cloud.auth.scope import scoped
from cloud.cockpit.views import company_view, site_view
from cloud.db.models import Site
from cloud.web.errors import not_found
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS
from cloud.web.respond import json_ok

COMPANY = "/api/cockpit/company"
SITE = "/api/cockpit/sites/{site}"


@requires("cockpit.read")
async def get_company(request: web.Request) -> web.Response:
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        sites = (await session.scalars(scoped(select(Site), Site.id, request)
                                       .order_by(Site.slug))).all()
        body = await company_view(session, sites, now)
    return json_ok(body)


@requires("cockpit.read")
async def get_site(request: web.Request) -> web.Response:
    slug = request.match_info["site"]
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        if site is None or not actor_of(request).may_see(site.id):
            raise not_found("site", "小区", "site", slug[:63])
        body = await site_view(session, site, now,
                               request.app.get(DEFAULT_TZ) or "Asia/Shanghai")
    return json_ok(body)


def add_cockpit_api(app: web.Application) -> None:
    app.router.add_get(COMPANY, get_company, name="cockpit_company")
    app.router.add_get(SITE, get_site, name="cockpit_site")
