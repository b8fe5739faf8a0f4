"""The work-order console pages: a technician's list on a phone (``/workorders/tech``) and
the supervisor's board (``/workorders/board``).

Plain files in ``dashboards/workorders`` served by the console itself, like the guard board
(``cloud.alarms.board``): no CDN, a strict Content-Security-Policy. The pages talk to the
work-order API only. The transition table (``cloud.workorders.states``) is written into each
page so the buttons a card shows are exactly the actions the API would accept; the console's
default time zone is written in too (each order carries its site-local times).
"""

from __future__ import annotations

import json

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.pages import PageSet, default_tz
from cloud.workorders.categories import CATEGORIES
from cloud.workorders.states import PRIORITIES, STATES, TRANSITIONS

WORKORDERS = PageSet("workorders", "页面文件缺失 / work-order page files are missing")
_TABLE_PLACEHOLDER = "__COURTYARD_TRANSITIONS__"


def transitions_json() -> str:
    """The table as the pages read it (action → sources, target, roles, whether a note is
    needed), the states in order, the categories a request may name (with the skill each
    needs) and the priorities: the codes only; their names come from the label table."""
    return json.dumps({
        "actions": {t.action: {"sources": list(t.sources), "target": t.target,
                               "roles": list(t.roles), "note_required": t.note_required}
                    for t in TRANSITIONS.values()},
        "states": list(STATES), "priorities": list(PRIORITIES),
        "categories": {c.name: c.skill for c in CATEGORIES.values()}},
        ensure_ascii=False, separators=(",", ":"))


def add_workorder_pages(app: web.Application) -> None:
    """``GET /workorders/tech``, ``GET /workorders/board`` and ``/workorders/static/{name}``."""
    app.router.add_get("/workorders/tech", tech_page, name="workorders_tech")
    app.router.add_get("/workorders/board", board_page, name="workorders_board")
    app.router.add_get("/workorders/static/{name}", workorder_asset, name="workorders_asset")


async def _page(request: web.Request, file: str) -> web.Response:
    """``file`` with the default time zone and the transition table written in."""
    return await WORKORDERS.page(file, {**default_tz(request),
                                        _TABLE_PLACEHOLDER: transitions_json()})


@requires("workorders.read")
async def tech_page(request: web.Request) -> web.Response:
    """The technician's list: the login's own; a supervisor may add ``?tech=<id>``."""
    return await _page(request, "tech.html")


@requires("workorders.read")
async def board_page(request: web.Request) -> web.Response:
    """The supervisor's board; ``?site=<slug>`` preselects a site."""
    return await _page(request, "board.html")


@requires(PUBLIC)
async def workorder_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/workorders``; anything else is 404."""
    return await WORKORDERS.asset(request)
