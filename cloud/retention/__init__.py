"""Retention windows, the purge and the pseudonymisation of former residents
(docs/data-lifecycle.md §2).

``classes`` is the one table of data classes; ``purge.purge_site`` is what the scheduler and
``courtyard cloud purge`` call; ``pseudonymise.pseudonymise_resident`` is shared with the
erasure of ``cloud.privacy``. The package imports only its tables and services; ``setup``
loads the HTTP adapter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """``GET /api/retention`` and ``PUT /api/retention/{site}/{class}`` (no ingest handlers)."""
    from cloud.retention import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.retention.routes import add_retention_routes

    add_retention_routes(app)
