"""Spreadsheet import and export of the property register (CSV and .xlsx)."""

from __future__ import annotations

from aiohttp import web

from cloud.imports import openapi as _openapi  # noqa: F401  (its paths join the document)
from cloud.imports.routes import add_import_routes
from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """Import templates, dry runs, imports and their jobs."""
    add_import_routes(app)
