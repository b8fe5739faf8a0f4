"""Payments: the cashier's desk. Payments and their allocations to bills, prepaid balances,
numbered receipts, reversals (红冲), late fees, reminders, arrears and the collection rate.
Builds on billing (bills and their lines); billing never imports it."""

from __future__ import annotations

from aiohttp import web

from cloud.billing.settle import SETTLE
from cloud.ingest.handlers import HandlerRegistry
from cloud.payments import openapi as _openapi  # noqa: F401  (its paths join the document)
from cloud.payments.balances import apply_prepaid
from cloud.payments.pages import add_finance_pages
from cloud.payments.routes import add_payment_routes


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """Payments, balances, receipts, late fees, reminders, arrears and the finance pages."""
    add_payment_routes(app)
    add_finance_pages(app)
    app[SETTLE] = apply_prepaid  # bills issued by a run or released are paid from balances
