"""The guard board: the page guards keep full-screen on the guard-room monitor (``/guard``),
or open on a phone on patrol.

The page and its assets live in ``dashboards/guard`` as plain files (no build step) and are
served by the console itself, because guard rooms often have no internet: nothing is loaded
from a CDN, and the Content-Security-Policy forbids it so a later edit cannot slip one in. The
page runs in the console shell (menu, person, logout, 小区 switcher: all sites or one; times in
each site's zone from ``/api/me``) and talks to the alarms API: ``/api/alarms/live`` (one card
per incident), ``/api/incidents/{id}/…`` (one click for the whole incident) and
``/api/alarms/linkage`` (what the edge still holds).
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.pages import PageSet

GUARD = PageSet("guard", "看板文件缺失 / guard board files are missing")
GUARD_DIR = GUARD.folder


def add_board_routes(app: web.Application) -> None:
    """``GET /guard`` (the page) and ``GET /guard/static/{name}`` (its scripts and styles)."""
    app.router.add_get("/guard", guard_page, name="guard_board")
    app.router.add_get("/guard/", guard_page, name="guard_board_slash")
    app.router.add_get("/guard/static/{name}", guard_asset, name="guard_asset")


@requires("alarms.read")
async def guard_page(request: web.Request) -> web.Response:
    """The page (its data comes from the alarms API)."""
    return await GUARD.page("index.html")


@requires(PUBLIC)
async def guard_asset(request: web.Request) -> web.StreamResponse:
    """One file of ``dashboards/guard``; anything that is not a listed kind of asset is 404."""
    return await GUARD.asset(request)
