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

import asyncio
import re
from html import escape
from pathlib import Path

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.keys import DEFAULT_TZ
from cloud.web.pages import CSP

#: ``dashboards/guard`` in the source tree (the console runs from a checkout or an editable
#: install).
GUARD_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "guard"

#: Asset names the page may load: a flat folder of scripts and style sheets only.
_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css)$")
_CONTENT_TYPES = {"js": "text/javascript", "css": "text/css"}
_TZ_PLACEHOLDER = "__COURTYARD_DEFAULT_TZ__"

#: A wall monitor runs for months: after an upgrade it must pick up new assets on reload.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def add_board_routes(app: web.Application) -> None:
    """``GET /guard`` (the page) and ``GET /guard/static/{name}`` (its scripts and styles)."""
    app.router.add_get("/guard", guard_page, name="guard_board")
    app.router.add_get("/guard/", guard_page, name="guard_board_slash")
    app.router.add_get("/guard/static/{name}", guard_asset, name="guard_asset")


@requires("alarms.read")
async def guard_page(request: web.Request) -> web.Response:
    """The page, with the console's default time zone filled in."""
    try:
        html = await asyncio.to_thread((GUARD_DIR / "index.html").read_text, encoding="utf-8")
    except OSError as exc:
        raise web.HTTPNotFound(text="看板文件缺失 / guard board files are missing") from exc
    html = html.replace(_TZ_PLACEHOLDER, escape(request.app[DEFAULT_TZ], quote=True))
    return web.Response(text=html, content_type="text/html", charset="utf-8",
                        headers={**_HEADERS, "Content-Security-Policy": CSP})


@requires(PUBLIC)
async def guard_asset(request: web.Request) -> web.StreamResponse:
    """One file of ``dashboards/guard``; anything that is not a listed kind of asset is 404."""
    name = request.match_info["name"]
    match = _ASSET_NAME.match(name)
    path = GUARD_DIR / name
    if match is None or not await asyncio.to_thread(path.is_file):
        raise web.HTTPNotFound(text=f"没有这个文件 / no such file: {name}")
    return web.FileResponse(path, headers={**_HEADERS,
                                           "Content-Type": _CONTENT_TYPES[match.group(1)]})
