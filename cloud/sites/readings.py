"""A device's stored register values over a time window (JSON)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from cloud.auth.guard import requires
from cloud.auth.scope import ensure_visible
from cloud.db.models import Reading
from cloud.web.errors import bad_param
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS
from cloud.web.params import int_param, names_param, text_param, time_param
from cloud.web.present import decimal_str, times, utc_iso, zone
from cloud.web.queries import device_by_key
from cloud.web.respond import json_ok

DEFAULT_WINDOW = timedelta(hours=24)
READINGS_DEFAULT_LIMIT = 1000
READINGS_MAX_LIMIT = 10000


@requires("devices.read")
async def device_readings(request: web.Request) -> web.Response:
    """Readings in ``[since, until)``, oldest first; the default window is the last 24 hours."""
    key = request.match_info["device"]
    site_slug = text_param(request, "site", 63)
    until = time_param(request, "until") or request.app[CLOCK].now()
    since = time_param(request, "since") or until - DEFAULT_WINDOW
    if since >= until:
        raise bad_param("since", "since 必须早于 until", "since must be earlier than until")
    names = names_param(request, "name", 64)
    limit = int_param(request, "limit", READINGS_DEFAULT_LIMIT, 1, READINGS_MAX_LIMIT)
    default_tz = request.app[DEFAULT_TZ]
    async with request.app[SESSIONS]() as session:
        device, site = await device_by_key(session, key, site_slug)
        ensure_visible(request, site.id, "device", "设备", "device", key)
        query = select(Reading).where(Reading.device_id == device.id, Reading.ts >= since,
                                      Reading.ts < until)
        if names:
            query = query.where(Reading.name.in_(names))
        rows = list((await session.execute(
            query.order_by(Reading.ts, Reading.name, Reading.id).limit(limit + 1)
        )).scalars().all())
    truncated = len(rows) > limit
    rows = rows[:limit]
    tz = zone(site.timezone or default_tz, default_tz)
    return json_ok({
        "site": site.slug,
        "device": device.key,
        "timezone": tz.key,
        "since": utc_iso(since),
        "until": utc_iso(until),
        "names": names or None,
        "readings": [{**times("ts", r.ts, tz), "name": r.name, "value": decimal_str(r.value),
                      "unit": r.unit} for r in rows],
        "truncated": truncated,
    })
