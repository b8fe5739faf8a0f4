"""Parking in the cloud: the lists staff edit, the versioned dataset the edge decides from,
and the ``down/sync`` announcements that tell the edge to pull it (DESIGN §2, §3)."""

from cloud.parking.dataset import bump_version, current_version, document, etag
from cloud.parking.records import RESOURCES, RecordError, Resource
from cloud.parking.sync import SyncPublisher, sync_payload

__all__ = [
    "RESOURCES",
    "RecordError",
    "Resource",
    "SyncPublisher",
    "bump_version",
    "current_version",
    "document",
    "etag",
    "sync_payload",
]
