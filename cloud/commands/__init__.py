"""Remote commands from the console to a site's edge (issue 13, DESIGN §2 "Commands").

A staff member asks (``POST /api/sites/{site}/commands``); the console stores and audits the
command, publishes it on ``down/cmd`` and moves it through its lifecycle (``states``) as the
edge's reply on ``up/cmd-reply`` arrives or its ``not_after`` passes. The package imports only
its tables and states; ``setup`` loads the adapters (routes, OpenAPI paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The command routes (the MQTT link is wired by ``cloud.serve``: ``configure_commands``)."""
    from cloud.commands import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.commands.routes import add_command_routes

    add_command_routes(app)
