"""The property register as a service: checking input, writing with audit, and queries.

The API (``cloud.records.routes``), the spreadsheet import (``cloud.imports``) and the CLI all go
through the same field rules (``cloud.records.fields``) and resource descriptions
(``cloud.records.kinds``), so a bad value is refused with the same message everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The register's API (with exports) and pages."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.records import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.records import search_openapi as _search_openapi  # noqa: F401
    from cloud.records.pages import add_record_pages
    from cloud.records.routes import add_record_routes
    from cloud.records.search import add_search_route

    add_record_routes(app)
    add_search_route(app)
    add_record_pages(app)
