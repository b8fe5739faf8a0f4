"""Patrol routes under ``/api/sites/{site}/patrol/`` (filled in next)."""

from __future__ import annotations

from aiohttp import web


def add_patrol_routes(app: web.Application) -> None:
    """The staff routes and the edge's pull."""
