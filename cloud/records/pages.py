"""The register's console pages: ``/records`` (units of a site with their owners, tenants,
vehicles and meters) and ``/records/import`` (templates, dry run, import with progress).

Plain files in ``dashboards/records`` served by the console, like the work-order pages: no
CDN, a strict Content-Security-Policy; the pages talk to ``/api/…`` only, and send the
``X-CSRF-Token`` from ``/api/me`` with every change.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.pages import CSP

#: ``dashboards/records`` in the source tree.
PAGES_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "records"
_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css)$")
_CONTENT_TYPES = {"js": "text/javascript", "css": "text/css"}
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def add_record_pages(app: web.Application) -> None:
    app.router.add_get("/records", records_page, name="records_page")
    app.router.add_get("/records/import", import_page, name="records_import_page")
    app.router.add_get("/records/static/{name}", records_asset, name="records_asset")


async def _page(name: str) -> web.Response:
    try:
        html = await asyncio.to_thread((PAGES_DIR / name).read_text, encoding="utf-8")
    except OSError as exc:
        raise web.HTTPNotFound(text="页面文件缺失 / record page files are missing") from exc
    return web.Response(text=html, content_type="text/html", charset="utf-8",
                        headers={**_HEADERS, "Content-Security-Policy": CSP})


@requires("records.read")
async def records_page(request: web.Request) -> web.Response:
    """Units of a site with filter and search; a unit's residents, vehicles and meters."""
    return await _page("records.html")


@requires("imports.run")
async def import_page(request: web.Request) -> web.Response:
    """Download a template, check a sheet (dry run), then import it with progress."""
    return await _page("import.html")


@requires(PUBLIC)
async def records_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/records``; anything else is 404."""
    name = request.match_info["name"]
    match = _ASSET_NAME.match(name)
    path = PAGES_DIR / name
    if match is None or not await asyncio.to_thread(path.is_file):
        raise web.HTTPNotFound(text=f"没有这个文件 / no such file: {name}")
    return web.FileResponse(path, headers={**_HEADERS,
                                           "Content-Type": _CONTENT_TYPES[match.group(1)]})
