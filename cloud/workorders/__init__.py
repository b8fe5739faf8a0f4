"""Work orders: device events, owners' requests and plans become dispatched tasks with SLA
clocks (issue 6). The lifecycle is data (``states``); ``service`` applies it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """Work orders, technicians, photos and the technician and supervisor pages. Device
    events open orders through the rules feature (``cloud.rules``)."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.workorders import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.workorders.pages import add_workorder_pages
    from cloud.workorders.photo_routes import add_workorder_photo_routes
    from cloud.workorders.routes import add_workorder_routes

    add_workorder_photo_routes(app)  # before /api/workorders/{id}/{action}
    add_workorder_routes(app)
    add_workorder_pages(app)
