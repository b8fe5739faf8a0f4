"""The finance pages: the cashier's desk and reports (``/finance``) and printable receipts.

Plain files in ``dashboards/finance`` served by the console with the same strict
Content-Security-Policy as the other pages (no CDN, no inline script). The desk lives in the
console shell and talks to the search, billing and payments APIs; a receipt is rendered on the
server, outside the shell, so it prints the same everywhere.
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.payments.receipts import receipt_html
from cloud.payments.routes import load_receipt
from cloud.web.errors import ApiError
from cloud.web.keys import SESSIONS
from cloud.web.pages import PageSet, html_response

FINANCE = PageSet("finance", "页面文件缺失 / finance page files are missing")


def add_finance_pages(app: web.Application) -> None:
    """``GET /finance``, ``GET /finance/receipts/{number}`` and ``/finance/static/{name}``."""
    app.router.add_get("/finance", finance_page, name="finance")
    app.router.add_get("/finance/receipts/{number}", receipt_page, name="finance_receipt")
    app.router.add_get("/finance/static/{name}", finance_asset, name="finance_asset")


@requires("billing.read")
async def finance_page(request: web.Request) -> web.Response:
    """The desk in the shell: find a unit, its bills and their lines, take a payment, the
    site's receipts (reprint, 红冲), arrears and collection rate."""
    del request
    return await FINANCE.page("finance.html")


@requires("billing.read")
async def receipt_page(request: web.Request) -> web.Response:
    """A receipt as a printable page (zh-CN first)."""

    async with request.app[SESSIONS]() as session:
        try:
            receipt = await load_receipt(request, session)
        except ApiError as err:
            raise web.HTTPNotFound(text=f"收据不存在 / no such receipt: "
                                        f"{request.match_info['number'][:40]}") from err
    return html_response(receipt_html(receipt))


@requires(PUBLIC)
async def finance_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/finance``; anything else is 404."""
    return await FINANCE.asset(request)
