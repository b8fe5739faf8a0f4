"""Billing: fee items, bill runs and bills (fee computation, tiers, shared areas, periods).
Payments, balances and late fees build on it in ``cloud.payments``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """Fee items, bill runs, bills and the bill-run page."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.billing import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.billing.pages import add_billing_pages
    from cloud.billing.routes import add_billing_routes

    add_billing_routes(app)
    add_billing_pages(app)
