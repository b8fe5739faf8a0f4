"""The operations cockpit (运营驾驶舱, issue 15): company and site big screens, computed from
hourly rollups maintained at ingest and the features' own tables, pushed live over a
WebSocket, viewable on a wall screen through a read-only kiosk token (docs/cockpit.md).

The package imports only its tables and services; ``setup`` loads the adapters (one line
each below).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The cockpit's API, live feed, kiosk and pages, and its ingest handlers (rollups)."""
    from cloud.alarms import POLICY
    from cloud.cockpit import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.cockpit import openapi_live as _openapi_live  # noqa: F401
    from cloud.cockpit.api import add_cockpit_api
    from cloud.cockpit.kiosk import add_kiosk_routes
    from cloud.cockpit.live import add_live_routes
    from cloud.cockpit.notify import register_live_handlers
    from cloud.cockpit.pages import add_cockpit_pages
    from cloud.cockpit.panels.load import load_panels
    from cloud.cockpit.rollup_handlers import register_rollup_handlers

    load_panels()
    register_rollup_handlers(registry, app.get(POLICY))  # rollups, meters, elevator cars
    add_cockpit_api(app)  # GET /api/cockpit/company, /api/cockpit/sites/{site}
    add_live_routes(app)  # GET /api/cockpit/ws (WebSocket)
    add_kiosk_routes(app)  # POST/DELETE /api/cockpit/kiosk (the wall screen's cookie)
    register_live_handlers(registry, app.get(POLICY))  # announces each batch on commit
    add_cockpit_pages(app)  # /cockpit, /cockpit/sites/{site}, /cockpit/kiosk, assets, ECharts
