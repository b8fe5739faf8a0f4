"""Preventive maintenance: the equipment ledger, plans with tiers, due dates and statistics.

Pure functions over dataclasses; the database and the API build on them (issue 6 item 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """Assets, maintenance plans and the release of their visits as work orders."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.maintenance import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.maintenance.routes import add_maintenance_routes

    add_maintenance_routes(app)
