"""Patrol (巡更, issue 14) in the console: checkpoints, routes, plans and guards' tags, the
versioned ``patrol`` dataset the site's edge pulls, and the ingest of the edge's ``patrol.*``
events into rounds and visits (alarms come from the alarm policy, the battery work order from
the rules file).

Every edit bumps the site's ``patrol`` dataset version in its transaction and is announced on
``down/sync`` after the commit, as access does. The package imports only its tables and
services; ``setup`` loads the adapters. Reports, stickers and scans (``report*``,
``sticker*``, ``scan*``) and the pages (``pages``) add their routes with one line each in
``setup`` below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The staff routes (checkpoints, routes, plans, tags, rounds), the edge's pull, the
    OpenAPI paths and the ingest of ``patrol.*``."""
    from cloud.patrol import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.patrol import openapi_report as _openapi_report  # noqa: F401
    from cloud.patrol.ingest import register_handlers
    from cloud.patrol.pages import add_patrol_pages
    from cloud.patrol.report_routes import add_report_routes
    from cloud.patrol.routes import add_patrol_routes
    from cloud.patrol.scan_routes import add_scan_routes
    from cloud.patrol.sticker import add_sticker_routes

    add_patrol_routes(app)
    add_report_routes(app)  # report and report.xlsx
    add_sticker_routes(app)  # QR checkpoint stickers
    add_scan_routes(app)  # phone scans and the /m/patrol page
    add_patrol_pages(app)  # /patrol, /patrol/today, /patrol/report
    register_handlers(registry)
