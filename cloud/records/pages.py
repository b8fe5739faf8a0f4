"""The register's console pages: ``/records`` (units of a site with their owners, tenants,
vehicles and meters), ``/records/import`` (templates, dry run, import with progress) and the
customer-service desk ``/desk`` (search, a unit's card, logging a call).

Plain files in ``dashboards/records`` served by the console, like the work-order pages: no
CDN, a strict Content-Security-Policy; the pages talk to ``/api/…`` only, and send the
``X-CSRF-Token`` from ``/api/me`` with every change.
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.web.pages import PageSet

RECORDS = PageSet("records", "页面文件缺失 / record page files are missing")
DESK = PageSet("desk", "页面文件缺失 / desk page files are missing")


def add_record_pages(app: web.Application) -> None:
    app.router.add_get("/records", records_page, name="records_page")
    app.router.add_get("/records/import", import_page, name="records_import_page")
    app.router.add_get("/records/static/{name}", records_asset, name="records_asset")
    app.router.add_get("/desk", desk_page, name="desk_page")
    app.router.add_get("/desk/static/{name}", desk_asset, name="desk_asset")


@requires("records.read")
async def records_page(request: web.Request) -> web.Response:
    """Units of a site with filter and search; a unit's residents, vehicles and meters."""
    return await RECORDS.page("records.html")


@requires("imports.run")
async def import_page(request: web.Request) -> web.Response:
    """Download a template, check a sheet (dry run), then import it with progress."""
    return await RECORDS.page("import.html")


@requires(PUBLIC)
async def records_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/records``; anything else is 404."""
    return await RECORDS.asset(request)


@requires("records.read")
async def desk_page(request: web.Request) -> web.Response:
    """客服台: one search box, the unit's card (residents, vehicles, bills, work orders) and a
    form that logs a resident's repair call or complaint as a work order."""
    return await DESK.page("desk.html")


@requires(PUBLIC)
async def desk_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/desk``; anything else is 404."""
    return await DESK.asset(request)
