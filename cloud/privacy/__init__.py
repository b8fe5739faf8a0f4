"""The data subject (issue 16, docs/data-lifecycle.md §3): a resident's export and erasure,
face consent and face credentials.

The package reads the records of several features (the register, parking, access, billing,
payments, work orders, the audit log) and the blob store, so it sits above them; none of them
imports it. ``setup`` loads the adapters (routes, OpenAPI paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The ``/api/people/{id}/…`` routes."""
    from cloud.privacy import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.privacy.routes import add_privacy_routes

    add_privacy_routes(app)
