"""Typed application keys: what every handler may read from the aiohttp app."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract import Clock

#: A snapshot of the process's moving parts for /healthz: ``{"broker": {"ok": True, ...},
#: "ingest": {"ok": False, "connected": False, "counters": {...}}}``. Each entry has ``ok``.
StatusFn = Callable[[], Mapping[str, Mapping[str, Any]]]

SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
CLOCK = web.AppKey("clock", Clock)
DEFAULT_TZ = web.AppKey("default_tz", str)
STATUS: web.AppKey[StatusFn] = web.AppKey("status")
