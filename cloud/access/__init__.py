"""Access credentials in the console (issue 13): cards issued to residents and staff, time
profiles, and the versioned ``access`` dataset the site's edge pulls.

Every change bumps the site's ``access`` dataset version in its own transaction (the
``dataset_versions`` row parking uses, under the name ``access``) and is announced on
``down/sync`` after the commit. The package imports only its tables and service; ``setup``
loads the adapters (routes, the edge's pull, OpenAPI paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The staff routes, the log and door view, the pages, the edge's pull, and the records'
    move-out hook."""
    from cloud.access import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.access import pass_openapi as _pass_openapi  # noqa: F401
    from cloud.access.groups import add_group_routes
    from cloud.access.log import add_log_routes
    from cloud.access.moveout import on_move_out
    from cloud.access.pages import add_access_pages
    from cloud.access.pass_routes import add_pass_routes
    from cloud.access.passes import on_granted
    from cloud.access.routes import add_access_routes
    from cloud.records.hooks import on_move_out as register

    add_access_routes(app)
    add_group_routes(app)  # access groups: named sets of doors a card may be issued with
    add_log_routes(app)
    add_access_pages(app)
    register(on_move_out)
    add_pass_routes(app)  # visitor passes, and the count of their uses at the doors
    registry.register("access.granted", on_granted)
