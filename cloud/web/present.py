"""How records look in JSON: UTC times with the site's local time beside them, exact decimals.

Times are stored and exchanged in UTC; the site's wall-clock time is added because that is
what staff in the community read and what bills are cut by. Decimals go out as strings so no
client turns a meter reading that becomes money into a binary float.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from cloud.db.models import Device, Event, Meter, Site
from cloud.web.keys import DEFAULT_TZ


@lru_cache(maxsize=64)
def zone(name: str, fallback: str = "Asia/Shanghai") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def site_zone(request: web.Request, timezone: str | None) -> ZoneInfo:
    """A site's zone: its own, else the console's (``COURTYARD_TIMEZONE``), for display."""
    default = request.app.get(DEFAULT_TZ) or "Asia/Shanghai"
    return zone(timezone or default, default)


def utc_iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_iso(ts: datetime | None, tz: ZoneInfo) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(tz).isoformat(timespec="milliseconds")


def times(name: str, ts: datetime | None, tz: ZoneInfo) -> dict[str, str | None]:
    """``{name: UTC, name_local: site time}``."""
    return {name: utc_iso(ts), f"{name}_local": local_iso(ts, tz)}


def decimal_str(value: Decimal | str | None) -> str | None:
    """Plain notation without storage padding: ``Decimal('100.000000')`` → ``"100"``."""
    if value is None:
        return None
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)  # not a number (a state string); show it as it came
    if not d.is_finite():
        return str(d)
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def site_json(site: Site, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "slug": site.slug,
        "name": site.name,
        "timezone": tz.key,
        "online": bool(site.online),
        **times("last_seen", site.last_seen_at, tz),
        "backlog": {
            "acked_seq": int(site.acked_seq or 0),
            **times("last_batch_at", site.last_batch_at, tz),
        },
    }


def device_json(dev: Device, meter: Meter | None, tz: ZoneInfo) -> dict[str, Any]:
    seen = dev.last_seen_at or dev.last_event_at
    out: dict[str, Any] = {
        "key": dev.key,
        "kind": dev.kind,
        "profile": dev.profile,
        "unit": dev.unit_ref,
        "online": bool(dev.online),
        "offline_reason": dev.offline_reason,
        **times("last_seen", seen, tz),
        "meter": None,
    }
    if meter is not None:
        out["meter"] = {
            "last_values": {k: decimal_str(v)
                            for k, v in sorted((meter.last_values or {}).items())},
            "last_energy_kwh": decimal_str(meter.last_energy_kwh),
            "last_water_m3": decimal_str(meter.last_water_m3),
            **times("last_reading_at", meter.last_reading_at, tz),
        }
    return out


def event_json(ev: Event, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "seq": int(ev.seq),
        "epoch": ev.epoch,
        "id": ev.uuid,
        **times("ts", ev.ts, tz),
        "device": ev.device,
        "kind": ev.kind,
        "priority": int(ev.priority),
        "data": ev.data,
        **times("received_at", ev.received_at, tz),
    }
