"""The work-order console pages: a technician's list on a phone (``/workorders/tech``) and
the supervisor's board (``/workorders/board``).

Plain files in ``dashboards/workorders`` served by the console itself, like the guard board
(``cloud.alarms.board``): no CDN, a strict Content-Security-Policy. The pages talk to the
work-order API only. The transition table (``cloud.workorders.states``) is written into each
page so the buttons a card shows are exactly the actions the API would accept; the console's
default time zone is written in too (each order carries its site-local times).
"""

from __future__ import annotations

import asyncio
import json
import re
from html import escape
from pathlib import Path

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.keys import DEFAULT_TZ
from cloud.web.pages import CSP
from cloud.workorders.categories import CATEGORIES
from cloud.workorders.states import STATE_ZH, TRANSITIONS

#: ``dashboards/workorders`` in the source tree.
PAGES_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "workorders"
_PAGES = {"tech": "tech.html", "board": "board.html"}
_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css)$")
_CONTENT_TYPES = {"js": "text/javascript", "css": "text/css"}
_TZ_PLACEHOLDER = "__COURTYARD_DEFAULT_TZ__"
_TABLE_PLACEHOLDER = "__COURTYARD_TRANSITIONS__"
#: Phones keep a tab open for days: after an upgrade they must pick up new assets on reload.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def transitions_json() -> str:
    """The table as the pages read it (action → sources, target, roles), with the Chinese
    names of states and categories."""
    return json.dumps({
        "actions": {t.action: {"zh": t.zh, "sources": list(t.sources), "target": t.target,
                               "roles": list(t.roles), "note_required": t.note_required}
                    for t in TRANSITIONS.values()},
        "states": STATE_ZH, "categories": {c.name: c.zh for c in CATEGORIES.values()}},
        ensure_ascii=False, separators=(",", ":"))


def add_workorder_pages(app: web.Application) -> None:
    """``GET /workorders/tech``, ``GET /workorders/board`` and ``/workorders/static/{name}``."""
    app.router.add_get("/workorders/tech", tech_page, name="workorders_tech")
    app.router.add_get("/workorders/board", board_page, name="workorders_board")
    app.router.add_get("/workorders/static/{name}", workorder_asset, name="workorders_asset")


async def _page(request: web.Request, key: str) -> web.Response:
    try:
        html = await asyncio.to_thread((PAGES_DIR / _PAGES[key]).read_text, encoding="utf-8")
    except OSError as exc:
        raise web.HTTPNotFound(text="页面文件缺失 / work-order page files are missing") from exc
    html = html.replace(_TZ_PLACEHOLDER, escape(request.app[DEFAULT_TZ], quote=True))
    html = html.replace(_TABLE_PLACEHOLDER, escape(transitions_json(), quote=True))
    return web.Response(text=html, content_type="text/html", charset="utf-8",
                        headers={**_HEADERS, "Content-Security-Policy": CSP})


@requires("workorders.read")
async def tech_page(request: web.Request) -> web.Response:
    """The technician's list; ``?tech=<id>`` says whose."""
    return await _page(request, "tech")


@requires("workorders.read")
async def board_page(request: web.Request) -> web.Response:
    """The supervisor's board; ``?site=<slug>`` preselects a site."""
    return await _page(request, "board")


@requires(PUBLIC)
async def workorder_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/workorders``; anything else is 404."""
    name = request.match_info["name"]
    match = _ASSET_NAME.match(name)
    path = PAGES_DIR / name
    if match is None or not await asyncio.to_thread(path.is_file):
        raise web.HTTPNotFound(text=f"没有这个文件 / no such file: {name}")
    return web.FileResponse(path, headers={**_HEADERS,
                                           "Content-Type": _CONTENT_TYPES[match.group(1)]})
