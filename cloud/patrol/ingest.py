"""Ingest of the edge's ``patrol.*`` events into rounds and visits (filled in below)."""

from __future__ import annotations

from cloud.ingest.handlers import HandlerRegistry


def register_handlers(registry: HandlerRegistry) -> None:
    """Nothing yet: rounds and visits follow."""
