"""The shell's files: ``/ui/shell.js``, ``/ui/shell.css`` and the label table ``/ui/labels.js``.

Public like the login page's files: they hold no data, and the 403/404 pages and the login
page load them before anyone is known. What the shell shows (menu, sites, person) comes from
``/api/me``.
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.labels import labels_script
from cloud.web.pages import HEADERS, PageSet

SHELL = PageSet("shell", "外壳文件缺失 / console shell files are missing")
_LABELS_JS = labels_script()


def add_shell_routes(app: web.Application) -> None:
    app.router.add_get("/ui/labels.js", labels_js, name="shell_labels")
    app.router.add_get("/ui/{name}", shell_asset, name="shell_asset")


@requires(PUBLIC)
async def labels_js(request: web.Request) -> web.Response:
    del request
    return web.Response(text=_LABELS_JS, content_type="text/javascript", charset="utf-8",
                        headers=HEADERS)


@requires(PUBLIC)
async def shell_asset(request: web.Request) -> web.StreamResponse:
    return await SHELL.asset(request)
