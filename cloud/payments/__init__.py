"""Payments: the cashier's desk. Payments and their allocations to bills, prepaid balances,
numbered receipts, reversals (红冲), late fees, reminders, arrears and the collection rate.
Builds on billing (bills and their lines); billing never imports it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """Payments, balances, receipts, late fees, reminders, arrears and the finance pages."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.billing.settle import SETTLE
    from cloud.payments import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.payments.balances import apply_prepaid
    from cloud.payments.pages import add_finance_pages
    from cloud.payments.routes import add_payment_routes

    add_payment_routes(app)
    add_finance_pages(app)
    app[SETTLE] = apply_prepaid  # bills issued by a run or released are paid from balances
