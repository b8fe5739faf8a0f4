"""Staff accounts, API tokens, roles scoped to sites, the request guard and the audit log.

Beneath the features: every handler declares its permission with ``cloud.auth.guard.requires``
and writes changes and views of personal data with ``cloud.auth.audit.record``.
"""

from __future__ import annotations

from aiohttp import web

from cloud.auth import openapi as _openapi  # noqa: F401  (its paths join the document)
from cloud.auth.routes import add_auth_routes
from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """Login, logout, the staff and token API and the audit log."""
    add_auth_routes(app)
