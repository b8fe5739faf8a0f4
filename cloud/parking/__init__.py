"""Parking in the cloud: the lists staff edit, the versioned dataset the edge decides from,
and the ``down/sync`` announcements that tell the edge to pull it (DESIGN §2, §3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cloud.parking.dataset import bump_version, current_version, document, etag
from cloud.parking.records import RESOURCES, RecordError, Resource
from cloud.parking.sync import SyncPublisher, sync_payload
from contract import Kind

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry

__all__ = [
    "RESOURCES",
    "RecordError",
    "Resource",
    "SyncPublisher",
    "bump_version",
    "current_version",
    "document",
    "etag",
    "setup",
    "sync_payload",
]


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The parking records API and the edge's dataset pull; entries and exits from ingest."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.parking import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.parking.handlers import on_parking_entry, on_parking_exit
    from cloud.parking.routes import add_parking_routes

    add_parking_routes(app)
    registry.register(Kind.PARKING_ENTRY, on_parking_entry)
    registry.register(Kind.PARKING_EXIT, on_parking_exit)
