"""The ``/schedules`` page (计划任务): each site's schedules, their edit form and the recent
jobs with their state, progress and errors. A plain file in ``dashboards/schedules`` inside
the console shell; it reads and changes everything through ``/api/schedules`` and
``/api/jobs``, so it shows exactly what the API answers, field errors included."""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import requires
from cloud.web.pages import PageSet

SCHEDULES = PageSet("schedules", "页面文件缺失 / schedule page files are missing")


@requires("billing.read")
async def schedules_page(request: web.Request) -> web.Response:
    del request
    return await SCHEDULES.page("schedules.html")


@requires("billing.read")
async def schedules_asset(request: web.Request) -> web.StreamResponse:
    return await SCHEDULES.asset(request)


def add_schedule_pages(app: web.Application) -> None:
    app.router.add_get("/schedules", schedules_page, name="schedules_page")
    app.router.add_get("/schedules/static/{name}", schedules_asset, name="schedules_asset")
