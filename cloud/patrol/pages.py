"""The patrol (巡更) console pages: ``/patrol`` (巡更管理: checkpoints, routes, plans, tags and
their handover), ``/patrol/today`` (the supervisor's view of a day's rounds) and
``/patrol/report`` (completion by guard, route or day, with a chart and the xlsx export).

Plain files in ``dashboards/patrol`` served through a ``PageSet`` like every console page (no
CDN, the console's CSP; the chart is inline SVG drawn by the page's script). Setting patrol up
needs ``patrol.write``; watching and reporting ``patrol.read``. The guard board's live rounds
panel is part of the board (``dashboards/guard``), offered there to logins with ``patrol.read``.
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.pages import PageSet

PATROL = PageSet("patrol", "页面文件缺失 / patrol page files are missing")


def add_patrol_pages(app: web.Application) -> None:
    app.router.add_get("/patrol", patrol_page, name="patrol_page")
    app.router.add_get("/patrol/today", today_page, name="patrol_today_page")
    app.router.add_get("/patrol/report", report_page, name="patrol_report_page")
    app.router.add_get("/patrol/static/{name}", patrol_asset, name="patrol_asset")


@requires("patrol.write")
async def patrol_page(request: web.Request) -> web.Response:
    """巡更管理: 巡更点 (with the QR sticker), 路线, 计划, 巡更标签 (issue, handover, retire)."""
    return await PATROL.page("index.html")


@requires("patrol.read")
async def today_page(request: web.Request) -> web.Response:
    """今日巡更: a day's rounds per plan, each checkpoint's state, refreshed while open."""
    return await PATROL.page("today.html")


@requires("patrol.read")
async def report_page(request: web.Request) -> web.Response:
    """巡更报表: completion rate by guard, route or day, a bar chart and 导出 Excel."""
    return await PATROL.page("report.html")


@requires(PUBLIC)
async def patrol_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/patrol``; anything else is 404."""
    return await PATROL.asset(request)
