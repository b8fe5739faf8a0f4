"""The cockpit's pages (运营驾驶舱, docs/cockpit.md): ``/cockpit`` (the company: one tile per
site ranked by attention), ``/cockpit/sites/{site}`` (the site's big screen) and
``/cockpit/kiosk`` (a wall screen's first page: it hands its token to ``POST
/api/cockpit/kiosk`` and goes on to the cockpit).

Plain files in ``dashboards/cockpit`` served through a ``PageSet`` like every console page.
The charts are Apache ECharts, installed from the npm registry by ``scripts/bootstrap.sh``
(``npm ci`` in ``dashboards/cockpit``, pinned by its ``package-lock.json``) and served here at
``/cockpit/vendor/echarts.min.js``: no CDN, sites often have no internet. Without it the page
says how to install it and the console logs one warning at start.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.openapi import PATHS, _assets, _page
from cloud.web.pages import CONTENT_TYPES, HEADERS, PageSet

COCKPIT = PageSet("cockpit", "页面文件缺失 / cockpit page files are missing")

#: ECharts as ``npm ci`` installs it (the full build: every chart type, the canvas renderer,
#: no eval — the console's CSP holds), copied by the bootstrap beside the pages so the package
#: data carries this one file and never ``node_modules``.
ECHARTS = COCKPIT.folder / "vendor" / "echarts.min.js"
ECHARTS_MISSING = ("图表库未安装：运行 scripts/bootstrap.sh / charts not installed: run "
                   "scripts/bootstrap.sh")


def add_cockpit_pages(app: web.Application) -> None:
    app.router.add_get("/cockpit", company_page, name="cockpit_page")
    app.router.add_get("/cockpit/sites/{site}", site_page, name="cockpit_site_page")
    app.router.add_get("/cockpit/kiosk", kiosk_page, name="cockpit_kiosk_page")
    app.router.add_get("/cockpit/static/{name}", cockpit_asset, name="cockpit_asset")
    app.router.add_get("/cockpit/vendor/echarts.min.js", echarts_js, name="cockpit_echarts")
    if not ECHARTS.is_file():
        structlog.get_logger(__name__).bind(feature="cockpit").warning(
            "cockpit_charts_missing", path=str(ECHARTS), advice=ECHARTS_MISSING)


@requires("cockpit.read")
async def company_page(request: web.Request) -> web.Response:
    """驾驶舱（公司）: one tile per site, ranked by what needs attention; ``?rotate=N`` turns
    through the company and each site every N seconds, ``?sites=a,b`` limits the turn."""
    return await COCKPIT.page("cockpit.html")


@requires("cockpit.read")
async def site_page(request: web.Request) -> web.Response:
    """驾驶舱（小区）: the site's big screen; the guard has checked ``{site}`` is the viewer's."""
    return await COCKPIT.page("cockpit.html")


@requires(PUBLIC)
async def kiosk_page(request: web.Request) -> web.Response:
    """A wall screen's first page: ``#token=`` (never sent to the server) is posted once as a
    Bearer token, dropped from the address, and the screen goes on to the cockpit."""
    return await COCKPIT.page("kiosk.html")


@requires(PUBLIC)
async def cockpit_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/cockpit``; anything else is 404."""
    return await COCKPIT.asset(request)


@requires(PUBLIC)
async def echarts_js(request: web.Request) -> web.StreamResponse:
    """The chart library as npm installed it (404 saying how to install it when missing)."""
    if not await asyncio.to_thread(ECHARTS.is_file):
        raise web.HTTPNotFound(text=ECHARTS_MISSING)
    return web.FileResponse(ECHARTS, headers={**HEADERS, "Content-Type": CONTENT_TYPES["js"]})


PATHS.update({
    "/cockpit": _page("运营驾驶舱（公司：各小区按关注度排序；?rotate=秒 轮播，?sites=a,b 限定）"
                      "/ the company cockpit: sites ranked by attention; ?rotate=N, "
                      "?sites=a,b"),
    "/cockpit/sites/{site}": _page(
        "运营驾驶舱（小区大屏）/ a site's cockpit big screen",
        parameters=[{"name": "site", "in": "path", "required": True,
                     "schema": {"type": "string"}}]),
    "/cockpit/kiosk": _page("大屏首页（#token= 换取只读 Cookie）/ a wall screen's first page: "
                            "#token= becomes the read-only kiosk cookie"),
    "/cockpit/static/{name}": _assets("驾驶舱页脚本与样式 / the cockpit pages' scripts and "
                                      "styles"),
    "/cockpit/vendor/echarts.min.js": {"get": {
        "summary": "图表库 Apache ECharts（npm 安装，控制台自带）/ Apache ECharts, installed "
                   "from npm and served by the console",
        "responses": {"200": {"description": "JavaScript"},
                      "404": {"description": ECHARTS_MISSING}}}},
})
