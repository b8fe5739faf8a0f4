"""Spreadsheet import and export of the property register (CSV and .xlsx)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """Import templates, dry runs, imports and their jobs."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.imports import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.imports.routes import add_import_routes

    add_import_routes(app)
