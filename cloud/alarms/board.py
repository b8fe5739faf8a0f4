"""The guard board: the page guards keep full-screen on the guard-room monitor (``/guard``).

The page and its assets live in ``dashboards/guard`` as plain files (no build step) and are
served by the console itself, because guard rooms often have no internet: nothing is loaded
from a CDN, and the Content-Security-Policy forbids it so a later edit cannot slip one in. The
page talks to the alarms API (``/api/alarms…``, live over the ``/api/alarms/live`` WebSocket).

The console's default time zone is written into the page; each site's own zone comes from
``/api/sites``. Query parameters the page reads: ``site`` (one site's alarms; all sites when
absent) and ``tz`` (overrides the time zone shown).
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.pages import PageSet, default_tz

GUARD = PageSet("guard", "看板文件缺失 / guard board files are missing")
GUARD_DIR = GUARD.folder


def add_board_routes(app: web.Application) -> None:
    """``GET /guard`` (the page) and ``GET /guard/static/{name}`` (its scripts and styles)."""
    app.router.add_get("/guard", guard_page, name="guard_board")
    app.router.add_get("/guard/", guard_page, name="guard_board_slash")
    app.router.add_get("/guard/static/{name}", guard_asset, name="guard_asset")


@requires("alarms.read")
async def guard_page(request: web.Request) -> web.Response:
    """The page, with the console's default time zone filled in."""
    return await GUARD.page("index.html", default_tz(request))


@requires(PUBLIC)
async def guard_asset(request: web.Request) -> web.StreamResponse:
    """One file of ``dashboards/guard``; anything that is not a listed kind of asset is 404."""
    return await GUARD.asset(request)
