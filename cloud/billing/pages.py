"""The billing pages: bill runs (``/billing/runs``) and fee items with parking tariffs
(``/billing/fee-items``).

Plain files in ``dashboards/billing`` inside the console shell: the 小区 comes from the
shell's switcher and the pages read and change everything through the billing and parking
APIs (runs, held bills, fee items, tariffs), so a page shows exactly what the API answers,
validation messages included. No CDN, the console's strict Content-Security-Policy.
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import requires
from cloud.web.pages import PageSet

BILLING = PageSet("billing", "页面文件缺失 / billing page files are missing")


@requires("billing.read")
async def runs_page(request: web.Request) -> web.Response:
    """``/billing/runs``: start the month's run, follow it, review held bills."""
    del request
    return await BILLING.page("runs.html")


@requires("billing.read")
async def fee_items_page(request: web.Request) -> web.Response:
    """``/billing/fee-items``: a site's fee items and its car parks' tariffs."""
    del request
    return await BILLING.page("fee-items.html")


@requires("billing.read")
async def billing_asset(request: web.Request) -> web.StreamResponse:
    return await BILLING.asset(request)


def add_billing_pages(app: web.Application) -> None:
    app.router.add_get("/billing/runs", runs_page, name="billing_runs_page")
    app.router.add_get("/billing/fee-items", fee_items_page, name="billing_fee_items_page")
    app.router.add_get("/billing/static/{name}", billing_asset, name="billing_asset")
