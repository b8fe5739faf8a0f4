"""payments API (being built)."""

from __future__ import annotations

from aiohttp import web


def add_payment_routes(app: web.Application) -> None:
    """Register the routes of this module."""
