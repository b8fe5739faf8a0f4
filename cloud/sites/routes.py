"""Sites, their devices and their event log (JSON)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from cloud.auth.guard import requires
from cloud.auth.scope import scoped
from cloud.db.models import Device, Event, Meter, Site
from cloud.sites.device_family import family_of
from cloud.sites.edge_health import EdgeHealth, latest_health
from cloud.web.errors import not_found
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS
from cloud.web.params import int_param, text_param
from cloud.web.present import device_json, event_json, local_iso, site_json, utc_iso, zone
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok

EVENTS_DEFAULT_LIMIT = 100
EVENTS_MAX_LIMIT = 1000
DEVICE_EVENTS_DEFAULT_LIMIT = 20
DEVICE_EVENTS_MAX_LIMIT = 200
MAX_SEQ = 2**63 - 1


def health_json(h: EdgeHealth, tz: ZoneInfo) -> dict[str, Any]:
    """The report as the API shows it (times in UTC and in the site's zone)."""
    return {"reported_at": utc_iso(h.reported_at),
            "reported_at_local": local_iso(h.reported_at, tz),
            "edge_ts": utc_iso(h.edge_ts), "outbox_depth": h.outbox_depth,
            "oldest_age_s": h.oldest_age_s, "devices": h.devices,
            "patrol_receivers": h.patrol_receivers, "stale": h.stale}


@requires("devices.read")
async def list_sites(request: web.Request) -> web.Response:
    default_tz = request.app[DEFAULT_TZ]
    async with request.app[SESSIONS]() as session:
        sites = (await session.execute(scoped(select(Site), Site.id, request)
                                       .order_by(Site.slug))).scalars().all()
    return json_ok({"sites": [site_json(s, zone(s.timezone or default_tz, default_tz))
                            for s in sites]})


@requires("devices.read")
async def list_devices(request: web.Request) -> web.Response:
    slug = request.match_info["site"]
    default_tz = request.app[DEFAULT_TZ]
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, slug)
        rows = (await session.execute(
            select(Device, Meter).outerjoin(Meter, Meter.device_id == Device.id)
            .where(Device.site_id == site.id).order_by(Device.key))).all()
        edge = await latest_health(session, site.id, request.app[CLOCK].now())
    tz = zone(site.timezone or default_tz, default_tz)
    return json_ok({"site": site.slug, "timezone": tz.key,
                  "devices": [device_json(d, m, tz) | {"family": family_of(d.kind)}
                              for d, m in rows],
                  "edge": None if edge is None else health_json(edge, tz)})


@requires("devices.read")
async def device_events(request: web.Request) -> web.Response:
    """One device's newest events, newest first (``?limit=``, default 20): its detail panel."""
    slug = request.match_info["site"]
    key = request.match_info["device"]
    limit = int_param(request, "limit", DEVICE_EVENTS_DEFAULT_LIMIT, 1, DEVICE_EVENTS_MAX_LIMIT)
    default_tz = request.app[DEFAULT_TZ]
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, slug)
        device = (await session.execute(select(Device).where(
            Device.site_id == site.id, Device.key == key))).scalar_one_or_none()
        if device is None:
            raise not_found("device", "设备", "device", key)
        rows = (await session.execute(
            select(Event).where(Event.site_id == site.id, Event.device_id == device.id)
            .order_by(Event.ts.desc(), Event.id.desc()).limit(limit))).scalars().all()
    tz = zone(site.timezone or default_tz, default_tz)
    return json_ok({"site": site.slug, "device": device.key, "timezone": tz.key,
                    "family": family_of(device.kind),
                    "events": [event_json(e, tz) for e in rows]})


@requires("devices.read")
async def list_events(request: web.Request) -> web.Response:
    """Events in seq order after a cursor; ``next_after_seq`` is null once nothing is left.

    A site that replaced its edge box has one seq run per outbox epoch, so the same seq can
    appear once per epoch: ``epoch`` narrows the page to one run; without it a page never ends
    inside a seq, so the cursor cannot skip the other epochs' events at that seq."""
    slug = request.match_info["site"]
    after = int_param(request, "after_seq", 0, 0, MAX_SEQ)
    limit = int_param(request, "limit", EVENTS_DEFAULT_LIMIT, 1, EVENTS_MAX_LIMIT)
    kind = text_param(request, "kind", 64)
    epoch = text_param(request, "epoch", 64)
    default_tz = request.app[DEFAULT_TZ]
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, slug)
        query = select(Event).where(Event.site_id == site.id, Event.seq > after)
        if kind is not None:
            query = query.where(Event.kind == kind)
        if epoch is not None:
            query = query.where(Event.epoch == epoch)
        rows = list((await session.execute(
            query.order_by(Event.seq, Event.id).limit(limit + 1))).scalars().all())
        more = len(rows) > limit
        if more:
            cut = rows[limit].seq  # the first seq not on this page
            rows = [e for e in rows[:limit] if e.seq != cut]
            if not rows:  # one seq holds more epochs than the page: take all of them
                rows = list((await session.execute(
                    query.where(Event.seq == cut).order_by(Event.id))).scalars().all())
    tz = zone(site.timezone or default_tz, default_tz)
    return json_ok({
        "site": site.slug,
        "timezone": tz.key,
        "events": [event_json(e, tz) for e in rows],
        "next_after_seq": int(rows[-1].seq) if more else None,
    })
