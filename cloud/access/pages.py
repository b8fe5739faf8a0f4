"""The access console pages: ``/access`` (门禁: cards, visitor passes, the access log) and the
guard's live door view ``/guard/doors`` (each door's state, the last person through, 开门 and
签发访客证).

Plain files in ``dashboards/access`` served through a ``PageSet`` like every console page (no
CDN, the console's CSP). Each page opens for the permission of its first data: the 门禁 page
for ``records.read`` (its card list), the door view for ``devices.read`` (the doors); inside,
a tab or button the login's role may not use is not offered (``/api/me`` permissions).
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.pages import PageSet

ACCESS = PageSet("access", "页面文件缺失 / access page files are missing")


def add_access_pages(app: web.Application) -> None:
    app.router.add_get("/access", access_page, name="access_page")
    app.router.add_get("/access/static/{name}", access_asset, name="access_asset")
    app.router.add_get("/guard/doors", doors_page, name="guard_doors_page")


@requires("records.read")
async def access_page(request: web.Request) -> web.Response:
    """门禁: 门禁卡 (issue, revoke), 访客通行证 (issue with the QR, revoke), 通行记录 (the log)."""
    return await ACCESS.page("access.html")


@requires("devices.read")
async def doors_page(request: web.Request) -> web.Response:
    """The guard's door view: each door live, 开门 through the command channel, 签发访客证."""
    return await ACCESS.page("doors.html")


@requires(PUBLIC)
async def access_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/access``; anything else is 404."""
    return await ACCESS.asset(request)
