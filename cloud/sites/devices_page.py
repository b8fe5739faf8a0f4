"""The device page ``/devices``: a site's devices by family with their state, and a device's
recent events and the commands the login may send it.

Plain files in ``dashboards/devices`` served by the console (no CDN, the console's CSP); the
page reads ``/api/sites/{site}/devices``, ``…/devices/{device}/events`` and the command API,
whose list says which kinds the login may issue (the permission table stays on the server).
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.pages import PageSet

DEVICES = PageSet("devices", "设备页面文件缺失 / device page files are missing")


@requires("devices.read")
async def devices_page(request: web.Request) -> web.Response:
    """Devices grouped by family with filters; a device's events and commands in a panel."""
    del request
    return await DEVICES.page("devices.html")


@requires(PUBLIC)
async def devices_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/devices``; anything else is 404."""
    return await DEVICES.asset(request)
