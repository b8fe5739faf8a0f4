"""Typed application keys: what every handler may read from the aiohttp app."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.blobs.store import BlobStore
from contract import Clock

#: A snapshot of the process's moving parts for /healthz: ``{"broker": {"ok": True, ...},
#: "ingest": {"ok": False, "connected": False, "counters": {...}}}``. Each entry has ``ok``.
StatusFn = Callable[[], Mapping[str, Mapping[str, Any]]]

SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
CLOCK = web.AppKey("clock", Clock)
DEFAULT_TZ = web.AppKey("default_tz", str)
#: Cockpit requests for one view within this many seconds share its computation.
VIEW_SHARE_S = web.AppKey("view_share_s", float)
STATUS: web.AppKey[StatusFn] = web.AppKey("status")
#: Each site's MQTT credential (``COURTYARD_SITE_CREDENTIALS``): the edge proves itself with it
#: when it pulls a dataset over HTTP.
SITE_CREDENTIALS: web.AppKey[Mapping[str, str]] = web.AppKey("parking_site_credentials")
#: Where images live (``cloud.blobs``); handlers serve them after their own checks.
BLOBS: web.AppKey[BlobStore] = web.AppKey("blobs")


class DatasetNotifier(Protocol):
    """Announces a new dataset version to a site's edge (``down/sync``)."""

    def notify(self, site: str, dataset: str, version: int) -> None: ...


#: Set by the parking feature when the console publishes ``down/sync``.
SYNC: web.AppKey[DatasetNotifier] = web.AppKey("parking_sync")
