"""Jobs, duties and schedules: background work shared by every console process, done once
(docs/data-lifecycle.md §4). The kit (``tables``, ``claim``, ``runner``, ``duties``,
``schedules``) is what features use; ``console`` holds the job kinds, the schedules API and
the ``/schedules`` page."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The job runner (every console runs one), the schedules API and page."""
    del registry
    from cloud.jobs.console import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.jobs.console.api import add_schedule_routes
    from cloud.jobs.console.lifetime import job_runner_lifetime
    from cloud.jobs.console.pages import add_schedule_pages

    app.cleanup_ctx.append(job_runner_lifetime)
    add_schedule_routes(app)
    add_schedule_pages(app)
